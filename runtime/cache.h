/* cache.h: the per-thread cache (Go: mcache). See malloc.c. */
#ifndef GH_CACHE_H
#define GH_CACHE_H

#include <stdint.h>
#include "span.h"

/* Values of span.list for spans a cache owns (central.h has the others). */
enum { LIST_CACHE_CURRENT = 8, LIST_CACHE_PARTIAL = 9, LIST_CACHE_FULL = 10 };

/* span.free_left of an owned span counts the owner's fast frees until one
 * needs cache_free_noncurrent: on the partial list, the objects allocated
 * (the last free empties the span); on the full list, 1 (the first free
 * moves it to the partial list); for a current span, this many. */
#define CACHE_FREE_LEFT_CURRENT ((uint32_t)1 << 31)

/* gh_free's hints: page number -> span for pages of spans the cache owns,
 * direct-mapped by the page number's low bits. An entry names only a span
 * the cache owns (release() clears the span's entries), so a hit needs no
 * page map lookup and no owner check. Unused entries hold
 * CACHE_NO_PAGE, which no address's page number equals. */
#define CACHE_FREE_PAGES 64
#define CACHE_NO_PAGE (~(uintptr_t)0)
struct cache_page {
    uintptr_t page;
    struct span *span;
};

struct cache {
    /* Hot: touched on every malloc and free, first. */
    struct span *alloc[NUM_SPAN_CLASSES]; /* owner: current span per span class, span_empty if none */
    struct cache_page free_pages[CACHE_FREE_PAGES]; /* owner: gh_free's page -> owned span hints */
    int64_t next_sample;                  /* owner: bytes until the next profile sample */
    uint64_t nmalloc[NUM_SIZE_CLASSES];   /* owner: small objects allocated */
    uint64_t nfree[NUM_SIZE_CLASSES];     /* owner: small objects freed by the owner */

    /* Warm: refills. */
    struct span *partial[NUM_SPAN_CLASSES]; /* owner: owned spans with a free slot, not current */
    struct span *full[NUM_SPAN_CLASSES];    /* owner: owned spans without one */
    volatile AO_t xfree_hint;             /* set by threads that freed into our spans */
    struct span *transit;                 /* owner: a span between our lists (cache.c) */
    uintptr_t sweep_gen;                  /* owner: sweep_gen our spans were swept for */

    /* Cold. */
    uint64_t rng;                         /* owner: profiler's random state */
    int stopped_busy;                     /* set by the stop handler: stopped inside ALLOC_TEXT */
    struct cache *next, *prev;            /* caches.lock: every live cache */
};

/* The calling thread's cache, or &cache_none before its first allocation
 * and after its exit began (never NULL). */
extern struct cache cache_none;
extern __thread struct cache *cache_self __attribute__((tls_model("initial-exec")));

/* Depth of allocator paths the thread is in (malloc.c: the fast paths
 * too, since a signal handler of the program's may interrupt them and
 * hide their PC from the stop handler); the stop handler counts a thread
 * inside one as busy (cache_note_stopped). */
extern __thread int alloc_depth __attribute__((tls_model("initial-exec")));
static inline void alloc_enter(void)
{
    alloc_depth++;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
static inline void alloc_leave(void)
{
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    alloc_depth--;
}

/* cache_get returns the calling thread's cache, making it (and
 * registering the thread with the collector) on first use. NULL only when
 * out of memory. */
struct cache *cache_get(void);

/* cache_refill makes c's current span of class spc one with a free slot:
 * the next window of the current span, a span of c's partial list, or one
 * from the central list (which may start a collection first). Returns it,
 * or NULL when out of memory. */
struct span *cache_refill(struct cache *c, unsigned spc);

/* cache_free_noncurrent handles an owner's free that ran s->free_left
 * down to 0: a full span moves to the partial list, an empty one goes back
 * to the central list, and a current span just counts again. */
void cache_free_noncurrent(struct cache *c, struct span *s);

/* cache_note_stopped is called by the stop-the-world signal handler on
 * the stopped thread with its interrupted program counter. */
void cache_note_stopped(uintptr_t pc);

/* Collector interface, world stopped, every allocator lock held: */
/* cache_flush_all gives every cached span back to the central lists and
 * folds every cache's counters into stats, except for caches whose thread
 * stopped inside the allocator (ALLOC_TEXT, or under alloc_enter): those
 * keep their spans until their owner's next refill (cache_blacken_busy). */
void cache_flush_all(void);
/* cache_stamp_flushed records, after sweep_gen moved on to gen, that the
 * flushed caches hold no span of an older generation. */
void cache_stamp_flushed(uintptr_t gen);
/* cache_flush_idle, called after sweep_gen moved on from gen, flushes the
 * caches not busy whose owners have not refilled since before gen (their
 * spans carry two collections' marks) and stamps them; other caches keep
 * their spans and hand them back, unswept, at their next refill. */
void cache_flush_idle(uintptr_t gen);
/* cache_unmark_busy readies, before a mark, the spans that busy caches
 * kept through an earlier collection without a sweep (sweep_skip). */
void cache_unmark_busy(void);
/* cache_unmark_stale readies, before a concurrent mark, the spans of
 * every cache (busy or not) that has not refilled since the last
 * collection ended: they still carry its marks, so they are stamped swept
 * with nothing freed (sweep_skip), and the coming cycle alone judges
 * them. */
void cache_unmark_stale(void);
/* cache_blacken_busy marks every slot of the current (and in-transit)
 * spans of busy caches, so that an allocation in flight on a stopped thread
 * survives the sweep. */
void cache_blacken_busy(void);
/* cache_each_busy_span calls fn on every span a busy cache owns. */
void cache_each_busy_span(void (*fn)(struct span *));
/* cache_sum_counts adds the live caches' unflushed counters to the arrays. */
void cache_sum_counts(uint64_t *nmalloc, uint64_t *nfree);
/* cache_count returns the number of live caches. */
unsigned cache_count(void);
/* cache_lock_all/unlock_all take the cache list lock (before the stop). */
void cache_lock_all(void);
void cache_unlock_all(void);
/* cache_locked_by_me tells whether the calling thread is between
 * cache_lock_all and cache_unlock_all (a fork handler that took every
 * allocator lock already). */
int cache_locked_by_me(void);

#endif
