/* gcstate.h: the collector's global state (defined in gc.c), shared with
 * the modules that report on it (stats.c), run beside it (cmark.c,
 * scavenge.c) or lock it around fork (shim.c). Guarded by gc.lock unless a
 * field says otherwise.
 *
 * The records of finished cycles (num_gc through last) are what MemStats
 * reports. The collector holds gc.lock through a whole cycle, so
 * gh_read_mem_stats, which must not wait for a mark, reads them with the
 * world stopped instead, and gc_book writes them with the world stopped
 * (gc.lock held too). */
#ifndef GH_GCSTATE_H
#define GH_GCSTATE_H

#include <pthread.h>
#include <stdint.h>
#include "atomic.h"
#include "pacer.h"
#include "trace.h"

struct gc_state {
    pthread_mutex_t lock;
    pthread_cond_t work;           /* with phase_lock: the collector thread waits for requests */
    pthread_cond_t done;           /* broadcast as a cycle ends; assists wait here */
    volatile AO_t inited;
    int64_t start_ns;              /* process start, monotonic (Go: runtimeInitTime) */
    int procs;                     /* fixed at init: CPUs we may run on (Go: GOMAXPROCS) */
    unsigned mark_workers;         /* fixed at init: marker processes per cycle (cmark.c) */
    uint64_t marker_bytes;         /* gc.lock: memory the last marker held alone (cmark_private_bytes) */
    struct pacer pacer;
    struct pacer_limiter limiter;
    volatile AO_t heap_goal;       /* gc.lock to write, atomic to read: the pacer's goal (NextGC) */
    uint64_t heap_goal_this_cycle; /* goal the last cycle ran against */
    uint64_t stack_bytes, globals_bytes; /* scanned by the last cycle */
    uint32_t num_gc, num_forced_gc; /* these to last: written with the world stopped */
    uint64_t pause_ns[256], pause_end[256], pause_total_ns, last_gc;
    int64_t cpu_total_ns;          /* GC CPU (idle marking excluded) */
    double cpu_fraction;
    struct gc_cycle last;          /* record of the last cycle */

    /* The concurrent collector (gc.c). */
    int requested;                 /* phase_lock: GC_REQ_* bits for the collector thread */
    int taken;                     /* phase_lock: the collector thread took a request */
    volatile AO_t active;          /* phase_lock to write: a cycle is requested or running */
    volatile AO_t thread;          /* atomic: the collector thread's state (gc.c) */
    int64_t mark_start;            /* when the running cycle's mark began */
    uint64_t mark_runway;          /* heap growth while the last cycle marked */
    volatile AO_t assist_goal;     /* atomic: the running mark's heap goal */
    volatile AO_t assist_live0;    /* atomic: heap_live when it began */
    volatile AO_t assist_start;    /* atomic: when it began (ns) */
    double assist_work_per_byte;   /* written with the world stopped: the pacer's ratio then */
    volatile AO_t assist_ns;       /* atomic: ns allocating threads waited this cycle */
    volatile AO_t limiter_gc_ns;   /* atomic: GC CPU ns not yet given to the limiter */
    int64_t limiter_mark_est;      /* the marker's CPU the limiter was told of this cycle */
    volatile AO_t mapped;          /* atomic: memory the limit counts, at the last count */
    pthread_mutex_t phase_lock;    /* a leaf: requests, and waits for phase changes */
    pthread_cond_t phase;          /* with phase_lock: broadcast when a mark starts and a cycle ends */
};

extern struct gc_state gc;

#endif
