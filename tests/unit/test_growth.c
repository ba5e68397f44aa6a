/* test_growth.c: the buffer-growth arithmetic of tools/growth.h, checked
 * exactly: capacities after each append, bytes copied and allocated,
 * against sequences worked out by hand from each strategy's rule, and
 * goappend against the capacities Go 1.19's append really produced
 * (recorded from go1.19.8: `b = append(b, chunk...)` in a loop, printing
 * cap(b) whenever it changed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../tools/growth.h"
#include "sizeclass.h"

#define MAX_CAPS 64

struct caps {
    size_t n;
    size_t cap[MAX_CAPS];
    size_t copied[MAX_CAPS];
};

static void record(size_t cap, size_t copied, void *arg)
{
    struct caps *c = arg;
    assert_true(c->n < MAX_CAPS);
    c->cap[c->n] = cap;
    c->copied[c->n] = copied;
    c->n++;
}

/* run plans strategy s and checks its capacity sequence. */
static void run(enum growth_strategy s, size_t total, size_t chunk, size_t step,
                const size_t *want, size_t nwant, struct growth_plan *plan)
{
    struct growth_params p = {.total = total, .chunk = chunk, .step = step};
    struct caps got = {0};
    growth_plan_run(s, &p, plan, record, &got);
    assert_int_equal(got.n, nwant);
    for (size_t i = 0; i < nwant; i++)
        assert_int_equal(got.cap[i], want[i]);
}

static void names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < GROWTH_NSTRATEGIES; i++)
        assert_int_equal(growth_parse(growth_names[i]), i);
    assert_int_equal(growth_parse("x1.5"), GROWTH_X15);
    assert_int_equal(growth_parse("triple"), -1);
    assert_int_equal(growth_parse(""), -1);
}

static void class_table_matches_goheap(void **state)
{
    (void)state;
    assert_int_equal(sizeof growth_class_size / sizeof growth_class_size[0], NUM_SIZE_CLASSES - 1);
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
        assert_int_equal(growth_class_size[c - 1], class_to_size[c]);
}

static void roundupsize_is_gos(void **state)
{
    (void)state;
    assert_int_equal(growth_roundupsize(0), 0);
    assert_int_equal(growth_roundupsize(1), 8);
    assert_int_equal(growth_roundupsize(8), 8);
    assert_int_equal(growth_roundupsize(9), 16);
    assert_int_equal(growth_roundupsize(17), 24);
    assert_int_equal(growth_roundupsize(1000), 1024);
    assert_int_equal(growth_roundupsize(1025), 1152);
    assert_int_equal(growth_roundupsize(4097), 4864);
    assert_int_equal(growth_roundupsize(32767), 32768);
    assert_int_equal(growth_roundupsize(32768), 32768);
    assert_int_equal(growth_roundupsize(32769), 40960);
    assert_int_equal(growth_roundupsize(81107), 81920);
    assert_int_equal(growth_roundupsize((size_t)64 << 20), (size_t)64 << 20);
    /* Below 32 KiB: the smallest class that fits, for every size. */
    for (size_t n = 1; n < 32768; n++) {
        size_t r = growth_roundupsize(n);
        assert_true(r >= n);
        assert_int_equal(r, class_to_size[sizeclass_of(n)]);
    }
}

static void goappend_one_byte_at_a_time(void **state)
{
    (void)state;
    static const size_t go[] = {8, 16, 32, 64, 128, 256, 512, 896, 1408, 2048, 3072};
    struct growth_plan plan;
    run(GROWTH_GOAPPEND, 3000, 1, 1, go, sizeof go / sizeof go[0], &plan);
    assert_int_equal(plan.final_cap, 3072);
    assert_int_equal(plan.grows, 10);
    /* Each grow copies the bytes held, which is the old capacity here. */
    assert_int_equal(plan.copied, 8 + 16 + 32 + 64 + 128 + 256 + 512 + 896 + 1408 + 2048);
}

static void goappend_small_chunks(void **state)
{
    (void)state;
    static const size_t go1000[] = {1024,  2048,  4096,  5376,  6912,  9472,  12288, 16384,
                                    21760, 28672, 40960, 57344, 73728, 98304, 131072};
    static const size_t go5000[] = {5376, 12288, 16384, 21760, 28672, 40960, 57344, 73728};
    struct growth_plan plan;
    run(GROWTH_GOAPPEND, 100000, 1000, 1, go1000, sizeof go1000 / sizeof go1000[0], &plan);
    run(GROWTH_GOAPPEND, 60000, 5000, 1, go5000, sizeof go5000 / sizeof go5000[0], &plan);
}

static void goappend_large_chunks(void **state)
{
    (void)state;
    static const size_t go[] = {32768,  81920,   106496,  139264,  180224,  229376,  294912,
                                376832, 475136,  598016,  753664,  950272,  1196032, 1499136,
                                1875968, 2351104, 2940928, 3678208, 4603904};
    struct growth_plan plan;
    run(GROWTH_GOAPPEND, (size_t)4 << 20, 32768, 1, go, sizeof go / sizeof go[0], &plan);
    /* Page-rounded sizes are allocated as they are. */
    size_t sum = 0;
    for (size_t i = 0; i < sizeof go / sizeof go[0]; i++)
        sum += go[i];
    assert_int_equal(plan.allocated, sum);
    assert_int_equal(plan.copy_peak, 3678208 + 4603904);
}

static void double_is_two_cap_plus_n(void **state)
{
    (void)state;
    static const size_t want[] = {10, 30, 70, 150};
    struct growth_plan plan;
    run(GROWTH_DOUBLE, 100, 10, 1, want, 4, &plan);
    assert_int_equal(plan.final_cap, 150);
    assert_int_equal(plan.allocs, 4);
    assert_int_equal(plan.grows, 3);
    assert_int_equal(plan.copied, 10 + 30 + 70);
    assert_int_equal(plan.allocated, 16 + 32 + 80 + 160);
    assert_int_equal(plan.copy_peak, 70 + 150);
}

static void double_three_times_past_a_boundary(void **state)
{
    (void)state;
    /* 64 MiB in 32 KiB appends overflows the capacity 2047 * 32 KiB by one
     * chunk: the last grow holds the old and the new buffer, 3x the data. */
    struct growth_params p = {.total = (size_t)64 << 20, .chunk = 32768, .step = 1};
    struct growth_plan plan;
    growth_plan_run(GROWTH_DOUBLE, &p, &plan, NULL, NULL);
    assert_int_equal(plan.final_cap, (size_t)4095 * 32768);
    assert_int_equal(plan.copy_peak, (size_t)2047 * 32768 + (size_t)4095 * 32768);
    assert_int_equal(plan.grows, 11);
}

static void x15_sequence(void **state)
{
    (void)state;
    static const size_t want[] = {10, 20, 30, 45, 67, 100};
    struct growth_plan plan;
    run(GROWTH_X15, 100, 10, 1, want, 6, &plan);
    assert_int_equal(plan.copied, 10 + 20 + 30 + 40 + 60);
    assert_int_equal(plan.copy_peak, 67 + 100);
    assert_int_equal(plan.grows, 5);
}

static void exact_reallocates_every_append(void **state)
{
    (void)state;
    static const size_t want[] = {10, 20, 30, 40, 50};
    struct growth_plan plan;
    run(GROWTH_EXACT, 50, 10, 1, want, 5, &plan);
    assert_int_equal(plan.copied, 10 + 20 + 30 + 40);
    assert_int_equal(plan.allocated, 16 + 24 + 32 + 48 + 64);
    assert_int_equal(plan.copy_peak, 40 + 50);
}

static void exact_short_last_append(void **state)
{
    (void)state;
    static const size_t want[] = {10, 20, 25};
    struct growth_plan plan;
    run(GROWTH_EXACT, 25, 10, 1, want, 3, &plan);
    assert_int_equal(plan.final_cap, 25);
    assert_int_equal(plan.copied, 30);
}

static void step_rounds_to_the_step(void **state)
{
    (void)state;
    static const size_t want[] = {32, 64, 96, 128};
    struct growth_plan plan;
    run(GROWTH_STEP, 100, 10, 32, want, 4, &plan);
    assert_int_equal(plan.copied, 30 + 60 + 90);
    assert_int_equal(plan.allocated, 32 + 64 + 96 + 128);
}

static void chunked_never_copies(void **state)
{
    (void)state;
    static const size_t want[] = {32, 32, 32, 32};
    struct growth_plan plan;
    run(GROWTH_CHUNKED, 100, 10, 32, want, 4, &plan);
    assert_int_equal(plan.final_cap, 128);
    assert_int_equal(plan.allocs, 4);
    assert_int_equal(plan.grows, 0);
    assert_int_equal(plan.copied, 0);
    assert_int_equal(plan.allocated, 128);
    assert_int_equal(plan.copy_peak, 128);
}

static void chunked_block_smaller_than_chunk(void **state)
{
    (void)state;
    /* One 10-byte append spans blocks of 4: 3 blocks, 12 bytes. */
    static const size_t want[] = {4, 4, 4};
    struct growth_plan plan;
    run(GROWTH_CHUNKED, 10, 10, 4, want, 3, &plan);
    assert_int_equal(plan.final_cap, 12);
    assert_int_equal(plan.allocated, 3 * 8);
}

static void prealloc_allocates_once(void **state)
{
    (void)state;
    static const size_t want[] = {100};
    struct growth_plan plan;
    run(GROWTH_PREALLOC, 100, 10, 1, want, 1, &plan);
    assert_int_equal(plan.allocs, 1);
    assert_int_equal(plan.copied, 0);
    assert_int_equal(plan.allocated, 112);
    assert_int_equal(plan.copy_peak, 100);
}

static void realloc_grows_in_place_within_the_class(void **state)
{
    (void)state;
    /* Requests 1, 3, 7 fit the 8-byte class of the first block; 15 and 31
     * need bigger classes and move. */
    static const size_t want[] = {1, 3, 7, 15, 31};
    struct growth_params p = {.total = 20, .chunk = 1, .step = 1};
    struct growth_plan plan;
    struct caps got = {0};
    growth_plan_run(GROWTH_REALLOC, &p, &plan, record, &got);
    assert_int_equal(got.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(got.cap[i], want[i]);
    assert_int_equal(got.copied[1], 0);
    assert_int_equal(got.copied[2], 0);
    assert_int_equal(got.copied[3], 7);
    assert_int_equal(got.copied[4], 15);
    assert_int_equal(plan.allocs, 3);
    assert_int_equal(plan.grows, 4);
    assert_int_equal(plan.copied, 22);
    assert_int_equal(plan.allocated, 8 + 16 + 32);
    assert_int_equal(plan.copy_peak, 15 + 31);

    /* double makes the same requests but always allocates anew. */
    growth_plan_run(GROWTH_DOUBLE, &p, &plan, NULL, NULL);
    assert_int_equal(plan.allocs, 5);
    assert_int_equal(plan.copied, 1 + 3 + 7 + 15);
    assert_int_equal(plan.allocated, 8 + 8 + 8 + 16 + 32);
}

static void realloc_moves_rule(void **state)
{
    (void)state;
    assert_true(growth_realloc_moves(0, 1));
    assert_false(growth_realloc_moves(1, 8));
    assert_true(growth_realloc_moves(1, 9));
    assert_false(growth_realloc_moves(40000, 40960));
    assert_true(growth_realloc_moves(40000, 40961));
}

static void every_strategy_holds_the_total(void **state)
{
    (void)state;
    static const size_t totals[] = {1, 7, 4096, 100003, (size_t)3 << 20};
    for (int s = 0; s < GROWTH_NSTRATEGIES; s++)
        for (size_t t = 0; t < sizeof totals / sizeof totals[0]; t++) {
            struct growth_params p = {.total = totals[t], .chunk = 4096, .step = 65536};
            struct growth_plan plan;
            growth_plan_run((enum growth_strategy)s, &p, &plan, NULL, NULL);
            assert_true(plan.final_cap >= p.total);
            assert_true(plan.copy_peak >= plan.final_cap);
            assert_true(plan.allocated >= plan.final_cap);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(class_table_matches_goheap),
        cmocka_unit_test(roundupsize_is_gos),
        cmocka_unit_test(goappend_one_byte_at_a_time),
        cmocka_unit_test(goappend_small_chunks),
        cmocka_unit_test(goappend_large_chunks),
        cmocka_unit_test(double_is_two_cap_plus_n),
        cmocka_unit_test(double_three_times_past_a_boundary),
        cmocka_unit_test(x15_sequence),
        cmocka_unit_test(exact_reallocates_every_append),
        cmocka_unit_test(exact_short_last_append),
        cmocka_unit_test(step_rounds_to_the_step),
        cmocka_unit_test(chunked_never_copies),
        cmocka_unit_test(chunked_block_smaller_than_chunk),
        cmocka_unit_test(prealloc_allocates_once),
        cmocka_unit_test(realloc_grows_in_place_within_the_class),
        cmocka_unit_test(realloc_moves_rule),
        cmocka_unit_test(every_strategy_holds_the_total),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
