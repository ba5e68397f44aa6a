/* libroots_fixture.c: a shared library for test_roots, which dlopens it to
 * check that the data and bss of an object loaded at run time become roots
 * and stop being roots once it is unloaded. Built by tests/roots.mk into
 * the directory of the test binary. */
#include <stdint.h>

static uintptr_t fixture_data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static uintptr_t fixture_bss[8];
static const uintptr_t fixture_rodata[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };

uintptr_t *roots_fixture_data(void) { return fixture_data; }
uintptr_t *roots_fixture_bss(void) { return fixture_bss; }
const uintptr_t *roots_fixture_rodata(void) { return fixture_rodata; }
