# tests/pprof.mk: the heap profiles read by the real `go tool pprof`.
#
#   make test-pprof   builds tests/pprof/heapshare.c against the static
#                     library and runs tests/pprof/run.sh, which checks
#                     -top, -list, -traces and -svg on both profile formats
#                     and on GHHEAPPROFILE's files (part of `make test`).

PPROF_HEAPSHARE := $(BUILD)/tests/pprof/heapshare

$(PPROF_HEAPSHARE): tests/pprof/heapshare.c include/goheap.h $(LIBGOHEAP_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< $(LDLIBS)

.PHONY: test-pprof
test-pprof: $(PPROF_HEAPSHARE) tests/pprof/run.sh
	$(Q)sh tests/pprof/run.sh $(PPROF_HEAPSHARE) $(BUILD)/tests/pprof/out

TEST_EXTRA += test-pprof
