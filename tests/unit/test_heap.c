/* test_heap.c: the allocator from the inside: size classes as the spans
 * see them, and heap_find_object, the collector's answer to "does this
 * address point into a live object?", for every kind of address: object
 * bases, interiors, last bytes, one past the end, free slots, freed
 * objects, large objects past their requested size, free pages, span tail
 * waste, unmapped parts of arenas, and addresses outside the heap.
 *
 * Pointers the tests still need are kept in locals or globals, so the
 * collector (GOGC at its default) may run at any allocation. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "goheap.h"
#include "central.h"
#include "heap.h"
#include "sizeclass.h"
#include "span.h"

#define MIB ((size_t)1 << 20)

/* expect_object asserts that p lies in the live object at base. */
static void expect_object(const void *p, const void *base)
{
    uintptr_t b = 0, idx = 0;
    struct span *s = heap_find_object((uintptr_t)p, &b, &idx);
    if (s == NULL)
        fail_msg("heap_find_object(%p) found nothing, want object %p", p, base);
    if (b != (uintptr_t)base)
        fail_msg("heap_find_object(%p) found object %p, want %p", p, (void *)b, base);
    assert_int_equal(s->base + idx * s->elemsize, b);
}

/* expect_nothing asserts that p points into no live object. */
static void expect_nothing(uintptr_t p)
{
    uintptr_t b = 0, idx = 0;
    struct span *s = heap_find_object(p, &b, &idx);
    if (s != NULL)
        fail_msg("heap_find_object(%p) found object %p, want nothing", (void *)p, (void *)b);
}

/* smallest_class is the smallest size class holding n bytes, found by a
 * plain search of class_to_size (not through sizeclass_of's tables). */
static unsigned smallest_class(size_t n)
{
    unsigned c = 1;
    while (class_to_size[c] < n)
        c++;
    return c;
}

/* ---- size classes as the spans see them ---------------------------------- */

static void every_small_size_gets_its_class_span_and_kind(void **state)
{
    (void)state;
    for (size_t n = 1; n <= MAX_SMALL_SIZE; n++) {
        unsigned c = smallest_class(n);
        void *p = gh_malloc(n), *q = gh_malloc_atomic(n);
        assert_non_null(p);
        assert_non_null(q);
        if (gh_usable_size(p) != class_to_size[c])
            fail_msg("gh_usable_size(gh_malloc(%zu)) = %zu, want class %u (%u)", n, gh_usable_size(p), c,
                     class_to_size[c]);
        struct span *s = heap_span_of((uintptr_t)p), *t = heap_span_of((uintptr_t)q);
        assert_int_equal(s->spanclass, spanclass_make(c, 0));
        assert_int_equal(t->spanclass, spanclass_make(c, 1));
        assert_int_equal(s->elemsize, class_to_size[c]);
        assert_int_equal(s->npages, class_to_npages[c]);
        gh_free(p);
        gh_free(q);
    }
}

static void large_object_span_ends_at_requested_size(void **state)
{
    (void)state;
    static const size_t sizes[] = { MAX_SMALL_SIZE + 1, 100000, 8 * PAGE_SIZE, 3 * MIB + 5 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        uint8_t *p = gh_malloc(n);
        assert_non_null(p);
        struct span *s = heap_span_of((uintptr_t)p);
        assert_non_null(s);
        assert_int_equal(spanclass_sizeclass(s->spanclass), 0);
        assert_int_equal(s->base, (uintptr_t)p);
        assert_int_equal(s->limit, (uintptr_t)p + n);
        assert_int_equal(s->npages, (n + PAGE_SIZE - 1) / PAGE_SIZE);
        assert_int_equal(s->elemsize, s->npages * PAGE_SIZE);
        assert_int_equal(gh_usable_size(p), n);
        gh_free(p);
    }
}

static void realloc_keeps_scan_and_atomic_kind(void **state)
{
    (void)state;
    static const size_t steps[] = { 5000, 100000, 3 * MIB, 40, 0 };
    for (int noscan = 0; noscan < 2; noscan++) {
        void *p = noscan ? gh_malloc_atomic(100) : gh_malloc(100);
        assert_non_null(p);
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
            p = gh_realloc(p, steps[i]);
            assert_non_null(p);
            struct span *s = heap_span_of((uintptr_t)p);
            if (spanclass_noscan(s->spanclass) != noscan)
                fail_msg("gh_realloc to %zu turned a %s object into a %s one", steps[i],
                         noscan ? "atomic" : "scanned", noscan ? "scanned" : "atomic");
        }
        gh_free(p);
    }
}

/* ---- heap_find_object ------------------------------------------------------ */

static void find_object_answers_base_interior_and_last_byte(void **state)
{
    (void)state;
    static const size_t sizes[] = { 1, 8, 24, 100, 1408, 4096, 10000, MAX_SMALL_SIZE };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *p = gh_malloc(sizes[i]);
        assert_non_null(p);
        size_t usable = gh_usable_size(p);
        expect_object(p, p);
        expect_object(p + usable / 2, p);
        expect_object(p + usable - 1, p);
        gh_free(p);
    }
}

/* adjacent_pair allocates objects of class size n until two sit in
 * neighbouring slots of one span, and stores them in *a and *b. The other
 * objects go to objs[0..*count). */
static void adjacent_pair(size_t n, uint8_t **a, uint8_t **b, void **objs, int *count)
{
    *a = *b = NULL;
    for (*count = 0; *count < 64 && *b == NULL; (*count)++) {
        uint8_t *p = gh_malloc(n);
        assert_non_null(p);
        objs[*count] = p;
        for (int j = 0; j < *count; j++) {
            uint8_t *q = objs[j];
            if (q != NULL && p == q + n && heap_span_of((uintptr_t)p) == heap_span_of((uintptr_t)q)) {
                *a = q;
                *b = p;
                objs[j] = NULL;
                objs[*count] = NULL;
                break;
            }
        }
    }
    if (*b == NULL)
        fail_msg("no two of 64 objects of %zu bytes are neighbours", n);
}

static void find_object_one_past_end_is_next_slot_or_nothing(void **state)
{
    (void)state;
    void *objs[64];
    int count;
    uint8_t *a, *b;
    adjacent_pair(1408, &a, &b, objs, &count);
    expect_object(a + 1408, b);     /* one past a is b's base */
    expect_object(a + 1407, a);
    gh_free(b);
    expect_nothing((uintptr_t)a + 1408); /* now a free slot */
    expect_nothing((uintptr_t)a + 1408 + 700);
    expect_object(a + 1407, a);
    gh_free(a);
    for (int i = 0; i < count; i++)
        gh_free(objs[i]);
}

static void find_object_ignores_freed_objects(void **state)
{
    (void)state;
    static const size_t sizes[] = { 16, 48, 1408, 20000, 40000, 2 * MIB };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *keep = gh_malloc(sizes[i]); /* keeps a small span in use */
        uint8_t *p = gh_malloc(sizes[i]);
        assert_non_null(keep);
        assert_non_null(p);
        gh_free(p);
        expect_nothing((uintptr_t)p);
        expect_nothing((uintptr_t)p + sizes[i] / 2);
        expect_nothing((uintptr_t)p + sizes[i] - 1);
        expect_object(keep, keep);
        gh_free(keep);
        expect_nothing((uintptr_t)keep);
    }
}

/* The last slot of a span: one past it is the span's tail waste (or the
 * next span), never an object of this span. */
static void find_object_ignores_span_tail_waste(void **state)
{
    (void)state;
    static const unsigned classes[] = { 5, 23, 35, 40, 52 }; /* 48, 416, 1408, 2688, 9472: all waste a tail */
    for (size_t k = 0; k < sizeof(classes) / sizeof(classes[0]); k++) {
        unsigned c = classes[k];
        size_t n = class_to_size[c];
        unsigned per_span = sizeclass_nelems(c);
        void *objs[2 * 1024];
        uint8_t *last = NULL;
        for (unsigned i = 0; i < 2 * per_span; i++) {
            objs[i] = gh_malloc(n);
            assert_non_null(objs[i]);
            struct span *s = heap_span_of((uintptr_t)objs[i]);
            if ((uintptr_t)objs[i] == s->base + (uintptr_t)(per_span - 1) * n)
                last = objs[i];
        }
        if (last == NULL)
            fail_msg("no object of class %u took its span's last slot", c);
        uintptr_t span_end = heap_span_of((uintptr_t)last)->base + class_to_npages[c] * PAGE_SIZE;
        assert_true((uintptr_t)last + n < span_end);
        expect_object(last + n - 1, last);
        expect_nothing((uintptr_t)last + n);
        expect_nothing(span_end - 1);
        for (unsigned i = 0; i < 2 * per_span; i++)
            gh_free(objs[i]);
    }
}

static void find_object_of_large_object_stops_at_requested_size(void **state)
{
    (void)state;
    const size_t n = 100000; /* 13 pages: 106496 bytes */
    uint8_t *p = gh_malloc(n);
    assert_non_null(p);
    expect_object(p, p);
    expect_object(p + 8192 * 5 + 3, p);
    expect_object(p + n - 1, p);
    expect_nothing((uintptr_t)p + n);
    expect_nothing((uintptr_t)p + 13 * PAGE_SIZE - 1);
    gh_free(p);
    expect_nothing((uintptr_t)p);
    expect_nothing((uintptr_t)p + n - 1);
}

/* A large object's pages, once freed, are a free run: nothing there is an
 * object, at either end of the run or in its stale interior. */
static void find_object_ignores_free_pages(void **state)
{
    (void)state;
    const size_t n = 24 * MIB;
    uint8_t *p = gh_malloc(n);
    assert_non_null(p);
    memset(p, 0x5a, PAGE_SIZE);
    gh_free(p);
    for (size_t off = 0; off < n; off += MIB / 2 + 8)
        expect_nothing((uintptr_t)p + off);
    expect_nothing((uintptr_t)p + n - 1);
}

/* A span whose every object was freed by another thread, after its owner
 * exited, goes back to the page heap: none of its slots is found. */
#define WORKER_OBJS 200
static void *worker_objs[WORKER_OBJS];

static void *alloc_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < WORKER_OBJS; i++)
        worker_objs[i] = gh_malloc(1408);
    return NULL;
}

static void find_object_ignores_spans_returned_to_the_heap(void **state)
{
    (void)state;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, alloc_worker, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    uintptr_t addr[WORKER_OBJS];
    for (int i = 0; i < WORKER_OBJS; i++) {
        assert_non_null(worker_objs[i]);
        addr[i] = (uintptr_t)worker_objs[i];
        expect_object(worker_objs[i], worker_objs[i]);
    }
    for (int i = 0; i < WORKER_OBJS; i++) {
        gh_free(worker_objs[i]);
        worker_objs[i] = NULL;
    }
    for (int i = 0; i < WORKER_OBJS; i++)
        expect_nothing(addr[i]);
    /* The central lists keep a few empty spans for reuse; gh_free_os_memory
     * hands them back, as here. */
    central_drop_kept();
    for (int i = 0; i < WORKER_OBJS; i++) {
        expect_nothing(addr[i]);
        expect_nothing(addr[i] + 1000);
        struct span *s = heap_span_of(addr[i]);
        if (s != NULL && AO_load(&s->state) == SPAN_IN_USE && addr[i] >= s->base && addr[i] < s->limit)
            fail_msg("%p: its span is still in use after all its objects were freed", (void *)addr[i]);
    }
}

static int a_global;

static void find_object_ignores_addresses_outside_the_heap(void **state)
{
    (void)state;
    int local = 0;
    void *libc = malloc(64);
    assert_non_null(libc);
    void *keep = gh_malloc(64); /* the heap exists */
    assert_non_null(keep);
    expect_nothing(0);
    expect_nothing(1);
    expect_nothing(4096);
    expect_nothing((uintptr_t)&local);
    expect_nothing((uintptr_t)&a_global);
    expect_nothing((uintptr_t)&find_object_ignores_addresses_outside_the_heap);
    expect_nothing((uintptr_t)libc);
    expect_nothing((uintptr_t)1 << ADDR_BITS);
    expect_nothing(((uintptr_t)1 << ADDR_BITS) + (uintptr_t)keep);
    expect_nothing((uintptr_t)1 << 63);
    expect_nothing(((uintptr_t)1 << 63) | (uintptr_t)keep);
    expect_nothing((uintptr_t)0xffff800000000000ull);
    expect_nothing(UINTPTR_MAX);
    expect_nothing(UINTPTR_MAX - 7);
    expect_object(keep, keep);
    free(libc);
    gh_free(keep);
}

/* Sweep of every arena: each page whose map entry is empty, or names a
 * span not in use, or a span that does not cover the page (a stale entry
 * inside a free run), holds no object; each object found lies inside its
 * span and in an allocated slot. The heap lock keeps the map still. */
static void check_arena(struct arena *a, void *arg)
{
    unsigned *bad = arg;
    for (uintptr_t pg = 0; pg < PAGES_PER_ARENA; pg++) {
        uintptr_t addr = a->base + pg * PAGE_SIZE;
        struct span *s = a->spans[pg];
        int live = s != NULL && AO_load(&s->state) == SPAN_IN_USE && addr >= s->base &&
                   addr < s->base + s->npages * PAGE_SIZE;
        static const uintptr_t probes[] = { 0, 8, PAGE_SIZE / 2 + 8, PAGE_SIZE - 8 };
        for (unsigned k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
            uintptr_t p = addr + probes[k], base = 0, idx = 0;
            struct span *f = heap_find_object(p, &base, &idx);
            if (f == NULL)
                continue;
            if (!live || f != s || p >= s->limit || base > p || p >= base + s->elemsize ||
                !span_is_allocated(s, idx))
                (*bad)++;
        }
    }
}

static void find_object_ignores_unused_parts_of_arenas(void **state)
{
    (void)state;
    /* Make some free runs and stale map entries first. */
    void *objs[32];
    for (int i = 0; i < 32; i++)
        objs[i] = gh_malloc((size_t)(i + 1) * 70000);
    for (int i = 0; i < 32; i += 2)
        gh_free(objs[i]);
    unsigned bad = 0;
    heap_lock();
    heap_each_arena(check_arena, &bad);
    heap_unlock();
    assert_int_equal(bad, 0);
    for (int i = 1; i < 32; i += 2)
        gh_free(objs[i]);
}

/* ---- page heap invariants --------------------------------------------------- */

static void heap_invariants_hold_after_churn(void **state)
{
    (void)state;
    enum { N = 512 };
    void *objs[N] = { 0 };
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 20000; round++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int slot = (int)(x % N);
        gh_free(objs[slot]);
        size_t n = (x >> 20) % 8 == 0 ? 32768 + (x >> 32) % (2 * MIB) : 1 + (x >> 32) % 4096;
        objs[slot] = gh_malloc(n);
        assert_non_null(objs[slot]);
        expect_object((uint8_t *)objs[slot] + n - 1, objs[slot]);
    }
    heap_check();
    for (int i = 0; i < N; i++)
        gh_free(objs[i]);
    heap_check();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_small_size_gets_its_class_span_and_kind),
        cmocka_unit_test(large_object_span_ends_at_requested_size),
        cmocka_unit_test(realloc_keeps_scan_and_atomic_kind),
        cmocka_unit_test(find_object_answers_base_interior_and_last_byte),
        cmocka_unit_test(find_object_one_past_end_is_next_slot_or_nothing),
        cmocka_unit_test(find_object_ignores_freed_objects),
        cmocka_unit_test(find_object_ignores_span_tail_waste),
        cmocka_unit_test(find_object_of_large_object_stops_at_requested_size),
        cmocka_unit_test(find_object_ignores_free_pages),
        cmocka_unit_test(find_object_ignores_spans_returned_to_the_heap),
        cmocka_unit_test(find_object_ignores_addresses_outside_the_heap),
        cmocka_unit_test(find_object_ignores_unused_parts_of_arenas),
        cmocka_unit_test(heap_invariants_hold_after_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
