# bench/churn.mk: the malloc/free churn benchmark (bench/churn.c).
#
#   make bench-churn            goheap against glibc, jemalloc, mimalloc and
#                               tcmalloc: a table of ns per malloc+free pair,
#                               ratios to mimalloc, and $(BUILD)/bench/churn.csv
#   make bench-churn-callgrind  instructions per malloc+free pair under
#                               callgrind (1 thread, 16 B and 8-512 B, the
#                               malloc drop-in too); not part of bench
#
# churn.c is built twice: $(CHURN_GH) calls gh_* from the static library,
# $(CHURN) calls malloc/free and also drives the whole run, starting the
# peers with LD_PRELOAD. CHURN_ARGS reaches the driver, for instance
# CHURN_ARGS="--reps 3" or CHURN_ARGS="--peer tcmalloc=libtcmalloc.so.4".

CHURN := $(BUILD)/bench/churn
CHURN_GH := $(BUILD)/bench/churn-gh
CHURN_ARGS ?=

$(CHURN): bench/churn.c bench/harness.h
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $<

$(CHURN_GH): bench/churn.c bench/harness.h include/goheap.h $(LIBGOHEAP_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -DUSE_GOHEAP -o $@ $< $(LDLIBS)

.PHONY: bench-churn bench-churn-callgrind
bench-churn: $(CHURN) $(CHURN_GH)
	$(CHURN) --gh $(CHURN_GH) --csv $(BUILD)/bench/churn.csv $(CHURN_ARGS)

bench-churn-callgrind: $(CHURN) $(CHURN_GH) $(BUILD)/libgoheap-malloc.so
	sh bench/run-churn.sh $(CHURN_GH) $(CHURN)

BENCH_TARGETS += bench-churn
