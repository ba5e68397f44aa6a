/* stats.h: the heap's global counters and MemStats (stats.c; Go: mstats).
 * Counters a thread bumps on every allocation live in its cache (cache.h)
 * and are summed in with the world stopped; the ones here are bumped on
 * slow paths only, atomically. */
#ifndef GH_STATS_H
#define GH_STATS_H

#include <stdint.h>
#include "atomic.h"
#include "span.h"

struct stats_global {
    volatile AO_t heap_live;          /* Go's heapLive: marked at the last GC + allocated since; signed */
    volatile AO_t heap_marked;        /* bytes marked by the last cycle */
    volatile AO_t large_nmalloc, large_malloc_bytes;
    volatile AO_t large_nfree, large_free_bytes;
    volatile AO_t small_nmalloc[NUM_SIZE_CLASSES]; /* from caches that were flushed */
    volatile AO_t small_nfree[NUM_SIZE_CLASSES];   /* sweeping, remote and unowned frees, flushed caches */
};
extern struct stats_global stats;

static inline void stats_heap_live_add(uintptr_t n) { AO_fetch_and_add(&stats.heap_live, (AO_t)n); }
static inline void stats_heap_live_sub(uintptr_t n) { AO_fetch_and_add(&stats.heap_live, (AO_t)0 - (AO_t)n); }
/* stats_heap_live reads heapLive, never below zero. */
static inline uint64_t stats_heap_live(void)
{
    int64_t v = (int64_t)AO_load(&stats.heap_live);
    return v < 0 ? 0 : (uint64_t)v;
}
static inline void stats_small_freed(unsigned sizeclass, unsigned n)
{
    if (n)
        AO_fetch_and_add(&stats.small_nfree[sizeclass], n);
}
void stats_large_freed(const struct span *s);
void stats_large_allocated(uintptr_t bytes, int new_object);

#endif
