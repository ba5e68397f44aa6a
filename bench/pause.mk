# bench/pause.mk: `make bench-pause`, stop-the-world pauses and mutator
# utilisation while marking with a large live heap (bench/pause.c, and
# bench/go/pause/main.go for Go).
#
# One run measures goheap (static libgoheap.a, the concurrent collector),
# bdwgc with its defaults, bdwgc with GC_enable_incremental(), and Go, one
# after the other, and prints one table; also writes
# $(BUILD)/bench/pause.csv. Knobs: PAUSE_LIVE_MB (1024), PAUSE_SECONDS (12),
# GO (go). Go is built as in bench/gc.mk (GO111MODULE=off, caches under
# $(BUILD)).

PAUSE_DIR := $(BUILD)/bench
PAUSE_LIVE_MB ?= 1024
PAUSE_SECONDS ?= 12
PAUSE_GO ?= go
PAUSE_GOENV = GO111MODULE=off GOFLAGS= GOCACHE=$(abspath $(BUILD))/go-cache \
	GOPATH=$(abspath $(BUILD))/go-path

$(PAUSE_DIR)/pause_goheap: bench/pause.c bench/harness.h bench/gcalloc.h include/goheap.h $(LIBGOHEAP_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -DUSE_GOHEAP -o $@ $< $(LDLIBS)

$(PAUSE_DIR)/pause_bdwgc: bench/pause.c bench/harness.h bench/gcalloc.h
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -DUSE_BDWGC -o $@ $< -lgc -lm

$(PAUSE_DIR)/pause_go: bench/go/pause/main.go
	@echo "  GO      $@"
	@mkdir -p $(@D)
	$(Q)env $(PAUSE_GOENV) $(PAUSE_GO) build -o $@ $<

.PHONY: bench-pause
bench-pause: $(PAUSE_DIR)/pause_goheap $(PAUSE_DIR)/pause_bdwgc $(PAUSE_DIR)/pause_go
	$(Q)$(PAUSE_DIR)/pause_goheap --drive --bdwgc $(PAUSE_DIR)/pause_bdwgc --go $(PAUSE_DIR)/pause_go \
		--live-mb $(PAUSE_LIVE_MB) --seconds $(PAUSE_SECONDS) --csv $(PAUSE_DIR)/pause.csv

BENCH_TARGETS += bench-pause
