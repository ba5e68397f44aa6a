# bench/preload.mk: unchanged programs on goheap's malloc family
# (bench/preload-bench.c).
#
#   make bench-preload   churn, larson (freeing on another thread), many
#                        small strings, python3 and sqlite3, each under
#                        glibc, jemalloc, mimalloc, tcmalloc and goheap via
#                        LD_PRELOAD: wall time and peak RSS with ratios, and
#                        $(BUILD)/bench/preload.csv
#
# PRELOAD_BENCH_ARGS reaches the driver, for instance "--reps 5" or
# "--quick" (every workload a tenth of the size).

PRELOAD_BENCH := $(BUILD)/bench/preload-bench
PRELOAD_LARSON := $(BUILD)/bench/preload-larson
PRELOAD_STRINGS := $(BUILD)/bench/preload-strings
PRELOAD_BENCH_ARGS ?=

$(PRELOAD_BENCH) $(PRELOAD_LARSON) $(PRELOAD_STRINGS): $(BUILD)/bench/%: bench/%.c bench/harness.h
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -Ibench -o $@ $< -lm

.PHONY: bench-preload
bench-preload: $(PRELOAD_BENCH) $(PRELOAD_LARSON) $(PRELOAD_STRINGS) $(CHURN) $(BUILD)/libgoheap-malloc.so
	$(PRELOAD_BENCH) --gh $(abspath $(BUILD)/libgoheap-malloc.so) --churn $(CHURN) \
		--larson $(PRELOAD_LARSON) --strings $(PRELOAD_STRINGS) --work tests/preload \
		--csv $(BUILD)/bench/preload.csv $(PRELOAD_BENCH_ARGS)

BENCH_TARGETS += bench-preload
