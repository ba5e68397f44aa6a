/* test_malloc.c: the allocation API as a user sees it (include/goheap.h
 * only): usable sizes, alignment, zeroing, realloc, memory coming back,
 * threads freeing each other's objects, MemStats identities and out of
 * memory.
 *
 * Every pointer a test still needs lives in a global array, a local array
 * or a local variable, so that the tests also pass while the collector
 * runs (GOGC at its default). Every test frees what it allocates, so the
 * object counts of one test are not disturbed by the collector sweeping
 * another test's garbage. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "goheap.h"

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)
#define GO_PAGE_SIZE ((size_t)8192)
#define MAX_SMALL ((size_t)32768)

/* Go 1.19's size classes, bytes per object, indexed by class (1..67; class
 * 0, large objects, has no fixed size). From runtime/sizeclasses.go. */
static const uint32_t go_class_size[] = {
    0,     8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,   176,
    192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,   480,   512,   576,
    640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304,  2688,  3072,
    3200,  3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,  8192,  9472,  9728,  10240, 10880,
    12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
};

/* rounded[n] is the smallest Go class size >= n, for n in 1..32768. */
static uint32_t rounded[MAX_SMALL + 1];

static int setup_rounded(void **state)
{
    (void)state;
    unsigned c = 1;
    for (size_t n = 1; n <= MAX_SMALL; n++) {
        while (go_class_size[c] < n)
            c++;
        rounded[n] = go_class_size[c];
    }
    return 0;
}

static size_t round_pages(size_t n) { return (n + GO_PAGE_SIZE - 1) & ~(GO_PAGE_SIZE - 1); }

/* A cheap deterministic generator (xorshift64*). */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* pattern_byte is the byte at offset i of an object filled for (key, size):
 * it depends on the key (an address or a seed), the size and the offset. */
static uint8_t pattern_byte(uintptr_t key, size_t size, size_t i)
{
    uint64_t x = (key ^ (size * 0x9E3779B97F4A7C15ull)) + i * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return (uint8_t)(x ^ (x >> 17));
}

static void fill(void *p, size_t size, uintptr_t key)
{
    uint8_t *b = p;
    for (size_t i = 0; i < size; i++)
        b[i] = pattern_byte(key, size, i);
}

/* check_fill returns 1 if [p, p+n) holds the pattern of (key, size). */
static int check_fill(const void *p, size_t n, size_t size, uintptr_t key)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != pattern_byte(key, size, i))
            return 0;
    return 1;
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static gh_mem_stats stats_a, stats_b;

/* ---- usable sizes and alignment ------------------------------------------ */

static void usable_size_is_smallest_go_class_at_least_n(void **state)
{
    (void)state;
    for (size_t n = 1; n <= MAX_SMALL; n++) {
        void *p = gh_malloc(n);
        assert_non_null(p);
        if (gh_usable_size(p) != rounded[n])
            fail_msg("gh_usable_size(gh_malloc(%zu)) = %zu, want %u", n, gh_usable_size(p), rounded[n]);
        assert_int_equal((uintptr_t)p % 8, 0);
        gh_free(p);
    }
}

static void malloc_of_zero_returns_distinct_freeable_objects(void **state)
{
    (void)state;
    void *a = gh_malloc(0), *b = gh_malloc(0);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_true(gh_usable_size(a) >= 1);
    gh_free(a);
    gh_free(b);
}

/* A large object's usable size is what was asked; its memory is whole
 * pages: each allocation adds its page-rounded size to TotalAlloc. */
static void large_usable_size_is_requested_size_in_whole_pages(void **state)
{
    (void)state;
    static const size_t sizes[] = { MAX_SMALL + 1, 40000, 65536, 65537, MIB + 1, 3 * MIB + 123 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        gh_read_mem_stats(&stats_a);
        uint8_t *p = gh_malloc(n);
        gh_read_mem_stats(&stats_b);
        assert_non_null(p);
        assert_int_equal(gh_usable_size(p), n);
        assert_int_equal((uintptr_t)p % GO_PAGE_SIZE, 0);
        assert_int_equal(stats_b.total_alloc - stats_a.total_alloc, round_pages(n));
        assert_int_equal(stats_b.mallocs - stats_a.mallocs, 1);
        p[0] = 1;
        p[n - 1] = 1;
        gh_free(p);
    }
}

static void power_of_two_sizes_are_aligned_to_their_size(void **state)
{
    (void)state;
    void *objs[40];
    for (size_t size = 8; size <= 8192; size *= 2) {
        for (int i = 0; i < 40; i++) {
            objs[i] = gh_malloc(size);
            assert_non_null(objs[i]);
            if ((uintptr_t)objs[i] % size != 0)
                fail_msg("gh_malloc(%zu) = %p is not aligned to its size", size, objs[i]);
        }
        for (int i = 0; i < 40; i++)
            gh_free(objs[i]);
    }
}

/* check_aligned checks one aligned allocation: aligned, at least size
 * usable bytes, zeroed, writable. */
static void check_aligned(void *p, size_t align, size_t size)
{
    if (p == NULL)
        fail_msg("aligned allocation of %zu bytes at %zu failed", size, align);
    if ((uintptr_t)p % align != 0)
        fail_msg("%p is not aligned to %zu", p, align);
    assert_true(gh_usable_size(p) >= size);
    assert_true(all_zero(p, size));
    memset(p, 0x5a, size);
}

static const size_t align_sizes[] = { 1, 0 /* align-1 */, 0 /* align */, 0 /* 3*align+5 */, 40000, MIB };

static size_t align_size(unsigned k, size_t align)
{
    switch (k) {
    case 1: return align - 1;
    case 2: return align;
    case 3: return 3 * align + 5;
    default: return align_sizes[k];
    }
}

/* aligned_count: how many objects to hold at once for one (align, size),
 * so that slots other than a span's first are checked too. */
static int aligned_count(size_t size) { return size <= 64 * KIB ? 8 : 2; }

static void aligned_alloc_returns_aligned_usable_zeroed_memory(void **state)
{
    (void)state;
    void *objs[8];
    for (size_t align = 8; align <= 4 * MIB; align *= 2) {
        for (unsigned k = 0; k < sizeof(align_sizes) / sizeof(align_sizes[0]); k++) {
            size_t size = align_size(k, align);
            int n = aligned_count(size);
            for (int i = 0; i < n; i++) {
                objs[i] = gh_aligned_alloc(align, size);
                check_aligned(objs[i], align, size);
            }
            for (int i = 0; i < n; i++)
                gh_free(objs[i]);
        }
    }
}

static void posix_memalign_returns_aligned_usable_zeroed_memory(void **state)
{
    (void)state;
    void *objs[8];
    for (size_t align = 8; align <= 4 * MIB; align *= 2) {
        for (unsigned k = 0; k < sizeof(align_sizes) / sizeof(align_sizes[0]); k++) {
            size_t size = align_size(k, align);
            int n = aligned_count(size);
            for (int i = 0; i < n; i++) {
                objs[i] = NULL;
                assert_int_equal(gh_posix_memalign(&objs[i], align, size), 0);
                check_aligned(objs[i], align, size);
            }
            for (int i = 0; i < n; i++)
                gh_free(objs[i]);
        }
    }
}

static void bad_alignments_give_einval(void **state)
{
    (void)state;
    static const size_t bad[] = { 0, 3, 24, 48, 4097, (size_t)1 << 63 | 1, SIZE_MAX };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_null(gh_aligned_alloc(bad[i], 64));
        assert_int_equal(errno, EINVAL);
        void *out = &out;
        assert_int_equal(gh_posix_memalign(&out, bad[i], 64), EINVAL);
        assert_ptr_equal(out, &out);
    }
    /* posix_memalign also wants a multiple of sizeof(void *). */
    for (size_t a = 1; a < sizeof(void *); a *= 2) {
        void *out = &out;
        assert_int_equal(gh_posix_memalign(&out, a, 64), EINVAL);
        assert_ptr_equal(out, &out);
    }
    /* aligned_alloc takes any power of two. */
    for (size_t a = 1; a < 8; a *= 2) {
        void *p = gh_aligned_alloc(a, 64);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        gh_free(p);
    }
}

static void aligned_alloc_of_zero_bytes_works(void **state)
{
    (void)state;
    for (size_t align = 8; align <= 4 * MIB; align *= 4) {
        void *p = gh_aligned_alloc(align, 0);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % align, 0);
        void *q = NULL;
        assert_int_equal(gh_posix_memalign(&q, align, 0), 0);
        assert_non_null(q);
        assert_ptr_not_equal(p, q);
        assert_int_equal((uintptr_t)q % align, 0);
        gh_free(p);
        gh_free(q);
    }
}

/* ---- zeroing ----------------------------------------------------------- */

#define ZERO_COUNT 64

static uintptr_t old_addr[ZERO_COUNT];
static size_t old_size[ZERO_COUNT];

/* overlaps_old tells whether [p, p+n) overlaps a range recorded in old_*. */
static int overlaps_old(const void *p, size_t n)
{
    uintptr_t lo = (uintptr_t)p, hi = lo + n;
    for (int i = 0; i < ZERO_COUNT; i++)
        if (lo < old_addr[i] + old_size[i] && old_addr[i] < hi)
            return 1;
    return 0;
}

/* reuse_is_zeroed dirties ZERO_COUNT objects of size n, frees them,
 * allocates as many again with alloc and checks them zero. Returns how
 * many new objects overlap the dirtied memory, so callers can see that
 * reuse happened. */
static int reuse_is_zeroed(size_t n, void *(*alloc)(size_t))
{
    void *objs[ZERO_COUNT];
    for (int i = 0; i < ZERO_COUNT; i++) {
        objs[i] = gh_malloc(n);
        assert_non_null(objs[i]);
        old_addr[i] = (uintptr_t)objs[i];
        old_size[i] = gh_usable_size(objs[i]);
        memset(objs[i], 0xa5, old_size[i]);
    }
    for (int i = 0; i < ZERO_COUNT; i++)
        gh_free(objs[i]);
    int reused = 0;
    for (int i = 0; i < ZERO_COUNT; i++) {
        objs[i] = alloc(n);
        assert_non_null(objs[i]);
        if (!all_zero(objs[i], n))
            fail_msg("reallocated object %p of size %zu is not zero", objs[i], n);
        reused += overlaps_old(objs[i], n);
    }
    for (int i = 0; i < ZERO_COUNT; i++)
        gh_free(objs[i]);
    return reused;
}

static void *calloc_1_n(size_t n) { return gh_calloc(1, n); }
static void *calloc_n_1(size_t n) { return gh_calloc(n, 1); }

static const size_t zero_sizes[] = { 8, 24, 48, 100, 512, 1000, 4096, 10000, MAX_SMALL,
                                     MAX_SMALL + 1, 100000, MIB + 3 };

static void malloc_memory_is_zero_when_reused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(zero_sizes) / sizeof(zero_sizes[0]); i++)
        if (reuse_is_zeroed(zero_sizes[i], gh_malloc) == 0)
            fail_msg("no object of size %zu reused freed memory", zero_sizes[i]);
}

static void calloc_memory_is_zero_when_reused(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(zero_sizes) / sizeof(zero_sizes[0]); i++) {
        if (reuse_is_zeroed(zero_sizes[i], calloc_1_n) == 0)
            fail_msg("no object of size %zu reused freed memory", zero_sizes[i]);
        if (reuse_is_zeroed(zero_sizes[i], calloc_n_1) == 0)
            fail_msg("no object of size %zu reused freed memory", zero_sizes[i]);
    }
}

/* Small objects carved from pages a freed large object dirtied are zero.
 * They are allocated by a fresh thread, whose cache starts empty, so all
 * its spans come from the page heap. */
#define DIRTY_OBJ 512
#define DIRTY_MAX ((size_t)32 * MIB / DIRTY_OBJ)
static void *dirty_objs[DIRTY_MAX];
static size_t dirty_count;
static int dirty_bad, dirty_hits;

static void *dirty_pages_worker(void *arg)
{
    (void)arg;
    for (dirty_count = 0; dirty_count < DIRTY_MAX && dirty_hits == 0; dirty_count++) {
        void *p = gh_malloc(DIRTY_OBJ);
        dirty_objs[dirty_count] = p;
        if (p == NULL || !all_zero(p, DIRTY_OBJ)) {
            dirty_bad++;
            continue;
        }
        dirty_hits += overlaps_old(p, DIRTY_OBJ);
    }
    return NULL;
}

static void small_objects_on_dirtied_pages_are_zero(void **state)
{
    (void)state;
    void *big = gh_malloc(4 * MIB);
    assert_non_null(big);
    memset(big, 0xff, 4 * MIB);
    memset(old_addr, 0, sizeof(old_addr));
    memset(old_size, 0, sizeof(old_size));
    old_addr[0] = (uintptr_t)big;
    old_size[0] = 4 * MIB;
    gh_free(big);
    big = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, dirty_pages_worker, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(dirty_bad, 0);
    assert_int_not_equal(dirty_hits, 0);
    for (size_t i = 0; i < dirty_count; i++)
        gh_free(dirty_objs[i]);
}

/* ---- realloc ----------------------------------------------------------- */

static void realloc_of_null_is_malloc(void **state)
{
    (void)state;
    void *p = gh_realloc(NULL, 100);
    assert_non_null(p);
    assert_int_equal(gh_usable_size(p), 112);
    assert_true(all_zero(p, 100));
    gh_free(p);
    p = gh_realloc(NULL, 100000);
    assert_non_null(p);
    assert_int_equal(gh_usable_size(p), 100000);
    gh_free(p);
}

static void realloc_keeps_contents_across_small_and_large_sizes(void **state)
{
    (void)state;
    static const size_t steps[] = { 1,      8,           24,     100,   1000,  4000,  MAX_SMALL,
                                    MAX_SMALL + 1, 100000, MIB, 3 * MIB + 7, 200000, 40000, 32000,
                                    500,    16,          3,      MIB,   9000,  0,     70000 };
    uintptr_t key = 0x1234;
    size_t cur = steps[0];
    uint8_t *p = gh_malloc(cur);
    assert_non_null(p);
    fill(p, cur, key);
    for (size_t i = 1; i < sizeof(steps) / sizeof(steps[0]); i++) {
        size_t next = steps[i];
        uint8_t *q = gh_realloc(p, next);
        assert_non_null(q);
        size_t keep = cur < next ? cur : next;
        if (!check_fill(q, keep, cur, key))
            fail_msg("gh_realloc from %zu to %zu lost the contents", cur, next);
        if (next > cur && !all_zero(q + cur, next - cur))
            fail_msg("gh_realloc from %zu to %zu: the new bytes are not zero", cur, next);
        assert_true(gh_usable_size(q) >= next);
        p = q;
        cur = next;
        key++;
        fill(p, cur, key);
    }
    gh_free(p);
}

static void realloc_within_size_class_stays_in_place(void **state)
{
    (void)state;
    void *p = gh_malloc(100); /* class 112 */
    assert_non_null(p);
    assert_ptr_equal(gh_realloc(p, 112), p);
    assert_ptr_equal(gh_realloc(p, 60), p);
    gh_free(p);
}

static void realloc_grows_large_object_in_place_into_free_pages(void **state)
{
    (void)state;
    enum { N = 16 };
    uint8_t *objs[N];
    for (int i = 0; i < N; i++) {
        objs[i] = gh_malloc(MIB);
        assert_non_null(objs[i]);
    }
    int a = -1;
    for (int i = 0; i < N && a < 0; i++)
        for (int j = 0; j < N; j++)
            if (objs[j] == objs[i] + MIB) {
                a = i;
                gh_free(objs[j]);
                objs[j] = NULL;
                break;
            }
    if (a < 0)
        fail_msg("no two of %d 1 MiB objects are adjacent", N);
    uint8_t *p = objs[a];
    fill(p, MIB, 77);
    uint8_t *q = gh_realloc(p, MIB + MIB / 2);
    assert_ptr_equal(q, p);
    assert_int_equal(gh_usable_size(q), MIB + MIB / 2);
    assert_true(check_fill(q, MIB, MIB, 77));
    assert_true(all_zero(q + MIB, MIB / 2));
    memset(q + MIB, 0x11, MIB / 2);
    q = gh_realloc(q, 2 * MIB);
    assert_ptr_equal(q, p);
    assert_int_equal(gh_usable_size(q), 2 * MIB);
    assert_true(check_fill(q, MIB, MIB, 77));
    assert_true(all_zero(q + MIB + MIB / 2, MIB / 2));
    objs[a] = q;
    for (int i = 0; i < N; i++)
        gh_free(objs[i]);
}

static void realloc_to_zero_returns_a_new_object(void **state)
{
    (void)state;
    void *p = gh_malloc(64);
    assert_non_null(p);
    void *q = gh_realloc(p, 0);
    assert_non_null(q);
    assert_true(gh_usable_size(q) >= 1);
    gh_free(q);
}

/* ---- memory comes back ------------------------------------------------- */

#define CHURN_TOTAL ((size_t)1 << 30)
#define RING_BIG 8
#define RING_MID 16
#define RING_SMALL 256

static void *ring_big[RING_BIG], *ring_mid[RING_MID], *ring_small[RING_SMALL];
static uint64_t churn_max_heap_sys, churn_max_sys;
static int churn_failed;

/* churn_put frees what slot holds and stores a new object of size n,
 * touching each of its OS pages. Returns the bytes allocated. */
static size_t churn_put(void **slot, size_t n)
{
    gh_free(*slot);
    uint8_t *p = gh_malloc(n);
    *slot = p;
    if (p == NULL) {
        churn_failed = 1;
        return n;
    }
    for (size_t off = 0; off < n; off += 4096)
        p[off] = (uint8_t)off;
    p[n - 1] = 1;
    return n;
}

static gh_mem_stats churn_stats;

static void churn_sample(void)
{
    gh_read_mem_stats(&churn_stats);
    if (churn_stats.heap_sys > churn_max_heap_sys)
        churn_max_heap_sys = churn_stats.heap_sys;
    if (churn_stats.sys > churn_max_sys)
        churn_max_sys = churn_stats.sys;
}

static void *churn_worker(void *arg)
{
    (void)arg;
    uint64_t rng = 42;
    size_t total = 0;
    for (unsigned round = 0; total < CHURN_TOTAL && !churn_failed; round++) {
        total += churn_put(&ring_big[round % RING_BIG], MIB);
        for (unsigned k = 0; k < 4; k++)
            total += churn_put(&ring_mid[(round * 4 + k) % RING_MID], 64 * KIB);
        for (unsigned k = 0; k < 64; k++)
            total += churn_put(&ring_small[(round * 64 + k) % RING_SMALL], 1 + rng_next(&rng) % 2048);
        if (round % 16 == 0)
            churn_sample();
    }
    churn_sample();
    for (unsigned i = 0; i < RING_BIG; i++)
        gh_free(ring_big[i]);
    for (unsigned i = 0; i < RING_MID; i++)
        gh_free(ring_mid[i]);
    for (unsigned i = 0; i < RING_SMALL; i++)
        gh_free(ring_small[i]);
    memset(ring_big, 0, sizeof(ring_big));
    memset(ring_mid, 0, sizeof(ring_mid));
    memset(ring_small, 0, sizeof(ring_small));
    return NULL;
}

/* 1 GiB goes through a window of about 10 MiB of live objects; the heap
 * must not grow by more than one 64 MiB arena, and once everything is
 * freed and the thread has exited, its pages are no longer in use. */
static void allocating_and_freeing_1gib_keeps_heap_bounded(void **state)
{
    (void)state;
    gh_read_mem_stats(&stats_a);
    churn_max_heap_sys = churn_max_sys = 0;
    churn_failed = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, churn_worker, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    gh_read_mem_stats(&stats_b);
    assert_false(churn_failed);
    if (churn_max_heap_sys > stats_a.heap_sys + 64 * MIB)
        fail_msg("heap_sys grew from %llu to %llu", (unsigned long long)stats_a.heap_sys,
                 (unsigned long long)churn_max_heap_sys);
    if (churn_max_sys > stats_a.sys + 64 * MIB + 16 * MIB)
        fail_msg("sys grew from %llu to %llu", (unsigned long long)stats_a.sys, (unsigned long long)churn_max_sys);
    if (stats_b.heap_inuse > stats_a.heap_inuse + MIB)
        fail_msg("heap_inuse %llu after freeing everything, %llu before", (unsigned long long)stats_b.heap_inuse,
                 (unsigned long long)stats_a.heap_inuse);
    assert_int_equal(stats_b.heap_objects, stats_a.heap_objects);
}

/* ---- threads ------------------------------------------------------------ */

#define NWORKERS 4
#define ROUNDS 60
#define BATCH 64
#define QCAP 256

/* Each worker's inbox: objects another worker allocated, to verify and
 * free. Global, so the collector sees the pointers in transit. */
static struct inbox {
    pthread_mutex_t lock;
    unsigned head, count;
    void *obj[QCAP];
    size_t size[QCAP];
} inboxes[NWORKERS];

static volatile int workers_done;
static volatile int remote_bad;

/* mixed_size draws a size from 8 B to 64 KiB, log-uniformly. */
static size_t mixed_size(uint64_t *rng)
{
    size_t base = (size_t)8 << (rng_next(rng) % 13);
    size_t n = base + rng_next(rng) % base;
    return n > 64 * KIB ? 64 * KIB : n;
}

static void verify_and_free(void *p, size_t size)
{
    if (!check_fill(p, size, size, (uintptr_t)p))
        __atomic_add_fetch(&remote_bad, 1, __ATOMIC_RELAXED);
    gh_free(p);
}

static void inbox_drain(struct inbox *q)
{
    void *obj[QCAP];
    size_t size[QCAP];
    pthread_mutex_lock(&q->lock);
    unsigned n = q->count;
    for (unsigned i = 0; i < n; i++) {
        unsigned k = (q->head + i) % QCAP;
        obj[i] = q->obj[k];
        size[i] = q->size[k];
        q->obj[k] = NULL;
    }
    q->head = (q->head + n) % QCAP;
    q->count = 0;
    pthread_mutex_unlock(&q->lock);
    for (unsigned i = 0; i < n; i++)
        verify_and_free(obj[i], size[i]);
}

static int inbox_push(struct inbox *q, void *p, size_t size)
{
    pthread_mutex_lock(&q->lock);
    int ok = q->count < QCAP;
    if (ok) {
        unsigned k = (q->head + q->count) % QCAP;
        q->obj[k] = p;
        q->size[k] = size;
        q->count++;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

static void *remote_worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    struct inbox *mine = &inboxes[me], *next = &inboxes[(me + 1) % NWORKERS];
    uint64_t rng = 0x9E3779B97F4A7C15ull * (me + 1);
    void *objs[BATCH];
    size_t sizes[BATCH];
    for (unsigned round = 0; round < ROUNDS; round++) {
        for (unsigned k = 0; k < BATCH; k++) {
            sizes[k] = mixed_size(&rng);
            objs[k] = gh_malloc(sizes[k]);
            if (objs[k] == NULL) {
                __atomic_add_fetch(&remote_bad, 1, __ATOMIC_RELAXED);
                sizes[k] = 0;
                continue;
            }
            fill(objs[k], sizes[k], (uintptr_t)objs[k]);
        }
        for (unsigned k = 0; k < BATCH; k++) {
            if (objs[k] == NULL)
                continue;
            if (k % 2 == 0) {
                verify_and_free(objs[k], sizes[k]);
            } else {
                while (!inbox_push(next, objs[k], sizes[k])) {
                    inbox_drain(mine);
                    sched_yield();
                }
            }
            objs[k] = NULL;
        }
        inbox_drain(mine);
    }
    __atomic_add_fetch(&workers_done, 1, __ATOMIC_SEQ_CST);
    for (;;) {
        int done = __atomic_load_n(&workers_done, __ATOMIC_SEQ_CST);
        inbox_drain(mine);
        if (done == NWORKERS)
            break;
        sched_yield();
    }
    return NULL;
}

static void remote_frees_across_threads_keep_counts_exact(void **state)
{
    (void)state;
    for (int i = 0; i < NWORKERS; i++) {
        pthread_mutex_init(&inboxes[i].lock, NULL);
        inboxes[i].head = inboxes[i].count = 0;
    }
    workers_done = 0;
    remote_bad = 0;
    gh_read_mem_stats(&stats_a);
    pthread_t t[NWORKERS];
    for (int i = 0; i < NWORKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, remote_worker, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < NWORKERS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    gh_read_mem_stats(&stats_b);
    assert_int_equal(remote_bad, 0);
    uint64_t n = (uint64_t)NWORKERS * ROUNDS * BATCH;
    assert_int_equal(stats_b.mallocs - stats_a.mallocs, n);
    assert_int_equal(stats_b.frees - stats_a.frees, n);
    assert_int_equal(stats_b.mallocs - stats_b.frees, stats_b.heap_objects);
    assert_int_equal(stats_b.heap_objects, stats_a.heap_objects);
    assert_int_equal(stats_b.heap_alloc, stats_a.heap_alloc);
}

/* A thread's cache goes back when it exits: 200 threads that each use
 * about thirty size classes leave heap_inuse and mcache_sys where they
 * were. Each thread also leaves one object per class for the main thread
 * to free after it has gone. */
#define LIFE_CLASSES 30
static void *life_left[LIFE_CLASSES];

static void *life_worker(void *arg)
{
    (void)arg;
    for (unsigned c = 0; c < LIFE_CLASSES; c++) {
        size_t n = go_class_size[1 + c * 2];
        void *a = gh_malloc(n), *b = gh_malloc(n);
        life_left[c] = gh_malloc(n);
        gh_free(a);
        gh_free(b);
    }
    return NULL;
}

static void run_life_threads(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, life_worker, NULL), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        for (unsigned c = 0; c < LIFE_CLASSES; c++) {
            assert_non_null(life_left[c]);
            gh_free(life_left[c]);
            life_left[c] = NULL;
        }
    }
}

static void exited_threads_give_their_cache_back(void **state)
{
    (void)state;
    run_life_threads(20);
    gh_read_mem_stats(&stats_a);
    run_life_threads(180);
    gh_read_mem_stats(&stats_b);
    if (stats_b.heap_inuse > stats_a.heap_inuse + 512 * KIB)
        fail_msg("heap_inuse grew from %llu to %llu over 180 thread lifetimes",
                 (unsigned long long)stats_a.heap_inuse, (unsigned long long)stats_b.heap_inuse);
    if (stats_b.mcache_sys > stats_a.mcache_sys + 64 * KIB)
        fail_msg("mcache_sys grew from %llu to %llu over 180 thread lifetimes",
                 (unsigned long long)stats_a.mcache_sys, (unsigned long long)stats_b.mcache_sys);
    assert_int_equal(stats_b.heap_objects, stats_a.heap_objects);
}

/* ---- MemStats ----------------------------------------------------------- */

static void *kept[1000];

static void mem_stats_identities_hold_after_a_workload(void **state)
{
    (void)state;
    uint64_t rng = 7;
    for (int i = 0; i < 1000; i++)
        kept[i] = gh_malloc(mixed_size(&rng) * (i % 50 == 0 ? 8 : 1));
    for (int i = 0; i < 1000; i += 2) {
        gh_free(kept[i]);
        kept[i] = NULL;
    }
    gh_mem_stats *m = &stats_a;
    gh_read_mem_stats(m);
    assert_int_equal(m->sys, m->heap_sys + m->stack_sys + m->mspan_sys + m->mcache_sys + m->buck_hash_sys +
                                 m->gc_sys + m->other_sys);
    assert_true(m->heap_inuse >= m->heap_alloc);
    assert_int_equal(m->heap_idle, m->heap_sys - m->heap_inuse);
    assert_true(m->heap_released <= m->heap_idle);
    assert_int_equal(m->alloc, m->heap_alloc);
    assert_true(m->total_alloc >= m->heap_alloc);
    assert_int_equal(m->mallocs - m->frees, m->heap_objects);
    assert_true(m->heap_objects >= 500);
    assert_true(m->mspan_inuse <= m->mspan_sys);
    assert_true(m->mcache_inuse <= m->mcache_sys);
    assert_int_equal(m->lookups, 0);
    assert_true(m->enable_gc);
    uint64_t by_size_mallocs = 0, by_size_frees = 0;
    for (unsigned c = 1; c < 61; c++) {
        assert_int_equal(m->by_size[c].size, go_class_size[c]);
        assert_true(m->by_size[c].frees <= m->by_size[c].mallocs);
        by_size_mallocs += m->by_size[c].mallocs;
        by_size_frees += m->by_size[c].frees;
    }
    assert_true(by_size_mallocs <= m->mallocs);
    assert_true(by_size_frees <= m->frees);
    for (int i = 1; i < 1000; i += 2)
        gh_free(kept[i]);
    memset(kept, 0, sizeof(kept));
}

#define N48 1000
static void *objs48[N48];

static void *alloc48_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < N48; i++)
        objs48[i] = gh_malloc(33 + (size_t)i % 16); /* 33..48: all class 5 */
    return NULL;
}

static void by_size_counts_exactly_the_objects_of_a_class(void **state)
{
    (void)state;
    gh_read_mem_stats(&stats_a);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, alloc48_worker, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    gh_read_mem_stats(&stats_b);
    assert_int_equal(stats_b.by_size[5].size, 48);
    assert_int_equal(stats_b.by_size[5].mallocs - stats_a.by_size[5].mallocs, N48);
    assert_int_equal(stats_b.by_size[4].mallocs - stats_a.by_size[4].mallocs, 0);
    assert_int_equal(stats_b.by_size[6].mallocs - stats_a.by_size[6].mallocs, 0);
    assert_int_equal(stats_b.heap_objects - stats_a.heap_objects, N48);
    assert_int_equal(stats_b.heap_alloc - stats_a.heap_alloc, N48 * 48);
    for (int i = 0; i < N48; i++) {
        assert_non_null(objs48[i]);
        gh_free(objs48[i]);
        objs48[i] = NULL;
    }
    gh_read_mem_stats(&stats_b);
    assert_int_equal(stats_b.by_size[5].frees - stats_a.by_size[5].frees, N48);
    assert_int_equal(stats_b.heap_objects, stats_a.heap_objects);
}

/* ---- out of memory ------------------------------------------------------- */

/* huge passes a size through a volatile, so that the compiler does not
 * reject the impossible requests these tests make on purpose. */
static size_t huge(size_t n)
{
    volatile size_t v = n;
    return v;
}

static void impossible_sizes_give_null_and_enomem(void **state)
{
    (void)state;
    errno = 0;
    assert_null(gh_malloc(huge(SIZE_MAX)));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gh_malloc(huge(SIZE_MAX / 2)));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gh_malloc_atomic(huge(SIZE_MAX - 4096)));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gh_calloc(huge(SIZE_MAX / 2 + 1), 2));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gh_calloc(huge((size_t)1 << 33), huge((size_t)1 << 33)));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(gh_aligned_alloc(4096, huge(SIZE_MAX - 100)));
    assert_int_equal(errno, ENOMEM);
    void *out = &out;
    assert_int_equal(gh_posix_memalign(&out, 64, huge(SIZE_MAX)), ENOMEM);
    assert_ptr_equal(out, &out);
}

static void realloc_failure_leaves_the_object_untouched(void **state)
{
    (void)state;
    static const size_t sizes[] = { 100, 100000 };
    for (int i = 0; i < 2; i++) {
        uint8_t *p = gh_malloc(sizes[i]);
        assert_non_null(p);
        fill(p, sizes[i], 99);
        size_t usable = gh_usable_size(p);
        errno = 0;
        assert_null(gh_realloc(p, huge(SIZE_MAX)));
        assert_int_equal(errno, ENOMEM);
        errno = 0;
        assert_null(gh_realloc(p, huge(SIZE_MAX / 2)));
        assert_int_equal(errno, ENOMEM);
        assert_int_equal(gh_usable_size(p), usable);
        assert_true(check_fill(p, sizes[i], sizes[i], 99));
        gh_free(p);
    }
}

/* vm_size_bytes reads the process's address-space size from
 * /proc/self/status (0 if it cannot). */
static size_t vm_size_bytes(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

#define OOM_MAX 64
static void *oom_objs[OOM_MAX];

/* oom_child runs in a fresh process (the test binary re-executed), so that
 * the collector meets the limit from its first cycle on: it lowers
 * RLIMIT_AS to what it uses plus 384 MiB, then allocates 64 MiB objects
 * until one fails. It exits with 0 on success, or a code naming the first
 * thing that went wrong. */
static int oom_child(void)
{
    void *warm = gh_malloc(100);
    gh_free(warm);
    size_t vm = vm_size_bytes();
    if (vm == 0)
        return 10;
    struct rlimit rl = { .rlim_cur = vm + 384 * MIB, .rlim_max = vm + 384 * MIB };
    if (setrlimit(RLIMIT_AS, &rl) != 0)
        return 11;
    int n = 0;
    for (; n < OOM_MAX; n++) {
        errno = 0;
        oom_objs[n] = gh_malloc(64 * MIB);
        if (oom_objs[n] == NULL)
            break;
        memset(oom_objs[n], 1, 4096);
    }
    if (n == OOM_MAX)
        return 12; /* the limit never bit */
    if (errno != ENOMEM)
        return 13;
    /* Freed memory serves again. */
    for (int i = 0; i < n; i++) {
        gh_free(oom_objs[i]);
        oom_objs[i] = NULL;
    }
    void *small = gh_malloc(100);
    if (small == NULL)
        return 14;
    gh_free(small);
    if (n > 0) {
        void *again = gh_malloc(64 * MIB);
        if (again == NULL)
            return 15;
        gh_free(again);
    }
    return 0;
}

#define OOM_CHILD_ARG "--oom-child"

static void malloc_under_rlimit_as_returns_null_without_crashing(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_malloc", OOM_CHILD_ARG, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status))
        fail_msg("the child died of signal %d", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], OOM_CHILD_ARG) == 0)
        return oom_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(usable_size_is_smallest_go_class_at_least_n, setup_rounded),
        cmocka_unit_test(malloc_of_zero_returns_distinct_freeable_objects),
        cmocka_unit_test(large_usable_size_is_requested_size_in_whole_pages),
        cmocka_unit_test(power_of_two_sizes_are_aligned_to_their_size),
        cmocka_unit_test(aligned_alloc_returns_aligned_usable_zeroed_memory),
        cmocka_unit_test(posix_memalign_returns_aligned_usable_zeroed_memory),
        cmocka_unit_test(bad_alignments_give_einval),
        cmocka_unit_test(aligned_alloc_of_zero_bytes_works),
        cmocka_unit_test(malloc_memory_is_zero_when_reused),
        cmocka_unit_test(calloc_memory_is_zero_when_reused),
        cmocka_unit_test(small_objects_on_dirtied_pages_are_zero),
        cmocka_unit_test(realloc_of_null_is_malloc),
        cmocka_unit_test(realloc_keeps_contents_across_small_and_large_sizes),
        cmocka_unit_test(realloc_within_size_class_stays_in_place),
        cmocka_unit_test(realloc_grows_large_object_in_place_into_free_pages),
        cmocka_unit_test(realloc_to_zero_returns_a_new_object),
        cmocka_unit_test(allocating_and_freeing_1gib_keeps_heap_bounded),
        cmocka_unit_test(remote_frees_across_threads_keep_counts_exact),
        cmocka_unit_test(exited_threads_give_their_cache_back),
        cmocka_unit_test(mem_stats_identities_hold_after_a_workload),
        cmocka_unit_test(by_size_counts_exactly_the_objects_of_a_class),
        cmocka_unit_test(impossible_sizes_give_null_and_enomem),
        cmocka_unit_test(realloc_failure_leaves_the_object_untouched),
        cmocka_unit_test(malloc_under_rlimit_as_returns_null_without_crashing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
