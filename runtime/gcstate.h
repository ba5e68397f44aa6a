/* gcstate.h: the collector's global state (defined in gc.c), shared with
 * the modules that report on it (stats.c). Guarded by gc.lock unless a
 * field says otherwise. */
#ifndef GH_GCSTATE_H
#define GH_GCSTATE_H

#include <pthread.h>
#include <stdint.h>
#include "atomic.h"
#include "pacer.h"
#include "trace.h"

struct gc_state {
    pthread_mutex_t lock;
    volatile AO_t inited;
    int64_t start_ns;              /* process start, monotonic (Go: runtimeInitTime) */
    struct pacer pacer;
    struct pacer_limiter limiter;
    uint64_t heap_goal;            /* pacer's current goal (NextGC) */
    uint64_t heap_goal_this_cycle; /* goal the last cycle ran against */
    uint64_t stack_bytes, globals_bytes; /* scanned by the last cycle */
    uint32_t num_gc, num_forced_gc;
    uint64_t pause_ns[256], pause_end[256], pause_total_ns, last_gc;
    int64_t cpu_total_ns;          /* GC CPU (idle marking excluded) */
    double cpu_fraction;
    struct gc_cycle last;          /* record of the last cycle */
};

extern struct gc_state gc;

#endif
