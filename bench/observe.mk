# bench/observe.mk: what observing the heap costs.
#
#   make bench-memstats       bench/memstats_pause.c: the pause of
#                             gh_read_mem_stats (median, p90, p99, max over
#                             1000 calls while 4 threads allocate), next to
#                             Go's runtime.ReadMemStats under the same load
#                             (bench/go/memstats/main.go); also writes
#                             $(BUILD)/bench/memstats_pause.csv
#   make bench-prof-overhead  bench/prof_overhead.c: GCBench and malloc
#                             churn at the default MemProfileRate against
#                             GODEBUG=memprofilerate=0, alternated in one
#                             run, with the ratio; also writes
#                             $(BUILD)/bench/prof_overhead.csv
#
# Knobs: MEMSTATS_ARGS (e.g. "--calls 300 --threads 2"), PROF_OVERHEAD_REPS
# (7). Go is built as in bench/gc.mk (GO111MODULE=off, caches under
# $(BUILD)).

MEMSTATS_PAUSE := $(BUILD)/bench/memstats_pause
MEMSTATS_GO := $(BUILD)/bench/memstats_go
PROF_OVERHEAD := $(BUILD)/bench/prof_overhead
MEMSTATS_ARGS ?=
PROF_OVERHEAD_REPS ?= 7
OBSERVE_GO ?= go
OBSERVE_GOENV = GO111MODULE=off GOFLAGS= GOCACHE=$(abspath $(BUILD))/go-cache \
	GOPATH=$(abspath $(BUILD))/go-path

$(MEMSTATS_PAUSE): bench/memstats_pause.c bench/harness.h include/goheap.h $(LIBGOHEAP_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< $(LDLIBS)

$(MEMSTATS_GO): bench/go/memstats/main.go
	@echo "  GO      $@"
	@mkdir -p $(@D)
	$(Q)env $(OBSERVE_GOENV) $(OBSERVE_GO) build -o $@ $<

$(PROF_OVERHEAD): bench/prof_overhead.c bench/harness.h
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< -lm

.PHONY: bench-memstats bench-prof-overhead
bench-memstats: $(MEMSTATS_PAUSE) $(MEMSTATS_GO)
	$(Q)$(MEMSTATS_PAUSE) --go $(MEMSTATS_GO) --csv $(BUILD)/bench/memstats_pause.csv $(MEMSTATS_ARGS)

bench-prof-overhead: $(PROF_OVERHEAD) $(BUILD)/bench/gcbench_goheap $(BUILD)/bench/churn-gh
	$(Q)$(PROF_OVERHEAD) --gcbench $(BUILD)/bench/gcbench_goheap --churn $(BUILD)/bench/churn-gh \
		--reps $(PROF_OVERHEAD_REPS) --csv $(BUILD)/bench/prof_overhead.csv

BENCH_TARGETS += bench-memstats bench-prof-overhead
