/* test_mprof.c: sampling draw, bucket keys, the three-slot profile cycle,
 * the sampled-object map and the re-entrancy guard (runtime/mprof.c).
 *
 * Records are told apart by their innermost frame: every test allocates
 * through its own helper, so the helper's function (found with
 * libunwind from the recorded return address) names the bucket. Cycle
 * tests drive mprof_next_cycle/flush/post_sweep by hand, as gc.c does, and
 * compare against Go's rules; the cases that need the real allocator use
 * gh_malloc and gh_gc. The first test relies on running before anything
 * publishes profile data (no GC yet), so keep it first. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "goheap.h"
#include "mprof.h"

/* ---- Helpers ---------------------------------------------------------- */

/* Fake objects: distinct 16-aligned addresses that the heap never owns. */
static _Alignas(16) char fake[8192][16];

struct counts {
    int records;
    int64_t alloc_objects, alloc_bytes, free_objects, free_bytes;
};

static uintptr_t func_start(uintptr_t pc)
{
    unw_proc_info_t pi;
    if (unw_get_proc_info_by_ip(unw_local_addr_space, (unw_word_t)pc, &pi, NULL) != 0)
        return 0;
    return (uintptr_t)pi.start_ip;
}

/* counts_of sums the published records whose innermost frame lies in fn
 * and whose object size (bytes per object) is size, or any size if 0. */
static struct counts counts_of(void *fn, int64_t size)
{
    struct mprof_snapshot s;
    struct counts c = { 0 };
    assert_int_equal(mprof_snapshot_take(&s), 0);
    for (size_t i = 0; i < s.n; i++) {
        const struct mprof_record *r = &s.rec[i];
        if (r->nstk == 0 || func_start(r->stk[0] - 1) != (uintptr_t)fn)
            continue;
        if (size && r->alloc_objects && r->alloc_bytes / r->alloc_objects != size)
            continue;
        c.records++;
        c.alloc_objects += r->alloc_objects;
        c.alloc_bytes += r->alloc_bytes;
        c.free_objects += r->free_objects;
        c.free_bytes += r->free_bytes;
    }
    mprof_snapshot_release(&s);
    return c;
}

/* One helper per test, so that each test has buckets of its own. noipa
 * keeps gcc from inlining, cloning or folding identical helpers, the empty
 * asm from turning the call into a tail call (no helper frame). */
#define HELPER(name)                                                          \
    static __attribute__((noipa)) void name(void *p, size_t size)             \
    {                                                                         \
        mprof_alloc(p, size);                                                 \
        __asm__ volatile("");                                                 \
    }
HELPER(alloc_before_any_gc)
HELPER(alloc_in_cycle)
HELPER(alloc_post_sweep)
HELPER(alloc_between_cycle_and_flush)
HELPER(alloc_key_a)
HELPER(alloc_key_b)
HELPER(alloc_freed_twice)
HELPER(alloc_outer)
HELPER(alloc_nested)
HELPER(alloc_many)
HELPER(alloc_racing)
HELPER(alloc_concurrent)
HELPER(alloc_primer)

/* publish runs a collector cycle with nothing swept: next_cycle + flush,
 * then post_sweep, as gh_gc does. Afterwards everything allocated before
 * is published. */
static void publish(void)
{
    mprof_next_cycle();
    mprof_flush();
    mprof_post_sweep();
}

/* ---- Sampling draw ---------------------------------------------------- */

static void next_sample_mean_is_rate(void **state)
{
    (void)state;
    int prev = gh_set_mem_profile_rate(524288);
    uint64_t rng = 0x1234567887654321ull;
    const int n = 200000;
    double sum = 0;
    int below = 0;
    for (int i = 0; i < n; i++) {
        int64_t d = mprof_next_sample(&rng);
        assert_true(d >= 1);
        assert_true(d <= 20 * 524288);
        sum += (double)d;
        below += d < 524288;
    }
    double mean = sum / n;
    /* Exponential: mean = rate, P(x < mean) = 1 - 1/e = 0.632. */
    assert_true(mean > 524288 * 0.98 && mean < 524288 * 1.02);
    assert_true(below > n * 0.622 && below < n * 0.642);
    gh_set_mem_profile_rate(prev);
}

static void next_sample_caps_the_rate(void **state)
{
    (void)state;
    int prev = gh_set_mem_profile_rate(1 << 30);
    uint64_t rng = 42;
    double sum = 0;
    const int n = 50000;
    for (int i = 0; i < n; i++)
        sum += (double)mprof_next_sample(&rng);
    double mean = sum / n;
    assert_true(mean > 0x7000000 * 0.97 && mean < 0x7000000 * 1.03);
    gh_set_mem_profile_rate(prev);
}

static void next_sample_rate_one_and_zero(void **state)
{
    (void)state;
    int prev = gh_set_mem_profile_rate(1);
    uint64_t rng = 7;
    for (int i = 0; i < 100; i++)
        assert_int_equal(mprof_next_sample(&rng), 0);
    assert_int_equal(gh_set_mem_profile_rate(0), 1);
    assert_true(mprof_next_sample(&rng) == INT64_MAX);
    assert_int_equal(gh_set_mem_profile_rate(-5), 0);
    assert_true(mprof_next_sample(&rng) == INT64_MAX);
    gh_set_mem_profile_rate(prev);
}

static void next_sample_seeds_a_zero_state(void **state)
{
    (void)state;
    int prev = gh_set_mem_profile_rate(4096);
    uint64_t rng = 0;
    int64_t a = mprof_next_sample(&rng);
    assert_true(rng != 0);
    int64_t b = mprof_next_sample(&rng), c = mprof_next_sample(&rng);
    assert_true(a >= 1 && b >= 1 && c >= 1);
    assert_false(a == b && b == c);
    gh_set_mem_profile_rate(prev);
}

/* ---- Cycles ----------------------------------------------------------- */

/* Runs first: no bucket has published data, so a snapshot folds all three
 * future slots (Go: programs that never collect still get a profile). */
static void snapshot_before_any_gc_shows_everything(void **state)
{
    (void)state;
    alloc_before_any_gc(fake[0], 64);
    struct counts c = counts_of(alloc_before_any_gc, 0);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.alloc_objects, 1);
    assert_int_equal(c.alloc_bytes, 64);
    mprof_free(fake[0], 64);
    /* Data is published now, so the new free waits for its cycle. */
    c = counts_of(alloc_before_any_gc, 0);
    assert_int_equal(c.free_objects, 0);
    publish();
    c = counts_of(alloc_before_any_gc, 0);
    assert_int_equal(c.free_objects, 1);
    assert_int_equal(c.free_bytes, 64);
}

static void cycle_publishes_as_of_the_previous_gc(void **state)
{
    (void)state;
    alloc_primer(fake[1], 16);
    publish();
    /* Cycle C: the allocation goes to future[(C+2)%3]. */
    alloc_in_cycle(fake[2], 48);
    struct counts c = counts_of(alloc_in_cycle, 0);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.alloc_objects, 0);
    /* Mark termination C -> C+1: flush folds (C+1)%3, not ours yet. */
    mprof_next_cycle();
    mprof_flush();
    c = counts_of(alloc_in_cycle, 0);
    assert_int_equal(c.alloc_objects, 0);
    /* The sweep of cycle C+1 finds it dead: future[(C+2)%3] again. */
    mprof_free(fake[2], 48);
    c = counts_of(alloc_in_cycle, 0);
    assert_int_equal(c.alloc_objects, 0);
    assert_int_equal(c.free_objects, 0);
    /* Mark termination C+1 -> C+2 publishes allocation and free together. */
    mprof_next_cycle();
    mprof_flush();
    c = counts_of(alloc_in_cycle, 0);
    assert_int_equal(c.alloc_objects, 1);
    assert_int_equal(c.alloc_bytes, 48);
    assert_int_equal(c.free_objects, 1);
    assert_int_equal(c.free_bytes, 48);
    /* A second flush in the same cycle changes nothing. */
    mprof_flush();
    c = counts_of(alloc_in_cycle, 0);
    assert_int_equal(c.alloc_objects, 1);
}

static void post_sweep_publishes_the_last_gc(void **state)
{
    (void)state;
    alloc_post_sweep(fake[3], 32);
    mprof_next_cycle();
    mprof_flush();
    assert_int_equal(counts_of(alloc_post_sweep, 0).alloc_objects, 0);
    mprof_post_sweep();
    struct counts c = counts_of(alloc_post_sweep, 0);
    assert_int_equal(c.alloc_objects, 1);
    assert_int_equal(c.free_objects, 0);
    /* Allocated after that GC: not in the profile yet, although live. */
    alloc_post_sweep(fake[4], 32);
    c = counts_of(alloc_post_sweep, 0);
    assert_int_equal(c.alloc_objects, 1);
    /* A free found by the sweep after the next GC shows after post_sweep. */
    mprof_next_cycle();
    mprof_flush();
    mprof_free(fake[3], 32);
    mprof_post_sweep();
    c = counts_of(alloc_post_sweep, 0);
    assert_int_equal(c.alloc_objects, 2);
    assert_int_equal(c.free_objects, 1);
    assert_int_equal(c.alloc_bytes - c.free_bytes, 32);
    mprof_free(fake[4], 32);
}

static void snapshot_between_cycle_and_flush_folds_current(void **state)
{
    (void)state;
    alloc_between_cycle_and_flush(fake[5], 80);
    mprof_next_cycle();
    mprof_flush();
    mprof_next_cycle();
    /* No flush yet: the snapshot itself folds future[C%3]. */
    struct counts c = counts_of(alloc_between_cycle_and_flush, 0);
    assert_int_equal(c.alloc_objects, 1);
    mprof_flush();
    c = counts_of(alloc_between_cycle_and_flush, 0);
    assert_int_equal(c.alloc_objects, 1);
    mprof_free(fake[5], 80);
}

/* ---- Buckets ---------------------------------------------------------- */

static void bucket_is_keyed_by_stack_and_size(void **state)
{
    (void)state;
    /* One call site (a loop gcc may not unroll): the whole stack is part
     * of the key. */
    static const size_t sizes[] = { 64, 64, 128 };
    for (volatile int i = 0; i < 3; i++)
        alloc_key_a(fake[10 + i], sizes[i]);
    alloc_key_b(fake[13], 64);
    publish();
    struct counts a64 = counts_of(alloc_key_a, 64), a128 = counts_of(alloc_key_a, 128);
    struct counts a = counts_of(alloc_key_a, 0), b = counts_of(alloc_key_b, 0);
    assert_int_equal(a.records, 2);
    assert_int_equal(a64.records, 1);
    assert_int_equal(a64.alloc_objects, 2);
    assert_int_equal(a64.alloc_bytes, 128);
    assert_int_equal(a128.records, 1);
    assert_int_equal(a128.alloc_objects, 1);
    assert_int_equal(b.records, 1);
    assert_int_equal(b.alloc_objects, 1);
    for (int i = 0; i < 3; i++)
        mprof_free(fake[10 + i], sizes[i]);
    mprof_free(fake[13], 64);
}

static void free_of_unsampled_or_freed_object_is_ignored(void **state)
{
    (void)state;
    alloc_freed_twice(fake[20], 64);
    mprof_free(fake[21], 64); /* never sampled */
    mprof_free(fake[20], 64);
    mprof_free(fake[20], 64); /* already forgotten */
    publish();
    publish();
    struct counts c = counts_of(alloc_freed_twice, 0);
    assert_int_equal(c.alloc_objects, 1);
    assert_int_equal(c.free_objects, 1);
    assert_int_equal(c.free_bytes, 64);
}

/* ---- Map -------------------------------------------------------------- */

static void map_survives_growth_and_churn(void **state)
{
    (void)state;
    /* 8192 live entries grow the table several times; the churn rounds
     * fill it with tombstones, so it is rebuilt into its spare. */
    for (int i = 0; i < 8192; i++)
        alloc_many(fake[i], 16);
    for (int i = 0; i < 8192; i++)
        mprof_free(fake[i], 16);
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 3000; i++)
            alloc_many(fake[i], 16);
        for (int i = 0; i < 3000; i++)
            mprof_free(fake[i], 16);
    }
    publish();
    publish();
    struct counts c = counts_of(alloc_many, 0);
    assert_int_equal(c.alloc_objects, 8192 + 6 * 3000);
    assert_int_equal(c.free_objects, 8192 + 6 * 3000);
    assert_int_equal(c.free_bytes, c.alloc_bytes);
}

static volatile AO_t racing_published;

static void *racing_freer(void *arg)
{
    int n = (int)(intptr_t)arg, done = 0;
    while (done < n) {
        int upto = (int)AO_load_acquire(&racing_published);
        for (; done < upto; done++)
            mprof_free(fake[done], 32);
    }
    return NULL;
}

static void map_lock_free_probe_races_with_inserts(void **state)
{
    (void)state;
    const int n = 8192;
    for (int round = 0; round < 4; round++) {
        AO_store(&racing_published, 0);
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, racing_freer, (void *)(intptr_t)n), 0);
        for (int i = 0; i < n; i++) {
            alloc_racing(fake[i], 32);
            AO_store_release(&racing_published, (AO_t)(i + 1));
        }
        pthread_join(t, NULL);
    }
    publish();
    publish();
    struct counts c = counts_of(alloc_racing, 0);
    assert_int_equal(c.alloc_objects, 4 * n);
    assert_int_equal(c.free_objects, 4 * n);
}

static volatile AO_t cycling;

static void *concurrent_worker(void *arg)
{
    char (*mine)[16] = fake + 2048 * (intptr_t)arg;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 2048; i++)
            alloc_concurrent(mine[i], 48);
        for (int i = 0; i < 2048; i++)
            mprof_free(mine[i], 48);
    }
    return NULL;
}

static void *cycler(void *arg)
{
    (void)arg;
    while (AO_load_acquire(&cycling)) {
        mprof_next_cycle();
        mprof_flush();
        mprof_post_sweep();
    }
    return NULL;
}

static void buckets_and_map_under_concurrent_threads(void **state)
{
    (void)state;
    pthread_t w[4], c;
    AO_store(&cycling, 1);
    assert_int_equal(pthread_create(&c, NULL, cycler, NULL), 0);
    for (intptr_t i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&w[i], NULL, concurrent_worker, (void *)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(w[i], NULL);
    AO_store_release(&cycling, 0);
    pthread_join(c, NULL);
    publish();
    publish();
    struct counts n = counts_of(alloc_concurrent, 0);
    assert_int_equal(n.records, 1);
    assert_int_equal(n.alloc_objects, 4 * 3 * 2048);
    assert_int_equal(n.free_objects, 4 * 3 * 2048);
    assert_int_equal(n.alloc_bytes, 4 * 3 * 2048 * 48);
}

/* ---- Re-entrancy and the sample hook ---------------------------------- */

static uint64_t hook_est[4];
static int hook_calls;

static void nesting_hook(uint64_t est)
{
    if (hook_calls < 4)
        hook_est[hook_calls] = est;
    hook_calls++;
    /* As if libunwind or a writer allocated while a sample is recorded. */
    alloc_nested(fake[31], 64);
}

static void nested_sample_is_skipped(void **state)
{
    (void)state;
    int prev = gh_set_mem_profile_rate(1);
    hook_calls = 0;
    mprof_set_sample_hook(nesting_hook);
    alloc_outer(fake[30], 100);
    alloc_outer(fake[32], 100);
    mprof_set_sample_hook(NULL);
    publish();
    assert_int_equal(hook_calls, 2);
    /* At rate 1 a sample stands for exactly its own bytes. */
    assert_int_equal(hook_est[1] - hook_est[0], 100);
    assert_int_equal(counts_of(alloc_outer, 0).alloc_objects, 2);
    assert_int_equal(counts_of(alloc_nested, 0).records, 0);
    mprof_free(fake[30], 100);
    mprof_free(fake[32], 100);
    gh_set_mem_profile_rate(prev);
}

/* ---- With the allocator ----------------------------------------------- */

#define HEAP_N 500
static void *heap_objs[HEAP_N];

static __attribute__((noipa)) void heap_alloc_rate_one(void)
{
    for (int i = 0; i < HEAP_N; i++)
        heap_objs[i] = gh_malloc(100);
    __asm__ volatile("");
}

static __attribute__((noipa)) void heap_alloc_rate_zero(void)
{
    for (int i = 0; i < HEAP_N; i++)
        heap_objs[i] = gh_malloc(100);
    __asm__ volatile("");
}

/* A new thread gets a new cache, whose countdown is drawn at the rate in
 * force then. */
static void *run_in_thread(void *fn)
{
    ((void (*)(void))fn)();
    return NULL;
}

static void run_thread(void (*fn)(void))
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_in_thread, (void *)fn), 0);
    pthread_join(t, NULL);
}

static void rate_one_samples_every_allocation(void **state)
{
    (void)state;
    int prev = gh_set_mem_profile_rate(1);
    run_thread(heap_alloc_rate_one);
    gh_gc();
    /* 100 bytes round up to the 112-byte class; the innermost frame is
     * the caller of gh_malloc, goheap's own frames are gone. */
    struct counts c = counts_of(heap_alloc_rate_one, 0);
    assert_int_equal(c.records, 1);
    assert_int_equal(c.alloc_objects, HEAP_N);
    assert_int_equal(c.alloc_bytes, HEAP_N * 112);
    assert_int_equal(c.free_objects, 0);
    for (int i = 0; i < HEAP_N; i++)
        gh_free(heap_objs[i]);
    gh_gc();
    c = counts_of(heap_alloc_rate_one, 0);
    assert_int_equal(c.free_objects, HEAP_N);
    gh_set_mem_profile_rate(prev);
}

static void rate_zero_samples_nothing(void **state)
{
    (void)state;
    int prev = gh_set_mem_profile_rate(0);
    run_thread(heap_alloc_rate_zero);
    gh_gc();
    assert_int_equal(counts_of(heap_alloc_rate_zero, 0).records, 0);
    for (int i = 0; i < HEAP_N; i++)
        gh_free(heap_objs[i]);
    gh_set_mem_profile_rate(prev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(snapshot_before_any_gc_shows_everything),
        cmocka_unit_test(next_sample_mean_is_rate),
        cmocka_unit_test(next_sample_caps_the_rate),
        cmocka_unit_test(next_sample_rate_one_and_zero),
        cmocka_unit_test(next_sample_seeds_a_zero_state),
        cmocka_unit_test(cycle_publishes_as_of_the_previous_gc),
        cmocka_unit_test(post_sweep_publishes_the_last_gc),
        cmocka_unit_test(snapshot_between_cycle_and_flush_folds_current),
        cmocka_unit_test(bucket_is_keyed_by_stack_and_size),
        cmocka_unit_test(free_of_unsampled_or_freed_object_is_ignored),
        cmocka_unit_test(map_survives_growth_and_churn),
        cmocka_unit_test(map_lock_free_probe_races_with_inserts),
        cmocka_unit_test(buckets_and_map_under_concurrent_threads),
        cmocka_unit_test(nested_sample_is_skipped),
        cmocka_unit_test(rate_one_samples_every_allocation),
        cmocka_unit_test(rate_zero_samples_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
