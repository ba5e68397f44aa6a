/* heap.c: the page heap (Go: mheap and its page allocator). See malloc.c
 * for how it serves the central lists and the thread caches.
 *
 * Address space is reserved from the OS in 64 MiB arenas aligned to their
 * size. arena_map (2^21 entries, reserved lazily by the OS) maps an address
 * to its arena; each arena maps its 8192 pages to span structs. Every page
 * of an in-use span maps to that span, so any interior address finds its
 * span in O(1). A free page run is also a span struct (SPAN_FREE) and only
 * its first and last pages map to it: that is all coalescing needs.
 * Interior entries of a free run are stale and must never be trusted; the
 * state and [base, limit) checks of every lookup reject them.
 *
 * Free runs sit in size-indexed bins: one exact bin per page count below
 * 128, then eight bins per power of two (TLSF-style). A bitmap of nonempty
 * bins finds the smallest bin that certainly fits in O(1), so allocation
 * never walks the spans. Freed runs coalesce with free neighbours at once.
 *
 * Returned memory: each arena has a bitmap of pages given back to the OS
 * (released); they read as zero when reused. A new arena starts all
 * released, as it takes no memory until used. arena.zeroed marks the tail
 * of the arena that was never used, so fresh spans need no zeroing.
 *
 * Locking: heap.lock guards the bins, the arenas' page maps, the released
 * bitmaps and the span struct pool. Lock order: central locks, then
 * heap.lock. arena_map entries are published with release stores. */
#include <string.h>
#include "lock.h"
#include <pthread.h>
#include "heap.h"
#include "os.h"
#include "print.h"

#define NUM_EXACT_BINS 128
#define SUB_BINS 8
#define NUM_BINS (NUM_EXACT_BINS + (ADDR_BITS - PAGE_SHIFT) * SUB_BINS)
#define BIN_WORDS ((NUM_BINS + 63) / 64)
#define HEAP_HUGE_AFTER ((uintptr_t)8 << 20)  /* see pages_taken */

struct heap {
    pthread_mutex_t lock;
    struct span *bins[NUM_BINS];      /* free runs, doubly linked */
    uint64_t nonempty[BIN_WORDS];     /* bit b: bins[b] != NULL */
    struct span *span_pool;           /* dead span structs */
    struct arena_ext *arenas;         /* every arena, newest first */
    uint64_t *bits_chunk;             /* current mark-bit chunk being carved */
    uintptr_t bits_left;              /* blocks left in bits_chunk */
    struct mark_chunk *chunks, **chunks_tail; /* every mark-bit chunk, oldest first */
    struct mark_chunk *slabs;         /* every span-struct slab, newest first */
    char *slab_next;                  /* the current slab's next struct */
    uintptr_t slab_left;              /* structs left in it */
    uintptr_t free_pages;             /* pages in free runs */
    int inited;
};

/* A chunk of mark bitmaps, listed so that the concurrent marker can find
 * every bitmap (cmark.c), or a slab of span structs. Nodes are published
 * with a release store of the link to them and never freed. */
struct mark_chunk {
    uint64_t *base;
    struct mark_chunk *next;
};

/* Released-page bitmaps live beside each arena's page map. */
struct arena_ext {
    struct arena a;
    struct arena_ext *next;
    uint64_t released[PAGES_PER_ARENA / 64];
};

/* Each on cache lines of its own: every free that misses its hint reads
 * arena_map, while the lock and the counters are written by every span
 * allocation. */
static struct heap heap __attribute__((aligned(64))) = { .lock = PTHREAD_MUTEX_INITIALIZER };
struct arena *volatile *arena_map __attribute__((aligned(64)));
struct heap_stats heap_stats __attribute__((aligned(64)));

void heap_lock(void) { lock_take(&heap.lock); }
void heap_unlock(void) { lock_drop(&heap.lock); }

void heap_init(void)
{
    lock_take(&heap.lock);
    if (!heap.inited) {
        arena_map = os_reserve(ARENA_MAP_ENTRIES * sizeof(struct arena *), os_page_size(), OS_STAT_GC);
        if (arena_map == NULL)
            print_fatal("cannot reserve the arena map");
        heap.inited = 1;
    }
    lock_drop(&heap.lock);
}

/* ---- bins ---- */

static unsigned bin_index(uintptr_t npages)
{
    if (npages < NUM_EXACT_BINS)
        return (unsigned)npages;
    unsigned fl = 63 - (unsigned)__builtin_clzll(npages); /* >= 7 */
    unsigned sl = (unsigned)(npages >> (fl - 3)) & (SUB_BINS - 1);
    return NUM_EXACT_BINS + (fl - 7) * SUB_BINS + sl;
}

/* bin_fit_index is the first bin all of whose runs hold npages. */
static unsigned bin_fit_index(uintptr_t npages)
{
    unsigned b = bin_index(npages);
    if (npages < NUM_EXACT_BINS)
        return b;
    unsigned fl = 63 - (unsigned)__builtin_clzll(npages);
    uintptr_t lower = npages & ~(((uintptr_t)1 << (fl - 3)) - 1);
    return lower == npages ? b : b + 1;
}

static void bin_insert(struct span *r)
{
    unsigned b = bin_index(r->npages);
    r->prev = NULL;
    r->next = heap.bins[b];
    if (r->next)
        r->next->prev = r;
    heap.bins[b] = r;
    heap.nonempty[b / 64] |= (uint64_t)1 << (b % 64);
}

static void bin_remove(struct span *r)
{
    unsigned b = bin_index(r->npages);
    if (r->prev)
        r->prev->next = r->next;
    else
        heap.bins[b] = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (heap.bins[b] == NULL)
        heap.nonempty[b / 64] &= ~((uint64_t)1 << (b % 64));
    r->next = r->prev = NULL;
}

/* bin_find returns a free run of at least npages pages, or NULL. */
static struct span *bin_find(uintptr_t npages, uintptr_t align_pages)
{
    /* With alignment, ask for enough slack to align inside the run. */
    uintptr_t need = npages + (align_pages > 1 ? align_pages - 1 : 0);
    unsigned b = bin_fit_index(need);
    /* An exact-size bin below the fit index may still hold a run that
     * happens to be aligned: try the plain size first for aligned asks. */
    for (unsigned w = b / 64; w < BIN_WORDS; w++) {
        uint64_t m = heap.nonempty[w];
        if (w == b / 64)
            m &= ~(uint64_t)0 << (b % 64);
        if (m)
            return heap.bins[w * 64 + (unsigned)__builtin_ctzll(m)];
    }
    return NULL;
}

/* ---- span structs ---- */

/* mark_bits_alloc carves a span's mark bitmap out of a chunk of
 * HEAP_MARK_CHUNK bytes. The chunks are private memory: the concurrent
 * marker (cmark.c) marks into its own copy of them and sends the result
 * back, so a fork() by the program needs nothing special. Span structs
 * are recycled, never freed, so each keeps its bitmap for good. */
static uint64_t *mark_bits_alloc(void)
{
    enum { BLOCK = SPAN_MAX_WORDS * sizeof(uint64_t) };
    if (heap.bits_left == 0) {
        struct mark_chunk *mc = os_meta_alloc(sizeof(*mc), OS_STAT_GC);
        uint64_t *chunk = mc ? os_reserve(HEAP_MARK_CHUNK, HEAP_MARK_CHUNK, OS_STAT_GC) : NULL;
        if (chunk == NULL)
            return NULL;
        mc->base = chunk;
        if (heap.chunks_tail == NULL)
            heap.chunks_tail = &heap.chunks;
        AO_store_release((volatile AO_t *)heap.chunks_tail, (AO_t)mc);
        heap.chunks_tail = &mc->next;
        heap.bits_chunk = chunk;
        heap.bits_left = HEAP_MARK_CHUNK / BLOCK;
    }
    uint64_t *b = heap.bits_chunk;
    heap.bits_chunk += SPAN_MAX_WORDS;
    heap.bits_left--;
    return b;
}

/* span_slab_alloc carves a new span struct out of a slab of HEAP_MARK_CHUNK
 * bytes aligned to its size, so that heap_collapse can back the structs
 * with huge pages (the concurrent marker's fork copies their page-table
 * entries, see cmark.c). */
static struct span *span_slab_alloc(void)
{
    enum { SIZE = (sizeof(struct span) + 63) & ~(size_t)63 };
    if (heap.slab_left == 0) {
        struct mark_chunk *mc = os_meta_alloc(sizeof(*mc), OS_STAT_GC);
        char *slab = mc ? os_reserve(HEAP_MARK_CHUNK, HEAP_MARK_CHUNK, OS_STAT_MSPAN) : NULL;
        if (slab == NULL)
            return NULL;
        mc->base = (uint64_t *)slab;
        mc->next = heap.slabs;
        AO_store_release((volatile AO_t *)&heap.slabs, (AO_t)mc);
        heap.slab_next = slab;
        heap.slab_left = HEAP_MARK_CHUNK / SIZE;
    }
    struct span *s = (struct span *)heap.slab_next;
    heap.slab_next += SIZE;
    heap.slab_left--;
    return s;
}

static struct span *span_struct_alloc(void)
{
    struct span *s = heap.span_pool;
    if (s != NULL) {
        heap.span_pool = s->next;
    } else {
        s = span_slab_alloc();
        if (s == NULL)
            return NULL;
        s->mark_bits = mark_bits_alloc();
        if (s->mark_bits == NULL)
            return NULL;
    }
    uint64_t *mb = s->mark_bits;
    memset(s, 0, sizeof(*s));
    s->mark_bits = mb;
    AO_store(&heap_stats.spans_inuse, AO_load(&heap_stats.spans_inuse) + 1);
    return s;
}

static void span_struct_free(struct span *s)
{
    AO_store_release(&s->state, SPAN_DEAD);
    s->next = heap.span_pool;
    heap.span_pool = s;
    AO_store(&heap_stats.spans_inuse, AO_load(&heap_stats.spans_inuse) - 1);
}

/* ---- page maps ---- */

static void map_pages(struct span *s, uintptr_t base, uintptr_t npages)
{
    for (uintptr_t i = 0; i < npages; i++) {
        uintptr_t p = base + (i << PAGE_SHIFT);
        arena_map[p >> ARENA_SHIFT]->spans[(p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)] = s;
    }
}

static void map_ends(struct span *r)
{
    uintptr_t last = r->base + ((r->npages - 1) << PAGE_SHIFT);
    arena_map[r->base >> ARENA_SHIFT]->spans[(r->base >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)] = r;
    arena_map[last >> ARENA_SHIFT]->spans[(last >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)] = r;
}

/* released_take counts and clears the released bits of [base, +npages). */
static uintptr_t released_take(uintptr_t base, uintptr_t npages)
{
    uintptr_t n = 0;
    for (uintptr_t i = 0; i < npages; i++) {
        uintptr_t p = base + (i << PAGE_SHIFT);
        struct arena_ext *a = (struct arena_ext *)arena_map[p >> ARENA_SHIFT];
        uintptr_t pg = (p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1);
        uint64_t m = (uint64_t)1 << (pg % 64);
        if (a->released[pg / 64] & m) {
            a->released[pg / 64] &= ~m;
            n++;
        }
    }
    return n;
}

/* ---- growth ---- */

static int heap_grow(uintptr_t npages)
{
    uintptr_t bytes = (npages << PAGE_SHIFT);
    uintptr_t narenas = (bytes + ARENA_SIZE - 1) >> ARENA_SHIFT;
    uintptr_t base = (uintptr_t)os_reserve(narenas << ARENA_SHIFT, ARENA_SIZE, OS_STAT_HEAP);
    if (base == 0)
        return 0;
    if ((base + (narenas << ARENA_SHIFT) - 1) >> ADDR_BITS) {
        os_unmap((void *)base, narenas << ARENA_SHIFT, OS_STAT_HEAP);
        return 0;
    }
    for (uintptr_t i = 0; i < narenas; i++) {
        struct arena_ext *a = os_meta_alloc(sizeof(struct arena_ext), OS_STAT_GC);
        if (a == NULL)
            return 0; /* the arenas already mapped stay usable later */
        a->a.base = base + (i << ARENA_SHIFT);
        /* Never used: it reads as zero and takes no memory, as if
         * released (Go counts fresh memory as released too). */
        memset(a->released, 0xff, sizeof(a->released));
        a->next = heap.arenas;
        heap.arenas = a;
        AO_store_release((volatile AO_t *)&arena_map[a->a.base >> ARENA_SHIFT], (AO_t)a);
    }
    AO_store(&heap_stats.sys, AO_load(&heap_stats.sys) + (narenas << ARENA_SHIFT));
    struct span *r = span_struct_alloc();
    if (r == NULL)
        return 0;
    r->base = base;
    r->npages = (narenas << ARENA_SHIFT) >> PAGE_SHIFT;
    r->nreleased = r->npages;
    heap.free_pages += r->npages;
    AO_store(&heap_stats.released, AO_load(&heap_stats.released) + (narenas << ARENA_SHIFT));
    AO_store_release(&r->state, SPAN_FREE);
    /* Coalesce with a free run that ends right below, if any. */
    struct span *prev = base ? heap_span_of(base - 1) : NULL;
    if (prev && AO_load(&prev->state) == SPAN_FREE && prev->base + (prev->npages << PAGE_SHIFT) == base) {
        bin_remove(prev);
        prev->npages += r->npages;
        prev->nreleased += r->nreleased;
        span_struct_free(r);
        r = prev;
    }
    map_ends(r);
    bin_insert(r);
    return 1;
}

/* ---- allocate / free ---- */

/* released_count counts the released bits of [base, +npages). */
static uintptr_t released_count(uintptr_t base, uintptr_t npages)
{
    uintptr_t n = 0;
    for (uintptr_t i = 0; i < npages; i++) {
        uintptr_t p = base + (i << PAGE_SHIFT);
        struct arena_ext *a = (struct arena_ext *)arena_map[p >> ARENA_SHIFT];
        uintptr_t pg = (p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1);
        n += (a->released[pg / 64] >> (pg % 64)) & 1;
    }
    return n;
}

/* run_carve takes [start, start+npages) out of free run r (already out of
 * its bin) into out, and puts the pieces before and after it back into the
 * bins with their released counts. Returns how many of the carved pages
 * had been released to the OS (they read as zero). */
static uintptr_t run_carve(struct span *r, uintptr_t start, uintptr_t npages, struct span *out)
{
    uintptr_t rend = r->base + (r->npages << PAGE_SHIFT);
    uintptr_t end = start + (npages << PAGE_SHIFT);
    uintptr_t rel_total = r->nreleased;
    uintptr_t rel_lead = rel_total ? released_count(r->base, (start - r->base) >> PAGE_SHIFT) : 0;
    uintptr_t rel_mid = rel_total ? released_take(start, npages) : 0;
    struct span *spare = r;
    if (start > r->base) {
        r->npages = (start - r->base) >> PAGE_SHIFT;
        r->nreleased = rel_lead;
        map_ends(r);
        bin_insert(r);
        spare = NULL;
    }
    if (end < rend) {
        struct span *tail = spare ? spare : span_struct_alloc();
        if (tail == NULL)
            print_fatal("out of memory for span structures");
        tail->base = end;
        tail->npages = (rend - end) >> PAGE_SHIFT;
        tail->nreleased = rel_total - rel_lead - rel_mid;
        AO_store_release(&tail->state, SPAN_FREE);
        map_ends(tail);
        bin_insert(tail);
        spare = NULL;
    }
    if (spare)
        span_struct_free(spare);
    out->base = start;
    out->npages = npages;
    heap.free_pages -= npages;
    AO_store(&heap_stats.released, AO_load(&heap_stats.released) - (rel_mid << PAGE_SHIFT));
    return rel_mid;
}

/* pages_taken records that [start, +npages) is now in use: the never-used
 * tails of the arenas shrink, the in-use count and its peak grow. Returns
 * whether every page was never used before. */
static int pages_taken(uintptr_t start, uintptr_t npages)
{
    uintptr_t end = start + (npages << PAGE_SHIFT);
    int fresh = 1;
    for (uintptr_t p = start; p < end; p = (p & ~(ARENA_SIZE - 1)) + ARENA_SIZE) {
        struct arena *a = arena_map[p >> ARENA_SHIFT];
        uintptr_t lo = p - a->base, hi = (end - a->base < ARENA_SIZE) ? end - a->base : ARENA_SIZE;
        if (lo < a->zeroed)
            fresh = 0;
        /* Huge pages: a fork-based snapshot (cmark.c) copies one page-table
         * entry per 2 MiB instead of 512, which is most of its pause. They
         * are asked for only once the arena has HEAP_HUGE_AFTER bytes in
         * use: a huge page fault makes 2 MiB resident at once, which a
         * small program (most processes that preload the malloc shim)
         * would carry as RSS for nothing, and cloning a few MiB of small
         * pages is quick anyway. heap_collapse still collapses what was
         * filled before. */
        if (a->zeroed < HEAP_HUGE_AFTER && hi >= HEAP_HUGE_AFTER)
            os_hugepage((void *)a->base, ARENA_SIZE);
        if (hi > a->zeroed)
            a->zeroed = hi;
    }
    uintptr_t inuse = AO_load(&heap_stats.inuse) + (npages << PAGE_SHIFT);
    AO_store(&heap_stats.inuse, inuse);
    if (inuse > AO_load(&heap_stats.inuse_peak))
        AO_store(&heap_stats.inuse_peak, inuse);
    return fresh;
}

struct span *heap_alloc_span(uintptr_t npages, uintptr_t align_pages, int *needzero)
{
    if (npages == 0 || npages > ((uintptr_t)1 << (ADDR_BITS - PAGE_SHIFT - 1)))
        return NULL;
    lock_take(&heap.lock);
    struct span *r = bin_find(npages, align_pages);
    if (r == NULL && heap_grow(npages + (align_pages > 1 ? align_pages : 0)))
        r = bin_find(npages, align_pages);
    struct span *s = r ? span_struct_alloc() : NULL;
    if (s == NULL) {
        lock_drop(&heap.lock);
        return NULL;
    }
    bin_remove(r);
    uintptr_t align = align_pages << PAGE_SHIFT;
    uintptr_t start = align_pages > 1 ? (r->base + align - 1) & ~(align - 1) : r->base;
    uintptr_t rel = run_carve(r, start, npages, s);
    int fresh = pages_taken(start, npages);
    *needzero = !(fresh || rel == npages);
    map_pages(s, start, npages);
    lock_drop(&heap.lock);
    return s;
}

/* heap_free_run_locked inserts [s->base, +npages) as a free run, merging
 * with free neighbours. Reuses s as the run's struct. */
static void heap_free_run_locked(struct span *s)
{
    uintptr_t base = s->base, npages = s->npages;
    AO_store_release(&s->state, SPAN_FREE);
    s->nreleased = 0;
    heap.free_pages += npages;
    struct span *prev = heap_span_of(base - 1);
    if (prev && AO_load(&prev->state) == SPAN_FREE && prev->base + (prev->npages << PAGE_SHIFT) == base) {
        bin_remove(prev);
        prev->npages += s->npages;
        prev->nreleased += s->nreleased;
        span_struct_free(s);
        s = prev;
    }
    uintptr_t end = s->base + (s->npages << PAGE_SHIFT);
    struct span *next = heap_span_of(end);
    if (next && next != s && AO_load(&next->state) == SPAN_FREE && next->base == end) {
        bin_remove(next);
        s->npages += next->npages;
        s->nreleased += next->nreleased;
        span_struct_free(next);
    }
    map_ends(s);
    bin_insert(s);
}

void heap_free_span(struct span *s)
{
    lock_take(&heap.lock);
    AO_store(&heap_stats.inuse, AO_load(&heap_stats.inuse) - (s->npages << PAGE_SHIFT));
    heap_free_run_locked(s);
    lock_drop(&heap.lock);
}

int heap_grow_in_place(struct span *s, uintptr_t npages)
{
    int ok = 0;
    lock_take(&heap.lock);
    uintptr_t end = s->base + (s->npages << PAGE_SHIFT);
    uintptr_t more = npages - s->npages;
    struct span *next = heap_span_of(end);
    if (next && AO_load(&next->state) == SPAN_FREE && next->base == end && next->npages >= more) {
        struct span piece;
        bin_remove(next);
        run_carve(next, end, more, &piece);
        pages_taken(end, more);
        map_pages(s, end, more);
        s->npages = npages;
        ok = 1;
    }
    lock_drop(&heap.lock);
    return ok;
}

uintptr_t heap_release_free(uintptr_t keep)
{
    uintptr_t done = 0;
    lock_take(&heap.lock);
    uintptr_t unreleased = heap.free_pages - (AO_load(&heap_stats.released) >> PAGE_SHIFT);
    /* Largest runs first: walk bins from the top. */
    for (int b = NUM_BINS - 1; b >= 0 && (unreleased << PAGE_SHIFT) > keep; b--) {
        for (struct span *r = heap.bins[b]; r && (unreleased << PAGE_SHIFT) > keep; r = r->next) {
            if (r->nreleased == r->npages)
                continue;
            os_release((void *)r->base, r->npages << PAGE_SHIFT);
            uintptr_t fresh = r->npages - r->nreleased;
            for (uintptr_t i = 0; i < r->npages; i++) {
                uintptr_t p = r->base + (i << PAGE_SHIFT);
                struct arena_ext *a = (struct arena_ext *)arena_map[p >> ARENA_SHIFT];
                uintptr_t pg = (p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1);
                a->released[pg / 64] |= (uint64_t)1 << (pg % 64);
            }
            r->nreleased = r->npages;
            unreleased -= fresh;
            done += fresh << PAGE_SHIFT;
        }
    }
    AO_store(&heap_stats.released, AO_load(&heap_stats.released) + done);
    lock_drop(&heap.lock);
    return done;
}

/* HUGE_PAGES: pages in a transparent huge page (2 MiB). */
#define HUGE_PAGES ((uintptr_t)(2 << 20) >> PAGE_SHIFT)

void heap_collapse(void)
{
    static volatile AO_t unsupported;
    /* A small heap clones quickly in small pages, and collapsing its
     * metadata chunks would make 2 MiB of each resident (see pages_taken). */
    if (AO_load(&unsupported) || AO_load(&heap_stats.inuse) < HEAP_HUGE_AFTER)
        return;
    /* Span structs and mark bits: written by every allocation, so split
     * by every cycle's copy-on-write. */
    struct mark_chunk *lists[2] = { (struct mark_chunk *)AO_load_acquire((volatile AO_t *)&heap.slabs),
                                    (struct mark_chunk *)AO_load_acquire((volatile AO_t *)&heap.chunks) };
    for (int l = 0; l < 2; l++) {
        for (struct mark_chunk *mc = lists[l]; mc; mc = (struct mark_chunk *)AO_load_acquire((volatile AO_t *)&mc->next)) {
            if (os_collapse(mc->base, HEAP_MARK_CHUNK) != 0) {
                AO_store(&unsupported, 1);
                return;
            }
        }
    }
    for (struct arena_ext *a = (struct arena_ext *)AO_load_acquire((volatile AO_t *)&heap.arenas); a; a = a->next) {
        uint32_t todo = 0;
        lock_take(&heap.lock);
        for (uintptr_t r = 0; r < PAGES_PER_ARENA / HUGE_PAGES; r++) {
            const uint64_t *rel = &a->released[r * HUGE_PAGES / 64];
            if (((r + 1) * HUGE_PAGES << PAGE_SHIFT) <= a->a.zeroed && (rel[0] | rel[1] | rel[2] | rel[3]) == 0)
                todo |= (uint32_t)1 << r;
        }
        lock_drop(&heap.lock);
        for (uintptr_t r = 0; todo != 0; r++, todo >>= 1) {
            if ((todo & 1) && os_collapse((void *)(a->a.base + (r * HUGE_PAGES << PAGE_SHIFT)), HUGE_PAGES << PAGE_SHIFT) != 0) {
                AO_store(&unsupported, 1);
                return;
            }
        }
    }
}

void heap_each_arena(void (*fn)(struct arena *a, void *arg), void *arg)
{
    for (struct arena_ext *a = heap.arenas; a; a = a->next)
        fn(&a->a, arg);
}

void heap_each_span(void (*fn)(struct span *s, void *arg), void *arg)
{
    for (struct arena_ext *a = heap.arenas; a; a = a->next) {
        for (uintptr_t pg = 0; pg < PAGES_PER_ARENA; pg++) {
            /* Interior entries of a free run are stale, and a stale entry
             * may name a struct reused for another span: only the entry
             * of a span's first page, naming an in-use span, counts. */
            struct span *s = a->a.spans[pg];
            if (s != NULL && AO_load_acquire(&s->state) == SPAN_IN_USE &&
                s->base == a->a.base + (pg << PAGE_SHIFT))
                fn(s, arg);
        }
    }
}

void heap_each_mark_chunk(void (*fn)(uint64_t *base, size_t bytes, void *arg), void *arg)
{
    for (struct mark_chunk *mc = (struct mark_chunk *)AO_load_acquire((volatile AO_t *)&heap.chunks); mc;
         mc = (struct mark_chunk *)AO_load_acquire((volatile AO_t *)&mc->next))
        fn(mc->base, HEAP_MARK_CHUNK, arg);
}

void heap_check(void)
{
    lock_take(&heap.lock);
    uintptr_t free_pages = 0;
    for (unsigned b = 0; b < NUM_BINS; b++) {
        int nonempty = (heap.nonempty[b / 64] >> (b % 64)) & 1;
        gh_check(nonempty == (heap.bins[b] != NULL));
        for (struct span *r = heap.bins[b]; r; r = r->next) {
            gh_check(AO_load(&r->state) == SPAN_FREE);
            gh_check(bin_index(r->npages) == b);
            gh_check(heap_span_of(r->base) == r);
            gh_check(heap_span_of(r->base + ((r->npages - 1) << PAGE_SHIFT)) == r);
            struct span *prev = heap_span_of(r->base - 1);
            gh_check(!(prev && AO_load(&prev->state) == SPAN_FREE && prev->base + (prev->npages << PAGE_SHIFT) == r->base));
            free_pages += r->npages;
        }
    }
    gh_check(free_pages == heap.free_pages);
    gh_check(AO_load(&heap_stats.inuse) + (free_pages << PAGE_SHIFT) == AO_load(&heap_stats.sys));
    lock_drop(&heap.lock);
}
