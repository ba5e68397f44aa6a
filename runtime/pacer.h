/* pacer.h: GC pacing (pacer.c): when the next cycle starts, how large the
 * heap may grow, how much marking an allocation owes during a cycle, how
 * many threads mark, and the GC CPU limiter. Go 1.19's gcControllerState
 * (mgcpacer.go) and gcCPULimiterState (mgclimit.go).
 *
 * The pacer is plain state and functions. It reads no clock and takes no
 * lock: the caller (gc.c) owns a struct pacer and a struct pacer_limiter,
 * holds the GC lock around every call, and passes times and heap counters
 * in. Exceptions, callable without the lock: pacer_assist_work,
 * pacer_assist_bytes, pacer_assist_work_per_byte, pacer_assist_delay and
 * pacer_limiter_limiting. They read values that the locked calls publish
 * with release stores, except the mark rate behind pacer_assist_delay,
 * which changes only at mark termination, with the world stopped.
 *
 * Units: heap sizes in bytes; "scan work" in bytes scanned (heap objects,
 * thread stacks and global roots alike); times in nanoseconds on any one
 * monotonic clock. */
#ifndef GH_PACER_H
#define GH_PACER_H

#include <stdbool.h>
#include <stdint.h>
#include "atomic.h"

/* The minimum heap goal at GOGC=100 (Go: defaultHeapMinimum); it scales
 * with GOGC. The first cycle's goal is this, its trigger 61/64 of it. */
#define PACER_HEAP_MINIMUM ((uint64_t)4 << 20)
/* gcPercent goal when GOGC is off. */
#define PACER_GOAL_OFF UINT64_MAX
/* Memory limit meaning "none" (Go: math.MaxInt64). */
#define PACER_NO_LIMIT INT64_MAX
/* Headroom kept below a memory-limit-derived goal. */
#define PACER_LIMIT_HEADROOM ((uint64_t)1 << 20)
/* Share of the processors that background marking aims to use. */
#define PACER_BACKGROUND_UTILIZATION 0.25
/* An assist does at least this much scan work, pre-paying later
 * allocations (Go: gcOverAssistWork). */
#define PACER_OVER_ASSIST_WORK ((int64_t)64 << 10)
/* Heap growth reserved for sweeping before the next trigger. */
#define PACER_SWEEP_MIN_DISTANCE ((uint64_t)1 << 20)

/* A proportional-integral controller (Go: piController). */
struct pacer_pi {
    double kp, ti, tt;          /* gain, integral time, anti-windup reset time */
    double min, max;            /* output bounds */
    double err_integral;        /* accumulated error */
};

/* Pacing state (Go: gcControllerState). Every field is guarded by the GC
 * lock except the two assist ratios, which are doubles stored as bits in
 * an AO_t so that allocating threads can read them without the lock, and
 * mark_rate, which is written only with the world stopped. Tests may read
 * any field. */
struct pacer {
    /* Settings. */
    int gc_percent;             /* GOGC; -1 = off */
    int64_t memory_limit;       /* soft limit in bytes, PACER_NO_LIMIT = none */
    uint64_t heap_minimum;      /* PACER_HEAP_MINIMUM * gc_percent / 100 */

    /* Inputs refreshed by the caller (pacer_set_memory, pacer_set_roots). */
    uint64_t mapped_ready;      /* runtime memory mapped and not released */
    uint64_t heap_free;         /* free heap pages still backed by memory */
    uint64_t heap_alloc;        /* bytes of allocated heap objects */
    uint64_t max_stack_scan;    /* bytes of thread stack that may be scanned */
    uint64_t globals_scan;      /* bytes of global roots (data, bss, user roots) */

    /* Results of the last finished cycle. */
    uint64_t heap_marked;       /* bytes marked: the live heap */
    uint64_t last_heap_scan;    /* heap scan work done */
    uint64_t last_stack_scan;   /* stack scan work done */
    uint64_t last_heap_goal;    /* heap goal as the cycle's mark ended */
    double mark_rate;           /* scan work per ns of mark phase; 0 = unknown */

    /* Trigger control, recomputed by pacer_commit. */
    double cons_mark;           /* smoothed cons/mark ratio */
    struct pacer_pi cons_mark_pi;
    uint64_t runway;            /* bytes allocated during a cycle, planned */
    uint64_t gc_percent_goal;   /* GOGC-derived goal, PACER_GOAL_OFF when off */
    uint64_t sweep_dist_min;    /* minimum trigger (and goal) for sweeping */

    /* The cycle in progress. */
    uint64_t triggered;         /* trigger it started at; UINT64_MAX outside mark */
    volatile AO_t assist_work_per_byte;  /* double bits; AO_store_release/AO_load_acquire */
    volatile AO_t assist_bytes_per_work; /* double bits; same */
};

/* pacer_init sets up p for the first cycle with GOGC = gc_percent and the
 * given memory limit (negative: none). With nothing marked yet, the goal
 * is the heap minimum (or the memory-limit goal if that is smaller) and
 * the trigger 61/64 of it. It cannot fail. */
void pacer_init(struct pacer *p, int gc_percent, int64_t memory_limit);

/* pacer_set_gc_percent stores GOGC (negative means off and is stored as
 * -1), rescales the heap minimum and returns the previous value. Call
 * pacer_commit afterwards (and pacer_revise if a cycle is marking). */
int pacer_set_gc_percent(struct pacer *p, int percent);

/* pacer_set_memory_limit stores the soft memory limit in bytes and returns
 * the previous one; a negative limit only queries. Call pacer_commit
 * afterwards when the limit changed. */
int64_t pacer_set_memory_limit(struct pacer *p, int64_t limit);

/* pacer_set_memory records what the memory-limit goal is computed from:
 * mapped_ready (all runtime memory mapped and not released: Sys -
 * HeapReleased), heap_free (free heap pages not released) and heap_alloc
 * (bytes in allocated objects). Counters read without a common lock may
 * be briefly inconsistent; a sum above mapped_ready is tolerated. */
void pacer_set_memory(struct pacer *p, uint64_t mapped_ready, uint64_t heap_free,
                      uint64_t heap_alloc);

/* pacer_set_roots records the bytes of thread stacks and of global roots
 * that a cycle may have to scan; both count toward the heap goal and the
 * expected scan work. */
void pacer_set_roots(struct pacer *p, uint64_t stack_bytes, uint64_t globals_bytes);

/* pacer_commit recomputes the GOGC goal, the runway and the sweep-distance
 * minimum. heap_live is the live-heap estimate now; sweep_done says
 * whether the previous cycle's sweep has finished (if not, the trigger
 * stays at least heap_live + 1 MiB so that sweeping has room). */
void pacer_commit(struct pacer *p, uint64_t heap_live, bool sweep_done);

/* pacer_heap_goal returns the heap goal: the smaller of the GOGC goal and
 * the memory-limit goal, pushed up (outside the memory-limited regime) to
 * the sweep-distance minimum and, during a cycle, to 64 KiB past the
 * trigger. With GOGC off and no limit it is about 2^63. */
uint64_t pacer_heap_goal(const struct pacer *p);

/* pacer_memory_limit_goal returns the heap goal the memory limit alone
 * allows: limit - (non-heap memory + overage) - 1 MiB, at least 1 MiB and
 * at least heap_marked; heap_marked when non-heap memory fills the limit. */
uint64_t pacer_memory_limit_goal(const struct pacer *p);

/* pacer_trigger returns the heap_live at which the next cycle should start
 * and stores the heap goal in *goal if goal is not NULL. The trigger is
 * goal - runway, kept within [45/64, 61/64] of the way from heap_marked to
 * the goal (the upper bound relaxed to goal - 4 MiB for large heaps), at
 * least the sweep-distance minimum, and never above the goal. */
uint64_t pacer_trigger(const struct pacer *p, uint64_t *goal);

/* Flags for pacer_start_cycle and pacer_worker_plan. */
enum {
    PACER_PERIODIC = 1,         /* a periodic cycle: hardly any idle workers */
    PACER_STOP_THE_WORLD = 2,   /* GODEBUG=gcstoptheworld: every proc marks */
};

/* How a cycle's marking is spread over procs (Go: startCycle). */
struct pacer_workers {
    int dedicated;              /* threads marking full time */
    double fractional;          /* share of each other proc's time to mark, 0 = none */
    int max_idle;               /* idle-priority markers allowed */
};

/* pacer_worker_plan gives dedicated workers so that they come closest to
 * 25% of procs; when that rounding is off by more than 30% (procs <= 3 or
 * 6) it rounds down and makes up the rest with fractional work. With
 * PACER_STOP_THE_WORLD every proc is dedicated; with PACER_PERIODIC no idle
 * workers run unless there is no dedicated one (then one). procs >= 1. */
struct pacer_workers pacer_worker_plan(int procs, unsigned flags);

/* pacer_start_cycle begins a mark phase (world stopped): it records the
 * trigger the cycle starts at, fills *workers (may be NULL) from
 * pacer_worker_plan, and sets the first assist ratio from heap_live and
 * heap_scan (the scannable part of heap_live, fixed for the cycle). */
void pacer_start_cycle(struct pacer *p, int procs, unsigned flags, uint64_t heap_live,
                       uint64_t heap_scan, struct pacer_workers *workers);

/* pacer_revise recomputes the assist ratio while a cycle marks (between
 * pacer_start_cycle and pacer_end_cycle) from heap_live, heap_scan and the
 * scan work done so far this cycle (heap + stacks + globals). It aims to
 * finish the expected work (last cycle's) by the goal. Once the work
 * overruns, it assumes everything scannable is live and moves the goal out
 * in proportion, at most to (1 + GOGC/100) * goal (GOGC off counts as
 * 100000); once the heap passes the goal, it aims at 1.1 * goal. */
void pacer_revise(struct pacer *p, uint64_t heap_live, uint64_t heap_scan, int64_t scan_work);

/* What pacer_end_cycle learns at mark termination. */
struct pacer_cycle_end {
    uint64_t heap_live;         /* heapLive at mark end (allocations during mark included) */
    uint64_t heap_marked;       /* bytes marked: the new live heap */
    int64_t heap_scan_work;     /* bytes of heap objects scanned */
    int64_t stack_scan_work;    /* bytes of stack scanned */
    int64_t globals_scan_work;  /* bytes of global roots scanned */
    int64_t assist_ns;          /* CPU time of mutator assists */
    int64_t background_ns;      /* CPU time of dedicated and fractional workers */
    int64_t idle_ns;            /* CPU time of idle-priority workers */
    int64_t mark_ns;            /* wall time of the concurrent mark phase */
    int procs;                  /* procs the cycle ran with */
    bool sweep_done;            /* sweeping already finished (swept during the STW) */
};

/* pacer_end_cycle finishes a cycle (world stopped). It records the goal
 * the cycle ended with (last_heap_goal), feeds this cycle's cons/mark
 * ratio, (heap_live - trigger) * (u + u_idle) / (scan work * (1 - u)), to
 * the PI controller (kp 0.9, ti 4, tt 1000, output within +-1000, reset
 * to 0 on overflow), makes heap_marked the live heap and commits the
 * pacing for the next cycle. u is the measured utilization
 * (background_ns + assist_ns) / (mark_ns * procs); Go assumes the
 * background part is 25%; a caller reproduces that by passing
 * background_ns = mark_ns * procs / 4. Here the OS schedules the mark
 * threads and nothing holds them to 25%, hence the measurement. The ratio
 * is left alone when the cycle taught nothing: heap_live <= trigger (a
 * cycle forced below its trigger), no mark time, or u >= 1. */
void pacer_end_cycle(struct pacer *p, const struct pacer_cycle_end *e);

/* pacer_assist_work returns the scan work an allocating thread must do to
 * pay off debt_bytes of allocation: debt * assistWorkPerByte, but at least
 * PACER_OVER_ASSIST_WORK. *paid_bytes receives the allocation bytes that
 * work pays for (more than debt_bytes when over-assisting). Lock-free. */
int64_t pacer_assist_work(const struct pacer *p, int64_t debt_bytes, int64_t *paid_bytes);

/* pacer_assist_work_per_byte returns the current assist ratio: scan work
 * owed per byte allocated during marking (for gcpacertrace). Lock-free. */
double pacer_assist_work_per_byte(const struct pacer *p);

/* pacer_assist_bytes converts scan work (done by an assist, or stolen
 * from background credit) into allocation bytes it pays for. Lock-free. */
int64_t pacer_assist_bytes(const struct pacer *p, int64_t work);

/* pacer_assist_delay returns how long a thread that cannot scan should
 * wait for the collector to do work units of scan work, at the scan rate
 * the last mark phase achieved; 0 before any cycle measured a rate.
 * Lock-free read of a value the caller must not race with pacer_end_cycle
 * (it is set only at mark termination). */
int64_t pacer_assist_delay(const struct pacer *p, int64_t work);

/* pacer_sweep_pages_per_byte is the proportional-sweep rate (Go:
 * gcPaceSweeper): the pages still to sweep, pages_in_use - pages_swept,
 * spread over the allocation left before the trigger less 1 MiB (at least
 * one page). Returns 0 when nothing is left to sweep. */
double pacer_sweep_pages_per_byte(uint64_t trigger, uint64_t heap_live, uint64_t pages_in_use,
                                  uint64_t pages_swept);

/* ---- GC CPU limiter (Go: gcCPULimiterState) ---------------------------- */

/* A leaky bucket of CPU time: GC time fills it, mutator time drains it,
 * and while it is full the collector is "limiting": assists stop, so GC
 * CPU stays near 50% over the bucket's window. Guarded by the GC lock,
 * except limiting (AO_store_release, read by pacer_limiter_limiting). */
struct pacer_limiter {
    uint64_t fill;              /* ns of CPU in the bucket; fill <= capacity */
    uint64_t capacity;          /* 1 s of CPU per proc */
    uint64_t overflow;          /* GC CPU ns that did not fit, cumulative */
    int64_t last_update;        /* now of the last update */
    volatile AO_t limiting;     /* 1 while the bucket is full */
};

/* Capacity per proc, and how often the limiter wants an update. */
#define PACER_LIMITER_CAPACITY_PER_PROC ((uint64_t)1000000000)
#define PACER_LIMITER_UPDATE_PERIOD ((int64_t)10000000)

/* pacer_limiter_init makes an empty bucket for procs (>= 1) at time now. */
void pacer_limiter_init(struct pacer_limiter *l, int64_t now, int procs);

/* pacer_limiter_set_procs resizes the bucket for a new proc count, cutting
 * the fill to the new capacity (which turns limiting on) if needed. */
void pacer_limiter_set_procs(struct pacer_limiter *l, int procs);

/* pacer_limiter_update accounts the CPU time since the last update: gc_ns
 * (assists, mark workers, stopped-world time * procs) fills the bucket,
 * mutator_ns drains it; idle time belongs to neither. The bucket never
 * goes below empty. Time that would overfill it is added to overflow and
 * turns limiting on; any change that is not overfilling turns it off. A
 * now older than the last update does not move last_update back. */
void pacer_limiter_update(struct pacer_limiter *l, int64_t now, int64_t gc_ns, int64_t mutator_ns);

/* pacer_limiter_needs_update says whether more than 10 ms have passed
 * since the last update. */
bool pacer_limiter_needs_update(const struct pacer_limiter *l, int64_t now);

/* pacer_limiter_limiting says whether the bucket is full, so that assists
 * should be skipped. Lock-free. */
bool pacer_limiter_limiting(const struct pacer_limiter *l);

#endif
