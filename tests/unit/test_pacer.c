/* test_pacer.c: the pacer against Go 1.19's formulas and simulations.
 *
 * Goals, triggers and assist ratios are checked against numbers computed
 * by hand from mgcpacer.go's rules. The simulations port mgcpacer_test.go:
 * each cycle starts at the pacer's trigger, marks in 500 us steps in which
 * scanning and allocation share the CPU as the assist ratio dictates,
 * revises after each step, and ends the cycle with the measured times.
 * They use Go's own pass conditions (goal ratio within 5%, utilization at
 * 25%), and the last cycle of each must reproduce Go's numbers exactly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pacer.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)

/* Ends a cycle that teaches the cons/mark estimate nothing (it ends at its
 * trigger), leaving marked bytes live and the given scan work as "last". */
static void quiet_cycle(struct pacer *p, uint64_t marked, int64_t heap_work, int64_t stack_work,
                        bool sweep_done)
{
    pacer_start_cycle(p, 4, 0, pacer_trigger(p, NULL), 0, NULL);
    struct pacer_cycle_end e = {
        .heap_live = p->triggered, .heap_marked = marked,
        .heap_scan_work = heap_work, .stack_scan_work = stack_work,
        .procs = 4, .sweep_done = sweep_done,
    };
    pacer_end_cycle(p, &e);
}

static void assert_near(double got, double want)
{
    if (!(fabs(got - want) <= 1e-9 * fabs(want)))
        fail_msg("got %.17g, want %.17g", got, want);
}

/* ---- Goals ------------------------------------------------------------- */

/* heapMarked 100 MiB, last stack scan 1 MiB, globals 512 KiB. */
static uint64_t goal_for_percent(int percent)
{
    struct pacer p;
    pacer_init(&p, percent, PACER_NO_LIMIT);
    pacer_set_roots(&p, 2 * MIB, 512 * KIB);
    quiet_cycle(&p, 100 * MIB, 90 * MIB, 1 * MIB, true);
    return pacer_heap_goal(&p);
}

static void gogc_goals_match_go(void **state)
{
    (void)state;
    assert_int_equal(goal_for_percent(100), 211288064);
    assert_int_equal(goal_for_percent(50), 158072832);
    assert_int_equal(goal_for_percent(200), 317718528);
    /* Integer division truncates, as in Go. */
    assert_int_equal(goal_for_percent(33), 139979653);
}

static void gogc_off_goal_is_infinite(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, -1, PACER_NO_LIMIT);
    quiet_cycle(&p, 100 * MIB, 90 * MIB, MIB, true);
    assert_int_equal(p.gc_percent, -1);
    assert_true(p.gc_percent_goal == PACER_GOAL_OFF);
    /* Only the "no limit" limit bounds it: MaxInt64 - 1 MiB, as in Go. */
    assert_true(pacer_heap_goal(&p) == 9223372036853727231ULL);
    uint64_t goal;
    assert_true(pacer_trigger(&p, &goal) == 9223372036849532927ULL);
    assert_true(goal == 9223372036853727231ULL);
}

static void heap_minimum_scales_with_gogc(void **state)
{
    (void)state;
    static const struct { int percent; uint64_t minimum; } cases[] = {
        { 100, 4 * MIB }, { 50, 2 * MIB }, { 200, 8 * MIB }, { 25, MIB }, { 1000, 40 * MIB },
        { 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pacer p;
        pacer_init(&p, cases[i].percent, PACER_NO_LIMIT);
        assert_int_equal(p.heap_minimum, cases[i].minimum);
        /* A tiny live heap gets the minimum as its goal. */
        quiet_cycle(&p, 64 * KIB, 64 * KIB, 0, true);
        uint64_t by_gogc = 64 * KIB + 64 * KIB * (uint64_t)cases[i].percent / 100;
        uint64_t want = by_gogc > cases[i].minimum ? by_gogc : cases[i].minimum;
        assert_int_equal(pacer_heap_goal(&p), want);
    }
    /* GOGC=0: goal = live heap, so collection is back to back. */
    struct pacer p;
    pacer_init(&p, 0, PACER_NO_LIMIT);
    quiet_cycle(&p, 3 * MIB, 3 * MIB, 0, true);
    assert_int_equal(pacer_heap_goal(&p), 3 * MIB);
    assert_int_equal(pacer_trigger(&p, NULL), 3 * MIB);
}

static void first_cycle_goal_and_trigger(void **state)
{
    (void)state;
    uint64_t goal;
    struct pacer p;

    pacer_init(&p, 100, PACER_NO_LIMIT);
    assert_int_equal(pacer_trigger(&p, &goal), 3997696);   /* 61/64 of 4 MiB */
    assert_int_equal(goal, 4 * MIB);
    pacer_init(&p, 200, PACER_NO_LIMIT);
    assert_int_equal(pacer_trigger(&p, &goal), 7995392);
    assert_int_equal(goal, 8 * MIB);
    pacer_init(&p, 50, PACER_NO_LIMIT);
    assert_int_equal(pacer_trigger(&p, &goal), 1998848);
    assert_int_equal(goal, 2 * MIB);
}

static void set_gc_percent_returns_previous(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    assert_int_equal(pacer_set_gc_percent(&p, 50), 100);
    assert_int_equal(pacer_set_gc_percent(&p, -7), 50);
    assert_int_equal(pacer_set_gc_percent(&p, 100), -1);
    /* The goal moves only at the next commit. */
    assert_int_equal(pacer_set_gc_percent(&p, 200), 100);
    assert_int_equal(pacer_heap_goal(&p), 4 * MIB);
    pacer_commit(&p, 0, true);
    assert_int_equal(pacer_heap_goal(&p), 8 * MIB);
}

/* ---- Triggers ---------------------------------------------------------- */

/* heapMarked 100 MiB, last heap scan 100 MiB, no roots: goal 200 MiB,
 * trigger bounds [178585600, max(204800000, goal - 4 MiB = 205520896)]. */
static void setup_200mib_goal(struct pacer *p)
{
    pacer_init(p, 100, PACER_NO_LIMIT);
    quiet_cycle(p, 100 * MIB, 100 * MIB, 0, true);
    assert_int_equal(pacer_heap_goal(p), 200 * MIB);
}

static void trigger_follows_runway_within_bounds(void **state)
{
    (void)state;
    struct pacer p;
    setup_200mib_goal(&p);

    /* No runway: the upper bound, here goal - 4 MiB. */
    p.cons_mark = 0;
    pacer_commit(&p, 100 * MIB, true);
    assert_int_equal(p.runway, 0);
    assert_int_equal(pacer_trigger(&p, NULL), 205520896);

    /* runway = cons/mark * 0.75/0.25 * expected work = 0.1875 * 100 MiB. */
    p.cons_mark = 0.0625;
    pacer_commit(&p, 100 * MIB, true);
    assert_int_equal(p.runway, 19660800);
    assert_int_equal(pacer_trigger(&p, NULL), 190054400);

    /* Too long a runway stops at 45/64 of the growth. */
    p.cons_mark = 0.125;
    pacer_commit(&p, 100 * MIB, true);
    assert_int_equal(pacer_trigger(&p, NULL), 178585600);
    p.cons_mark = 1000;
    pacer_commit(&p, 100 * MIB, true);
    assert_int_equal(pacer_trigger(&p, NULL), 178585600);

    /* A negative estimate means the longest runway, as Go's conversion. */
    p.cons_mark = -3;
    pacer_commit(&p, 100 * MIB, true);
    assert_true(p.runway == UINT64_MAX);
    assert_int_equal(pacer_trigger(&p, NULL), 178585600);
}

static void small_heap_trigger_uses_61_64(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    quiet_cycle(&p, MIB, MIB, 0, true);
    uint64_t goal;
    /* goal - 4 MiB = 0 is below 61/64, so 61/64 of [1, 4] MiB applies. */
    assert_int_equal(pacer_trigger(&p, &goal), 4046848);
    assert_int_equal(goal, 4 * MIB);
    p.cons_mark = 1000;
    pacer_commit(&p, MIB, true);
    assert_int_equal(pacer_trigger(&p, NULL), 3260416);
}

static void unfinished_sweep_keeps_distance(void **state)
{
    (void)state;
    struct pacer p;
    setup_200mib_goal(&p);
    p.cons_mark = 1000;

    /* heap_live + 1 MiB above the 45/64 bound raises the trigger. */
    pacer_commit(&p, 190 * MIB, false);
    assert_int_equal(pacer_trigger(&p, NULL), 191 * MIB);
    assert_int_equal(pacer_heap_goal(&p), 200 * MIB);
    /* Past the goal it raises the goal too. */
    pacer_commit(&p, 205 * MIB, false);
    uint64_t goal;
    assert_int_equal(pacer_trigger(&p, &goal), 206 * MIB);
    assert_int_equal(goal, 206 * MIB);
    /* A finished sweep drops the constraint. */
    pacer_commit(&p, 205 * MIB, true);
    assert_int_equal(pacer_trigger(&p, &goal), 178585600);
    assert_int_equal(goal, 200 * MIB);
}

static void goal_stays_64k_past_trigger_during_cycle(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    quiet_cycle(&p, 100 * MIB, 100 * MIB, 0, true);
    pacer_start_cycle(&p, 4, 0, 205520896, 100 * MIB, NULL);
    assert_int_equal(p.triggered, 205520896);
    assert_int_equal(pacer_heap_goal(&p), 200 * MIB);
    /* Lowering GOGC mid-cycle cannot pull the goal below trigger + 64 KiB. */
    pacer_set_gc_percent(&p, 10);
    pacer_commit(&p, 205520896, true);
    assert_int_equal(pacer_heap_goal(&p), 205520896 + 64 * KIB);
}

/* ---- Memory limit ------------------------------------------------------ */

static void memory_limit_goal_arithmetic(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, 512 * MIB);
    /* Nothing mapped: limit - 1 MiB. */
    assert_int_equal(pacer_memory_limit_goal(&p), 511 * MIB);
    /* 50 MiB of non-heap memory (300 mapped - 50 free - 200 in objects). */
    pacer_set_memory(&p, 300 * MIB, 50 * MIB, 200 * MIB);
    assert_int_equal(pacer_memory_limit_goal(&p), 461 * MIB);
    /* Over a 256 MiB limit by 44 MiB: both count. */
    pacer_set_memory_limit(&p, 256 * MIB);
    assert_int_equal(pacer_memory_limit_goal(&p), 161 * MIB);
    /* Never below the live heap. */
    quiet_cycle(&p, 200 * MIB, 200 * MIB, 0, true);
    assert_int_equal(pacer_memory_limit_goal(&p), 200 * MIB);
    /* Non-heap memory alone fills the limit: the live heap. */
    pacer_set_memory_limit(&p, 64 * MIB);
    pacer_set_memory(&p, 300 * MIB, 0, 10 * MIB);
    assert_int_equal(pacer_memory_limit_goal(&p), 200 * MIB);
    /* Counters caught mid-update (free + alloc > mapped): no non-heap. */
    pacer_set_memory_limit(&p, 512 * MIB);
    pacer_set_memory(&p, 100 * MIB, 50 * MIB, 60 * MIB);
    assert_int_equal(pacer_memory_limit_goal(&p), 511 * MIB);

    /* Tiny limits keep 1 MiB. */
    pacer_init(&p, 100, 3 * MIB / 2);
    assert_int_equal(pacer_memory_limit_goal(&p), MIB);
    pacer_init(&p, 100, 0);
    assert_int_equal(pacer_memory_limit_goal(&p), 0);
}

static void goal_is_min_of_gogc_and_limit(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, 512 * MIB);
    quiet_cycle(&p, 300 * MIB, 300 * MIB, 0, true);
    assert_int_equal(pacer_heap_goal(&p), 511 * MIB);
    quiet_cycle(&p, 200 * MIB, 200 * MIB, 0, true);
    assert_int_equal(pacer_heap_goal(&p), 400 * MIB);
    /* Memory-limited goals ignore the sweep distance. */
    quiet_cycle(&p, 300 * MIB, 300 * MIB, 0, false);
    pacer_commit(&p, 515 * MIB, false);
    assert_int_equal(pacer_heap_goal(&p), 511 * MIB);
    assert_true(pacer_trigger(&p, NULL) <= 511 * MIB);
}

static void limit_applies_with_gogc_off(void **state)
{
    (void)state;
    struct pacer p;
    uint64_t goal;

    pacer_init(&p, -1, 512 * MIB);
    /* First cycle: goal limit - 1 MiB; trigger goal - 4 MiB (above 61/64). */
    assert_int_equal(pacer_trigger(&p, &goal), 531628032);
    assert_int_equal(goal, 535822336);
    quiet_cycle(&p, 100 * MIB, 100 * MIB, 0, true);
    assert_int_equal(pacer_heap_goal(&p), 511 * MIB);
    /* Raising the limit to none: no collection until about 2^63. */
    assert_int_equal(pacer_set_memory_limit(&p, PACER_NO_LIMIT), 512 * MIB);
    assert_true(pacer_heap_goal(&p) > (UINT64_MAX >> 2));
    /* A negative limit only queries. */
    assert_true(pacer_set_memory_limit(&p, -1) == PACER_NO_LIMIT);
    assert_true(p.memory_limit == PACER_NO_LIMIT);
}

/* ---- Workers ----------------------------------------------------------- */

static void worker_counts_match_go(void **state)
{
    (void)state;
    static const struct { int procs, dedicated; double fractional; } cases[] = {
        { 1, 0, 0.25 }, { 2, 0, 0.25 }, { 3, 0, 0.25 }, { 4, 1, 0 }, { 5, 1, 0 },
        { 6, 1, 0.5 / 6 }, { 8, 2, 0 }, { 24, 6, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pacer_workers w = pacer_worker_plan(cases[i].procs, 0);
        assert_int_equal(w.dedicated, cases[i].dedicated);
        assert_true(fabs(w.fractional - cases[i].fractional) < 1e-12);
        assert_int_equal(w.max_idle, cases[i].procs - cases[i].dedicated);
        /* Fractional work makes up exactly the rest of 25% of the procs. */
        if (w.fractional > 0)
            assert_true(fabs(w.dedicated + w.fractional * cases[i].procs - cases[i].procs * 0.25) < 1e-12);

        struct pacer_workers stw = pacer_worker_plan(cases[i].procs, PACER_STOP_THE_WORLD);
        assert_int_equal(stw.dedicated, cases[i].procs);
        assert_true(stw.fractional == 0);
        assert_int_equal(stw.max_idle, 0);

        struct pacer_workers periodic = pacer_worker_plan(cases[i].procs, PACER_PERIODIC);
        assert_int_equal(periodic.dedicated, cases[i].dedicated);
        assert_int_equal(periodic.max_idle, cases[i].dedicated > 0 ? 0 : 1);
    }
    struct pacer p;
    struct pacer_workers w;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    pacer_start_cycle(&p, 24, 0, 4 * MIB, 0, &w);
    assert_int_equal(w.dedicated, 6);
}

/* ---- Assists ----------------------------------------------------------- */

/* heapMarked 64 MiB, last heap scan 64 MiB, no roots: goal 128 MiB,
 * trigger 61/64 = 131072000, 3 MiB below the goal. */
static void start_64mib_cycle(struct pacer *p, uint64_t heap_scan)
{
    pacer_init(p, 100, PACER_NO_LIMIT);
    quiet_cycle(p, 64 * MIB, 64 * MIB, 0, true);
    pacer_start_cycle(p, 4, 0, 131072000, heap_scan, NULL);
    assert_int_equal(p->triggered, 131072000);
    assert_int_equal(pacer_heap_goal(p), 128 * MIB);
}

static void assist_ratio_on_schedule(void **state)
{
    (void)state;
    struct pacer p;
    start_64mib_cycle(&p, 128 * MIB);
    /* 64 MiB of expected work over 3 MiB of runway. */
    assert_near(pacer_assist_work_per_byte(&p), 64.0 / 3);
    assert_int_equal(pacer_assist_bytes(&p, (int64_t)(64 * MIB)), 3 * MIB);
    /* Halfway through both: same ratio. */
    pacer_revise(&p, 131072000 + 3 * MIB / 2, 128 * MIB, 32 * MIB);
    assert_near(pacer_assist_work_per_byte(&p), 64.0 / 3);
}

static void assist_ratio_extends_goal_on_overrun(void **state)
{
    (void)state;
    struct pacer p;
    start_64mib_cycle(&p, 128 * MIB);
    /* 72 MiB done of 64 expected: the goal stretches to trigger + 3 MiB *
     * 128/64 = 137363456 and the work to the worst case, 128 MiB. */
    pacer_revise(&p, 128 * MIB, 128 * MIB, 72 * MIB);
    assert_near(pacer_assist_work_per_byte(&p), 56.0 / 3);

    /* With 4 GiB scannable the stretch stops at (1 + GOGC/100) * goal. */
    start_64mib_cycle(&p, 4 * GIB);
    pacer_revise(&p, 128 * MIB, 4 * GIB, 72 * MIB);
    assert_near(pacer_assist_work_per_byte(&p), (double)(4 * GIB - 72 * MIB) / (128 * MIB));
}

static void assist_ratio_past_goal_aims_at_110_percent(void **state)
{
    (void)state;
    struct pacer p;
    start_64mib_cycle(&p, 128 * MIB);
    /* Heap at 140 MiB, past the 128 MiB goal: aim at 147639500 with all of
     * the 128 MiB scannable heap as work. */
    pacer_revise(&p, 140 * MIB, 128 * MIB, 10 * MIB);
    assert_near(pacer_assist_work_per_byte(&p), (double)(118 * MIB) / (147639500 - 140 * MIB));
    /* Past even that: one byte of runway left. */
    pacer_revise(&p, 200 * MIB, 128 * MIB, 10 * MIB);
    assert_near(pacer_assist_work_per_byte(&p), (double)(118 * MIB));
}

static void assist_ratio_keeps_work_floor(void **state)
{
    (void)state;
    struct pacer p;
    start_64mib_cycle(&p, 128 * MIB);
    pacer_revise(&p, 131072000, 128 * MIB, 64 * MIB - 10);
    assert_near(pacer_assist_work_per_byte(&p), 1000.0 / (3 * MIB));
}

static void assist_ratio_gogc_off_uses_huge_gogc(void **state)
{
    (void)state;
    struct pacer p;
    /* GOGC off with a 256 MiB limit: goal 255 MiB. */
    pacer_init(&p, -1, 256 * MIB);
    quiet_cycle(&p, 64 * MIB, 64 * MIB, 0, true);
    uint64_t trigger = pacer_trigger(&p, NULL);
    assert_int_equal(trigger, 251 * MIB);
    pacer_start_cycle(&p, 4, 0, trigger, 8 * GIB, NULL);
    /* Memory-limited: no 64 KiB past the trigger. */
    assert_int_equal(pacer_heap_goal(&p), 255 * MIB);
    /* Overrun: the goal stretches to 251 + 4/64 * 8192 = 763 MiB, past
     * 2 * goal, and GOGC=100000 lets it stand. */
    pacer_revise(&p, trigger, 8 * GIB, 72 * MIB);
    assert_near(pacer_assist_work_per_byte(&p), (double)(8 * GIB - 72 * MIB) / (512 * MIB));
}

static void assist_work_and_credit(void **state)
{
    (void)state;
    struct pacer p;
    int64_t paid;

    start_64mib_cycle(&p, 128 * MIB);
    /* 1 MiB of debt at 64/3 work per byte. */
    assert_int_equal(pacer_assist_work(&p, (int64_t)MIB, &paid), 22369621);
    assert_int_equal(paid, MIB);
    /* 1 KiB of debt: over-assist 64 KiB of work, paying for 3072 bytes. */
    assert_int_equal(pacer_assist_work(&p, 1024, &paid), PACER_OVER_ASSIST_WORK);
    assert_int_equal(paid, 3072);
    assert_int_equal(pacer_assist_bytes(&p, PACER_OVER_ASSIST_WORK), 3072);
}

static void assist_delay_uses_last_mark_rate(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    assert_int_equal(pacer_assist_delay(&p, 1000000), 0);
    pacer_start_cycle(&p, 4, 0, 3997696, 3 * MIB, NULL);
    /* 64 MiB scanned in 2^25 ns: 2 work units per ns. */
    struct pacer_cycle_end e = {
        .heap_live = 3997696, .heap_marked = MIB, .heap_scan_work = 60 * MIB,
        .stack_scan_work = 3 * MIB, .globals_scan_work = MIB, .mark_ns = 1 << 25, .procs = 4,
    };
    pacer_end_cycle(&p, &e);
    assert_int_equal(pacer_assist_delay(&p, (int64_t)MIB), 524288);
    assert_int_equal(pacer_assist_delay(&p, 0), 0);
}

/* ---- cons/mark controller ---------------------------------------------- */

/* Ends a cycle that allocated grown bytes past its trigger and did work
 * scan work, with utilization 25% (all background) over 10 ms on 4 procs. */
static void measured_cycle(struct pacer *p, uint64_t grown, int64_t work)
{
    pacer_start_cycle(p, 4, 0, pacer_trigger(p, NULL), 0, NULL);
    struct pacer_cycle_end e = {
        .heap_live = p->triggered + grown, .heap_marked = 8 * MIB, .heap_scan_work = work,
        .background_ns = 10000000, .mark_ns = 10000000, .procs = 4, .sweep_done = true,
    };
    pacer_end_cycle(p, &e);
}

static void cons_mark_smoothing(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    /* Measured: 10 MiB * 0.25 / (100 MiB * 0.75) = 1/30. The PI output
     * from 0 is kp * 1/30 = 0.03, then 0.9 * (1/30 - 0.03) + 0.0075. */
    measured_cycle(&p, 10 * MIB, 100 * MIB);
    assert_near(p.cons_mark, 0.03);
    assert_int_equal(p.heap_marked, 8 * MIB);
    assert_int_equal(p.last_heap_scan, 100 * MIB);
    measured_cycle(&p, 10 * MIB, 100 * MIB);
    assert_near(p.cons_mark, 0.0105);
    /* It settles on the measured ratio. */
    for (int i = 0; i < 200; i++)
        measured_cycle(&p, 10 * MIB, 100 * MIB);
    assert_true(fabs(p.cons_mark - 1.0 / 30) < 1e-6);
    /* runway = cons/mark * 3 * last heap scan. */
    assert_true(fabs((double)p.runway - 0.1 * 100 * MIB) < 100);
}

static void cons_mark_clamps_and_resets(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    /* A huge ratio is clipped to 1000, and the clipping is fed back into
     * the integral over the 1000-cycle reset time. */
    measured_cycle(&p, GIB, 1);
    assert_true(p.cons_mark == 1000);
    double now = (double)GIB * 0.25 / 0.75;
    assert_near(p.cons_mark_pi.err_integral, 0.9 / 4 * now + (1000 - 0.9 * now) / 1000);
    /* No scan work at all: infinite ratio, the controller resets to 0. */
    measured_cycle(&p, MIB, 0);
    assert_true(p.cons_mark == 0);
    assert_true(p.cons_mark_pi.err_integral == 0);
    /* A collapse from far above is clipped at -1000. */
    p.cons_mark = 1e6;
    measured_cycle(&p, 10 * MIB, 100 * MIB);
    assert_true(p.cons_mark == -1000);
}

static void cons_mark_counts_idle_marking_as_gc(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    /* u = 0.25 (background), u_idle = 0.25: 10 MiB * 0.5 / (100 MiB * 0.75)
     * = 1/15, and the first PI output is 0.9 of that. */
    pacer_start_cycle(&p, 4, 0, pacer_trigger(&p, NULL), 0, NULL);
    struct pacer_cycle_end e = {
        .heap_live = p.triggered + 10 * MIB, .heap_marked = 8 * MIB, .heap_scan_work = 100 * MIB,
        .background_ns = 10000000, .idle_ns = 10000000, .mark_ns = 10000000, .procs = 4,
    };
    pacer_end_cycle(&p, &e);
    assert_near(p.cons_mark, 0.06);
    /* Assist time counts in u like background time. */
    pacer_init(&p, 100, PACER_NO_LIMIT);
    pacer_start_cycle(&p, 4, 0, pacer_trigger(&p, NULL), 0, NULL);
    e.heap_live = p.triggered + 10 * MIB;
    e.background_ns = 5000000;
    e.assist_ns = 5000000;
    e.idle_ns = 0;
    pacer_end_cycle(&p, &e);
    assert_near(p.cons_mark, 0.03);
}

static void cons_mark_ignores_uninformative_cycles(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    measured_cycle(&p, 10 * MIB, 100 * MIB);
    assert_near(p.cons_mark, 0.03);

    /* Forced below the trigger: nothing allocated past it. */
    pacer_start_cycle(&p, 4, 0, MIB, 0, NULL);
    struct pacer_cycle_end e = {
        .heap_live = p.triggered, .heap_marked = 8 * MIB, .heap_scan_work = 100 * MIB,
        .background_ns = 10000000, .mark_ns = 10000000, .procs = 4, .sweep_done = true,
    };
    pacer_end_cycle(&p, &e);
    assert_near(p.cons_mark, 0.03);
    assert_true(p.triggered == UINT64_MAX);

    /* The collector had all of the CPU: no mutator rate to learn. */
    pacer_start_cycle(&p, 4, 0, MIB, 0, NULL);
    e.heap_live = p.triggered + MIB;
    e.background_ns = 40000000;
    pacer_end_cycle(&p, &e);
    assert_near(p.cons_mark, 0.03);
}

static void end_cycle_records_goal_and_commits(void **state)
{
    (void)state;
    struct pacer p;
    pacer_init(&p, 100, PACER_NO_LIMIT);
    pacer_set_roots(&p, 0, 0);
    pacer_start_cycle(&p, 4, 0, 3997696, MIB, NULL);
    struct pacer_cycle_end e = {
        .heap_live = 3997696, .heap_marked = 10 * MIB, .heap_scan_work = 10 * MIB,
        .stack_scan_work = 2 * MIB, .procs = 4,
    };
    pacer_end_cycle(&p, &e);
    assert_int_equal(p.last_heap_goal, 4 * MIB);
    assert_int_equal(p.last_stack_scan, 2 * MIB);
    assert_int_equal(p.sweep_dist_min, 11 * MIB);
    /* 10 + (10 + 2) MiB; sweeping not done: trigger >= 11 MiB. */
    assert_int_equal(pacer_heap_goal(&p), 22 * MIB);
    assert_true(pacer_trigger(&p, NULL) >= 11 * MIB);

    /* The recorded goal is the effective one: here the memory limit's. */
    pacer_init(&p, 100, 3 * MIB);
    pacer_start_cycle(&p, 4, 0, pacer_trigger(&p, NULL), 0, NULL);
    e.heap_live = p.triggered;
    pacer_end_cycle(&p, &e);
    assert_int_equal(p.last_heap_goal, 2 * MIB);
}

/* ---- Simulations (mgcpacer_test.go) ------------------------------------ */

struct sim_cycle {
    double alloc_rate;      /* KiB per cpu-ms */
    double scan_rate;       /* KiB per cpu-ms */
    double growth_rate;     /* live heap growth factor */
    double scannable_frac;
    uint64_t stack_bytes;
};

struct sim_result {
    uint64_t heap_live, heap_trigger, heap_goal, heap_peak;
    double utilization;
};

struct sim {
    const char *name;
    int gc_percent;
    int64_t memory_limit;
    uint64_t globals;
    int cores, length;
    struct sim_cycle (*next)(int i);
    void (*check)(const struct sim *s, const struct sim_result *r, int n);
    /* Go's last cycle: heap marked, trigger, peak and goal, as printed by
     * go1.19.8 `go test -run TestGcPacer -v runtime` on amd64. */
    uint64_t go_last[4];
};

static double goal_ratio(const struct sim_result *r)
{
    return (double)r->heap_peak / (double)r->heap_goal;
}

static void sim_in_range(const struct sim *s, int n, const char *what, double v, double lo, double hi)
{
    if (!(v >= lo && v <= hi))
        fail_msg("%s, cycle %d: %s = %f, want [%f, %f]", s->name, n, what, v, lo, hi);
}

static void sim_near(const struct sim *s, int n, const char *what, double v, double want, double eps)
{
    sim_in_range(s, n, what, v, want - eps, want + eps);
}

/* Go's streams, as functions of the cycle index. */
static double ramp(double height, int length, int i)
{
    return height * (i < length ? i : length) / length;
}

static double step(double height, int at, int i)
{
    return i > at ? height : 0;
}

static void run_sim(const struct sim *s)
{
    /* Each revise step is 500 us; rates are KiB per cpu-ms. */
    const double period = 500000, rate_conv = 1024 * period / 1000000;
    struct sim_result results[128];
    struct pacer p;
    uint64_t heap_live = 0, heap_scan = 0;
    int64_t black_last = 0;

    assert_true(s->length <= 128);
    pacer_init(&p, s->gc_percent, s->memory_limit);
    for (int i = 0; i < s->length; i++) {
        struct sim_cycle c = s->next(i);

        uint64_t trigger = pacer_trigger(&p, NULL);
        if (p.heap_marked > trigger)
            trigger = p.heap_marked;
        pacer_set_roots(&p, c.stack_bytes, s->globals);
        heap_live = trigger;
        heap_scan += (uint64_t)((double)(trigger - p.heap_marked) * c.scannable_frac);
        pacer_start_cycle(&p, s->cores, 0, heap_live, heap_scan, NULL);

        int64_t next_marked = i == 0 ? (int64_t)(256 * KIB)
                                     : (int64_t)((double)((int64_t)p.heap_marked - black_last) * c.growth_rate);
        int64_t left[3] = { (int64_t)s->globals, (int64_t)c.stack_bytes,
                            (int64_t)((double)next_marked * c.scannable_frac) };
        int64_t done[3] = { 0, 0, 0 };  /* globals, stacks, heap */
        int64_t duration = 0, assist = 0, black = 0;
        while (left[0] + left[1] + left[2] > 0) {
            /* Assists hold scanning to assist_ratio * allocation, so the
             * GC gets u = r*a / (r*a + s) of the CPU, at least 25%. */
            double ratio = pacer_assist_work_per_byte(&p);
            double u = ratio * c.alloc_rate / (ratio * c.alloc_rate + c.scan_rate);
            if (u < PACER_BACKGROUND_UTILIZATION)
                u = PACER_BACKGROUND_UTILIZATION;
            int64_t scanned = (int64_t)(c.scan_rate * rate_conv * s->cores * u);
            int64_t allocated = (int64_t)(c.alloc_rate * rate_conv * s->cores * (1 - u));

            int64_t work = scanned, did = 0;
            for (int k = 0; k < 3 && work > 0; k++) {
                int64_t d = left[k] < work ? left[k] : work;
                left[k] -= d;
                done[k] += d;
                work -= d;
                did += d;
            }
            int64_t elapsed = (int64_t)period;
            if (did < scanned) {
                /* The cycle ended inside this step. */
                elapsed = (int64_t)((double)did * period / (c.scan_rate * rate_conv * s->cores * u));
                allocated = (int64_t)(c.alloc_rate * rate_conv * (double)elapsed / period * s->cores * (1 - u));
            }
            heap_live += (uint64_t)allocated;
            heap_scan += (uint64_t)((double)allocated * c.scannable_frac);
            pacer_revise(&p, heap_live, heap_scan, done[0] + done[1] + done[2]);
            assist += (int64_t)((double)elapsed * s->cores * (u - PACER_BACKGROUND_UTILIZATION));
            duration += elapsed;
            black += allocated;
        }

        results[i] = (struct sim_result){
            .heap_live = p.heap_marked,
            .heap_trigger = p.triggered,
            .heap_peak = heap_live,
            .heap_goal = pacer_heap_goal(&p),
            .utilization = (double)assist / ((double)duration * s->cores) + PACER_BACKGROUND_UTILIZATION,
        };
        sim_in_range(s, i + 1, "GC utilization", results[i].utilization, 0, 1);
        s->check(s, results, i + 1);

        struct pacer_cycle_end e = {
            .heap_live = heap_live,
            .heap_marked = (uint64_t)(next_marked + black),
            .globals_scan_work = done[0], .stack_scan_work = done[1], .heap_scan_work = done[2],
            .assist_ns = assist,
            .background_ns = duration * s->cores / 4,   /* Go's assumed 25% */
            .mark_ns = duration, .procs = s->cores,
        };
        pacer_end_cycle(&p, &e);
        heap_scan = (uint64_t)done[2];
        black_last = black;
    }
    /* The same model and the same arithmetic give Go's numbers exactly. */
    const struct sim_result *last = &results[s->length - 1];
    const uint64_t got[4] = { last->heap_live, last->heap_trigger, last->heap_peak, last->heap_goal };
    for (int k = 0; k < 4; k++)
        if (got[k] != s->go_last[k])
            fail_msg("%s: last cycle %llu->%llu->%llu (goal %llu), Go has %llu->%llu->%llu (goal %llu)",
                     s->name, (unsigned long long)got[0], (unsigned long long)got[1],
                     (unsigned long long)got[2], (unsigned long long)got[3],
                     (unsigned long long)s->go_last[0], (unsigned long long)s->go_last[1],
                     (unsigned long long)s->go_last[2], (unsigned long long)s->go_last[3]);
}

/* The usual settled-state check: on the 25% target and on the goal. */
static void check_settled(const struct sim *s, const struct sim_result *r, int n)
{
    sim_near(s, n, "GC utilization", r[n - 1].utilization, PACER_BACKGROUND_UTILIZATION, 0.005);
    sim_near(s, n, "GC utilization change", r[n - 1].utilization, r[n - 2].utilization, 0.005);
    sim_in_range(s, n, "goal ratio", goal_ratio(&r[n - 1]), 0.95, 1.05);
}

static void check_steady(const struct sim *s, const struct sim_result *r, int n)
{
    if (n >= 25)
        check_settled(s, r, n);
}

/* Settles, then settles again after the change at cycle 50. */
static void check_step(const struct sim *s, const struct sim_result *r, int n)
{
    if ((n >= 25 && n < 50) || n >= 75) {
        sim_near(s, n, "GC utilization change", r[n - 1].utilization, r[n - 2].utilization, 0.005);
        sim_in_range(s, n, "goal ratio", goal_ratio(&r[n - 1]), 0.95, 1.05);
    }
}

static void check_osc(const struct sim *s, const struct sim_result *r, int n)
{
    if (n > 12) {
        sim_in_range(s, n, "goal ratio", goal_ratio(&r[n - 1]), 0.95, 1.05);
        sim_in_range(s, n, "GC utilization", r[n - 1].utilization, 0.25, 0.3);
    }
}

static void check_slow_alloc(const struct sim *s, const struct sim_result *r, int n, int grown)
{
    if (n > grown) {
        const struct sim_result *c = &r[n - 1];
        double trigger_ratio = (double)(c->heap_trigger - c->heap_live) / (double)(c->heap_goal - c->heap_live);
        sim_in_range(s, n, "goal ratio", goal_ratio(c), 0.925, 1.025);
        sim_in_range(s, n, "trigger ratio", trigger_ratio, 0.925, 0.975);
    }
    if (n > 25) {
        sim_near(s, n, "GC utilization", r[n - 1].utilization, PACER_BACKGROUND_UTILIZATION, 0.005);
        sim_near(s, n, "GC utilization change", r[n - 1].utilization, r[n - 2].utilization, 0.05);
        sim_near(s, n, "GC utilization drift", r[n - 1].utilization, r[11].utilization, 0.05);
    }
}

static void check_small_heap(const struct sim *s, const struct sim_result *r, int n)
{
    check_slow_alloc(s, r, n, 4);
}

static void check_medium_heap(const struct sim *s, const struct sim_result *r, int n)
{
    check_slow_alloc(s, r, n, 9);
}

static void check_large_heap(const struct sim *s, const struct sim_result *r, int n)
{
    if (n > 13) {
        sim_in_range(s, n, "goal ratio", goal_ratio(&r[n - 1]), 0.95, 1.05);
        /* The runway is about the heap minimum (goal - 4 MiB bound). */
        double runway = (double)(r[n - 1].heap_goal - r[n - 1].heap_trigger);
        sim_in_range(s, n, "runway", runway, (double)(PACER_HEAP_MINIMUM - 64 * KIB),
                     (double)(PACER_HEAP_MINIMUM + 64 * KIB));
    }
    if (n > 25) {
        sim_near(s, n, "GC utilization", r[n - 1].utilization, PACER_BACKGROUND_UTILIZATION, 0.005);
        sim_near(s, n, "GC utilization change", r[n - 1].utilization, r[n - 2].utilization, 0.05);
        sim_near(s, n, "GC utilization drift", r[n - 1].utilization, r[11].utilization, 0.05);
    }
}

#define LIMIT_GOAL (512 * MIB - PACER_LIMIT_HEADROOM)

static void check_steady_limit(const struct sim *s, const struct sim_result *r, int n)
{
    if (r[n - 1].heap_peak >= LIMIT_GOAL)
        fail_msg("%s, cycle %d: peak %llu reaches the limit", s->name, n,
                 (unsigned long long)r[n - 1].heap_peak);
    check_steady(s, r, n);
}

static void check_steady_limit_gogc_off(const struct sim *s, const struct sim_result *r, int n)
{
    if (r[n - 1].heap_goal != LIMIT_GOAL)
        fail_msg("%s, cycle %d: goal %llu is not the limit", s->name, n,
                 (unsigned long long)r[n - 1].heap_goal);
    check_steady(s, r, n);
}

static void check_exceed_limit(const struct sim *s, const struct sim_result *r, int n)
{
    if (s->gc_percent < 0 && n < 10 && r[n - 1].heap_goal != LIMIT_GOAL)
        fail_msg("%s, cycle %d: goal %llu is not the limit", s->name, n,
                 (unsigned long long)r[n - 1].heap_goal);
    /* Far over the limit: the goal is the live heap itself. */
    if (n > 12 && r[n - 1].heap_goal != r[n - 1].heap_live)
        fail_msg("%s, cycle %d: goal %llu is not the live heap %llu", s->name, n,
                 (unsigned long long)r[n - 1].heap_goal, (unsigned long long)r[n - 1].heap_live);
    /* The pacer pushes back with all the CPU (the limiter's job to stop). */
    if (n >= 25) {
        sim_near(s, n, "GC utilization", r[n - 1].utilization, 1.0, 0.005);
        sim_near(s, n, "GC utilization change", r[n - 1].utilization, r[n - 2].utilization, 0.005);
    }
}

static void check_maintain_limit(const struct sim *s, const struct sim_result *r, int n)
{
    if ((s->gc_percent < 0 || n > 12) && r[n - 1].heap_goal != LIMIT_GOAL)
        fail_msg("%s, cycle %d: goal %llu is not the limit", s->name, n,
                 (unsigned long long)r[n - 1].heap_goal);
    check_steady(s, r, n);
}

static struct sim_cycle base_cycle(double alloc, double scan, double growth, double frac, uint64_t stack)
{
    return (struct sim_cycle){ alloc, scan, growth, frac, stack };
}

static struct sim_cycle steady_next(int i)
{
    return base_cycle(33, 1024, 2 + ramp(-1, 12, i), 1, 8192);
}

static struct sim_cycle big_stacks_next(int i)
{
    return base_cycle(132, 1024, 2 + ramp(-1, 12, i), 1, 2048 + (uint64_t)ramp(128 << 20, 8, i) / 2048 * 2048);
}

static struct sim_cycle big_globals_next(int i)
{
    return base_cycle(132, 1024, 2 + ramp(-1, 12, i), 1, 8192);
}

static struct sim_cycle step_alloc_next(int i)
{
    return base_cycle(33 + step(66, 50, i), 1024, 2 + ramp(-1, 12, i), 1, 8192);
}

static struct sim_cycle heavy_step_alloc_next(int i)
{
    return base_cycle(33 + step(330, 50, i), 1024, 2 + ramp(-1, 12, i), 1, 8192);
}

static struct sim_cycle step_scannable_next(int i)
{
    return base_cycle(128, 1024, 2 + ramp(-1, 12, i), 0.2 + (i == 50 ? 0.5 : 0), 8192);
}

static struct sim_cycle osc_alloc_next(int i)
{
    return base_cycle(67 + sin((double)(i % 8) / 8 * 2 * M_PI) * 13, 1024, 2 + ramp(-1, 12, i), 1, 8192);
}

static struct sim_cycle small_heap_next(int i)
{
    return base_cycle(1, 2048, 2 + ramp(-1, 3, i), 0.01, 8192);
}

static struct sim_cycle medium_heap_next(int i)
{
    return base_cycle(1, 2048, 2 + ramp(-1, 8, i), 0.01, 8192);
}

static struct sim_cycle large_heap_next(int i)
{
    return base_cycle(1, 2048, 4 + ramp(-3, 12, i), 0.01, 8192);
}

static struct sim_cycle exceed_limit_next(int i)
{
    return base_cycle(33, 1024, 3.5 + ramp(-2.5, 12, i), 1, 8192);
}

static struct sim_cycle maintain_limit_next(int i)
{
    return base_cycle(33, 1024, 3 + ramp(-2, 12, i), 1, 8192);
}

static const struct sim sims[] = {
    { "Steady", 100, PACER_NO_LIMIT, 32 * KIB, 8, 50, steady_next, check_steady,
      { 20884992, 39967328, 41810943, 41810944 } },
    { "SteadyBigStacks", 100, PACER_NO_LIMIT, 32 * KIB, 8, 50, big_stacks_next, check_steady,
      { 78276440, 231564449, 290805423, 290805424 } },
    { "SteadyBigGlobals", 100, PACER_NO_LIMIT, 128 * MIB, 8, 50, big_globals_next, check_steady,
      { 78266152, 231527537, 290758223, 290758224 } },
    { "StepAlloc", 100, PACER_NO_LIMIT, 32 * KIB, 8, 100, step_alloc_next, check_step,
      { 24572896, 43654986, 49186751, 49186752 } },
    { "HeavyStepAlloc", 100, PACER_NO_LIMIT, 32 * KIB, 8, 100, heavy_step_alloc_next, check_step,
      { 27098636, 46181156, 54238231, 54238232 } },
    { "StepScannableFrac", 100, PACER_NO_LIMIT, 32 * KIB, 8, 100, step_scannable_next, check_step,
      { 20485026, 39567541, 41011011, 41011012 } },
    { "OscAlloc", 100, PACER_NO_LIMIT, 32 * KIB, 8, 50, osc_alloc_next, check_osc,
      { 22559772, 41351584, 45160503, 45160504 } },
    { "SmallHeapSlowAlloc", 100, PACER_NO_LIMIT, 32 * KIB, 8, 50, small_heap_next, check_small_heap,
      { 582609, 4024961, 4025029, 4194304 } },
    { "MediumHeapSlowAlloc", 100, PACER_NO_LIMIT, 32 * KIB, 8, 50, medium_heap_next, check_medium_heap,
      { 4054169, 7957315, 7957434, 8149298 } },
    { "LargeHeapSlowAlloc", 100, PACER_NO_LIMIT, 32 * KIB, 8, 50, large_heap_next, check_large_heap,
      { 3405451943, 6806750542, 6806800485, 6810944846 } },
    { "SteadyMemoryLimit", 100, 512 << 20, 32 * KIB, 8, 50, steady_next, check_steady_limit,
      { 20884992, 39967328, 41810943, 41810944 } },
    { "SteadyMemoryLimitNoGCPercent", -1, 512 << 20, 32 * KIB, 8, 50, steady_next,
      check_steady_limit_gogc_off,
      { 20886447, 531628032, 533472923, 535822336 } },
    { "ExceedMemoryLimit", 100, 512 << 20, 32 * KIB, 8, 50, exceed_limit_next, check_exceed_limit,
      { 1174734432, 1174734432, 1174734432, 1174734432 } },
    { "ExceedMemoryLimitNoGCPercent", -1, 512 << 20, 32 * KIB, 8, 50, exceed_limit_next,
      check_exceed_limit,
      { 1174734432, 1174734432, 1174734432, 1174734432 } },
    { "MaintainMemoryLimit", 100, 512 << 20, 32 * KIB, 8, 50, maintain_limit_next, check_maintain_limit,
      { 391440624, 501332056, 535822335, 535822336 } },
    { "MaintainMemoryLimitNoGCPercent", -1, 512 << 20, 32 * KIB, 8, 50, maintain_limit_next,
      check_maintain_limit,
      { 391440626, 501332055, 535822335, 535822336 } },
};

static void simulated_workloads_converge(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof sims / sizeof sims[0]; i++)
        run_sim(&sims[i]);
}

/* ---- Sweep pacing ------------------------------------------------------ */

static void sweep_pages_per_byte(void **state)
{
    (void)state;
    /* 800 pages over 100 - 50 - 1 MiB of allocation. */
    assert_near(pacer_sweep_pages_per_byte(100 * MIB, 50 * MIB, 1000, 200), 800.0 / (49 * MIB));
    /* No room before the trigger: at least one page of distance. */
    assert_near(pacer_sweep_pages_per_byte(50 * MIB, 50 * MIB, 1000, 200), 800.0 / 8192);
    assert_near(pacer_sweep_pages_per_byte(UINT64_MAX, 50 * MIB, 1000, 0),
                1000.0 / (double)(UINT64_MAX - 51 * MIB));
    assert_true(pacer_sweep_pages_per_byte(100 * MIB, 0, 1000, 1000) == 0);
    assert_true(pacer_sweep_pages_per_byte(100 * MIB, 0, 1000, 1200) == 0);
}

/* ---- CPU limiter (mgclimit_test.go) ------------------------------------ */

#define PROCS 14

static void limiter_fill_and_drain(void **state)
{
    (void)state;
    struct pacer_limiter l;
    int64_t now = 0;

    pacer_limiter_init(&l, now, PROCS);
    assert_true(l.capacity == PROCS * PACER_LIMITER_CAPACITY_PER_PROC);
    assert_int_equal(l.fill, 0);

    /* Mutator time alone never goes below empty. */
    pacer_limiter_update(&l, now += 10000000, 0, 10000000LL * PROCS);
    pacer_limiter_update(&l, now += 3600000000000LL, 0, 3600000000000LL * PROCS);
    assert_int_equal(l.fill, 0);
    assert_false(pacer_limiter_limiting(&l));

    /* A 2.001 ms stop of the world fills procs * 2.001 ms. */
    pacer_limiter_update(&l, now += 2001000, 2001000LL * PROCS, 0);
    assert_int_equal(l.fill, 2001000 * PROCS);
    /* Marking at 25% with the rest mutator drains at half the window. */
    int64_t window = (2001000LL * PROCS - PROCS) * 2 / PROCS;
    pacer_limiter_update(&l, now += window, window * PROCS / 4, window * PROCS * 3 / 4);
    assert_int_equal(l.fill, PROCS);
    pacer_limiter_update(&l, now += 1000, 0, 1000LL * PROCS);
    assert_int_equal(l.fill, 0);

    /* GC at exactly 50%: nothing moves. */
    pacer_limiter_update(&l, now += 10000000, 5000000LL * PROCS, 5000000LL * PROCS);
    assert_int_equal(l.fill, 0);
    /* 100% GC for 1 ms. */
    pacer_limiter_update(&l, now += 1000000, 1000000LL * PROCS, 0);
    assert_int_equal(l.fill, 1000000 * PROCS);
    assert_false(pacer_limiter_limiting(&l));
}

static void limiter_limits_when_full(void **state)
{
    (void)state;
    struct pacer_limiter l;
    int64_t now = 0;
    const int64_t cap = (int64_t)PROCS * PACER_LIMITER_CAPACITY_PER_PROC;

    pacer_limiter_init(&l, now, PROCS);
    pacer_limiter_update(&l, now += 1000000, 1000000LL * PROCS, 0);
    /* Fill exactly: limiting, no overflow. */
    pacer_limiter_update(&l, now += 1000000, cap - 1000000LL * PROCS, 0);
    assert_true(l.fill == l.capacity);
    assert_true(pacer_limiter_limiting(&l));
    assert_int_equal(l.overflow, 0);
    /* GC at exactly 50% while full: still limiting, still no overflow. */
    pacer_limiter_update(&l, now += 1000000000, 500000000LL * PROCS, 500000000LL * PROCS);
    assert_true(pacer_limiter_limiting(&l));
    assert_int_equal(l.overflow, 0);
    /* More GC: it overflows. */
    pacer_limiter_update(&l, now += 1000000, 1000000LL * PROCS, 0);
    assert_true(pacer_limiter_limiting(&l));
    assert_int_equal(l.overflow, 1000000 * PROCS);
    assert_true(l.fill == l.capacity);
    /* One nanosecond of mutator: no longer full, no longer limiting. */
    pacer_limiter_update(&l, now += 1, 0, 1);
    assert_false(pacer_limiter_limiting(&l));
    assert_true(l.fill == l.capacity - 1);
    /* And back on. */
    pacer_limiter_update(&l, now += 1, 5, 0);
    assert_true(pacer_limiter_limiting(&l));
    assert_int_equal(l.overflow, 1000000 * PROCS + 4);
}

static void limiter_update_period_and_clock(void **state)
{
    (void)state;
    struct pacer_limiter l;
    pacer_limiter_init(&l, 1000, PROCS);
    assert_false(pacer_limiter_needs_update(&l, 1000 + PACER_LIMITER_UPDATE_PERIOD / 2));
    assert_false(pacer_limiter_needs_update(&l, 1000 + PACER_LIMITER_UPDATE_PERIOD));
    assert_true(pacer_limiter_needs_update(&l, 1000 + PACER_LIMITER_UPDATE_PERIOD * 3 / 2));
    pacer_limiter_update(&l, 1000 + PACER_LIMITER_UPDATE_PERIOD * 3 / 2, 0, 0);
    assert_false(pacer_limiter_needs_update(&l, 1000 + PACER_LIMITER_UPDATE_PERIOD * 3 / 2));
    /* A stale now still accounts its time but does not move the clock. */
    pacer_limiter_update(&l, 0, 100, 0);
    assert_int_equal(l.fill, 100);
    assert_int_equal(l.last_update, 1000 + PACER_LIMITER_UPDATE_PERIOD * 3 / 2);
    /* Negative deltas count as nothing. */
    pacer_limiter_update(&l, 0, -50, -1000);
    assert_int_equal(l.fill, 100);
}

static void limiter_resizes_with_procs(void **state)
{
    (void)state;
    struct pacer_limiter l;
    pacer_limiter_init(&l, 0, 4);
    pacer_limiter_update(&l, 1, 3 * PACER_LIMITER_CAPACITY_PER_PROC, 0);
    assert_false(pacer_limiter_limiting(&l));
    /* Shrinking below the fill clips it and limits. */
    pacer_limiter_set_procs(&l, 2);
    assert_true(l.fill == 2 * PACER_LIMITER_CAPACITY_PER_PROC);
    assert_true(pacer_limiter_limiting(&l));
    /* Growing leaves headroom again. */
    pacer_limiter_set_procs(&l, 8);
    assert_true(l.capacity == 8 * PACER_LIMITER_CAPACITY_PER_PROC);
    assert_true(l.fill == 2 * PACER_LIMITER_CAPACITY_PER_PROC);
    assert_false(pacer_limiter_limiting(&l));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gogc_goals_match_go),
        cmocka_unit_test(gogc_off_goal_is_infinite),
        cmocka_unit_test(heap_minimum_scales_with_gogc),
        cmocka_unit_test(first_cycle_goal_and_trigger),
        cmocka_unit_test(set_gc_percent_returns_previous),
        cmocka_unit_test(trigger_follows_runway_within_bounds),
        cmocka_unit_test(small_heap_trigger_uses_61_64),
        cmocka_unit_test(unfinished_sweep_keeps_distance),
        cmocka_unit_test(goal_stays_64k_past_trigger_during_cycle),
        cmocka_unit_test(memory_limit_goal_arithmetic),
        cmocka_unit_test(goal_is_min_of_gogc_and_limit),
        cmocka_unit_test(limit_applies_with_gogc_off),
        cmocka_unit_test(worker_counts_match_go),
        cmocka_unit_test(assist_ratio_on_schedule),
        cmocka_unit_test(assist_ratio_extends_goal_on_overrun),
        cmocka_unit_test(assist_ratio_past_goal_aims_at_110_percent),
        cmocka_unit_test(assist_ratio_keeps_work_floor),
        cmocka_unit_test(assist_ratio_gogc_off_uses_huge_gogc),
        cmocka_unit_test(assist_work_and_credit),
        cmocka_unit_test(assist_delay_uses_last_mark_rate),
        cmocka_unit_test(cons_mark_smoothing),
        cmocka_unit_test(cons_mark_clamps_and_resets),
        cmocka_unit_test(cons_mark_counts_idle_marking_as_gc),
        cmocka_unit_test(cons_mark_ignores_uninformative_cycles),
        cmocka_unit_test(end_cycle_records_goal_and_commits),
        cmocka_unit_test(simulated_workloads_converge),
        cmocka_unit_test(sweep_pages_per_byte),
        cmocka_unit_test(limiter_fill_and_drain),
        cmocka_unit_test(limiter_limits_when_full),
        cmocka_unit_test(limiter_update_period_and_clock),
        cmocka_unit_test(limiter_resizes_with_procs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
