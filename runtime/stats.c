/* stats.c: MemStats (Go: mstats.go). gh_read_mem_stats stops the world,
 * as Go's ReadMemStats does, so that the per-thread counters, the heap's
 * page counts and the collector's records are read at one instant; it
 * does not flush the caches, it sums their counters, so the stop costs
 * O(threads + size classes), independent of the heap's size.
 *
 * It waits only for what it must: a stop of the collector's (both take
 * the cache list lock first, which also keeps exiting threads from
 * unlinking their caches under the reader). It never waits for a
 * concurrent mark: the collector thread holds gc.lock through a whole
 * cycle, and this reader does not take it; the collector writes the cycle
 * records with the world stopped (gc_book), so a stopped world sees them
 * whole.
 *
 * The runtime's own threads (collector, sweeper, scavenger) are not
 * registered and keep running while the world is stopped; they only free
 * objects and pages and return pages to the OS. The snapshot is read in
 * an order that keeps Go's identities under exactly those changes: pages
 * released before pages in use (a free raises idle before a release can
 * count it), pages in use before the object counters (a sweep counts its
 * frees before it frees the span), allocations before frees.
 *
 * Locking: the global counters here are atomics bumped on slow paths. */
#include <string.h>
#include "goheap.h"
#include "stats.h"
#include "cache.h"
#include "heap.h"
#include "os.h"
#include "gc.h"
#include "gcstate.h"
#include "lock.h"
#include "threads.h"

struct stats_global stats;

void stats_large_freed(const struct span *s)
{
    AO_fetch_and_add(&stats.large_nfree, 1);
    AO_fetch_and_add(&stats.large_free_bytes, s->npages << PAGE_SHIFT);
}

void stats_large_allocated(uintptr_t bytes, int new_object)
{
    if (new_object)
        AO_fetch_and_add(&stats.large_nmalloc, 1);
    AO_fetch_and_add(&stats.large_malloc_bytes, bytes);
}

/* stats_fill computes *m from the counters (world stopped), in the order
 * the comment at the top explains. */
static void stats_fill(gh_mem_stats *m)
{
    uint64_t nmalloc[NUM_SIZE_CLASSES] = { 0 }, nfree[NUM_SIZE_CLASSES] = { 0 };
    memset(m, 0, sizeof(*m));
    m->heap_released = AO_load(&heap_stats.released);
    m->heap_sys = AO_load(&heap_stats.sys);
    m->heap_inuse = AO_load(&heap_stats.inuse);
    m->heap_idle = m->heap_sys - m->heap_inuse;
    uint64_t alloc_bytes = AO_load(&stats.large_malloc_bytes);
    m->mallocs = AO_load(&stats.large_nmalloc);
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++)
        nmalloc[c] = AO_load(&stats.small_nmalloc[c]);
    cache_sum_counts(nmalloc, nfree);
    uint64_t free_bytes = AO_load(&stats.large_free_bytes);
    m->frees = AO_load(&stats.large_nfree);
    for (unsigned c = 1; c < NUM_SIZE_CLASSES; c++) {
        nfree[c] += AO_load(&stats.small_nfree[c]);
        m->mallocs += nmalloc[c];
        m->frees += nfree[c];
        alloc_bytes += nmalloc[c] * class_to_size[c];
        free_bytes += nfree[c] * class_to_size[c];
        if (c < 61) {
            m->by_size[c].size = class_to_size[c];
            m->by_size[c].mallocs = nmalloc[c];
            m->by_size[c].frees = nfree[c];
        }
    }
    m->total_alloc = alloc_bytes;
    m->heap_alloc = m->alloc = alloc_bytes - free_bytes;
    m->heap_objects = m->mallocs - m->frees;
    m->stack_inuse = 0;
    m->stack_sys = AO_load(&os_sys[OS_STAT_STACK]);
    m->mspan_inuse = AO_load(&heap_stats.spans_inuse) * sizeof(struct span);
    m->mspan_sys = AO_load(&os_sys[OS_STAT_MSPAN]);
    m->mcache_inuse = (uint64_t)cache_count() * sizeof(struct cache);
    m->mcache_sys = AO_load(&os_sys[OS_STAT_MCACHE]);
    m->buck_hash_sys = AO_load(&os_sys[OS_STAT_BUCKHASH]);
    m->gc_sys = AO_load(&os_sys[OS_STAT_GC]);
    m->other_sys = AO_load(&os_sys[OS_STAT_OTHER]);
    m->sys = m->heap_sys + m->stack_sys + m->mspan_sys + m->mcache_sys + m->buck_hash_sys + m->gc_sys + m->other_sys;
    m->next_gc = AO_load(&gc.heap_goal);
    m->last_gc = gc.last_gc;
    m->pause_total_ns = gc.pause_total_ns;
    memcpy(m->pause_ns, gc.pause_ns, sizeof(m->pause_ns));
    memcpy(m->pause_end, gc.pause_end, sizeof(m->pause_end));
    m->num_gc = gc.num_gc;
    m->num_forced_gc = gc.num_forced_gc;
    m->gc_cpu_fraction = gc.cpu_fraction;
    m->enable_gc = 1;
    m->debug_gc = 0;
}

GH_API void gh_read_mem_stats(gh_mem_stats *m)
{
    cache_get();
    cache_lock_all();
    threads_stop_world();
    stats_fill(m);
    threads_start_world();
    cache_unlock_all();
}
