# bench/gc.mk: `make bench-gc`, the collector benchmarks.
#
# GCBench and binary-trees, each built three ways: in C on goheap (static
# libgoheap.a), in C on bdwgc (-lgc) and in Go, then run by bench/runner.c,
# BENCH_GC_RUNS times each, into one table of median wall time and peak RSS
# with ratios to bdwgc, also written to $(BUILD)/bench/gc.csv. The runner
# fails when a program exits non-zero or prints checks that differ from
# the others'.
#
# Knobs: BENCH_GC_RUNS (3), BENCH_GC_DEPTH (binary-trees depth, 20 here so
# that the whole run stays near two minutes on two cores; the programs'
# own default, and the Benchmarks Game's, is 21), GO (go).
#
# Go is built with GO111MODULE=off and its cache under $(BUILD), so nothing
# is fetched and nothing is written outside the build directory.

BENCH_GC_DIR := $(BUILD)/bench
BENCH_GC_RUNS ?= 3
BENCH_GC_DEPTH ?= 20
GO ?= go
BENCH_GC_GOENV = GO111MODULE=off GOFLAGS= GOCACHE=$(abspath $(BUILD))/go-cache \
	GOPATH=$(abspath $(BUILD))/go-path
# Versions for the table's header, looked up only when bench-gc runs.
BENCH_GC_BDWGC_VERSION = $(shell printf '\043include <gc/gc.h>\nv GC_VERSION_MAJOR GC_VERSION_MINOR \
	GC_VERSION_MICRO\n' | $(CC) -E -P -x c - 2>/dev/null | tail -n 1 | awk '{print $$2 "." $$3 "." $$4}')
BENCH_GC_GO_VERSION = $(shell env $(BENCH_GC_GOENV) $(GO) env GOVERSION 2>/dev/null)
BENCH_GC_PROGS := gcbench binarytrees
BENCH_GC_BINS := $(foreach p,$(BENCH_GC_PROGS),$(BENCH_GC_DIR)/$(p)_goheap \
	$(BENCH_GC_DIR)/$(p)_bdwgc $(BENCH_GC_DIR)/$(p)_go)

BENCH_TARGETS += bench-gc

$(BENCH_GC_PROGS:%=$(BENCH_GC_DIR)/%_goheap): $(BENCH_GC_DIR)/%_goheap: bench/%.c \
		bench/gcalloc.h include/goheap.h $(LIBGOHEAP_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -DUSE_GOHEAP -o $@ $< $(LDLIBS)

$(BENCH_GC_PROGS:%=$(BENCH_GC_DIR)/%_bdwgc): $(BENCH_GC_DIR)/%_bdwgc: bench/%.c bench/gcalloc.h
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -DUSE_BDWGC -o $@ $< -lgc

$(BENCH_GC_PROGS:%=$(BENCH_GC_DIR)/%_go): $(BENCH_GC_DIR)/%_go: bench/go/%/main.go
	@echo "  GO      $@"
	@mkdir -p $(@D)
	$(Q)env $(BENCH_GC_GOENV) $(GO) build -o $@ $<

$(BENCH_GC_DIR)/runner: bench/runner.c bench/harness.h
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< -lm

.PHONY: bench-gc
bench-gc: $(BENCH_GC_BINS) $(BENCH_GC_DIR)/runner
	$(Q)$(BENCH_GC_DIR)/runner -n $(BENCH_GC_RUNS) -b bdwgc -o $(BENCH_GC_DIR)/gc.csv \
	  -t "Collector benchmarks: GCBench (Ellis/Kovac/Boehm shape: stretch tree 18, long-lived tree 16 and 500,000 doubles, short-lived trees of depth 4..16)" \
	  -t "and binary-trees (Benchmarks Game, depth $(BENCH_GC_DEPTH), single-threaded: one allocating thread)." \
	  -t "goheap: gh_malloc, static libgoheap.a, GOGC=100.  bdwgc $(BENCH_GC_BDWGC_VERSION): GC_MALLOC, GC_INIT() with its defaults, no tuning.  go: $(BENCH_GC_GO_VERSION), GOGC=100." \
	  "gcbench/goheap=GOGC=100 $(BENCH_GC_DIR)/gcbench_goheap" \
	  "gcbench/bdwgc=$(BENCH_GC_DIR)/gcbench_bdwgc" \
	  "gcbench/go=GOGC=100 $(BENCH_GC_DIR)/gcbench_go" \
	  "binarytrees/goheap=GOGC=100 $(BENCH_GC_DIR)/binarytrees_goheap $(BENCH_GC_DEPTH)" \
	  "binarytrees/bdwgc=$(BENCH_GC_DIR)/binarytrees_bdwgc $(BENCH_GC_DEPTH)" \
	  "binarytrees/go=GOGC=100 $(BENCH_GC_DIR)/binarytrees_go $(BENCH_GC_DEPTH)"
