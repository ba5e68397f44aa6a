/* malloc.c: the allocation entry points (Go: malloc.go).
 *
 * Overview of the allocator. Memory flows through four layers, as in Go:
 *
 *   thread cache (cache.c)   one span per span class, per thread; no locks
 *        |                   and no atomic read-modify-writes on its paths
 *   central lists (central.c) per span class: spans no cache owns, swept
 *        |                   or waiting to be swept; one lock per class
 *   page heap (heap.c)       free page runs in size bins, 64 MiB arenas,
 *        |                   the page -> span map; one lock
 *   the OS (os.c)            mmap, madvise
 *
 * A small object (<= 32 KiB) is rounded up to its size class; span class =
 * size class << 1 | noscan, so pointer-free objects (gh_malloc_atomic) sit
 * in spans the collector never scans. The cache's span for that class hands
 * out the lowest free slot of its current 64-slot window (a ctz on
 * alloc_cache) and sets the slot's alloc bit. When the window is empty the
 * cache looks at the span's other bitmap words, then asks the central list
 * for a span with free slots, sweeping unswept spans of the class on the
 * way, and finally takes fresh pages from the heap. Large objects (> 32 KiB)
 * get a span of their own straight from the heap.
 *
 * Freeing goes back up the same way. The owning thread clears the alloc
 * bit (and re-arms the window); another thread records the free in the
 * span's xfree bits with one atomic OR, and the owner folds those in when
 * it runs short; a span no cache owns is freed into under its class lock.
 * Empty spans return to the heap, whose free runs coalesce.
 *
 * Metadata is out of band: spans, bitmaps, caches and arena maps live in
 * runtime memory (os_meta_alloc), never in headers beside objects, so the
 * collector's pointer lookup (heap_find_object) is an arena lookup, a page
 * lookup and a multiply-shift division.
 *
 * Hot path: malloc_small and gh_free's owner branch below. Every other case
 * is a noinline function. */
#include <errno.h>
#include <string.h>
#include "goheap.h"
#include "malloc_noz.h"
#include "cache.h"
#include "central.h"
#include "heap.h"
#include "stats.h"
#include "gc.h"
#include "mprof.h"
#include "options.h"
#include "print.h"
#include "finalizer.h"
#include "sweep.h"

/* Requests above this are refused with ENOMEM before any arithmetic can
 * overflow (64 TiB: far beyond the address space we map). */
#define MAX_ALLOC ((size_t)1 << 46)

/* What an allocation asks for: a pointer-free object (its span class is
 * noscan, never scanned) and zeroed memory. gh_malloc is MALLOC_ZERO,
 * gh_malloc_atomic MALLOC_NOSCAN, malloc_noz neither. */
enum { MALLOC_NOSCAN = 1, MALLOC_ZERO = 2 };

static void *malloc_large(size_t size, unsigned kind, uintptr_t align_pages);
static void *malloc_refill(unsigned sc, unsigned kind);
static void *malloc_finish_slow(struct cache *c, struct span *s, void *p, unsigned kind);

/* malloc_unswept reports (DEBUG=2) an allocation from a span that a
 * collection passed by without marking the slot: the object would be
 * freed by the span's coming sweep. */
static __attribute__((noinline, cold, noreturn)) void malloc_unswept(struct cache *c, struct span *s, uintptr_t idx)
{
    print_err("goheap: allocation from unswept span %p (class %u, list %u, sweepgen %lu, now %lu) slot %lu "
              "unmarked; cache %p busy %d sweep_gen %lu\n",
              (void *)s, s->spanclass, s->list, (unsigned long)AO_load(&s->sweepgen),
              (unsigned long)AO_load(&sweep_gen), (unsigned long)idx, (void *)c, c->stopped_busy,
              (unsigned long)c->sweep_gen);
    print_internal_error(__FILE__, __LINE__, "allocation from an unswept span");
}

/* zero clears a small object and returns it. Every size class is a
 * multiple of 8 and, from 16 up, of 16, so up to 128 bytes two runs of
 * stores, one from each end, cover it; they overlap when n is not a power
 * of two. A libc call costs more than those stores. */
static inline __attribute__((always_inline)) void *zero(void *p, uintptr_t n)
{
    char *q = p;
    if (n <= 16) {
        __builtin_memset(q, 0, 8);
        __builtin_memset(q + n - 8, 0, 8);
    } else if (n <= 32) {
        __builtin_memset(q, 0, 16);
        __builtin_memset(q + n - 16, 0, 16);
    } else if (n <= 64) {
        __builtin_memset(q, 0, 32);
        __builtin_memset(q + n - 32, 0, 32);
    } else if (n <= 128) {
        __builtin_memset(q, 0, 64);
        __builtin_memset(q + n - 64, 0, 64);
    } else {
        return memset(p, 0, n);
    }
    return p;
}

/* malloc_small_in is the fast path, for size class sc: one span lookup,
 * a ctz, a bit store. The slot's alloc bit is the lowest bit of the
 * window, free ^ rest, and its address is counted from the window's first
 * slot. */
static inline __attribute__((always_inline)) void *malloc_small_in(unsigned sc, unsigned kind)
{
    struct cache *c = cache_self;
    struct span *s = c->alloc[sc << 1 | (kind & MALLOC_NOSCAN)];
    uint64_t free = s->alloc_cache;
    if (unlikely(free == 0))
        return malloc_refill(sc, kind);
    uint64_t rest = free & (free - 1);
    uintptr_t bit = (unsigned)__builtin_ctzll(free);
    uintptr_t elemsize = s->elemsize;
    s->alloc_cache = rest;
    gh_assert(gh_debug < 2 || !(s->alloc_bits[s->cache_word] & (free ^ rest)));
    gh_assert(gh_debug < 2 || s->owner == c);
    s->alloc_bits[s->cache_word] |= free ^ rest;
    void *p = (void *)(s->window_base + bit * elemsize);
    /* A span that a collection passed by while we owned it must have had
     * every slot marked (cache_blacken_busy). */
    if (gh_debug >= 2 && sweep_needed(s) && !span_is_marked(s, s->cache_word * 64 + bit))
        malloc_unswept(c, s, s->cache_word * 64 + bit);
    c->nmalloc[sc]++;
    if (unlikely((c->next_sample -= (int64_t)elemsize) < 0))
        return malloc_finish_slow(c, s, p, kind);
    if ((kind & MALLOC_ZERO) && s->needzero)
        return zero(p, elemsize);
    return p;
}

/* malloc_small runs the fast path under alloc_enter: the program's own
 * signal handler may interrupt it, and a stop that then arrives finds the
 * thread's PC in that handler, not in ALLOC_TEXT, so the PC alone would
 * let the collector take the cache's current span from under the
 * interrupted allocation. The same holds for gh_free's fast path. */
static inline __attribute__((always_inline)) void *malloc_small(unsigned sc, unsigned kind)
{
    alloc_enter();
    void *p = malloc_small_in(sc, kind);
    alloc_leave();
    return p;
}

/* malloc_any sends sizes up to SMALL_SIZE_MAX, the most common, through
 * one comparison; size 0 wraps and is caught with the large sizes. */
static inline __attribute__((always_inline)) void *malloc_any(size_t size, unsigned kind)
{
    if (likely(size - 1 < SMALL_SIZE_MAX))
        return malloc_small(size_to_class8[(size + SMALL_SIZE_DIV - 1) / SMALL_SIZE_DIV], kind);
    if (likely(size - 1 < MAX_SMALL_SIZE))
        return malloc_small(sizeclass_of(size), kind);
    if (size == 0)
        return malloc_small(sizeclass_of(1), kind);
    return malloc_large(size, kind, 1);
}

/* malloc_refill: no cache yet, or the current span has no free slot. */
static ALLOC_TEXT void *malloc_refill_in(unsigned sc, unsigned kind)
{
    struct cache *c = cache_get();
    if (c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned spc = sc << 1 | (kind & MALLOC_NOSCAN);
    if (c->alloc[spc]->alloc_cache == 0 && cache_refill(c, spc) == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc_small(sc, kind);
}

/* malloc_sample records a profile sample of p in span s; the span counts
 * its sampled objects so that frees elsewhere skip the profiler. */
static ALLOC_TEXT void malloc_sample(struct span *s, void *p, size_t size)
{
    AO_fetch_and_add1(&s->sampled);
    if (!mprof_alloc(p, size))
        AO_fetch_and_sub1(&s->sampled);
}

/* malloc_finish_slow completes an allocation whose profile countdown ran
 * out: zero it, then record a sample. */
static ALLOC_TEXT void *malloc_finish_slow_in(struct cache *c, struct span *s, void *p, unsigned kind)
{
    if ((kind & MALLOC_ZERO) && s->needzero)
        memset(p, 0, s->elemsize);
    if (AO_load(&mprof_rate) > 0)
        malloc_sample(s, p, s->elemsize);
    c->next_sample = mprof_next_sample(&c->rng);
    return p;
}

static ALLOC_TEXT void *malloc_large_in(size_t size, unsigned kind, uintptr_t align_pages)
{
    struct cache *c = cache_get();
    if (size > MAX_ALLOC || c == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
    gc_maybe_start(npages << PAGE_SHIFT);
    int needzero;
    struct span *s = heap_alloc_span(npages, align_pages, &needzero);
    if (s == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    s->needzero = (uint8_t)needzero;
    span_init_large(s, spanclass_make(0, (int)(kind & MALLOC_NOSCAN)), size, AO_load(&sweep_gen), gc_marking());
    void *p = (void *)s->base;
    if ((kind & MALLOC_ZERO) && needzero)
        memset(p, 0, size);
    central_add_large(s);
    stats_large_allocated(npages << PAGE_SHIFT, 1);
    stats_heap_live_add(npages << PAGE_SHIFT);
    if ((c->next_sample -= (int64_t)(npages << PAGE_SHIFT)) < 0) {
        if (AO_load(&mprof_rate) > 0)
            malloc_sample(s, p, npages << PAGE_SHIFT);
        c->next_sample = mprof_next_sample(&c->rng);
    }
    return p;
}

/* The slow paths run inside alloc_enter/alloc_leave (cache.h): a thread
 * stopped anywhere below them, even waiting for a lock in another module,
 * counts as busy, so the collector leaves its cache alone. */
static ALLOC_TEXT __attribute__((noinline)) void *malloc_refill(unsigned sc, unsigned kind)
{
    alloc_enter();
    void *p = malloc_refill_in(sc, kind);
    alloc_leave();
    return p;
}

static ALLOC_TEXT __attribute__((noinline)) void *malloc_finish_slow(struct cache *c, struct span *s, void *p, unsigned kind)
{
    alloc_enter();
    p = malloc_finish_slow_in(c, s, p, kind);
    alloc_leave();
    return p;
}

static ALLOC_TEXT __attribute__((noinline)) void *malloc_large(size_t size, unsigned kind, uintptr_t align_pages)
{
    alloc_enter();
    void *p = malloc_large_in(size, kind, align_pages);
    alloc_leave();
    return p;
}

GH_API ALLOC_TEXT void *gh_malloc(size_t size) { return malloc_any(size, MALLOC_ZERO); }
GH_API ALLOC_TEXT void *gh_malloc_atomic(size_t size) { return malloc_any(size, MALLOC_NOSCAN); }
ALLOC_TEXT void *malloc_noz(size_t size) { return malloc_any(size, 0); }

GH_API ALLOC_TEXT void *gh_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc_any(total, MALLOC_ZERO);
}

/* ---- invalid pointers ---- */

/* malloc_bad_pointer reports a pointer that is not the base of a live
 * object, as Go's badPointer does, then aborts unless invalidptr=0. */
static ALLOC_TEXT __attribute__((noinline, cold)) void malloc_bad_pointer(const char *fn, uintptr_t p, const char *what)
{
    options_init();
    if (opts.invalidptr == 0)
        return;
    struct span *s = heap_span_of(p);
    if (s && AO_load(&s->state) == SPAN_IN_USE && p >= s->base && p < s->limit) {
        uintptr_t idx = span_index(s, p);
        print_err("goheap: %s(%p): %s (object %p, size %lu, span %p-%p)\n", fn, (void *)p, what,
                  (void *)(s->base + idx * s->elemsize), (unsigned long)s->elemsize, (void *)s->base,
                  (void *)(s->base + (s->npages << PAGE_SHIFT)));
    } else {
        print_err("goheap: %s(%p): %s\n", fn, (void *)p, what);
    }
    print_fatal("invalid %s (GODEBUG=invalidptr=0 ignores it)", fn + 3);
}

/* malloc_lookup finds the live object whose base is p, or reports p (and
 * returns NULL if the report did not abort). */
static struct span *malloc_lookup(const char *fn, uintptr_t p, uintptr_t *idx)
{
    struct span *s = heap_span_of(p);
    if (s == NULL || AO_load_acquire(&s->state) != SPAN_IN_USE || p < s->base || p >= s->limit) {
        malloc_bad_pointer(fn, p, "pointer not allocated by goheap, or already freed");
        return NULL;
    }
    uintptr_t i = span_index(s, p);
    if (s->base + i * s->elemsize != p) {
        malloc_bad_pointer(fn, p, "interior pointer");
        return NULL;
    }
    uint64_t m = (uint64_t)1 << (i % 64);
    if (!(s->alloc_bits[i / 64] & m) || (AO_load(&s->xfree_bits[i / 64]) & m)) {
        malloc_bad_pointer(fn, p, "object already freed");
        return NULL;
    }
    *idx = i;
    return s;
}

/* ---- free ---- */

static ALLOC_TEXT __attribute__((noinline)) void free_notify(struct span *s, uintptr_t p)
{
    if (AO_load(&s->sampled) && mprof_free((void *)p, s->elemsize))
        AO_fetch_and_sub1(&s->sampled);
    if (s->specials)
        finalizer_forget((void *)p);
}

static ALLOC_TEXT void free_slow_in(uintptr_t p)
{
    uintptr_t idx;
    struct span *s = malloc_lookup("gh_free", p, &idx);
    if (s == NULL)
        return;
    unsigned spc = s->spanclass;
    if (s->sampled | s->specials)
        free_notify(s, p);
    if (spanclass_sizeclass(spc) == 0) {
        if (central_free_large(s, spc, p) != 0)
            malloc_bad_pointer("gh_free", p, "object already freed");
        return;
    }
    for (;;) {
        struct cache *owner = (struct cache *)AO_load_acquire((volatile AO_t *)&s->owner);
        if (owner != NULL) {
            /* Another cache owns the span: leave the free to its owner. */
            volatile AO_t *w = &s->xfree_bits[idx / 64];
            AO_t m = (AO_t)1 << (idx % 64), old;
            do {
                old = AO_load(w);
                if (old & m) {
                    malloc_bad_pointer("gh_free", p, "object already freed");
                    return;
                }
            } while (!AO_compare_and_swap_full(w, old, old | m));
            if (gc_marking())
                span_set_mark(s, idx);
            if (!AO_load(&s->xfree_pending)) {
                AO_store_full(&s->xfree_pending, 1);
                AO_store(&owner->xfree_hint, 1);
            }
            if (AO_load_full((volatile AO_t *)&s->owner) != 0)
                return;
            /* The owner let go meanwhile and may have drained before our
             * bit landed: fold it in under the lock ourselves. */
            central_drain_unowned(s, spc);
            return;
        }
        int r = central_free_unowned(s, spc, p, idx);
        if (r == 0)
            return;
        if (r < 0) {
            malloc_bad_pointer("gh_free", p, "object already freed");
            return;
        }
    }
}

/* free_owned_slow: an owner's free that is invalid, or of an object the
 * profiler or a finalizer knows, or made while a cycle marks. p is in
 * [base, limit) of a span the calling thread's cache owns. */
static ALLOC_TEXT void free_owned_slow_in(uintptr_t p)
{
    struct cache *c = cache_self;
    struct span *s = heap_span_of(p);
    uintptr_t idx = span_index(s, p);
    unsigned w = (unsigned)(idx / 64);
    uint64_t m = (uint64_t)1 << (idx % 64);
    if (s->base + idx * s->elemsize != p) {
        malloc_bad_pointer("gh_free", p, "interior pointer");
        return;
    }
    if (!(s->alloc_bits[w] & m) || (AO_load(&s->xfree_bits[w]) & m)) {
        malloc_bad_pointer("gh_free", p, "object already freed");
        return;
    }
    if (s->sampled | s->specials)
        free_notify(s, p);
    if (gc_marking())
        span_set_mark(s, idx);
    s->alloc_bits[w] &= ~m;
    if (w == s->cache_word)
        s->alloc_cache |= m;
    s->needzero = 1;
    c->nfree[spanclass_sizeclass(s->spanclass)]++;
    if (--s->free_left == 0)
        cache_free_noncurrent(c, s);
}

static ALLOC_TEXT __attribute__((noinline)) void free_slow(uintptr_t p)
{
    alloc_enter();
    free_slow_in(p);
    alloc_leave();
}

static ALLOC_TEXT __attribute__((noinline)) void free_owned_slow(uintptr_t p)
{
    alloc_enter();
    free_owned_slow_in(p);
    alloc_leave();
}

/* free_fast is gh_free, for the caller's own spans without a lock. */
static inline __attribute__((always_inline)) void free_fast(void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    struct cache *c = cache_self;
    /* The page's hint first: on a hit, s is c's and p's page is in s. The
     * one test on off catches both an address past the span's last object
     * and, for a span from the page map, one below its base (off wraps). */
    uintptr_t page = p >> PAGE_SHIFT;
    struct cache_page *h = &c->free_pages[page % CACHE_FREE_PAGES];
    struct span *s = h->span;
    if (unlikely(h->page != page)) {
        s = heap_span_of(p);
        if (unlikely(s == NULL || s->owner != c)) {
            if (ptr != NULL)
                free_slow(p);
            return;
        }
        h->page = page;
        h->span = s;
    }
    uintptr_t off = p - s->base;
    if (unlikely(off >= s->limit - s->base)) {
        free_slow(p);
        return;
    }
    uintptr_t idx = (uintptr_t)(((uint64_t)off * s->divmul) >> 32);
    unsigned w = (unsigned)(idx / 64);
    uint64_t m = (uint64_t)1 << (idx % 64);
    /* The reasons to leave the fast path: an interior pointer, a slot not
     * allocated or already freed remotely, an object the profiler or a
     * finalizer knows, a cycle marking. */
    if (unlikely(idx * s->elemsize != off ||
                 (s->sampled | s->specials | (uint64_t)AO_load(&gc_phase_marking)) != 0)) {
        free_owned_slow(p);
        return;
    }
    uint64_t bits = s->alloc_bits[w];
    if (unlikely(((~bits | (uint64_t)AO_load(&s->xfree_bits[w])) & m) != 0)) {
        free_owned_slow(p);
        return;
    }
    s->alloc_bits[w] = bits ^ m;
    if (w == s->cache_word)
        s->alloc_cache |= m;
    s->needzero = 1;
    c->nfree[s->sizeclass]++;
    if (unlikely(--s->free_left == 0))
        cache_free_noncurrent(c, s);
}

GH_API ALLOC_TEXT void gh_free(void *ptr)
{
    alloc_enter(); /* see malloc_small */
    free_fast(ptr);
    alloc_leave();
}

/* ---- the rest of the family ---- */

/* object_size is the usable size of the live object at base of span s. */
static ALLOC_TEXT size_t object_size(const struct span *s)
{
    return spanclass_sizeclass(s->spanclass) == 0 ? s->limit - s->base : s->elemsize;
}

GH_API ALLOC_TEXT size_t gh_usable_size(const void *ptr)
{
    uintptr_t idx;
    if (ptr == NULL)
        return 0;
    struct span *s = malloc_lookup("gh_usable_size", (uintptr_t)ptr, &idx);
    return s ? object_size(s) : 0;
}

/* realloc_large_in_place resizes large object s to size bytes without
 * moving it, when its pages (or the free run after them) allow; with
 * MALLOC_ZERO in zero, the bytes it grows by are zeroed if s is scanned. */
static ALLOC_TEXT int realloc_large_in_place(struct span *s, size_t size, unsigned zero)
{
    uintptr_t npages = (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
    uintptr_t old_limit = s->limit;
    if (npages > s->npages) {
        uintptr_t more = npages - s->npages;
        if (!heap_grow_in_place(s, npages))
            return 0;
        s->elemsize = s->npages << PAGE_SHIFT;
        stats_large_allocated(more << PAGE_SHIFT, 0);
        stats_heap_live_add(more << PAGE_SHIFT);
    } else if (npages < s->npages / 2) {
        return 0; /* shrinking a lot: move, so the pages come back */
    }
    if (s->base + size > old_limit && zero && !spanclass_noscan(s->spanclass))
        memset((void *)old_limit, 0, s->base + size - old_limit);
    s->limit = s->base + size;
    return 1;
}

/* realloc_any is gh_realloc; zero is MALLOC_ZERO or 0 (malloc_realloc_noz:
 * new bytes of a scanned object keep whatever they held). */
static ALLOC_TEXT void *realloc_any(void *ptr, size_t size, unsigned zero)
{
    if (ptr == NULL)
        return malloc_any(size, zero);
    uintptr_t idx;
    struct span *s = malloc_lookup("gh_realloc", (uintptr_t)ptr, &idx);
    if (s == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (size > MAX_ALLOC) {
        errno = ENOMEM;
        return NULL;
    }
    unsigned kind = spanclass_noscan(s->spanclass) ? MALLOC_NOSCAN : zero;
    size_t old = object_size(s);
    if (spanclass_sizeclass(s->spanclass) == 0) {
        if (size > MAX_SMALL_SIZE && realloc_large_in_place(s, size, zero))
            return ptr;
    } else if (size <= old && size > old / 2) {
        return ptr;
    }
    void *q = malloc_any(size, kind);
    if (q == NULL)
        return NULL;
    memcpy(q, ptr, size < old ? size : old);
    gh_free(ptr);
    return q;
}

GH_API ALLOC_TEXT void *gh_realloc(void *ptr, size_t size) { return realloc_any(ptr, size, MALLOC_ZERO); }
ALLOC_TEXT void *malloc_realloc_noz(void *ptr, size_t size) { return realloc_any(ptr, size, 0); }

/* aligned_class finds the smallest size class holding size bytes whose
 * object size is a multiple of align; every slot of such a class is then
 * aligned, since spans start on page boundaries. 0 if there is none. */
static ALLOC_TEXT unsigned aligned_class(size_t size, size_t align)
{
    for (unsigned c = sizeclass_of(size); c < NUM_SIZE_CLASSES; c++)
        if (class_to_size[c] % align == 0)
            return c;
    return 0;
}

/* aligned_any is gh_aligned_alloc; zero is MALLOC_ZERO or 0. */
static ALLOC_TEXT void *aligned_any(size_t align, size_t size, unsigned zero)
{
    if (align == 0 || (align & (align - 1)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    if (size == 0)
        size = 1;
    if (align <= 8)
        return malloc_any(size, zero);
    if (size <= MAX_SMALL_SIZE && align <= PAGE_SIZE) {
        unsigned c = aligned_class(size, align);
        if (c != 0)
            return malloc_small(c, zero);
    }
    if (size > MAX_ALLOC || align > MAX_ALLOC) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc_large(size, zero, align > PAGE_SIZE ? align >> PAGE_SHIFT : 1);
}

GH_API ALLOC_TEXT void *gh_aligned_alloc(size_t align, size_t size) { return aligned_any(align, size, MALLOC_ZERO); }
ALLOC_TEXT void *malloc_aligned_noz(size_t align, size_t size) { return aligned_any(align, size, 0); }

GH_API ALLOC_TEXT int gh_posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    int saved = errno;
    void *p = gh_aligned_alloc(align, size);
    if (p == NULL) {
        int err = errno;
        errno = saved;
        return err;
    }
    *out = p;
    return 0;
}

GH_API ALLOC_TEXT uint64_t gh_heap_inuse_peak(int reset)
{
    uint64_t peak = AO_load(&heap_stats.inuse_peak);
    if (reset)
        AO_store(&heap_stats.inuse_peak, AO_load(&heap_stats.inuse));
    return peak;
}
