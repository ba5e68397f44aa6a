/* central.h: per-span-class lists of spans (Go: mcentral). See malloc.c. */
#ifndef GH_CENTRAL_H
#define GH_CENTRAL_H

#include <pthread.h>
#include "span.h"

/* span->list: 0 = on no list, else kind | set << 2. Which of the two sets
 * is swept flips with each cycle, as in Go: set (sweep_gen / 2) % 2 holds
 * swept spans, the other set the spans still to sweep, so starting a sweep
 * moves nothing. */
enum central_list { LIST_NONE = 0, LIST_PARTIAL = 1, LIST_FULL = 2 };

struct central {
    pthread_mutex_t lock;
    struct span *partial[2];  /* unowned spans with a free slot */
    struct span *full[2];     /* unowned spans without one (all large spans) */
    unsigned nkept;           /* empty spans kept on partial (central.c) */
} __attribute__((aligned(64)));

extern struct central centrals[NUM_SPAN_CLASSES];

/* central_cache_span makes a swept span of class spc with a free slot the
 * current span of cache c (its free slots counted into heapLive) and
 * returns it, or returns NULL when out of memory. It sweeps unswept spans
 * of the class on the way (lazy sweep) and takes fresh pages from the
 * heap last. */
struct span *central_cache_span(unsigned spc, struct cache *c);

/* central_uncache_span gives span s back from its owner: the span becomes
 * unowned, pending remote frees are folded in, and it goes on the partial
 * or full list, or back to the heap if empty. Returns its alloc_count. */
unsigned central_uncache_span(struct span *s);

/* central_free_unowned frees the object at p, slot idx of span s of class
 * spc, when no cache owns s (a remote free that found it unowned). Returns
 * 0; 1 if a cache owns the span again (retry the remote path); -1 if p is
 * not a live object there (double or invalid free: report it). */
int central_free_unowned(struct span *s, unsigned spc, uintptr_t p, uintptr_t idx);

/* central_drain_unowned folds span s's pending remote frees in under the
 * class lock if no cache owns it (a remote free raced with uncaching). */
void central_drain_unowned(struct span *s, unsigned spc);

/* central_add_large puts a new large span on its class's full list;
 * central_free_large takes span s of class spc holding p off it and frees
 * its pages (0), or returns -1 if p is not a live large object. */
void central_add_large(struct span *s);
int central_free_large(struct span *s, unsigned spc, uintptr_t p);

/* central_drop_kept returns every kept empty span (central.c) to the page
 * heap, so that its pages can go back to the OS. Takes each class lock. */
void central_drop_kept(void);

/* Collector interface (world stopped, all central locks held by the
 * collector, see gc.c): */
void central_lock_all(void);
void central_unlock_all(void);
/* Sweep one unswept span of class spc; 0 when none was left. Takes and
 * releases the class lock. */
int central_sweep_one(unsigned spc);
/* Call fn on every in-use span on a central list (world stopped). */
void central_each_span(void (*fn)(struct span *s, void *arg), void *arg);

#endif
