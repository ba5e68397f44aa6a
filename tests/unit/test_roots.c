/* test_roots.c: the global roots (roots.c): data and bss of the executable
 * and of a dlopen'ed library, RELRO and read-only data left out, objects
 * loaded or unloaded between roots_prepare and the stop, user roots, and
 * the /proc/self/maps reader. The dlopen'ed library is
 * libroots_fixture.so, built beside this test by tests/roots.mk. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "goheap.h"
#include "roots.h"
#include "threads.h"

#define MAX_RANGES 9000

/* Globals of each kind the scan must include or leave out. Not static, so
 * that the compiler keeps them in their sections. */
uintptr_t roots_test_data[4] = { 1, 2, 3, 4 };          /* .data */
uintptr_t roots_test_bss[4];                             /* .bss */
const uintptr_t roots_test_rodata[4] = { 4, 3, 2, 1 };   /* .rodata */
uintptr_t *const roots_test_relro = &roots_test_data[1]; /* .data.rel.ro: RELRO */

static struct ranges {
    size_t n;
    uintptr_t lo[MAX_RANGES], hi[MAX_RANGES];
} found;

static void collect(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct ranges *r = arg;
    if (r->n < MAX_RANGES) {
        r->lo[r->n] = lo;
        r->hi[r->n] = hi;
    }
    r->n++;
}

/* covered counts the reported ranges that hold all of [p, p + len). */
static int covered(const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    int n = 0;
    for (size_t i = 0; i < found.n && i < MAX_RANGES; i++)
        n += a >= found.lo[i] && a + len <= found.hi[i];
    return n;
}

/* scan runs the collector's protocol and returns roots_each's result. */
static int scan(void)
{
    found.n = 0;
    roots_prepare();
    threads_stop_world();
    int missed = roots_each(collect, &found);
    threads_start_world();
    return missed;
}

static void *open_fixture(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 64);
    assert_true(n > 0);
    path[n] = '\0';
    strcpy(strrchr(path, '/') + 1, "libroots_fixture.so");
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL)
        fail_msg("dlopen %s: %s", path, dlerror());
    return h;
}

static uintptr_t *fixture_addr(void *h, const char *fn)
{
    uintptr_t *(*get)(void) = (uintptr_t *(*)(void))dlsym(h, fn);
    assert_non_null(get);
    return get();
}

static void executable_data_and_bss_are_roots(void **state)
{
    (void)state;
    assert_int_equal(scan(), 0);
    assert_int_equal(covered(roots_test_data, sizeof(roots_test_data)), 1);
    assert_int_equal(covered(roots_test_bss, sizeof(roots_test_bss)), 1);
    assert_true(found.n > 0 && found.n < MAX_RANGES);
}

static void rodata_and_relro_are_not_roots(void **state)
{
    (void)state;
    scan();
    assert_int_equal(covered(roots_test_rodata, sizeof(uintptr_t)), 0);
    assert_int_equal(covered(&roots_test_relro, sizeof(uintptr_t)), 0);
    /* The executable's code is not a root either. */
    assert_int_equal(covered((const void *)(uintptr_t)&scan, 1), 0);
}

static void ranges_are_aligned_and_counted_as_globals(void **state)
{
    (void)state;
    uint64_t sum = 0;
    scan();
    for (size_t i = 0; i < found.n; i++) {
        assert_true(found.lo[i] < found.hi[i]);
        assert_int_equal(found.lo[i] % sizeof(void *), 0);
        assert_int_equal(found.hi[i] % sizeof(void *), 0);
        sum += found.hi[i] - found.lo[i];
    }
    assert_true(sum > 0);
    assert_int_equal(roots_globals_bytes(), sum);
}

static void dlopen_adds_and_dlclose_removes_a_library(void **state)
{
    (void)state;
    void *h = open_fixture();
    uintptr_t *data = fixture_addr(h, "roots_fixture_data");
    uintptr_t *bss = fixture_addr(h, "roots_fixture_bss");
    const uintptr_t *rodata = fixture_addr(h, "roots_fixture_rodata");

    assert_int_equal(scan(), 0);
    assert_int_equal(covered(data, 8 * sizeof(uintptr_t)), 1);
    assert_int_equal(covered(bss, 8 * sizeof(uintptr_t)), 1);
    assert_int_equal(covered(rodata, sizeof(uintptr_t)), 0);

    assert_int_equal(dlclose(h), 0);
    assert_int_equal(scan(), 0);
    assert_int_equal(covered(data, sizeof(uintptr_t)), 0);
    assert_int_equal(covered(bss, sizeof(uintptr_t)), 0);
}

static void library_unloaded_after_prepare_is_skipped(void **state)
{
    (void)state;
    void *h = open_fixture();
    uintptr_t *data = fixture_addr(h, "roots_fixture_data");
    uintptr_t *bss = fixture_addr(h, "roots_fixture_bss");

    found.n = 0;
    roots_prepare();
    assert_int_equal(dlclose(h), 0);
    threads_stop_world();
    int missed = roots_each(collect, &found);
    threads_start_world();
    assert_int_equal(missed, 0);
    assert_int_equal(covered(data, sizeof(uintptr_t)), 0);
    assert_int_equal(covered(bss, sizeof(uintptr_t)), 0);
    assert_int_equal(covered(roots_test_data, sizeof(roots_test_data)), 1);
}

static void library_loaded_after_prepare_is_counted_as_missed(void **state)
{
    (void)state;
    found.n = 0;
    roots_prepare();
    void *h = open_fixture();
    uintptr_t *data = fixture_addr(h, "roots_fixture_data");
    threads_stop_world();
    int missed = roots_each(collect, &found);
    threads_start_world();
    assert_int_equal(missed, 1);
    assert_int_equal(covered(data, sizeof(uintptr_t)), 0);

    /* The retry the caller makes sees it. */
    assert_int_equal(scan(), 0);
    assert_int_equal(covered(data, sizeof(uintptr_t)), 1);
    assert_int_equal(dlclose(h), 0);
}

/* Memory for user roots, outside every object's data and bss. */
#define USER_AREA_WORDS (2 * 8192 + 16)
static uintptr_t *user_area;

static void user_roots_are_added_and_removed(void **state)
{
    (void)state;
    uintptr_t *a = &user_area[0], *b = &user_area[8];

    assert_int_equal(gh_add_roots(a, a + 4), 0);
    assert_int_equal(gh_add_roots(b, b + 4), 0);
    scan();
    assert_int_equal(covered(a, 4 * sizeof(uintptr_t)), 1);
    assert_int_equal(covered(b, 4 * sizeof(uintptr_t)), 1);
    /* User roots are not globals. */
    uint64_t sum = 0;
    for (size_t i = 0; i < found.n; i++)
        sum += found.hi[i] - found.lo[i];
    assert_int_equal(roots_globals_bytes(), sum - 8 * sizeof(uintptr_t));

    /* Only ranges lying within the removed bounds go. */
    gh_remove_roots(a, a + 2);
    scan();
    assert_int_equal(covered(a, 4 * sizeof(uintptr_t)), 1);
    gh_remove_roots(a, a + 4);
    scan();
    assert_int_equal(covered(a, sizeof(uintptr_t)), 0);
    assert_int_equal(covered(b, 4 * sizeof(uintptr_t)), 1);
    gh_remove_roots(user_area, user_area + 16);
    scan();
    assert_int_equal(covered(b, sizeof(uintptr_t)), 0);
}

static void user_roots_empty_range_is_ignored(void **state)
{
    (void)state;
    size_t before;
    scan();
    before = found.n;
    assert_int_equal(roots_add((uintptr_t)&user_area[4], (uintptr_t)&user_area[4]), 0);
    assert_int_equal(roots_add((uintptr_t)&user_area[5], (uintptr_t)&user_area[4]), 0);
    scan();
    assert_int_equal(found.n, before);
}

static void user_roots_removal_keeps_the_others(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(roots_add((uintptr_t)&user_area[4 * i], (uintptr_t)&user_area[4 * i + 2]), 0);
    roots_remove((uintptr_t)&user_area[8], (uintptr_t)&user_area[10]);
    scan();
    for (int i = 0; i < 5; i++)
        assert_int_equal(covered(&user_area[4 * i], 2 * sizeof(uintptr_t)), i == 2 ? 0 : 1);
    roots_remove((uintptr_t)user_area, (uintptr_t)&user_area[20]);
    scan();
    for (int i = 0; i < 5; i++)
        assert_int_equal(covered(&user_area[4 * i], sizeof(uintptr_t)), 0);
}

static void user_roots_table_holds_8192_ranges(void **state)
{
    (void)state;
    size_t base;
    scan();
    base = found.n;
    for (int i = 0; i < 8192; i++)
        assert_int_equal(roots_add((uintptr_t)&user_area[2 * i], (uintptr_t)&user_area[2 * i + 1]), 0);
    errno = 0;
    assert_int_equal(gh_add_roots(&user_area[16384], &user_area[16385]), -1);
    assert_int_equal(errno, ENOMEM);
    scan();
    assert_int_equal(found.n, base + 8192);
    assert_int_equal(covered(&user_area[2 * 8191], sizeof(uintptr_t)), 1);

    gh_remove_roots(user_area, user_area + 2 * 8192);
    scan();
    assert_int_equal(found.n, base);
    assert_int_equal(gh_add_roots(&user_area[0], &user_area[1]), 0);
    gh_remove_roots(&user_area[0], &user_area[1]);
}

struct lookup {
    uintptr_t addr;
    int prot;
    int hits;
};

static int lookup_mapping(uintptr_t lo, uintptr_t hi, int prot, void *arg)
{
    struct lookup *l = arg;
    if (l->addr >= lo && l->addr < hi) {
        l->prot = prot;
        l->hits++;
    }
    return 0;
}

static int stop_at_first(uintptr_t lo, uintptr_t hi, int prot, void *arg)
{
    (void)lo;
    (void)hi;
    (void)prot;
    ++*(int *)arg;
    return 1;
}

static void maps_reader_finds_stack_data_and_code(void **state)
{
    (void)state;
    int local = 0;
    struct lookup stack = { .addr = (uintptr_t)&local };
    struct lookup data = { .addr = (uintptr_t)roots_test_data };
    struct lookup code = { .addr = (uintptr_t)&scan };
    int calls = 0;

    assert_int_equal(roots_maps_each(lookup_mapping, &stack), 0);
    assert_int_equal(roots_maps_each(lookup_mapping, &data), 0);
    assert_int_equal(roots_maps_each(lookup_mapping, &code), 0);
    assert_int_equal(stack.hits, 1);
    assert_int_equal(stack.prot, PROT_READ | PROT_WRITE);
    assert_int_equal(data.hits, 1);
    assert_int_equal(data.prot, PROT_READ | PROT_WRITE);
    assert_int_equal(code.hits, 1);
    assert_int_equal(code.prot, PROT_READ | PROT_EXEC);
    assert_int_equal(roots_maps_each(stop_at_first, &calls), 0);
    assert_int_equal(calls, 1);
}

int main(void)
{
    user_area = mmap(NULL, USER_AREA_WORDS * sizeof(uintptr_t), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (user_area == MAP_FAILED)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(executable_data_and_bss_are_roots),
        cmocka_unit_test(rodata_and_relro_are_not_roots),
        cmocka_unit_test(ranges_are_aligned_and_counted_as_globals),
        cmocka_unit_test(dlopen_adds_and_dlclose_removes_a_library),
        cmocka_unit_test(library_unloaded_after_prepare_is_skipped),
        cmocka_unit_test(library_loaded_after_prepare_is_counted_as_missed),
        cmocka_unit_test(user_roots_are_added_and_removed),
        cmocka_unit_test(user_roots_empty_range_is_ignored),
        cmocka_unit_test(user_roots_removal_keeps_the_others),
        cmocka_unit_test(user_roots_table_holds_8192_ranges),
        cmocka_unit_test(maps_reader_finds_stack_data_and_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
