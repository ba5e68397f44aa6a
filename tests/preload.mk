# tests/preload.mk: the malloc family (libgoheap-malloc) under programs
# that know nothing of goheap.
#
#   make test-preload       (part of make test) the programs of
#                           tests/preload/, each run with
#                           LD_PRELOAD=libgoheap-malloc.so and linked with
#                           libgoheap-malloc.a (tests/preload/run.sh), then
#                           python3, sqlite3, git, gcc, perl and lua against
#                           the same runs on glibc (tests/preload/real.sh)
#   make test-preload-full  the real programs at ten times the size, and
#                           modules of Python's own test suite

PRELOAD_DIR := $(BUILD)/tests/preload
PRELOAD_LIB := $(BUILD)/libgoheap-malloc.so
PRELOAD_LIB_A := $(BUILD)/libgoheap-malloc.a
PRELOAD_NAMES := family roots threads fork signals bad leaky
PRELOAD_BINS := $(addprefix $(PRELOAD_DIR)/,$(PRELOAD_NAMES))
PRELOAD_STATIC_BINS := $(addsuffix -static,$(addprefix $(PRELOAD_DIR)/,family roots threads fork signals))
PRELOAD_EARLY_LIB := $(PRELOAD_DIR)/libpreload_early.so
PRELOAD_ALL := $(PRELOAD_BINS) $(PRELOAD_STATIC_BINS) $(PRELOAD_EARLY_LIB) \
	$(PRELOAD_DIR)/early $(PRELOAD_DIR)/early-static $(PRELOAD_DIR)/cxx $(PRELOAD_DIR)/cxx-static
PRELOAD_DEPS := tests/preload/check.h include/goheap.h

$(PRELOAD_BINS): $(PRELOAD_DIR)/%: tests/preload/%.c $(PRELOAD_DEPS)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $<

$(PRELOAD_STATIC_BINS): $(PRELOAD_DIR)/%-static: tests/preload/%.c $(PRELOAD_DEPS) $(PRELOAD_LIB_A)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< $(PRELOAD_LIB_A) $(LIBS_PRIVATE)

# C++: operator new and delete reach goheap through malloc and free. The
# program itself need not call malloc, so the static build takes the
# archive whole (an archive member is only linked when something the
# linker has seen so far refers to it).
$(PRELOAD_DIR)/cxx: tests/preload/cxx.cc $(PRELOAD_DEPS)
	@echo "  CXX     $@"
	@mkdir -p $(@D)
	$(Q)$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Iinclude -pthread -o $@ $<

$(PRELOAD_DIR)/cxx-static: tests/preload/cxx.cc $(PRELOAD_DEPS) $(PRELOAD_LIB_A)
	@echo "  CXX     $@"
	@mkdir -p $(@D)
	$(Q)$(CXX) -std=c++17 -O2 -g -Wall -Wextra -Iinclude -pthread -o $@ $< \
		-Wl,--whole-archive $(PRELOAD_LIB_A) -Wl,--no-whole-archive $(LIBS_PRIVATE)

$(PRELOAD_EARLY_LIB): tests/preload/early.c $(PRELOAD_DEPS)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) -fPIC -shared -o $@ $<

$(PRELOAD_DIR)/early: tests/preload/early_main.c $(PRELOAD_DEPS) $(PRELOAD_EARLY_LIB)
	@echo "  CC      $@"
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< -L$(PRELOAD_DIR) -Wl,-rpath,'$$ORIGIN' -lpreload_early

# The executable's libraries are initialised before the executable, so
# here libpreload_early.so allocates before the linked-in goheap starts.
$(PRELOAD_DIR)/early-static: tests/preload/early_main.c $(PRELOAD_DEPS) $(PRELOAD_EARLY_LIB) $(PRELOAD_LIB_A)
	@echo "  CC      $@"
	$(Q)$(CC) $(GOHEAP_CFLAGS) -o $@ $< -L$(PRELOAD_DIR) -Wl,-rpath,'$$ORIGIN' -lpreload_early \
		$(PRELOAD_LIB_A) $(LIBS_PRIVATE)

.PHONY: test-preload test-preload-full
test-preload: $(PRELOAD_ALL) $(PRELOAD_LIB) tests/preload/run.sh tests/preload/real.sh
	$(Q)sh tests/preload/run.sh $(PRELOAD_DIR) $(PRELOAD_LIB)
	$(Q)sh tests/preload/real.sh $(PRELOAD_LIB) $(PRELOAD_DIR)/real quick

test-preload-full: $(PRELOAD_LIB) tests/preload/real.sh
	$(Q)sh tests/preload/real.sh $(PRELOAD_LIB) $(PRELOAD_DIR)/real-full full

TEST_EXTRA += test-preload
