# tests/pprof_http.mk: the /debug/pprof/ HTTP server seen from outside.
#
#   make test-pprof-http   builds tests/pprof/httpserve.c against the static
#                          library and runs tests/pprof/http.sh: the real
#                          `go tool pprof` reads the heap profile of the
#                          running program over HTTP, curl and python3 check
#                          the other pages and garbage requests (part of
#                          `make test`; the server's internals are tested by
#                          tests/unit/test_pprof_http.c).

PPROF_HTTPSERVE := $(BUILD)/tests/pprof/httpserve

$(PPROF_HTTPSERVE): tests/pprof/httpserve.c include/goheap.h $(LIBGOHEAP_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< $(LDLIBS)

.PHONY: test-pprof-http
test-pprof-http: $(PPROF_HTTPSERVE) tests/pprof/http.sh
	$(Q)sh tests/pprof/http.sh $(abspath $(PPROF_HTTPSERVE)) $(BUILD)/tests/pprof/http

TEST_EXTRA += test-pprof-http
