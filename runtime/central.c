/* central.c: spans of one span class that no thread cache owns (Go:
 * mcentral). See malloc.c for how caches, central lists and the page heap
 * fit together.
 *
 * Invariant: outside the collector's stop, each in-use span is either owned
 * by exactly one thread cache (owner != NULL, on no list) or unowned and on
 * exactly one list of its class: partial or full, in the swept set or the
 * unswept set (central.h). Spans in the unswept set wait for the lazy sweep
 * here, for the background sweeper or for sweep_all. Large spans (class 0)
 * live on full.
 *
 * Empty spans go back to the page heap, except that each small class
 * keeps a few on its partial list (kept: at least one span and at most
 * CENTRAL_KEEP_BYTES of them): a class whose spans hold few objects
 * empties and refills a span every few allocations, and the page heap's
 * lock, bins and span set-up cost far more than taking a span off a list.
 * gh_free_os_memory hands them back (central_drop_kept).
 *
 * Locking: centrals[spc].lock guards the lists, the unowned spans' bits and
 * alloc_count, and the counters. Lock order: central, then heap. Every path
 * that found a span without the lock re-validates it under the lock. Hot
 * path: none; caches call in only to refill. */
#include <string.h>
#include "lock.h"
#include "central.h"
#include "heap.h"
#include "sweep.h"
#include "stats.h"
#include "gc.h"
#include "cache.h"
#include "print.h"

struct central centrals[NUM_SPAN_CLASSES];

#define CENTRAL_KEEP_BYTES ((uintptr_t)64 << 10)

__attribute__((constructor(101))) static void central_init_locks(void)
{
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
        pthread_mutex_init(&centrals[i].lock, NULL);
}

static unsigned swept_set(void) { return (unsigned)(AO_load(&sweep_gen) >> 1) & 1; }

static struct span **list_head(struct central *c, unsigned list)
{
    unsigned set = list >> 2;
    return (list & 3) == LIST_PARTIAL ? &c->partial[set] : &c->full[set];
}

/* list_push files s under kind in the swept set, or in the unswept set
 * when s still needs sweeping (a span a cache kept across a collection). */
static void list_push(struct central *c, struct span *s, unsigned kind)
{
    unsigned list = kind | (swept_set() ^ (sweep_needed(s) ? 1u : 0u)) << 2;
    gh_assert(s->owner == NULL && s->list == LIST_NONE);
    struct span **h = list_head(c, list);
    s->prev = NULL;
    s->next = *h;
    if (*h)
        (*h)->prev = s;
    *h = s;
    s->list = (uint8_t)list;
    if (s->alloc_count == 0) {
        s->kept = 1;
        c->nkept++;
    }
}


static void list_remove(struct central *c, struct span *s)
{
    struct span **h = list_head(c, s->list);
    if (s->prev)
        s->prev->next = s->next;
    else
        *h = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->list = LIST_NONE;
    if (s->kept)
        c->nkept--;
}

static struct span *pop_unswept(struct central *c)
{
    unsigned u = swept_set() ^ 1;
    struct span *s = c->partial[u] ? c->partial[u] : c->full[u];
    if (s)
        list_remove(c, s);
    return s;
}

static int is_large(const struct span *s) { return spanclass_sizeclass(s->spanclass) == 0; }

/* central_file puts an unowned swept span where its fill level says, or
 * returns its pages to the heap when it holds nothing. */
static void central_file(struct central *c, struct span *s)
{
    if (s->alloc_count == 0) {
        if (is_large(s)) {
            stats_large_freed(s);
        } else if (c->nkept == 0 || (c->nkept + 1) * (s->npages << PAGE_SHIFT) <= CENTRAL_KEEP_BYTES) {
            list_push(c, s, LIST_PARTIAL);
            return;
        }
        heap_free_span(s);
        return;
    }
    list_push(c, s, s->alloc_count < s->nelems ? LIST_PARTIAL : LIST_FULL);
}

/* central_own makes s the current span of class spc in cache c. It runs
 * under the class lock, so that a collector stopping this thread finds s
 * either on a central list or in c, never in between. A fresh span made
 * just before a collection started needs its (empty) sweep here.
 * While a cycle marks, every free slot is marked first (allocate black):
 * the concurrent marker only knows the objects of its snapshot, and the
 * collector sets the phase with every central lock held, so the test
 * here sees the phase the cache will allocate in. */
static void central_own(struct span *s, struct cache *c, unsigned spc)
{
    gh_assert(s->owner == NULL && s->list == LIST_NONE);
    s->kept = 0; /* in use again */
    if (sweep_needed(s))
        sweep_span(s);
    AO_store_full((volatile AO_t *)&s->owner, (AO_t)c);
    span_drain_xfree(s);
    s->alloc_count = span_count(s);
    if (gc_marking())
        for (unsigned w = 0; w < span_nwords(s); w++)
            AO_or((volatile AO_t *)&s->mark_bits[w], (AO_t)(~s->alloc_bits[w] & span_valid_mask(s, w)));
    stats_heap_live_add((uintptr_t)(s->nelems - s->alloc_count) * s->elemsize);
    s->list = LIST_CACHE_CURRENT;
    s->free_left = CACHE_FREE_LEFT_CURRENT;
    s->cache_word = span_nwords(s) - 1; /* the window search starts at word 0 */
    span_next_window(s);
    c->alloc[spc] = s;
}

struct span *central_cache_span(unsigned spc, struct cache *owner)
{
    struct central *c = &centrals[spc];
    lock_take(&c->lock);
    unsigned set = swept_set();
    struct span *s = c->partial[set];
    if (s)
        list_remove(c, s);
    /* Lazy sweep: look at a bounded number of unswept spans of this class
     * before taking new pages (Go's spanBudget). */
    for (int budget = 100; s == NULL && budget > 0; budget--) {
        struct span *u = pop_unswept(c);
        if (u == NULL)
            break;
        if (sweep_span(u) == SWEEP_FULL)
            list_push(c, u, LIST_FULL);
        else
            s = u;
    }
    if (s == NULL) {
        lock_drop(&c->lock);
        unsigned sc = spanclass_sizeclass(spc);
        int needzero;
        s = heap_alloc_span(class_to_npages[sc], 1, &needzero);
        if (s == NULL)
            return NULL;
        s->needzero = (uint8_t)needzero;
        span_init_small(s, spc, AO_load(&sweep_gen), gc_marking());
        lock_take(&c->lock);
    }
    central_own(s, owner, spc);
    lock_drop(&c->lock);
    return s;
}

unsigned central_uncache_span(struct span *s)
{
    struct central *c = &centrals[s->spanclass];
    lock_take(&c->lock);
    gh_assert(s->owner != NULL && s->list == LIST_NONE);
    AO_store_full((volatile AO_t *)&s->owner, 0);
    span_drain_xfree(s);
    s->alloc_count = span_count(s);
    s->alloc_cache = 0;
    unsigned n = s->alloc_count;
    central_file(c, s);
    lock_drop(&c->lock);
    return n;
}

/* still_ours re-validates, under the class lock, a span found without it. */
static int still_ours(const struct span *s, unsigned spc, uintptr_t p)
{
    return AO_load(&s->state) == SPAN_IN_USE && s->spanclass == spc && p >= s->base && p < s->limit &&
           s->list != LIST_NONE;
}

int central_free_unowned(struct span *s, unsigned spc, uintptr_t p, uintptr_t idx)
{
    struct central *c = &centrals[spc];
    lock_take(&c->lock);
    if (AO_load((volatile AO_t *)&s->owner) != 0 && AO_load(&s->state) == SPAN_IN_USE && s->spanclass == spc) {
        lock_drop(&c->lock);
        return 1;
    }
    if (!still_ours(s, spc, p)) {
        lock_drop(&c->lock);
        return -1;
    }
    span_drain_xfree(s);
    if (sweep_needed(s)) {
        list_remove(c, s);
        enum sweep_result r = sweep_span(s);
        list_push(c, s, r == SWEEP_FULL ? LIST_FULL : LIST_PARTIAL);
    }
    uint64_t m = (uint64_t)1 << (idx % 64);
    int ok = (s->alloc_bits[idx / 64] & m) != 0;
    if (ok) {
        s->alloc_bits[idx / 64] &= ~m;
        s->needzero = 1;
        if (gc_marking())
            span_set_mark(s, idx);
        stats_small_freed(spanclass_sizeclass(spc), 1);
        stats_heap_live_sub(s->elemsize);
        s->alloc_count--;
    }
    if (s->alloc_count == 0 || (ok && s->alloc_count == s->nelems - 1)) {
        list_remove(c, s);
        central_file(c, s);
    }
    lock_drop(&c->lock);
    return ok ? 0 : -1;
}

void central_drain_unowned(struct span *s, unsigned spc)
{
    struct central *c = &centrals[spc];
    lock_take(&c->lock);
    if (AO_load((volatile AO_t *)&s->owner) == 0 && AO_load(&s->state) == SPAN_IN_USE && s->spanclass == spc &&
        s->list != LIST_NONE) {
        list_remove(c, s);
        if (sweep_needed(s))
            sweep_span(s);
        span_drain_xfree(s);
        s->alloc_count = span_count(s);
        central_file(c, s);
    }
    lock_drop(&c->lock);
}

void central_add_large(struct span *s)
{
    struct central *c = &centrals[s->spanclass];
    lock_take(&c->lock);
    if (sweep_needed(s)) {
        /* A collection ran between allocating s and filing it; its object
         * is live (the allocating thread holds it), so only the stamp and
         * the cycle's mark need resetting. */
        AO_store((volatile AO_t *)&s->mark_bits[0], 0);
        AO_store_release(&s->sweepgen, AO_load(&sweep_gen));
    }
    /* Allocated while a cycle marks: black, whatever phase span_init_large
     * saw (the phase only changes with every central lock held). */
    if (gc_marking())
        AO_store((volatile AO_t *)&s->mark_bits[0], 1);
    list_push(c, s, LIST_FULL);
    lock_drop(&c->lock);
}

int central_free_large(struct span *s, unsigned spc, uintptr_t p)
{
    struct central *c = &centrals[spc];
    lock_take(&c->lock);
    if (!still_ours(s, spc, p) || s->base != p) {
        lock_drop(&c->lock);
        return -1;
    }
    list_remove(c, s);
    s->alloc_bits[0] = 0;
    s->alloc_count = 0;
    stats_heap_live_sub(s->npages << PAGE_SHIFT);
    central_file(c, s);
    lock_drop(&c->lock);
    return 0;
}

void central_drop_kept(void)
{
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct central *c = &centrals[i];
        lock_take(&c->lock);
        for (unsigned set = 0; set < 2; set++) {
            struct span *s = c->partial[set];
            while (s != NULL) {
                struct span *next = s->next;
                if (s->kept) {
                    list_remove(c, s);
                    heap_free_span(s);
                }
                s = next;
            }
        }
        lock_drop(&c->lock);
    }
}

void central_lock_all(void)
{
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
        pthread_mutex_lock(&centrals[i].lock);
}

void central_unlock_all(void)
{
    for (unsigned i = NUM_SPAN_CLASSES; i-- > 0;)
        pthread_mutex_unlock(&centrals[i].lock);
}

int central_sweep_one(unsigned spc)
{
    struct central *c = &centrals[spc];
    lock_take(&c->lock);
    struct span *s = pop_unswept(c);
    if (s) {
        sweep_span(s);
        central_file(c, s);
    }
    lock_drop(&c->lock);
    return s != NULL;
}

void central_each_span(void (*fn)(struct span *s, void *arg), void *arg)
{
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct central *c = &centrals[i];
        struct span *lists[4] = { c->partial[0], c->partial[1], c->full[0], c->full[1] };
        for (int l = 0; l < 4; l++)
            for (struct span *s = lists[l]; s; s = s->next)
                fn(s, arg);
    }
}
