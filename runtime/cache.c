/* cache.c: the per-thread cache (Go: mcache; its span lists are
 * mimalloc's thread-local pages). See malloc.c for the layers.
 *
 * A thread's cache owns spans: per span class one current span, from whose
 * 64-slot window the fast path allocates, plus the spans it filled earlier
 * (partial: some slot free; full: none). Because the thread keeps owning
 * them, its frees into any of them take the fast path in malloc.c, with no
 * lock and no atomic read-modify-write. A span that a free empties goes
 * back to the central list, unless it is the class's only partial span.
 * Frees by other threads land in the span's xfree bits and raise the
 * owner's xfree_hint; the owner folds them in at its next refill.
 *
 * Pacing (Go's heapLive): when a span is taken from the central list all
 * its free slots count as allocated; when it is given back, the slots then
 * free are taken off again. Frees by the owner in between are exact.
 *
 * Collection. Only the owner changes its cache, except with the world
 * stopped, when the collector flushes every cache whose thread was
 * stopped outside the allocator: not in ALLOC_TEXT code and not below an
 * alloc_enter (cache_note_stopped tells; a thread waiting for a lock in a
 * slow path holds spans in registers the collector cannot see, and one
 * whose fast path a signal handler interrupted shows the handler's PC, so
 * the fast paths run under alloc_enter too). A cache
 * whose thread was caught inside keeps its spans; its current spans are
 * marked whole so that an allocation in flight survives, and the owner
 * hands them all back (to be swept) at its next refill, when it sees that
 * sweep_gen moved on. A concurrent cycle (gc.c) flushes only the caches that were
 * idle through it, so that its pauses do not grow with the spans cached:
 * the others keep their spans, every free slot of which the cycle marked,
 * and hand them back the same way.
 *
 * Locking: caches.lock guards the list of caches and the dead-cache list.
 * Everything else here is the owner's, or the stopped world's. */
#include <string.h>
#include <pthread.h>
#include "lock.h"
#include "cache.h"
#include "central.h"
#include "heap.h"
#include "sweep.h"
#include "stats.h"
#include "gc.h"
#include "os.h"
#include "options.h"
#include "print.h"
#include "threads.h"
#include "mprof.h"

/* Threads without a cache of their own point at cache_none, whose slots
 * are all span_empty and which owns no span, so that neither fast path
 * needs a NULL test. */
struct cache cache_none;
__thread struct cache *cache_self __attribute__((tls_model("initial-exec"))) = &cache_none;
__thread int alloc_depth __attribute__((tls_model("initial-exec")));

/* cache_free_pages_reset empties c's page hints. */
static void cache_free_pages_reset(struct cache *c)
{
    for (unsigned i = 0; i < CACHE_FREE_PAGES; i++) {
        c->free_pages[i].page = CACHE_NO_PAGE;
        c->free_pages[i].span = &span_empty;
    }
}

__attribute__((constructor(101))) static void cache_none_init(void)
{
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
        cache_none.alloc[i] = &span_empty;
    cache_free_pages_reset(&cache_none);
}

extern char __start_gh_alloc_text[] __attribute__((visibility("hidden")));
extern char __stop_gh_alloc_text[] __attribute__((visibility("hidden")));

static struct {
    pthread_mutex_t lock;
    struct cache *live;   /* every live cache */
    struct cache *dead;   /* caches of exited threads, for reuse */
    unsigned count;
    pthread_key_t key;    /* its destructor gives a thread's cache back at exit */
    pthread_once_t once;
    pthread_t holder;     /* the thread in cache_lock_all..cache_unlock_all */
    volatile AO_t held;   /* holder is valid */
} caches = { .lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT };

/* ---- owned-span lists ----
 *
 * A span moving between c's lists, or on its way back to the central
 * list, is on none of them for a moment; c->transit names it meanwhile, so
 * that a collector that stops this thread right then still finds every
 * span the cache owns (cache_each_busy_span). The signal fences keep the
 * compiler from moving those stores across the list updates that the stop
 * handler, running on this thread, could interrupt. */

static ALLOC_TEXT void set_transit(struct cache *c, struct span *s)
{
    c->transit = s;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

static ALLOC_TEXT void owned_push(struct cache *c, struct span *s, unsigned list)
{
    struct span **head = list == LIST_CACHE_FULL ? &c->full[s->spanclass] : &c->partial[s->spanclass];
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
    s->list = (uint8_t)list;
    set_transit(c, NULL);
}

static ALLOC_TEXT void owned_remove(struct cache *c, struct span *s)
{
    set_transit(c, s);
    struct span **head = s->list == LIST_CACHE_FULL ? &c->full[s->spanclass] : &c->partial[s->spanclass];
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
    s->list = LIST_NONE;
}

/* release gives owned span s (c's transit span, on none of c's lists)
 * back to the central list. A span a collection passed by while c owned
 * it goes back unswept, with that collection's marks, and is swept there.
 * Its free slots come off heapLive only if no collection ended since c
 * took its spans: one that did recomputed heapLive (Go: releaseAll). */
static ALLOC_TEXT void release(struct cache *c, struct span *s)
{
    /* gh_free's hints name only spans c owns. */
    for (unsigned i = 0; i < CACHE_FREE_PAGES; i++)
        if (c->free_pages[i].span == s)
            c->free_pages[i].page = CACHE_NO_PAGE;
    unsigned used = central_uncache_span(s);
    if (c->sweep_gen == AO_load(&sweep_gen))
        stats_heap_live_sub((uintptr_t)(s->nelems - used) * s->elemsize);
    set_transit(c, NULL);
}

/* demote files the no-longer-current span s (c's transit span) on c's
 * partial or full list. */
static ALLOC_TEXT void demote(struct cache *c, struct span *s)
{
    s->alloc_cache = 0;
    s->cache_word = UINT32_MAX; /* no free in it matches the window */
    s->alloc_count = span_count(s);
    unsigned list = s->alloc_count < s->nelems ? LIST_CACHE_PARTIAL : LIST_CACHE_FULL;
    s->free_left = list == LIST_CACHE_FULL ? 1 : s->alloc_count;
    owned_push(c, s, list);
}

/* make_current makes c's transit span s its current span of the class. */
static ALLOC_TEXT void make_current(struct cache *c, struct span *s)
{
    s->list = LIST_CACHE_CURRENT;
    s->free_left = CACHE_FREE_LEFT_CURRENT;
    s->cache_word = span_nwords(s) - 1; /* the window search starts at word 0 */
    span_next_window(s);
    c->alloc[s->spanclass] = s;
    set_transit(c, NULL);
}

/* uncurrent takes c's current span of class spc out of its slot, as its
 * transit span. */
static ALLOC_TEXT struct span *uncurrent(struct cache *c, unsigned spc)
{
    struct span *s = c->alloc[spc];
    set_transit(c, s);
    c->alloc[spc] = &span_empty;
    s->list = LIST_NONE;
    return s;
}

/* release_all gives back every span c owns. */
static ALLOC_TEXT void release_all(struct cache *c)
{
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
        struct span *s = c->alloc[i];
        if (s != &span_empty)
            release(c, uncurrent(c, i));
        struct span **lists[2] = { &c->partial[i], &c->full[i] };
        for (int l = 0; l < 2; l++) {
            while ((s = *lists[l]) != NULL) {
                owned_remove(c, s);
                release(c, s);
            }
        }
    }
}

static void fold_counts(struct cache *c)
{
    for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++) {
        if (c->nmalloc[i])
            AO_fetch_and_add(&stats.small_nmalloc[i], c->nmalloc[i]);
        stats_small_freed(i, (unsigned)c->nfree[i]);
        c->nmalloc[i] = c->nfree[i] = 0;
    }
}

/* collect_xfree folds in the frees other threads made into c's spans. */
static ALLOC_TEXT void collect_xfree(struct cache *c)
{
    AO_store_full(&c->xfree_hint, 0);
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
        for (struct span *s = c->partial[i]; s; s = s->next)
            if (span_drain_xfree(s))
                s->free_left = s->alloc_count = span_count(s);
        /* Releasing a span may block, and a collection may then empty our
         * lists: start over from the head after each release. */
        struct span *s = c->full[i];
        while (s != NULL) {
            struct span *next = s->next;
            if (span_drain_xfree(s)) {
                owned_remove(c, s);
                s->free_left = s->alloc_count = span_count(s);
                if (s->alloc_count == 0) {
                    release(c, s);
                    next = c->full[i];
                } else {
                    owned_push(c, s, LIST_CACHE_PARTIAL);
                }
            }
            s = next;
        }
    }
}

/* ---- thread life ---- */

/* cache_exit runs at thread exit (pthread key destructor). A thread that
 * allocates again from a later destructor gets a fresh cache, and the key
 * destructor runs again for it. */
static void cache_exit(void *arg)
{
    struct cache *c = arg;
    cache_self = &cache_none;
    lock_take(&caches.lock);
    release_all(c);
    fold_counts(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        caches.live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = caches.dead;
    caches.dead = c;
    caches.count--;
    lock_drop(&caches.lock);
}

static void cache_once(void)
{
    pthread_key_create(&caches.key, cache_exit);
}

struct cache *cache_get(void)
{
    struct cache *c = cache_self;
    if (c != &cache_none)
        return c;
    options_init();
    heap_init();
    gc_init();
    threads_register_self();
    pthread_once(&caches.once, cache_once);
    lock_take(&caches.lock);
    c = caches.dead;
    if (c)
        caches.dead = c->next;
    else
        c = os_meta_alloc(sizeof(*c), OS_STAT_MCACHE);
    if (c) {
        memset(c, 0, sizeof(*c));
        for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
            c->alloc[i] = &span_empty;
        cache_free_pages_reset(c);
        c->sweep_gen = AO_load(&sweep_gen);
        c->next = caches.live;
        if (c->next)
            c->next->prev = c;
        caches.live = c;
        caches.count++;
    }
    lock_drop(&caches.lock);
    if (c == NULL)
        return NULL;
    c->rng = (uint64_t)(uintptr_t)c ^ (uint64_t)os_nanotime();
    c->next_sample = mprof_next_sample(&c->rng);
    cache_self = c;
    pthread_setspecific(caches.key, c);
    return c;
}

/* ---- refill ---- */

ALLOC_TEXT struct span *cache_refill(struct cache *c, unsigned spc)
{
again:
    if (unlikely(c->sweep_gen != AO_load(&sweep_gen))) {
        /* A collection ran while we were inside the allocator: our spans
         * still need sweeping. Hand them all back. */
        release_all(c);
        c->sweep_gen = AO_load(&sweep_gen);
    }
    struct span *s = c->alloc[spc];
    if (s != &span_empty) {
        if (span_next_window(s))
            return s;
        demote(c, uncurrent(c, spc));
    }
    if (AO_load(&c->xfree_hint))
        collect_xfree(c);
    s = c->partial[spc];
    if (s != NULL) {
        owned_remove(c, s);
        /* A collection that stopped us in here before s became our transit
         * span left it unmarked where we would now allocate: hand
         * everything back first. (Once it is the transit span, a
         * collection marks it whole.) */
        if (unlikely(c->sweep_gen != AO_load(&sweep_gen))) {
            owned_push(c, s, LIST_CACHE_PARTIAL);
            goto again;
        }
        make_current(c, s);
        return s;
    }
    gc_maybe_start(0);
    return central_cache_span(spc, c);
}

ALLOC_TEXT void cache_free_noncurrent(struct cache *c, struct span *s)
{
    unsigned spc = s->spanclass;
    if (s->list == LIST_CACHE_CURRENT) {
        s->free_left = CACHE_FREE_LEFT_CURRENT;
        return;
    }
    /* Only the owner's frees count free_left down, and nothing else frees
     * into an owned span's alloc bits but a drain of remote frees, which
     * recounts: so a full span now holds one object less than it can, and
     * a partial one is empty. */
    s->free_left = s->alloc_count = s->list == LIST_CACHE_FULL ? s->nelems - 1 : 0;
    if (s->list == LIST_CACHE_FULL) {
        owned_remove(c, s);
        owned_push(c, s, LIST_CACHE_PARTIAL);
    }
    if (s->alloc_count == 0 && !(c->partial[spc] == s && s->next == NULL)) {
        owned_remove(c, s);
        release(c, s);
    }
}

/* ---- the collector's side ---- */

void cache_note_stopped(uintptr_t pc)
{
    struct cache *c = cache_self;
    if (c != &cache_none)
        c->stopped_busy = alloc_depth > 0 ||
                          (pc >= (uintptr_t)__start_gh_alloc_text && pc < (uintptr_t)__stop_gh_alloc_text);
}

void cache_flush_all(void)
{
    for (struct cache *c = caches.live; c; c = c->next) {
        if (!c->stopped_busy) {
            release_all(c);
            fold_counts(c);
        }
    }
}

void cache_stamp_flushed(uintptr_t gen)
{
    for (struct cache *c = caches.live; c; c = c->next)
        if (!c->stopped_busy)
            c->sweep_gen = gen;
}

void cache_flush_idle(uintptr_t gen)
{
    uintptr_t now = AO_load(&sweep_gen);
    for (struct cache *c = caches.live; c; c = c->next) {
        if (!c->stopped_busy && c->sweep_gen != gen && c->sweep_gen != now) {
            release_all(c);
            fold_counts(c);
            c->sweep_gen = now;
        }
    }
}

/* blacken marks every slot of s. A thread stopped inside the allocator
 * may be between setting a slot's alloc bit and holding the object's
 * address anywhere we scan, or about to allocate slots that are free now;
 * marking them all keeps whatever it is doing safe, at the cost of keeping
 * this span's garbage for one more cycle. */
static void blacken(struct span *s)
{
    for (unsigned w = 0; w < span_nwords(s); w++)
        AO_or((volatile AO_t *)&s->mark_bits[w], (AO_t)span_valid_mask(s, w));
}

/* unmark readies a span that a busy cache kept through an earlier
 * collection for the coming mark (sweep_skip). A transit span whose
 * release got as far as central_uncache_span is on a central list
 * already (owner cleared): stamping it swept there would leave a swept
 * span in the unswept set, so it is left to the central sweep. */
static void unmark(struct span *s)
{
    if (AO_load((volatile AO_t *)&s->owner) != 0 && sweep_needed(s))
        sweep_skip(s);
}

/* each_span calls fn on every span c owns. */
static void each_span(struct cache *c, void (*fn)(struct span *))
{
    if (c->transit != NULL)
        fn(c->transit);
    for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++) {
        if (c->alloc[i] != &span_empty)
            fn(c->alloc[i]);
        for (struct span *s = c->partial[i]; s; s = s->next)
            fn(s);
        for (struct span *s = c->full[i]; s; s = s->next)
            fn(s);
    }
}

void cache_each_busy_span(void (*fn)(struct span *))
{
    for (struct cache *c = caches.live; c; c = c->next)
        if (c->stopped_busy)
            each_span(c, fn);
}

void cache_unmark_stale(void)
{
    uintptr_t gen = AO_load(&sweep_gen);
    for (struct cache *c = caches.live; c; c = c->next)
        if (c->sweep_gen != gen)
            each_span(c, unmark);
}

void cache_unmark_busy(void)
{
    /* A thread stopped while it waits to hand a span back (release, in
     * central_uncache_span) may have waited through a whole cycle: that
     * span carries that cycle's marks, so ready it too. */
    for (struct cache *c = caches.live; c; c = c->next)
        if (!c->stopped_busy && c->transit != NULL)
            unmark(c->transit);
    cache_each_busy_span(unmark);
}

/* Only a busy cache's current spans, and its span in transit (which may
 * be about to become current), can see an allocation in flight or soon;
 * the spans on its lists keep the marks the cycle gave them and are swept
 * with them when they go back to the central list. */
void cache_blacken_busy(void)
{
    for (struct cache *c = caches.live; c; c = c->next) {
        if (!c->stopped_busy)
            continue;
        if (c->transit != NULL)
            blacken(c->transit);
        for (unsigned i = 0; i < NUM_SPAN_CLASSES; i++)
            if (c->alloc[i] != &span_empty)
                blacken(c->alloc[i]);
    }
}

void cache_sum_counts(uint64_t *nmalloc, uint64_t *nfree)
{
    for (struct cache *c = caches.live; c; c = c->next)
        for (unsigned i = 0; i < NUM_SIZE_CLASSES; i++) {
            nmalloc[i] += c->nmalloc[i];
            nfree[i] += c->nfree[i];
        }
}

unsigned cache_count(void) { return caches.count; }

/* cache_lock_all also readies stopped_busy for the coming stop: every
 * cache counts as busy until its thread's stop handler says otherwise, so
 * a cache whose thread is not stopped (one that unregistered on its way
 * out) is never flushed under it. The caller's own cache is not busy. */
void cache_lock_all(void)
{
    pthread_mutex_lock(&caches.lock);
    caches.holder = pthread_self();
    AO_store(&caches.held, 1);
    for (struct cache *c = caches.live; c; c = c->next)
        c->stopped_busy = c != cache_self;
}

void cache_unlock_all(void)
{
    AO_store(&caches.held, 0);
    pthread_mutex_unlock(&caches.lock);
}

int cache_locked_by_me(void)
{
    return AO_load(&caches.held) && pthread_equal(caches.holder, pthread_self());
}
