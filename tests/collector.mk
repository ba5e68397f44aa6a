# collector.mk: the shared library that tests/api/test_collector.c loads to
# check that a static variable inside a shared library is a root.
#
# It is built from test_collector.c itself (-DCOLLECTOR_ROOTS_LIB selects
# the library half), so that tests/api/ holds only test programs, and it is
# put beside both builds of the test (static and shared), which look for
# it in their own directory. It needs nothing from goheap.

COLLECTOR_ROOTS_LIBS := $(BUILD)/tests/api/libcollector_roots.so \
	$(BUILD)/tests/api-shared/libcollector_roots.so

$(COLLECTOR_ROOTS_LIBS): tests/api/test_collector.c
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -fPIC -shared -DCOLLECTOR_ROOTS_LIB -o $@ $<

test-api: $(COLLECTOR_ROOTS_LIBS)
