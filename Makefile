# Makefile for goheap.
#
# Targets
#   all (default)  build/libgoheap.a, build/libgoheap.so and build/goheap.pc
#   test           tools/deps.sh, then: exported-symbol and size-class table
#                  checks, unit tests, API tests (static and shared), stress
#                  programs with their small arguments, then $(TEST_EXTRA)
#   stress         tools/deps.sh, then every stress program with its long
#                  arguments (plain, under GODEBUG=gccheckmark=1, and against
#                  a DEBUG=2 library), then $(STRESS_TARGETS)
#   bench          tools/deps.sh, then $(BENCH_TARGETS)
#   demo           tools/deps.sh, then $(DEMO_TARGET) (or bench if empty)
#   install        PREFIX=/usr/local (absolute), DESTDIR honoured
#   sizeclasses    regenerate runtime/sizeclass_table.h
#   deps           run tools/deps.sh alone
#   check-symbols, check-sizeclasses, test-unit, test-api, test-stress
#                  one step of `make test` alone (without deps)
#   clean          remove build/ and $(CLEAN_FILES)
#
# Knobs: DEBUG=0|1|2 selects the debug level compiled into the library
# (-DGH_DEBUG=N); a debug build lives in build/debugN/ so that levels never
# mix. Unit tests always link a debug build (DEBUG=1, or the level asked
# for) so that gh_assert is active. V=1 shows the commands; EXTRA_CFLAGS is
# appended to the compile flags; TEST_TIMEOUT bounds each test program
# (seconds, a guard against hangs, not a measurement).
#
# Fragments: bench/*.mk, tools/*.mk and tests/*.mk are included at the end.
# They may append (+=) to:
#   BENCH_TARGETS   targets that `make bench` runs
#   TEST_EXTRA      targets that `make test` runs last, after the stress step
#   STRESS_TARGETS  targets that `make stress` runs after the stress programs
#   CLEAN_FILES     files outside build/ that `make clean` removes
# and may set DEMO_TARGET, the target that `make demo` runs after deps.
# They can use these variables (also exported to their commands):
#   CC, CFLAGS      the compiler and the library's compile flags
#   GOHEAP_CFLAGS   flags for a program that uses only include/goheap.h
#   BUILD           output directory of this DEBUG level; put outputs there
#   LIBGOHEAP_A     the static library, LIBGOHEAP_SO its shared twin
#   LDLIBS          link goheap statically: the archive plus its libraries
#   LDLIBS_SHARED   link goheap's shared library (with an rpath)
#   Q               "@" unless V=1, to prefix quiet commands
# A fragment's rule that builds from the library should list $(LIBGOHEAP_A)
# (or $(LIBGOHEAP_SO)) as a prerequisite. Fragments are read after
# .SECONDEXPANSION, so a literal $ in a prerequisite list must be written $$.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

ifeq ($(origin CC),default)
CC := gcc
endif
LD ?= ld
OBJCOPY ?= objcopy
AR ?= ar
NM ?= nm
PKG_CONFIG ?= pkg-config

DEBUG ?= 0
ifeq ($(filter $(DEBUG),0 1 2),)
$(error DEBUG must be 0, 1 or 2, not "$(DEBUG)")
endif

V ?= 0
Q := $(if $(filter 1,$(V)),,@)
TEST_TIMEOUT ?= 600
PREFIX ?= /usr/local
DESTDIR ?=

CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden -pthread \
	-Iinclude -Iruntime $(EXTRA_CFLAGS)
GOHEAP_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -Iinclude $(EXTRA_CFLAGS)
LIBS_PRIVATE := -lunwind -latomic_ops -lz -lpthread -ldl -lm

# The version comes from include/goheap.h; the soname carries the major.
version_part = $(shell sed -n 's/^.define GH_VERSION_$1 *\([0-9][0-9]*\).*/\1/p' include/goheap.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
ifeq ($(words $(subst ., ,$(VERSION))),3)
else
$(error cannot read GH_VERSION_MAJOR/MINOR/PATCH from include/goheap.h)
endif
SONAME := libgoheap.so.$(VERSION_MAJOR)

# tools/deps.sh runs once per invocation of make, before anything is built,
# whenever a goal needs the installed packages. Sub-makes skip it.
DEPS_GOALS := test stress bench demo
ifneq ($(filter $(DEPS_GOALS),$(MAKECMDGOALS)),)
ifeq ($(GH_DEPS_DONE),)
DEPS_STATUS := $(shell sh tools/deps.sh 1>&2; echo $$?)
ifneq ($(DEPS_STATUS),0)
$(error tools/deps.sh failed (exit status $(DEPS_STATUS)))
endif
export GH_DEPS_DONE := 1
endif
endif

# ---- Library, one set of rules per debug level ---------------------------

# runtime/shim.c (malloc, free, ...) goes only into libgoheap-malloc.
RT_SRCS := $(filter-out runtime/shim.c,$(sort $(wildcard runtime/*.c)))

builddir_of = $(if $(filter 0,$1),build,build/debug$1)
objs_of = $(patsubst runtime/%.c,$(call builddir_of,$1)/obj/%.o,$(RT_SRCS))

BUILD := $(call builddir_of,$(DEBUG))
UNIT_DEBUG := $(if $(filter 0,$(DEBUG)),1,$(DEBUG))
LIBGOHEAP_A := $(BUILD)/libgoheap.a
LIBGOHEAP_SO := $(BUILD)/libgoheap.so
LDLIBS := $(LIBGOHEAP_A) $(LIBS_PRIVATE)
LDLIBS_SHARED := -L$(abspath $(BUILD)) -Wl,-rpath,$(abspath $(BUILD)) -lgoheap

export CC CFLAGS GOHEAP_CFLAGS BUILD LIBGOHEAP_A LIBGOHEAP_SO LDLIBS LDLIBS_SHARED Q

# goheap_pc writes goheap.pc.in with prefix $1, libdir $2 and extra Libs $3.
goheap_pc = sed -e '/^\#/d' -e 's|@PREFIX@|$1|' -e 's|@LIBDIR@|$2|' -e 's|@LIBS_EXTRA@|$3|' \
	-e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' -e 's|@VERSION@|$(VERSION)|' goheap.pc.in

# level_rules builds, for debug level $1 in directory $2: the objects (with
# a stamp of the compile command, so that changed flags rebuild them), one
# relocatable goheap.o whose hidden symbols are made local, the static and
# shared libraries, an in-tree goheap.pc and the stress programs.
define level_rules
$2/obj/.cflags: FORCE
	@mkdir -p $$(@D)
	@echo '$$(CC) $$(CFLAGS) -DGH_DEBUG=$1' | cmp -s - $$@ || \
		echo '$$(CC) $$(CFLAGS) -DGH_DEBUG=$1' > $$@

$2/obj/%.o: runtime/%.c $2/obj/.cflags
	@echo "  CC      $$<$(if $(filter 0,$1),, (DEBUG=$1))"
	$$(Q)$$(CC) $$(CFLAGS) -DGH_DEBUG=$1 -MMD -MP -c -o $$@ $$<

$2/goheap.o: $(call objs_of,$1)
	@echo "  LD -r   $$@"
	$$(Q)$$(LD) -r -o $$@.tmp $$^
	$$(Q)$$(OBJCOPY) --localize-hidden --localize-symbol=__start_gh_alloc_text --localize-symbol=__stop_gh_alloc_text $$@.tmp $$@
	$$(Q)rm -f $$@.tmp

$2/libgoheap.a: $2/goheap.o
	@echo "  AR      $$@"
	$$(Q)rm -f $$@
	$$(Q)$$(AR) rcs $$@ $$<

$2/libgoheap.so.$(VERSION): $(call objs_of,$1) tools/libgoheap.map
	@echo "  LD      $$@"
	$$(Q)$$(CC) -shared -pthread -Wl,-soname,$(SONAME) -Wl,--no-undefined -Wl,--version-script=tools/libgoheap.map -o $$@ $$(filter %.o,$$^) -Wl,--as-needed $(LIBS_PRIVATE)

$2/$(SONAME) $2/libgoheap.so: $2/libgoheap.so.$(VERSION)
	$$(Q)ln -sf $$(<F) $$@

$2/goheap-malloc.o: $(call objs_of,$1) $2/obj/shim.o
	@echo "  LD -r   $$@"
	$$(Q)$$(LD) -r -o $$@.tmp $$^
	$$(Q)$$(OBJCOPY) --localize-hidden --localize-symbol=__start_gh_alloc_text --localize-symbol=__stop_gh_alloc_text $$@.tmp $$@
	$$(Q)rm -f $$@.tmp

$2/libgoheap-malloc.a: $2/goheap-malloc.o
	@echo "  AR      $$@"
	$$(Q)rm -f $$@
	$$(Q)$$(AR) rcs $$@ $$<

$2/libgoheap-malloc.so: $(call objs_of,$1) $2/obj/shim.o tools/libgoheap.map
	@echo "  LD      $$@"
	$$(Q)$$(CC) -shared -pthread -Wl,-soname,libgoheap-malloc.so -Wl,-Bsymbolic-functions -Wl,--no-undefined -Wl,--version-script=tools/libgoheap.map -o $$@ $$(filter %.o,$$^) -Wl,--as-needed $(LIBS_PRIVATE)

$2/goheap.pc: goheap.pc.in include/goheap.h Makefile
	@echo "  GEN     $$@"
	$$(Q)$$(call goheap_pc,$(CURDIR),$$$${prefix}/$2,-Wl$$(comma)-rpath$$(comma)$$$${libdir} ) > $$@

$2/tests/stress/%: tests/stress/%.c $2/libgoheap.a
	@echo "  CC      $$@"
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(GOHEAP_CFLAGS) -MMD -MP -MF $$@.d -MT $$@ -o $$@ $$< $2/libgoheap.a $(LIBS_PRIVATE)
endef

comma := ,
$(foreach l,0 1 2,$(eval $(call level_rules,$l,$(call builddir_of,$l))))

.PHONY: all
all: $(LIBGOHEAP_A) $(LIBGOHEAP_SO) $(BUILD)/$(SONAME) $(BUILD)/goheap.pc \
	$(BUILD)/libgoheap-malloc.so $(BUILD)/libgoheap-malloc.a

# ---- Install ----------------------------------------------------------------

LIBDIR := $(PREFIX)/lib
INCLUDEDIR := $(PREFIX)/include

.PHONY: install
install: all
	@case '$(PREFIX)' in /*) ;; *) echo "PREFIX must be an absolute path" >&2; exit 1;; esac
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 $(LIBGOHEAP_A) $(DESTDIR)$(LIBDIR)/libgoheap.a
	install -m 755 $(BUILD)/libgoheap.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgoheap.so.$(VERSION)
	ln -sf libgoheap.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libgoheap.so
	install -m 644 include/goheap.h $(DESTDIR)$(INCLUDEDIR)/goheap.h
	$(call goheap_pc,$(PREFIX),$${prefix}/lib,) > $(DESTDIR)$(LIBDIR)/pkgconfig/goheap.pc

# ---- Size classes -------------------------------------------------------------

build/tools/mksizeclasses: tools/mksizeclasses.c runtime/sizeclass.h
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iruntime -o $@ $<

.PHONY: sizeclasses
sizeclasses: build/tools/mksizeclasses
	$< > build/tools/sizeclass_table.h
	cp build/tools/sizeclass_table.h runtime/sizeclass_table.h

# ---- Tests ------------------------------------------------------------------

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
API_SRCS := $(sort $(wildcard tests/api/*.c))
STRESS_SRCS := $(sort $(wildcard tests/stress/*.c))

UNIT_OBJS := $(call objs_of,$(UNIT_DEBUG))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
API_BINS := $(patsubst tests/api/%.c,$(BUILD)/tests/api/%,$(API_SRCS))
API_SHARED_BINS := $(patsubst tests/api/%.c,$(BUILD)/tests/api-shared/%,$(API_SRCS))
STRESS_BINS := $(patsubst tests/stress/%.c,$(BUILD)/tests/stress/%,$(STRESS_SRCS))
STRESS_DEBUG2_BINS := $(patsubst tests/stress/%.c,build/debug2/tests/stress/%,$(STRESS_SRCS))

UNIT_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -Iinclude -Iruntime \
	-DGH_DEBUG=$(UNIT_DEBUG) $(EXTRA_CFLAGS)
PKG_CONFIG_TREE := PKG_CONFIG_PATH=$(BUILD) $(PKG_CONFIG)

# Unit tests link every runtime object of the debug build directly.
$(UNIT_BINS): $(BUILD)/tests/unit/%: tests/unit/%.c $(UNIT_OBJS)
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(UNIT_CFLAGS) -MMD -MP -MF $@.d -MT $@ -o $@ $< $(UNIT_OBJS) -lcmocka $(LIBS_PRIVATE)

# API tests link the way a user does, through pkg-config. The static build
# asks for -l:libgoheap.a, because a plain -lgoheap would pick the shared
# library that sits beside the archive.
$(API_BINS): $(BUILD)/tests/api/%: tests/api/%.c $(LIBGOHEAP_A) $(BUILD)/goheap.pc
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) $$($(PKG_CONFIG_TREE) --static --cflags goheap) \
		-MMD -MP -MF $@.d -MT $@ -o $@ $< \
		$$($(PKG_CONFIG_TREE) --static --libs goheap | sed 's/-lgoheap\b/-l:libgoheap.a/') -lcmocka -ldl

$(API_SHARED_BINS): $(BUILD)/tests/api-shared/%: tests/api/%.c $(LIBGOHEAP_SO) $(BUILD)/$(SONAME) $(BUILD)/goheap.pc
	@echo "  CC      $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(GOHEAP_CFLAGS) $$($(PKG_CONFIG_TREE) --cflags goheap) \
		-MMD -MP -MF $@.d -MT $@ -o $@ $< $$($(PKG_CONFIG_TREE) --libs goheap) -lcmocka -ldl

# run_test runs one program quietly: on success it prints PASS and any
# cmocka summary lines, on failure its whole output. Arguments: the name to
# show, the log file, then the command.
RUN_TEST = run_test() { \
	name=$$1; log=$$2; shift 2; \
	if timeout -k 10 $(TEST_TIMEOUT) "$$@" > "$$log" 2>&1; then \
		echo "  PASS    $$name"; \
		grep -E '^\[(==========|  PASSED  |  SKIPPED |  FAILED  )\] [0-9]+ test' "$$log" | sed 's/^/          /' || true; \
	else \
		rc=$$?; cat "$$log"; \
		if [ $$rc -eq 124 ]; then echo "  FAIL    $$name (timed out after $(TEST_TIMEOUT) s)"; \
		else echo "  FAIL    $$name (exit status $$rc)"; fi; \
		exit 1; \
	fi; }

# stress_args prints the arguments named by a "// <kind>-args:" line.
STRESS_ARGS = stress_args() { sed -n "s|^// $$1-args: *||p" "$$2" | head -n 1; }

# Only global symbols of the public API (and the malloc family,
# pthread_create and the malloc shim's sigaction, signal and bsd_signal,
# which interpose libc) may leave the library.
EXPORTS_ALLOWED := gh_[A-Za-z0-9_]+|malloc|calloc|realloc|reallocarray|free|cfree|aligned_alloc|posix_memalign|memalign|valloc|pvalloc|malloc_usable_size|pthread_create|sigaction|signal|bsd_signal|__libc_(malloc|free|calloc|realloc|memalign|valloc|pvalloc)

.PHONY: check-symbols
check-symbols: $(BUILD)/goheap.o $(LIBGOHEAP_SO) $(BUILD)/goheap-malloc.o $(BUILD)/libgoheap-malloc.so
	@bad=$$( { $(NM) -g --defined-only $(BUILD)/goheap.o $(BUILD)/goheap-malloc.o; \
		$(NM) -D --defined-only $(LIBGOHEAP_SO) $(BUILD)/libgoheap-malloc.so; } | \
		awk 'NF == 3 { print $$3 }' | sed 's/@.*//' | sort -u | grep -vxE '$(EXPORTS_ALLOWED)' || true); \
	if [ -n "$$bad" ]; then echo "  FAIL    symbols leak out of the library:" $$bad; exit 1; fi; \
	echo "  PASS    exported symbols"

.PHONY: check-sizeclasses
check-sizeclasses: build/tools/mksizeclasses
	@build/tools/mksizeclasses > build/tools/sizeclass_table.h
	@if cmp -s build/tools/sizeclass_table.h runtime/sizeclass_table.h; then \
		echo "  PASS    runtime/sizeclass_table.h is what tools/mksizeclasses.c generates"; \
	else echo "  FAIL    runtime/sizeclass_table.h is stale: run make sizeclasses"; exit 1; fi

.PHONY: test-unit test-api test-stress
test-unit: $(UNIT_BINS)
	@$(RUN_TEST); for t in $(UNIT_BINS); do run_test "unit/$${t##*/}" "$$t.log" "$$t"; done

test-api: $(API_BINS) $(API_SHARED_BINS)
	@$(RUN_TEST); for t in $(API_BINS); do \
		run_test "api/$${t##*/}" "$$t.log" "$$t"; \
	done; \
	for t in $(API_SHARED_BINS); do \
		run_test "api/$${t##*/} (shared)" "$$t.log" "$$t"; \
	done

test-stress: $(STRESS_BINS)
	@$(RUN_TEST); $(STRESS_ARGS); for t in $(STRESS_BINS); do \
		n=$${t##*/}; args=$$(stress_args test tests/stress/$$n.c); \
		run_test "stress/$$n$${args:+ $$args}" "$$t.log" "$$t" $$args; \
	done

# Under `make test` the steps run in this order even with -j: checks, unit,
# API, stress; the binaries of later steps may build meanwhile.
ifneq ($(filter test,$(MAKECMDGOALS)),)
test-unit: | check-symbols check-sizeclasses
test-api: | test-unit
test-stress: | test-api
endif

.PHONY: test
test: check-symbols check-sizeclasses test-unit test-api test-stress
	$(if $(strip $(TEST_EXTRA)),$(Q)$(MAKE) --no-print-directory $(TEST_EXTRA))
	@echo "  OK      all tests passed"

.PHONY: stress
stress: $(STRESS_BINS) $(STRESS_DEBUG2_BINS)
	@$(RUN_TEST); $(STRESS_ARGS); for t in $(STRESS_BINS); do \
		n=$${t##*/}; args=$$(stress_args stress tests/stress/$$n.c); \
		run_test "stress/$$n $$args" "$$t.log" "$$t" $$args; \
		run_test "stress/$$n $$args (gccheckmark=1)" "$$t.checkmark.log" \
			env GODEBUG=$${GODEBUG:+$$GODEBUG,}gccheckmark=1 "$$t" $$args; \
		$(if $(filter 2,$(DEBUG)),:,run_test "stress/$$n $$args (DEBUG=2)" \
			"build/debug2/tests/stress/$$n.log" "build/debug2/tests/stress/$$n" $$args); \
	done
	$(if $(strip $(STRESS_TARGETS)),$(Q)$(MAKE) --no-print-directory $(STRESS_TARGETS))

.PHONY: deps
deps:
	$(if $(GH_DEPS_DONE),@:,@sh tools/deps.sh)

.PHONY: clean
clean:
	rm -rf build $(CLEAN_FILES)

.PHONY: FORCE
FORCE:

-include $(wildcard $(foreach l,0 1 2,$(call builddir_of,$l)/obj/*.d $(call builddir_of,$l)/tests/*/*.d))

# ---- Fragment-driven targets ----------------------------------------------------
# Their prerequisites are expanded a second time, after the fragments below
# have added to the lists.

BENCH_TARGETS :=
TEST_EXTRA :=
STRESS_TARGETS :=
DEMO_TARGET :=
CLEAN_FILES :=

.SECONDEXPANSION:

.PHONY: bench
bench: $$(BENCH_TARGETS)
	$(if $(strip $(BENCH_TARGETS)),@:,@echo "no benchmarks yet (no bench/*.mk adds to BENCH_TARGETS)")

.PHONY: demo
demo: $$(if $$(strip $$(DEMO_TARGET)),$$(DEMO_TARGET),bench)

-include $(wildcard bench/*.mk tools/*.mk tests/*.mk)
