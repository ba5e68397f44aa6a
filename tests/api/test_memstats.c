/* test_memstats.c: gh_read_mem_stats as Go's runtime.MemStats, through the
 * public header only.
 *
 * Every field is checked for Go's meaning: the identities Go documents
 * (Alloc = HeapAlloc, Sys = the sum of the *Sys fields, HeapIdle =
 * HeapSys - HeapInuse, HeapInuse - HeapAlloc >= 0 (fragmentation),
 * Mallocs - Frees = HeapObjects, HeapReleased <= HeapIdle), exact deltas
 * for known allocations, the PauseNs/PauseEnd rings (newest at
 * (NumGC+255)%256, wrapping after 256 cycles, the newest PauseEnd is
 * LastGC), NumForcedGC counting gh_gc only, BySize carrying Go's class
 * sizes, and that every snapshot is consistent while four threads
 * allocate and free (the snapshot is taken with the world stopped).
 *
 * Objects a test keeps live in global arrays, so the collector sees them;
 * each test frees what it allocates. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "goheap.h"

#define MIB ((uint64_t)1 << 20)
#define GO_PAGE ((uint64_t)8192)

/* Go 1.19's class sizes for BySize entries 0..60 (runtime/sizeclasses.go;
 * entry 0 is class 0, which MemStats reports with size 0). */
static const uint32_t go_by_size[61] = {
    0,    8,    16,   24,   32,   48,   64,   80,   96,   112,  128,  144,  160,   176,   192,   208,
    224,  240,  256,  288,  320,  352,  384,  416,  448,  480,  512,  576,  640,   704,   768,   896,
    1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096,  4864,  5376,  6144,
    6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432,
};

/* Too big for comfortable stack frames. */
static gh_mem_stats a, b;

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* identities checks what must hold in every snapshot; returns 0 or the
 * line of the first identity that failed (usable from any thread). */
static int identities(const gh_mem_stats *m)
{
#define CHECK(e) do { if (!(e)) return __LINE__; } while (0)
    CHECK(m->alloc == m->heap_alloc);
    CHECK(m->sys == m->heap_sys + m->stack_sys + m->mspan_sys + m->mcache_sys + m->buck_hash_sys + m->gc_sys +
                        m->other_sys);
    CHECK(m->heap_idle == m->heap_sys - m->heap_inuse);
    CHECK(m->heap_inuse >= m->heap_alloc);
    CHECK(m->heap_released <= m->heap_idle);
    CHECK(m->mallocs - m->frees == m->heap_objects);
    CHECK(m->frees <= m->mallocs);
    CHECK(m->total_alloc >= m->heap_alloc);
    CHECK(m->lookups == 0);
    CHECK(m->stack_inuse <= m->stack_sys);
    CHECK(m->mspan_inuse <= m->mspan_sys);
    CHECK(m->mcache_inuse <= m->mcache_sys);
    CHECK(m->num_forced_gc <= m->num_gc);
    CHECK(m->enable_gc && !m->debug_gc);
    CHECK(m->gc_cpu_fraction >= 0 && m->gc_cpu_fraction <= 1);
    uint64_t mallocs = 0, frees = 0;
    for (int c = 0; c < 61; c++) {
        CHECK(m->by_size[c].size == go_by_size[c]);
        CHECK(m->by_size[c].frees <= m->by_size[c].mallocs);
        mallocs += m->by_size[c].mallocs;
        frees += m->by_size[c].frees;
    }
    CHECK(m->by_size[0].mallocs == 0 && m->by_size[0].frees == 0);
    CHECK(mallocs <= m->mallocs && frees <= m->frees);
    if (m->num_gc > 0) {
        unsigned newest = (m->num_gc + 255) % 256;
        CHECK(m->pause_end[newest] == m->last_gc);
        CHECK(m->pause_ns[newest] <= m->pause_total_ns);
    } else {
        CHECK(m->last_gc == 0 && m->pause_total_ns == 0);
    }
    return 0;
#undef CHECK
}

/* later checks that b is a later snapshot than a: counters never go back. */
static int later(const gh_mem_stats *x, const gh_mem_stats *y)
{
    return y->mallocs >= x->mallocs && y->frees >= x->frees && y->total_alloc >= x->total_alloc &&
           y->num_gc >= x->num_gc && y->num_forced_gc >= x->num_forced_gc &&
           y->pause_total_ns >= x->pause_total_ns && y->heap_sys >= x->heap_sys && y->last_gc >= x->last_gc;
}

/* ---- Field by field ------------------------------------------------------ */

#define N48 2000
void *objs[N48];
void *big;

static void known_allocations_move_every_counter_by_their_size(void **state)
{
    (void)state;
    gh_read_mem_stats(&a);
    assert_int_equal(identities(&a), 0);
    for (int i = 0; i < N48; i++)
        objs[i] = gh_malloc(33 + i % 16); /* 33..48 bytes: class 5, 48 bytes */
    big = gh_malloc(100000);              /* large: 13 pages */
    gh_read_mem_stats(&b);
    assert_int_equal(identities(&b), 0);
    assert_true(later(&a, &b));
    const uint64_t big_bytes = (100000 + GO_PAGE - 1) / GO_PAGE * GO_PAGE;
    assert_int_equal(b.mallocs - a.mallocs, N48 + 1);
    assert_int_equal(b.heap_objects - a.heap_objects, N48 + 1);
    assert_int_equal(b.total_alloc - a.total_alloc, N48 * 48 + big_bytes);
    assert_int_equal(b.heap_alloc - a.heap_alloc, N48 * 48 + big_bytes);
    assert_int_equal(b.by_size[5].mallocs - a.by_size[5].mallocs, N48);
    assert_true(b.heap_inuse - a.heap_inuse >= big_bytes);

    gh_read_mem_stats(&a);
    for (int i = 0; i < N48; i++) {
        gh_free(objs[i]);
        objs[i] = NULL;
    }
    gh_free(big);
    big = NULL;
    gh_read_mem_stats(&b);
    assert_int_equal(identities(&b), 0);
    assert_int_equal(b.frees - a.frees, N48 + 1);
    assert_int_equal(b.mallocs, a.mallocs);
    assert_int_equal(b.total_alloc, a.total_alloc);
    assert_int_equal(a.heap_alloc - b.heap_alloc, N48 * 48 + big_bytes);
    assert_int_equal(b.by_size[5].frees - a.by_size[5].frees, N48);
}

static void runtime_memory_fields_are_filled(void **state)
{
    (void)state;
    /* Enough allocation for profile samples (so buckets exist) and a
     * collection (so GC metadata and pauses exist). */
    for (int i = 0; i < N48; i++)
        objs[i] = gh_malloc(4096);
    gh_gc();
    gh_read_mem_stats(&a);
    assert_int_equal(identities(&a), 0);
    assert_true(a.heap_sys >= a.heap_inuse && a.heap_inuse >= N48 * 4096);
    assert_true(a.heap_sys % GO_PAGE == 0 && a.heap_inuse % GO_PAGE == 0);
    assert_true(a.mspan_inuse > 0);
    assert_true(a.mcache_inuse > 0);
    assert_true(a.buck_hash_sys > 0);
    assert_true(a.gc_sys > 0);
    assert_true(a.sys > a.heap_sys);
    /* NextGC: Go's goal, at least 4 MiB and at least the live heap twice
     * over at GOGC=100. */
    assert_true(a.next_gc >= 4 * MIB);
    assert_true(a.next_gc >= 2 * (uint64_t)N48 * 4096);
    assert_true(a.num_gc >= 1);
    assert_true(a.pause_total_ns > 0);
    assert_true(a.gc_cpu_fraction > 0);
    for (int i = 0; i < N48; i++) {
        gh_free(objs[i]);
        objs[i] = NULL;
    }
}

static void by_size_has_gos_sizes(void **state)
{
    (void)state;
    gh_read_mem_stats(&a);
    for (int c = 0; c < 61; c++)
        assert_int_equal(a.by_size[c].size, go_by_size[c]);
    assert_int_equal(a.by_size[60].size, 18432);
}

/* ---- Pauses and cycle counts --------------------------------------------- */

#define RING_CYCLES 300

static uint64_t cycle_pause[RING_CYCLES + 1], cycle_end[RING_CYCLES + 1];

static void pause_rings_index_by_num_gc_and_wrap(void **state)
{
    (void)state;
    gh_read_mem_stats(&a);
    uint32_t first = a.num_gc + 1;
    for (int k = 0; k < RING_CYCLES; k++) {
        uint64_t w0 = wall_ns(), m0 = mono_ns();
        gh_gc();
        uint64_t m1 = mono_ns(), w1 = wall_ns();
        gh_read_mem_stats(&b);
        assert_int_equal(identities(&b), 0);
        assert_int_equal(b.num_gc, a.num_gc + 1);
        unsigned newest = (b.num_gc + 255) % 256;
        /* The newest entry is this cycle's: its pause is what the total
         * grew by, and happened inside gh_gc; its end is LastGC, a wall
         * time inside the call. */
        assert_int_equal(b.pause_ns[newest], b.pause_total_ns - a.pause_total_ns);
        assert_true(b.pause_ns[newest] > 0 && b.pause_ns[newest] <= m1 - m0);
        assert_int_equal(b.pause_end[newest], b.last_gc);
        assert_true(b.last_gc >= w0 && b.last_gc <= w1);
        cycle_pause[k] = b.pause_ns[newest];
        cycle_end[k] = b.pause_end[newest];
        a = b;
    }
    /* After wrapping, entry (n-1)%256 still holds cycle n for the last 256
     * cycles. */
    for (int k = RING_CYCLES - 256; k < RING_CYCLES; k++) {
        unsigned n = first + (unsigned)k;
        assert_int_equal(b.pause_ns[(n - 1) % 256], cycle_pause[k]);
        assert_int_equal(b.pause_end[(n - 1) % 256], cycle_end[k]);
    }
}

void *garbage_sink;

static void num_forced_gc_counts_gh_gc_only(void **state)
{
    (void)state;
    gh_read_mem_stats(&a);
    gh_gc();
    gh_gc();
    gh_gc();
    gh_read_mem_stats(&b);
    assert_int_equal(b.num_forced_gc - a.num_forced_gc, 3);
    assert_int_equal(b.num_gc - a.num_gc, 3);
    /* Garbage well past the goal: the pacer starts cycles by itself. */
    a = b;
    for (uint64_t done = 0; done < 4 * b.next_gc; done += 8192)
        garbage_sink = gh_malloc(8192);
    garbage_sink = NULL;
    gh_read_mem_stats(&b);
    assert_true(b.num_gc - a.num_gc >= 2);
    assert_int_equal(b.num_forced_gc, a.num_forced_gc);
    assert_int_equal(identities(&b), 0);
}

/* ---- Consistency under load ---------------------------------------------- */

#define WORKERS 4
#define SLOTS 512

struct worker {
    pthread_t t;
    int id;
    void *slot[SLOTS];
};

static struct worker workers[WORKERS];
static volatile int stop_workers, workers_running;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t x = 0x9e3779b97f4a7c15u * (uint64_t)(w->id + 1);
    for (uint64_t n = 0; !__atomic_load_n(&stop_workers, __ATOMIC_RELAXED); n++) {
        if (n == SLOTS)
            __atomic_add_fetch(&workers_running, 1, __ATOMIC_RELAXED);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned i = (unsigned)(x % SLOTS);
        size_t size = x % 97 == 0 ? 40000 + x % 70000 : 8 + (x >> 20) % 2000;
        if (w->slot[i] && (x & 1))
            gh_free(w->slot[i]); /* explicit frees, and the rest dropped */
        w->slot[i] = gh_malloc(size);
    }
    for (int i = 0; i < SLOTS; i++) {
        gh_free(w->slot[i]);
        w->slot[i] = NULL;
    }
    return NULL;
}

#define SNAPSHOTS 400

static void snapshots_are_consistent_while_four_threads_allocate(void **state)
{
    (void)state;
    stop_workers = 0;
    for (int i = 0; i < WORKERS; i++) {
        workers[i].id = i;
        assert_int_equal(pthread_create(&workers[i].t, NULL, worker_main, &workers[i]), 0);
    }
    /* Snapshots start once every worker is well under way. */
    while (__atomic_load_n(&workers_running, __ATOMIC_RELAXED) < WORKERS)
        sched_yield();
    gh_read_mem_stats(&a);
    assert_int_equal(identities(&a), 0);
    uint64_t first_mallocs = a.mallocs;
    uint32_t first_gc = a.num_gc;
    for (int k = 0; k < SNAPSHOTS; k++) {
        gh_read_mem_stats(&b);
        int line = identities(&b);
        if (line)
            fail_msg("snapshot %d breaks the identity at line %d", k, line);
        if (!later(&a, &b))
            fail_msg("snapshot %d has a counter going back", k);
        a = b;
        if (k % 64 == 63)
            gh_gc();
    }
    __atomic_store_n(&stop_workers, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(workers[i].t, NULL), 0);
    /* The workers did run during the snapshots, and cycles happened. */
    assert_true(a.mallocs > first_mallocs);
    assert_true(a.num_gc > first_gc);
    gh_read_mem_stats(&b);
    assert_int_equal(identities(&b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_allocations_move_every_counter_by_their_size),
        cmocka_unit_test(runtime_memory_fields_are_filled),
        cmocka_unit_test(by_size_has_gos_sizes),
        cmocka_unit_test(pause_rings_index_by_num_gc_and_wrap),
        cmocka_unit_test(num_forced_gc_counts_gh_gc_only),
        cmocka_unit_test(snapshots_are_consistent_while_four_threads_allocate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
