/* sweep.h: sweeping spans after a mark (Go: mgcsweep.go). */
#ifndef GH_SWEEP_H
#define GH_SWEEP_H

#include "span.h"

/* The heap's sweep generation (Go: mheap_.sweepgen): +2 at every mark
 * termination, world stopped. A span with sweepgen == sweep_gen - 2 needs
 * sweeping. */
extern volatile AO_t sweep_gen;

/* What sweeping left of a span. */
enum sweep_result { SWEEP_EMPTY, SWEEP_PARTIAL, SWEEP_FULL };

/* sweep_span sweeps span s: frees every allocated slot the mark left
 * unmarked (reporting sampled ones to the profiler), clears the marks
 * (unless a cycle is marking: see sweep.c) and stamps it swept. The
 * caller holds the span's central lock and no cache owns it. Never
 * touches a marked object. */
enum sweep_result sweep_span(struct span *s);

/* sweep_skip does, for a span a cache owned through a collection, what a
 * sweep that found every object live would do: it drops the stale marks
 * and stamps the span swept. Objects that died stay allocated until the
 * next cycle judges them. Needed because the marker treats a marked
 * object as already scanned, so no span may enter a mark with marks left
 * from an earlier one. The caller owns s. */
void sweep_skip(struct span *s);

/* sweep_needed tells whether s still needs sweeping this cycle. */
static inline int sweep_needed(const struct span *s)
{
    return AO_load(&s->sweepgen) != AO_load(&sweep_gen);
}

/* sweep_all sweeps every unswept span (before a new cycle starts, and for
 * gh_gc, which returns with the sweep complete). */
void sweep_all(void);

/* sweep_start starts the background sweeper thread if it is not running
 * (from a thread of the program: a runtime thread must not make threads,
 * see gc_thread_enter). sweep_wake hands it the unswept spans (world
 * running, no allocator lock held); without the thread they are left to
 * lazy sweeping and sweep_all. When the sweeper finds nothing left it
 * wakes the scavenger. */
void sweep_start(void);
void sweep_wake(void);

/* sweep_fork_child forgets the sweeper thread in a fork child, which has
 * only the forking thread; the next sweep_wake starts a new one. */
void sweep_fork_child(void);

#endif
