/* test_trace.c: gctrace and scavtrace lines against lines printed by Go.
 *
 * Real Go lines carry two more fields since Go 1.18 ("0 MB stacks, 0 MB
 * globals"); goheap prints the older three-phase layout, so the expected
 * lines below are Go's with those two fields removed and nothing else
 * changed. Each record's times carry a sub-unit tail (e.g. 37999 ns for
 * "0.037") so that any rounding instead of truncation would show. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "trace.h"

#define MIB ((uint64_t)1 << 20)
#define MS 1000000LL

static void expect_gc(const struct gc_cycle *c, const char *want)
{
    char buf[TRACE_LINE_MAX];
    int len = trace_format_gc(buf, sizeof buf, c);

    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
}

static void expect_ms(uint64_t ns, const char *want)
{
    char buf[64];
    int len = trace_format_ms(buf, sizeof buf, ns);

    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
}

static void expect_scav(const struct scav_cycle *s, const char *want)
{
    char buf[TRACE_LINE_MAX];
    int len = trace_format_scav(buf, sizeof buf, s);

    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
}

/* A plain cycle whose only non-zero times are what a test sets. */
static struct gc_cycle base_cycle(void)
{
    struct gc_cycle c = {
        .num = 1,
        .heap_start = 4 * MIB, .heap_end = 4 * MIB, .heap_marked = MIB, .heap_goal = 4 * MIB,
        .procs = 2,
    };
    return c;
}

static void spec_example_line(void **state)
{
    (void)state;
    struct gc_cycle c = {
        .num = 21,
        .start_ns = 8389 * MS + 999999,
        .clock_ns = { 69999, 4099999, 169999 },
        .cpu_stw_start_ns = 1699999,
        .cpu_assist_ns = 2899999,
        .cpu_background_ns = 14999999,
        .cpu_idle_ns = 10999999,
        .cpu_stw_end_ns = 4099999,
        .heap_start = 87 * MIB + MIB - 1,
        .heap_end = 88 * MIB,
        .heap_marked = 45 * MIB + 12345,
        .heap_goal = 89 * MIB + MIB / 2,
        .procs = 24,
        .cpu_fraction = 0.0099,
    };
    expect_gc(&c, "gc 21 @8.389s 0%: 0.069+4.0+0.16 ms clock, 1.6+2.8/14/10+4.0 ms cpu, "
                  "87->88->45 MB, 89 MB goal, 24 P\n");
}

/* The three Go 1.19 lines quoted in the reference (2 Ps). */
static void go_reference_lines(void **state)
{
    (void)state;
    struct gc_cycle first = {
        .num = 1, .start_ns = 999999,
        .clock_ns = { 3399999, 199999, 62999 },
        .cpu_stw_start_ns = 6699999, .cpu_assist_ns = 45999, .cpu_background_ns = 64999,
        .cpu_idle_ns = 999, .cpu_stw_end_ns = 129999,
        .heap_start = 3 * MIB + 900000, .heap_end = 4 * MIB + 10, .heap_marked = 200000,
        .heap_goal = 4 * MIB, .procs = 2, .cpu_fraction = 0.80,
    };
    expect_gc(&first, "gc 1 @0.000s 80%: 3.3+0.19+0.062 ms clock, "
                      "6.6+0.045/0.064/0+0.12 ms cpu, 3->4->0 MB, 4 MB goal, 2 P\n");

    struct gc_cycle fifth = {
        .num = 5, .start_ns = 8 * MS + 500000,
        .clock_ns = { 60500, 130900, 900 },
        .cpu_stw_start_ns = 121000, .cpu_assist_ns = 49999, .cpu_background_ns = 0,
        .cpu_idle_ns = 0, .cpu_stw_end_ns = 1800,
        .heap_start = 4 * MIB, .heap_end = 5 * MIB + MIB / 3, .heap_marked = MIB - 1,
        .heap_goal = 5 * MIB + 7, .procs = 2, .cpu_fraction = 0.405,
    };
    expect_gc(&fifth, "gc 5 @0.008s 40%: 0.060+0.13+0 ms clock, "
                      "0.12+0.049/0/0+0.001 ms cpu, 4->5->0 MB, 5 MB goal, 2 P\n");

    struct gc_cycle sixth = {
        .num = 6, .start_ns = 9 * MS,
        .clock_ns = { 23999, 349999, 0 },
        .cpu_stw_start_ns = 47999, .cpu_assist_ns = 0, .cpu_background_ns = 38999,
        .cpu_idle_ns = 0, .cpu_stw_end_ns = 1000,
        .heap_start = 2 * MIB, .heap_end = 2 * MIB + 1, .heap_marked = 0,
        .heap_goal = 4 * MIB, .procs = 2, .forced = 1, .cpu_fraction = 0.3799,
    };
    expect_gc(&sixth, "gc 6 @0.009s 37%: 0.023+0.34+0 ms clock, "
                      "0.047+0/0.038/0+0.001 ms cpu, 2->2->0 MB, 4 MB goal, 2 P (forced)\n");
}

/* More lines from a Go 1.19.8 run (GODEBUG=gctrace=1,scavtrace=1, 2 Ps). */
static void go_run_lines(void **state)
{
    (void)state;
    struct gc_cycle fourth = {
        .num = 4, .start_ns = 5 * MS + 999999,
        .clock_ns = { 7999, 439999, 3999 },
        .cpu_stw_start_ns = 15999, .cpu_assist_ns = 26999, .cpu_background_ns = 84999,
        .cpu_idle_ns = 24999, .cpu_stw_end_ns = 6999,
        .heap_start = 30 * MIB + 5, .heap_end = 34 * MIB + MIB - 1, .heap_marked = 34 * MIB,
        .heap_goal = 32 * MIB + 99, .procs = 2, .cpu_fraction = 0.0699,
    };
    expect_gc(&fourth, "gc 4 @0.005s 6%: 0.007+0.43+0.003 ms clock, "
                       "0.015+0.026/0.084/0.024+0.006 ms cpu, 30->34->34 MB, 32 MB goal, 2 P\n");

    struct gc_cycle eleventh = {
        .num = 11, .start_ns = 59 * MS + 1,
        .clock_ns = { 12000, 77000, 2000 },
        .cpu_stw_start_ns = 25000, .cpu_assist_ns = 999, .cpu_background_ns = 55000,
        .cpu_idle_ns = 35999, .cpu_stw_end_ns = 4000,
        .heap_start = 60 * MIB, .heap_end = 60 * MIB, .heap_marked = 20 * MIB,
        .heap_goal = 82 * MIB, .procs = 2, .forced = 1, .cpu_fraction = 0.035,
    };
    expect_gc(&eleventh, "gc 11 @0.059s 3%: 0.012+0.077+0.002 ms clock, "
                         "0.025+0/0.055/0.035+0.004 ms cpu, 60->60->20 MB, 82 MB goal, 2 P (forced)\n");
}

/* Every boundary of fmtNSAsMS. */
static void ms_format_boundaries(void **state)
{
    (void)state;
    expect_ms(0, "0");
    expect_ms(999, "0");
    expect_ms(1000, "0.001");
    expect_ms(1999, "0.001");
    expect_ms(9999, "0.009");
    expect_ms(10000, "0.010");
    expect_ms(69000, "0.069");
    expect_ms(69999, "0.069");
    expect_ms(99999, "0.099");
    expect_ms(100000, "0.10");
    expect_ms(160000, "0.16");
    expect_ms(169999, "0.16");
    expect_ms(999000, "0.99");
    expect_ms(999999, "0.99");
    expect_ms(1000000, "1.0");
    expect_ms(1099999, "1.0");
    expect_ms(1600000, "1.6");
    expect_ms(4000000, "4.0");
    expect_ms(9999000, "9.9");
    expect_ms(9999999, "9.9");
    expect_ms(10000000, "10");
    expect_ms(12700000, "12");
    expect_ms(99999999, "99");
    expect_ms(123456789012ULL, "123456");
    expect_ms(UINT64_MAX, "18446744073709");
}

/* @S is the start in whole milliseconds (truncated), with three decimals. */
static void start_time_seconds(void **state)
{
    (void)state;
    static const struct { int64_t ns; const char *at; } cases[] = {
        { 0, "@0.000s" },
        { 999999, "@0.000s" },
        { 5 * MS, "@0.005s" },
        { 999 * MS + 999999, "@0.999s" },
        { 1000 * MS, "@1.000s" },
        { 8389 * MS + 999999, "@8.389s" },
        { 12345 * MS, "@12.345s" },
        { 3600000 * MS + 7 * MS, "@3600.007s" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gc_cycle c = base_cycle();
        char buf[TRACE_LINE_MAX];
        c.start_ns = cases[i].ns;
        trace_format_gc(buf, sizeof buf, &c);
        assert_memory_equal(buf, "gc 1 ", 5);
        assert_memory_equal(buf + 5, cases[i].at, strlen(cases[i].at));
        assert_int_equal(buf[5 + strlen(cases[i].at)], ' ');
    }
}

/* U% is int(fraction * 100) in float64, truncated like Go's conversion. */
static void cpu_percent_truncates(void **state)
{
    (void)state;
    static const struct { double f; const char *pct; } cases[] = {
        { 0, " 0%:" }, { 0.0099, " 0%:" }, { 0.01, " 1%:" }, { 0.57, " 56%:" },
        { 0.8, " 80%:" }, { 0.999, " 99%:" }, { 1.0, " 100%:" },
        { -0.5, " 0%:" }, { NAN, " 0%:" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct gc_cycle c = base_cycle();
        char buf[TRACE_LINE_MAX];
        c.cpu_fraction = cases[i].f;
        trace_format_gc(buf, sizeof buf, &c);
        assert_non_null(strstr(buf, cases[i].pct));
    }
}

static void heap_sizes_truncate_to_mib(void **state)
{
    (void)state;
    struct gc_cycle c = base_cycle();
    c.heap_start = MIB - 1;
    c.heap_end = MIB;
    c.heap_marked = 88 * MIB + MIB - 1;
    c.heap_goal = UINT64_MAX;
    c.procs = 1;
    expect_gc(&c, "gc 1 @0.000s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, "
                  "0->1->88 MB, 17592186044415 MB goal, 1 P\n");
}

static void forced_suffix_only_when_forced(void **state)
{
    (void)state;
    struct gc_cycle c = base_cycle();
    char buf[TRACE_LINE_MAX];

    trace_format_gc(buf, sizeof buf, &c);
    assert_null(strstr(buf, "forced"));
    assert_string_equal(buf + strlen(buf) - 5, " 2 P\n");
    c.forced = 1;
    trace_format_gc(buf, sizeof buf, &c);
    assert_string_equal(buf + strlen(buf) - 14, " 2 P (forced)\n");
}

static void negative_durations_print_zero(void **state)
{
    (void)state;
    struct gc_cycle c = base_cycle();
    c.start_ns = -5 * MS;
    c.clock_ns[0] = -1;
    c.cpu_assist_ns = INT64_MIN;
    expect_gc(&c, "gc 1 @0.000s 0%: 0+0+0 ms clock, 0+0/0/0+0 ms cpu, "
                  "4->4->1 MB, 4 MB goal, 2 P\n");
}

static void largest_values(void **state)
{
    (void)state;
    struct gc_cycle c = {
        .num = UINT32_MAX, .start_ns = INT64_MAX,
        .clock_ns = { INT64_MAX, INT64_MAX, INT64_MAX },
        .cpu_stw_start_ns = INT64_MAX, .cpu_assist_ns = INT64_MAX, .cpu_background_ns = INT64_MAX,
        .cpu_idle_ns = INT64_MAX, .cpu_stw_end_ns = INT64_MAX,
        .heap_start = UINT64_MAX, .heap_end = UINT64_MAX, .heap_marked = UINT64_MAX,
        .heap_goal = UINT64_MAX, .procs = INT_MAX, .forced = 1, .cpu_fraction = 1,
    };
    const char *want = "gc 4294967295 @9223372036.854s 100%: 9223372036854+9223372036854+9223372036854 "
                       "ms clock, 9223372036854+9223372036854/9223372036854/9223372036854+9223372036854 "
                       "ms cpu, 17592186044415->17592186044415->17592186044415 MB, 17592186044415 MB "
                       "goal, 2147483647 P (forced)\n";
    assert_true(strlen(want) < TRACE_LINE_MAX);
    expect_gc(&c, want);
}

/* snprintf contract: the return value is the full length whatever n is. */
static void short_buffers_truncate(void **state)
{
    (void)state;
    struct gc_cycle c = base_cycle();
    char full[TRACE_LINE_MAX], small[10];
    int len = trace_format_gc(full, sizeof full, &c);

    memset(small, 'x', sizeof small);
    assert_int_equal(trace_format_gc(small, sizeof small, &c), len);
    assert_string_equal(small, "gc 1 @0.0");
    assert_int_equal(trace_format_gc(small, 1, &c), len);
    assert_int_equal(small[0], '\0');
    small[0] = 'x';
    assert_int_equal(trace_format_gc(small, 0, &c), len);
    assert_int_equal(small[0], 'x');

    char ms[4];
    assert_int_equal(trace_format_ms(ms, sizeof ms, 69000), 5);
    assert_string_equal(ms, "0.0");
}

/* Go 1.19.8 scavtrace lines from the same run as go_run_lines. */
static void scav_go_lines(void **state)
{
    (void)state;
    struct scav_cycle a = {
        .released = 0, .heap_released = 3376 * 1024 + 1023,
        .heap_inuse = 99 * MIB, .heap_free = MIB / 2,
    };
    expect_scav(&a, "scav 0 KiB work, 3376 KiB total, 99% util\n");

    struct scav_cycle b = {
        .released = 40960 * 1024, .heap_released = 43272 * 1024,
        .heap_inuse = 78 * MIB + 1, .heap_free = 22 * MIB,
    };
    expect_scav(&b, "scav 40960 KiB work, 43272 KiB total, 78% util\n");

    struct scav_cycle forced = {
        .released = 50264 * 1024 + 512, .heap_released = 77296 * 1024,
        .heap_inuse = 8192, .heap_free = 0, .forced = 1, .controller_reset = 1,
    };
    expect_scav(&forced, "scav 50264 KiB work, 77296 KiB total, 100% util (forced)\n");
}

static void scav_suffixes_and_util(void **state)
{
    (void)state;
    struct scav_cycle s = { .released = 1023, .heap_released = 1024, .heap_inuse = 2, .heap_free = 1 };
    expect_scav(&s, "scav 0 KiB work, 1 KiB total, 66% util\n");
    s.controller_reset = 1;
    expect_scav(&s, "scav 0 KiB work, 1 KiB total, 66% util [controller reset]\n");
    struct scav_cycle empty = { 0 };
    expect_scav(&empty, "scav 0 KiB work, 0 KiB total, 0% util\n");
    struct scav_cycle unused = { .heap_inuse = 0, .heap_free = 8192 };
    expect_scav(&unused, "scav 0 KiB work, 0 KiB total, 0% util\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_example_line),
        cmocka_unit_test(go_reference_lines),
        cmocka_unit_test(go_run_lines),
        cmocka_unit_test(ms_format_boundaries),
        cmocka_unit_test(start_time_seconds),
        cmocka_unit_test(cpu_percent_truncates),
        cmocka_unit_test(heap_sizes_truncate_to_mib),
        cmocka_unit_test(forced_suffix_only_when_forced),
        cmocka_unit_test(negative_durations_print_zero),
        cmocka_unit_test(largest_values),
        cmocka_unit_test(short_buffers_truncate),
        cmocka_unit_test(scav_go_lines),
        cmocka_unit_test(scav_suffixes_and_util),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
