/* finalizer.h: finalizers (finalizer.c; Go: mfinal.go). */
#ifndef GH_FINALIZER_H
#define GH_FINALIZER_H

#include <stdint.h>

/* finalizer_forget drops p's finalizer (p is being freed explicitly). */
void finalizer_forget(void *p);

/* Collector interface, world stopped, finalizer lock held via
 * finalizer_lock: */
void finalizer_lock(void);
void finalizer_unlock(void);
/* finalizer_mark_roots queues the contents of every finalizable object
 * (not the object itself) and marks the queued objects and all arguments. */
void finalizer_mark_roots(void);
/* finalizer_queue_unreachable moves every finalizer whose object is still
 * unmarked after marking to the run queue, marking the object so that it
 * survives this cycle. Returns the number queued. */
unsigned finalizer_queue_unreachable(void);
/* finalizer_wake wakes the finalizer thread if work was queued (world
 * running). */
void finalizer_wake(void);

#endif
