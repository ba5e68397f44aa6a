# growth.mk: `make demo`, buffer-growth strategies on goheap and in Go
# (tools/growbench.c, tools/go/growbench), with their gctrace lines drawn as
# one chart (tools/gctrace-plot), and the checks of that plotter.
#
#   make demo                      runs every strategy on both runtimes and
#                                  writes build/demo/: growth.svg and .png,
#                                  growth.csv and .json, gctrace logs, and
#                                  the heap profile of double at its peak
#   make demo GROWTH_ARGS='--total 140M --gogc 50'
#                                  passes options to growbench
#   make test-growth-plot          the plotter's checks (part of make test)

DEMO_TARGET := demo-growth
TEST_EXTRA += test-growth-plot

GROWTH_DIR := $(BUILD)/demo
GROWBENCH := $(BUILD)/tools/growbench
GROWBENCH_GO := $(BUILD)/tools/growbench-go
GROWTH_STRATEGIES ?= double,x1.5,goappend,exact,step,chunked,prealloc,realloc
GROWTH_ARGS ?=
# Go builds with the Debian toolchain, caches under build/, fetches nothing.
GROWTH_GO_ENV := GOCACHE=$(abspath build/go-cache) GOPATH=$(abspath build/gopath) \
	GO111MODULE=off GOFLAGS= GOTOOLCHAIN=local

$(GROWBENCH): tools/growbench.c tools/growth.h $(LIBGOHEAP_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -Itools -o $@ tools/growbench.c $(LDLIBS)

$(GROWBENCH_GO): tools/go/growbench/main.go
	@echo "  GO      $@"
	@mkdir -p $(@D)
	$(Q)cd tools/go/growbench && $(GROWTH_GO_ENV) go build -o $(abspath $@) .

# The chart gets a panel per strategy with goheap solid and Go dashed. The
# heap profile of double is read back with the real pprof; goheap's own
# frames (gh_*, malloc_*, ...) are hidden so that the bytes are charged to
# the function that called the allocator, as Go's profiles leave out
# runtime.* frames.
.PHONY: demo-growth
demo-growth: $(GROWBENCH) $(GROWBENCH_GO)
	@mkdir -p $(GROWTH_DIR)
	GCTRACE=1 $(GROWBENCH) --go $(GROWBENCH_GO) --out $(GROWTH_DIR) \
		--strategies $(GROWTH_STRATEGIES) --show double $(GROWTH_ARGS)
	@runs=; for s in $$(echo $(GROWTH_STRATEGIES) | tr , ' '); do \
		for rt in goheap go; do \
			log=$(GROWTH_DIR)/gctrace-$$rt-$$s.log; \
			[ -f $$log ] && runs="$$runs $$s/$$rt=$$log"; \
		done; \
	done; \
	echo "tools/gctrace-plot -o $(GROWTH_DIR)/growth.svg ..."; \
	tools/gctrace-plot -o $(GROWTH_DIR)/growth.svg \
		-t "gctrace: heap at start, heap at end, live and goal (MB) per strategy; goheap solid, Go dashed" $$runs
	rsvg-convert -o $(GROWTH_DIR)/growth.png $(GROWTH_DIR)/growth.svg
	@if [ -f $(GROWTH_DIR)/heap-goheap-double.pb.gz ]; then \
		echo; echo "Heap profile of double, written at its peak (in-use bytes as of the last"; \
		echo "completed collection, as in Go): go tool pprof -top -inuse_space"; \
		$(GROWTH_GO_ENV) go tool pprof -top -inuse_space \
			$(GROWBENCH) $(GROWTH_DIR)/heap-goheap-double.pb.gz 2>&1 | head -n 14; \
	fi
	@echo; echo "Chart: $(GROWTH_DIR)/growth.svg and $(GROWTH_DIR)/growth.png"

.PHONY: test-growth-plot
test-growth-plot: $(GROWBENCH) $(GROWBENCH_GO)
	@tests/growth/test-gctrace-plot.sh $(GROWBENCH) $(GROWBENCH_GO)
