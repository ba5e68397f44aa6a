/* gc.c: the collection cycle (Go: mgc.go).
 *
 * Overview of the collector. goheap's collector is a conservative, non-
 * moving mark-sweep collector over the span heap of malloc.c. It marks
 * beside the running program; the world is stopped twice per cycle, each
 * time for a bounded amount of work:
 *
 *   1. Sweep termination (world running, then stopped). Finish sweeping
 *      the previous cycle's spans, list the loaded objects (roots.c), take
 *      every allocator lock (lock.h) so that no thread can be stopped
 *      while holding one, and stop the world (threads.c: a signal
 *      handshake that leaves each thread's registers in the registry).
 *      Set the marking phase and clone the marker process (cmark.c), which
 *      gets a copy-on-write snapshot of the whole process. Restart: the
 *      pause ends when the last thread is released. Measuring what the
 *      memory limit counts (gc_feed_memory) happens before the stop, not
 *      in it.
 *   2. Concurrent mark. The marker (GODEBUG=gcprocs processes sharing
 *      the work, cmark.c) marks everything reachable in the
 *      snapshot from the roots (roots.c: data and bss of every loaded
 *      object, user roots; threads.c: every thread's stack and registers
 *      as saved at the stop; the contents of finalizable objects and
 *      queued finalizers), and every slot the program may allocate in
 *      meanwhile; the program allocates black meanwhile (central.c). The
 *      collector thread then ORs the marker's marks into the heap's.
 *      Allocating threads that run the heap past its goal meanwhile wait
 *      in proportion (assists), unless the GC CPU limiter says GC has had
 *      its share.
 *   3. Mark termination (world stopped). Queue the finalizers of objects
 *      left unmarked, marking them (finalizer.c), let the pacer (pacer.c)
 *      set the next goal and trigger from the marked heap, advance
 *      sweep_gen so that every span needs sweeping, flush the caches that
 *      sat idle through the cycle, advance the profile cycle (mprof.c),
 *      restart. Caches that kept allocating keep their spans (all their
 *      free slots are marked) and hand them back unswept at their next
 *      refill (cache.c), so neither pause grows with the heap.
 *   4. Sweep. The background sweeper (sweep.c), lazily by allocation
 *      (central.c), and before the next cycle. gh_gc also flushes every
 *      cache and sweeps everything before it returns. The scavenger
 *      (scavenge.c) then returns free pages to the OS.
 *
 * Cycles run on a collector thread of the runtime's own (gc_main), which
 * sleeps in the marker's pipe while the marker works, and then refreshes
 * huge pages for the next fork (heap_collapse). A thread whose allocation
 * reaches the trigger asks for a cycle and waits, briefly, for its mark to
 * begin, as Go's gcStart keeps the allocating goroutine; gh_gc asks and
 * waits for the cycle to end. If the marker cannot be made, or fails, the
 * cycle marks with the world stopped instead; without the collector
 * thread, every cycle does. GODEBUG=gcstoptheworld=1 keeps every cycle
 * stopped throughout, on the thread that triggered it: flush every cache,
 * sweep, mark, restart.
 *
 * A cycle starts when heap_live (Go's heapLive: bytes marked last cycle
 * plus bytes allocated since, counted when spans are cached) reaches the
 * pacer's trigger; allocation slow paths test it. The trigger also leaves
 * room for a whole mark at the last cycle's allocation rate (see
 * gc_publish_trigger). gctrace lines (trace.c) and MemStats (stats.c) are
 * fed from the record of each cycle kept here: the three clock phases are
 * the stopped start, the concurrent mark and the stopped end; the cpu
 * phases are the stops times procs, the assists' waits, the markers' CPU
 * time (background) and no idle marking. GCCPUFraction counts the stops
 * and the markers, not the assists, which wait rather than work.
 *
 * Locking: gc.lock serialises cycles and guards the pacer and the cycle
 * records; it comes first in lock.h's order. The collector thread holds it
 * through a whole cycle, so that the setters see a cycle whole, as with a
 * stop-the-world collector. MemStats must not wait for a mark, so it does
 * not take gc.lock: it reads the cycle records with the world stopped, and
 * gc_book writes them with the world stopped (both stops hold the cache
 * list lock, so they exclude each other); the goal it reads atomically.
 * Requests for cycles and the
 * waits for a phase use gc.phase_lock, a leaf. Forks take the allocator
 * locks, not gc.lock (gc_fork_prepare). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "goheap.h"
#include "gc.h"
#include "lock.h"
#include "cache.h"
#include "central.h"
#include "heap.h"
#include "sweep.h"
#include "mark.h"
#include "cmark.h"
#include "scavenge.h"
#include "stats.h"
#include "pacer.h"
#include "trace.h"
#include "unwind.h"
#include "options.h"
#include "print.h"
#include "os.h"
#include "threads.h"
#include "roots.h"
#include "finalizer.h"
#include "mprof.h"
#include "checkmark.h"
#include "gcstate.h"

/* Bits of gc.requested. */
#define GC_REQ_TRIGGER 1
#define GC_REQ_FORCED 2

/* An assist waits at most this long at a time, and not at all for less
 * than the minimum (a sleep costs about that much anyway). */
#define GC_ASSIST_MAX_NS ((int64_t)20000000)
#define GC_ASSIST_MIN_NS ((int64_t)20000)

/* The longest an allocating thread waits for a requested cycle's mark to
 * begin. */
#define GC_START_WAIT_NS ((int64_t)20000000)

/* How often the collector thread refreshes the assist ratio and the CPU
 * limiter while the marker works (Go: sysmon's 10 ms). */
#define GC_REVISE_PERIOD_MS 10
/* Under the malloc shim, cycles that start with less live heap than this
 * mark with the world stopped (gc_cycle_concurrent). */
#define GC_SHIM_STOPPED_HEAP ((uint64_t)16 << 20)

volatile AO_t gc_phase_marking __attribute__((aligned(64))); /* read by every gh_free: a line of its own */
volatile AO_t gc_trigger_bytes = ~(AO_t)0;
__thread int lock_held_all __attribute__((tls_model("initial-exec")));

struct gc_state gc = { .lock = PTHREAD_MUTEX_INITIALIZER, .phase_lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t gc_atfork_once = PTHREAD_ONCE_INIT;

__attribute__((constructor)) static void gc_record_start(void)
{
    if (gc.start_ns == 0)
        gc.start_ns = os_nanotime();
}

/* gc_publish_trigger stores the pacer's trigger and goal (gc.lock held).
 * The trigger also leaves room for a whole mark at the allocation of the
 * last one (gc.mark_runway): Go's pacer keeps the trigger at least 45/64
 * of the way from the marked heap to the goal, because its assists mark
 * and so speed a late cycle up; ours only wait for the marker, which a
 * late start would turn into long waits. Never below the marked heap. */
static void gc_publish_trigger(void)
{
    uint64_t goal;
    uint64_t trigger = pacer_trigger(&gc.pacer, &goal);
    uint64_t runway = gc.mark_runway + gc.mark_runway / 4, floor = gc.pacer.heap_marked;
    if (!opts.gcstoptheworld && runway > 0 && goal > runway && goal - runway < trigger)
        trigger = goal - runway > floor ? goal - runway : floor;
    AO_store(&gc.heap_goal, (AO_t)goal);
    AO_store_release(&gc_trigger_bytes, (AO_t)trigger);
}

/* gc_resident returns the process's resident memory in bytes, or 0 if
 * it cannot be read. */
static uint64_t gc_resident(void)
{
    return os_proc_number("/proc/self/status", "\nVmRSS:") << 10;
}

/* gc_feed_memory tells the pacer what the memory limit is measured
 * against (gc.lock held). heap_alloc is an estimate outside a stop. Go
 * measures mapped memory not returned to the OS; ours reserves large
 * regions up front (arenas, the grey stack, the arena map) that take no
 * memory until touched, so the measure is the process's resident memory
 * plus what the last cycle's marker held alone (gc.marker_bytes: mostly
 * the old copies of the pages the program wrote while it marked, which
 * the next cycle's marker will hold again), and the free heap is what is
 * free and not released (never-used memory counts as released). */
static void gc_feed_memory(uint64_t heap_alloc)
{
    uint64_t released = AO_load(&heap_stats.released);
    uint64_t idle = AO_load(&heap_stats.sys) - AO_load(&heap_stats.inuse);
    uint64_t mapped = gc_resident();
    if (mapped == 0) {
        for (int i = 0; i < OS_STAT_COUNT; i++)
            mapped += AO_load(&os_sys[i]);
        mapped = mapped > released ? mapped - released : 0;
    }
    mapped += gc.marker_bytes;
    AO_store(&gc.mapped, (AO_t)mapped);
    pacer_set_memory(&gc.pacer, mapped, idle > released ? idle - released : 0, heap_alloc);
}

/* gc_cond_init makes the condition variables, on the monotonic clock that
 * timed waits use. */
static void gc_cond_init(void)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&gc.work, &a);
    pthread_cond_init(&gc.done, &a);
    pthread_cond_init(&gc.phase, &a);
    pthread_condattr_destroy(&a);
}

void gc_lock_allocator(void)
{
    cache_lock_all();
    central_lock_all();
    heap_lock();
    finalizer_lock();
    mprof_lock();
}

void gc_unlock_allocator(void)
{
    mprof_unlock();
    finalizer_unlock();
    heap_unlock();
    central_unlock_all();
    cache_unlock_all();
}

/* Fork. The runtime's own threads (collector, sweeper, scavenger) take
 * allocator locks behind the program's back, so even a single-threaded
 * program's fork could leave the child a lock that no thread will ever
 * release. The prepare handler takes every allocator lock, in lock.h's
 * order, unless the fork handlers of the malloc shim (shim.c) have done so
 * already on this thread; it does not take gc.lock, which the collector
 * thread holds through a whole cycle, so a fork never waits for a mark.
 * gc_fork_locked is the forking thread's: it took the locks. */
static __thread int gc_fork_locked __attribute__((tls_model("initial-exec")));

static void gc_fork_prepare(void)
{
    unwind_fork_prepare();
    if (cache_locked_by_me())
        return;
    gc_lock_allocator();
    gc_fork_locked = 1;
}

static void gc_fork_parent(void)
{
    unwind_fork_done();
    if (!gc_fork_locked)
        return;
    gc_fork_locked = 0;
    gc_unlock_allocator();
}

/* gc_fork_child: the child of a fork() has only the forking thread. The
 * collector's thread and the marker stay with the parent; a cycle that
 * was marking is abandoned. Nothing needs undoing in the heap: the marks
 * set so far only keep more alive, the next cycle's marker ignores them
 * (cmark.c), and the spans a cycle passed by keep their marks until they
 * are swept. gc.lock may have been held by the collector thread, which
 * the child does not have. */
static void gc_fork_child(void)
{
    gc_fork_parent();
    pthread_mutex_init(&gc.lock, NULL);
    pthread_mutex_init(&gc.phase_lock, NULL);
    gc_cond_init();
    gc.requested = 0;
    gc.taken = 0;
    AO_store(&gc.active, 0);
    AO_store(&gc.thread, 0);
    if (gc_marking()) {
        cmark_fork_child();
        AO_store(&gc_phase_marking, 0);
        gc.pacer.triggered = UINT64_MAX;
    }
    sweep_fork_child();
    scavenge_fork_child();
}

static void gc_atfork(void)
{
    if (pthread_atfork(gc_fork_prepare, gc_fork_parent, gc_fork_child) != 0)
        print_fatal("pthread_atfork failed for the collector");
}

void gc_init(void)
{
    if (AO_load_acquire(&gc.inited))
        return;
    pthread_mutex_lock(&gc.lock);
    if (!gc.inited) {
        options_init();
        gc_record_start();
        gc.procs = os_ncpu();
        /* Go's dedicated mark workers: 25% of the procs, rounded, at
         * least one; GODEBUG=gcprocs=N sets N (cmark.c). */
        gc.mark_workers = opts.gcprocs > 0 ? (unsigned)opts.gcprocs : (unsigned)(gc.procs + 2) / 4;
        if (gc.mark_workers < 1)
            gc.mark_workers = 1;
        gc_cond_init();
        pacer_init(&gc.pacer, opts.gogc, opts.memory_limit);
        pacer_limiter_init(&gc.limiter, os_nanotime(), gc.procs);
        mprof_init();
        gc_publish_trigger();
        AO_store_release(&gc.inited, 1);
    }
    pthread_mutex_unlock(&gc.lock);
    /* Outside the lock: pthread_atfork may allocate. */
    pthread_once(&gc_atfork_once, gc_atfork);
}

/* ---- Runtime threads ------------------------------------------------- */

/* A runtime thread starts registered (pthread_create is threads.c's) and
 * leaves the registry in gc_thread_enter. Until then a stop of the world
 * may signal it, so it starts with every signal blocked except the one of
 * the stop-the-world handshake (threads.h): it cannot run the program's
 * handlers, whatever the mask of the thread that made it (the collector
 * thread blocks everything). */
int gc_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t a;
    sigset_t mask, old;
    sigfillset(&mask);
    sigdelset(&mask, SIGPWR);
    pthread_sigmask(SIG_SETMASK, &mask, &old);
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int err = pthread_create(&t, &a, fn, arg);
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err == 0 ? 0 : -1;
}

void gc_thread_enter(int idle)
{
    sigset_t all;
    /* A cache first: a thread with one never registers again, should
     * anything it calls allocate (through the malloc shim, say). */
    cache_get();
    threads_unregister_self();
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    if (idle)
        setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
}

/* ---- Marking and stopping -------------------------------------------- */

/* Bytes of root ranges a marker splits into GC_ROOT_BLOCK-sized blocks,
 * dealt out in turn among the marker processes. */
#define GC_ROOT_BLOCK ((uintptr_t)64)

/* Which share of the roots this process marks (gc_mark_roots_part). */
struct gc_root_share {
    unsigned part, parts;
    uint64_t bytes;       /* root bytes seen, all shares */
};

static void gc_mark_root_range(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct gc_root_share *sh = arg;
    if (hi <= lo)
        return;
    sh->bytes += hi - lo;
    if (sh->parts == 1) {
        mark_range(lo, hi);
        return;
    }
    for (uintptr_t b = lo & ~(GC_ROOT_BLOCK - 1); b < hi; b += GC_ROOT_BLOCK)
        if ((b / GC_ROOT_BLOCK) % sh->parts == sh->part)
            mark_range(b < lo ? lo : b, b + GC_ROOT_BLOCK > hi ? hi : b + GC_ROOT_BLOCK);
}

/* gc_mark_roots_part marks from share part of parts of the roots and
 * drains: the GC_ROOT_BLOCK-sized blocks of globals and stacks whose
 * index is part modulo parts, and (share 0) the finalizer roots. With
 * marks set atomically, whichever process marks an object first scans
 * it, so processes marking the same snapshot with every share taken
 * together mark all that one would. */
static void gc_mark_roots_part(unsigned part, unsigned parts)
{
    struct gc_root_share sh = { part, parts, 0 };
    roots_each(gc_mark_root_range, &sh);
    gc.globals_bytes = sh.bytes;
    threads_each_stack(gc_mark_root_range, &sh);
    gc.stack_bytes = sh.bytes - gc.globals_bytes;
    if (part == 0)
        finalizer_mark_roots();
    mark_drain();
}

/* gc_mark_roots marks from every root (world stopped, or in the marker
 * process) and drains. Also used by the checkmark pass, which must see
 * exactly the same roots. */
static void gc_mark_roots(void)
{
    gc_mark_roots_part(0, 1);
}

/* gc_stop lists the loaded objects and stops the world with every
 * allocator lock held. Returns when the pause began: once the listing is
 * done, as the program runs on through that. */
static int64_t gc_stop(void)
{
    roots_prepare();
    int64_t begin = os_nanotime();
    gc_lock_allocator();
    lock_held_all = 1;
    threads_stop_world();
    return begin;
}

/* gc_start_world restarts the threads, then drops the allocator locks.
 * Returns when the pause ended: when the threads were released
 * (threads_start_world does not wait for them to run again). */
static int64_t gc_start_world(void)
{
    threads_start_world();
    int64_t t = os_nanotime();
    lock_held_all = 0;
    gc_unlock_allocator();
    return t;
}

static void gc_clear_marks(struct span *s, void *arg)
{
    (void)arg;
    for (unsigned w = 0; w < SPAN_MAX_WORDS; w++)
        AO_store((volatile AO_t *)&s->mark_bits[w], 0);
}

/* gc_mark_stopped marks the heap with the world stopped and returns the
 * bytes marked: every cache not busy is flushed and what comes back is
 * swept, so that only busy caches' spans are off the central lists; then
 * the mark from the roots, the finalizer queue, and the busy caches'
 * spans blackened. clear also drops every mark left on any span first
 * (a concurrent cycle whose marker failed). */
static uint64_t gc_mark_stopped(int clear)
{
    cache_flush_all();
    sweep_all();
    if (clear)
        heap_each_span(gc_clear_marks, NULL);
    cache_unmark_busy();
    mark_begin();
    gc_mark_roots();
    if (finalizer_queue_unreachable())
        mark_drain();
    cache_blacken_busy();
    return mark_bytes_marked();
}

/* ---- The CPU limiter -------------------------------------------------- */

/* gc_limiter_update feeds the limiter the GC CPU time since its last
 * update (gc.lock held): stopped-world time times procs and the marker's
 * CPU, as added to gc.limiter_gc_ns, and, while marking, Go's 25% of the
 * procs as an estimate of the marker's, corrected when its real CPU time
 * is known. Assists are not counted: an assist only waits, and gives its
 * processor to the marker, whose time is counted already. Everything
 * else counts as the program's. */
static void gc_limiter_update(int64_t now)
{
    int64_t wall = now - gc.limiter.last_update;
    if (wall <= 0)
        return;
    int64_t gc_ns = (int64_t)AO_load(&gc.limiter_gc_ns);
    AO_store(&gc.limiter_gc_ns, 0);
    if (gc_marking()) {
        int64_t est = wall * gc.procs / 4;
        gc.limiter_mark_est += est;
        gc_ns += est;
    }
    int64_t total = wall * gc.procs;
    pacer_limiter_update(&gc.limiter, now, gc_ns, total > gc_ns ? total - gc_ns : 0);
}

/* ---- Booking a finished cycle ----------------------------------------- */

struct gc_times {
    int64_t sweep_term, mark, mark_term, end; /* Go's tSweepTerm, tMark, tMarkTerm, tEnd */
    int64_t pause;                            /* world stopped, both stops together */
};

/* gc_book records a finished cycle as Go's gcMarkTermination does (gc.lock
 * held, world stopped, t->end taken just before the restart). The world
 * is stopped so that MemStats, which reads the records with the world
 * stopped, sees them whole, and so that a finalizer this cycle queued
 * sees the cycle counted, as in Go. */
static void gc_book(struct gc_cycle *rec, const struct gc_times *t)
{
    int64_t wall_end = os_walltime();
    gc.pause_ns[gc.num_gc % 256] = (uint64_t)t->pause;
    gc.pause_end[gc.num_gc % 256] = (uint64_t)wall_end;
    gc.pause_total_ns += (uint64_t)t->pause;
    gc.last_gc = (uint64_t)wall_end;
    gc.num_gc++;
    if (rec->forced)
        gc.num_forced_gc++;
    rec->num = gc.num_gc;
    rec->clock_ns[0] = t->mark - t->sweep_term;
    rec->clock_ns[1] = t->mark_term - t->mark;
    rec->clock_ns[2] = t->end - t->mark_term;
    rec->heap_goal = gc.heap_goal_this_cycle;
    /* Assists here wait rather than work (gc_assist): they take no CPU,
     * and several threads waiting at once would count more time than
     * the processors have. */
    gc.cpu_total_ns += rec->cpu_stw_start_ns + rec->cpu_background_ns + rec->cpu_stw_end_ns;
    int64_t avail = (os_nanotime() - gc.start_ns) * gc.procs;
    gc.cpu_fraction = avail > 0 ? (double)gc.cpu_total_ns / (double)avail : 0;
    rec->cpu_fraction = gc.cpu_fraction;
    gc.last = *rec;
}

/* gc_trace prints a booked cycle's gctrace line (world running: a stopped
 * thread may hold the print lock). */
static void gc_trace(const struct gc_cycle *rec)
{
    if (opts.gctrace > 0) {
        char line[TRACE_LINE_MAX];
        trace_format_gc(line, sizeof(line), rec);
        print_err("%s", line);
    }
}

/* gc_end_mark is the pacing half of mark termination (world stopped):
 * hand the cycle's results to the pacer, make heap_live the marked heap,
 * publish the next trigger. The pacer's live heap is what was reachable
 * (at the snapshot); rec->heap_marked also counts what was allocated
 * black while marking, which survives this cycle only: a goal scaled
 * from it would let a fast allocator inflate every next goal. */
static void gc_end_mark(struct gc_cycle *rec, uint64_t reachable, uint64_t scanned, int64_t assist_ns,
                        int64_t background_ns, int64_t mark_ns, int procs)
{
    struct pacer_cycle_end e = {
        .heap_live = rec->heap_end,
        .heap_marked = reachable,
        .heap_scan_work = (int64_t)(scanned - gc.globals_bytes - gc.stack_bytes),
        .stack_scan_work = (int64_t)gc.stack_bytes,
        .globals_scan_work = (int64_t)gc.globals_bytes,
        .assist_ns = assist_ns,
        .background_ns = background_ns,
        .mark_ns = mark_ns,
        .procs = procs,
        .sweep_done = false,
    };
    pacer_set_roots(&gc.pacer, gc.stack_bytes, gc.globals_bytes);
    gc_feed_memory(reachable);
    gc.heap_goal_this_cycle = gc.heap_goal;
    pacer_end_cycle(&gc.pacer, &e);
    AO_store(&stats.heap_live, (AO_t)rec->heap_marked);
    AO_store(&stats.heap_marked, (AO_t)rec->heap_marked);
    gc_publish_trigger();
}

/* ---- Stop-the-world cycle --------------------------------------------- */

/* gc_finish_stopped runs the rest of a cycle whose world the caller has
 * just stopped (gc_stop, at t_sweep_term) with the world stopped
 * throughout, and books it (gc.lock held). */
static void gc_finish_stopped(struct gc_cycle *rec, int64_t t_sweep_term)
{
    struct gc_times t;
    t.sweep_term = t_sweep_term;
    t.mark = os_nanotime();
    rec->procs = 1;
    int64_t cpu0 = os_thread_cputime();
    pacer_start_cycle(&gc.pacer, 1, PACER_STOP_THE_WORLD, rec->heap_start, rec->heap_start, NULL);
    uint64_t marked = gc_mark_stopped(0);
    uint64_t scanned = mark_bytes_scanned();
    t.mark_term = os_nanotime();
    int64_t cpu1 = os_thread_cputime();
    if (opts.gccheckmark)
        checkmark_verify(gc_mark_roots);
    if (gh_debug >= 2)
        checkmark_verify_heap();

    rec->heap_end = stats_heap_live();
    rec->heap_marked = marked;
    gc_end_mark(rec, marked, scanned, 0, cpu1 - cpu0, t.mark_term - t.mark, 1);
    AO_fetch_and_add(&sweep_gen, 2);
    cache_stamp_flushed(AO_load(&sweep_gen));
    mprof_next_cycle();

    t.end = os_nanotime();
    t.pause = t.end - t.sweep_term;
    rec->cpu_stw_start_ns = t.mark - t.sweep_term;
    rec->cpu_background_ns = cpu1 - cpu0;
    rec->cpu_stw_end_ns = t.end - t.mark_term;
    gc_book(rec, &t);
    gc_start_world();
    AO_fetch_and_add(&gc.limiter_gc_ns, (AO_t)t.pause);
    gc_limiter_update(t.end);
    mprof_flush();
    finalizer_wake();
    sweep_wake();
    gc_trace(rec);
}

/* gc_cycle_stw runs one cycle with the world stopped throughout (gc.lock
 * held): GODEBUG=gcstoptheworld=1. */
static void gc_cycle_stw(int forced)
{
    struct gc_cycle rec;
    memset(&rec, 0, sizeof(rec));
    rec.forced = forced;
    rec.heap_start = stats_heap_live();
    int64_t t0 = gc_stop();
    rec.start_ns = t0 - gc.start_ns;
    gc_finish_stopped(&rec, t0);
}

/* ---- Concurrent cycle ---------------------------------------------------- */

/* gc_phase_changed wakes the threads waiting for the mark to start or the
 * cycle to end (gc_wait_phase, assists). */
static void gc_phase_changed(void)
{
    pthread_mutex_lock(&gc.phase_lock);
    pthread_cond_broadcast(&gc.phase);
    pthread_mutex_unlock(&gc.phase_lock);
}

struct gc_phase_wait {
    int (*cond)(void);
    int64_t max_ns;
};

static void gc_wait_phase_blocked(void *arg)
{
    const struct gc_phase_wait *w = arg;
    int64_t end = os_nanotime() + w->max_ns;
    struct timespec until = { .tv_sec = end / 1000000000, .tv_nsec = end % 1000000000 };
    pthread_mutex_lock(&gc.phase_lock);
    while (w->cond() && os_nanotime() < end)
        if (pthread_cond_timedwait(&gc.phase, &gc.phase_lock, &until) != 0)
            break;
    pthread_mutex_unlock(&gc.phase_lock);
}

/* gc_wait_phase waits, at most max_ns, while cond holds (tested under
 * gc.phase_lock, which gc_phase_changed takes after every change). The
 * wait touches no heap: a stop of the world (gh_read_mem_stats's, say)
 * counts the thread as stopped without signalling it (threads_blocking). */
static void gc_wait_phase(int (*cond)(void), int64_t max_ns)
{
    struct gc_phase_wait w = { cond, max_ns };
    threads_blocking(gc_wait_phase_blocked, &w);
}

/* gc_revise refreshes the assist ratio and the CPU limiter while the
 * marker works (gc.lock held), with the scan work done estimated from
 * the last cycle's rate: the marker reports only when it is done. */
static void gc_revise(void)
{
    int64_t now = os_nanotime();
    uint64_t live = stats_heap_live();
    int64_t done = (int64_t)(gc.pacer.mark_rate * (double)(now - gc.mark_start));
    pacer_revise(&gc.pacer, live, live, done);
    gc_limiter_update(now);
}

/* gc_cycle_concurrent runs one cycle on the collector thread, gc.lock
 * held throughout: the stopped start, the mark beside the program, the
 * stopped termination. With no marker to be had, the cycle stops the
 * world throughout. */
static void gc_cycle_concurrent(int forced)
{
    struct gc_cycle rec;
    struct gc_times t;
    struct cmark_result res;
    memset(&rec, 0, sizeof(rec));
    rec.forced = forced;
    rec.procs = gc.procs;

    /* Sweep termination, then the stopped start (Go's gcStart). */
    sweep_all();
    /* What the memory limit is measured against, while the program runs:
     * it reads /proc. */
    gc_feed_memory(stats_heap_live());
    t.sweep_term = gc_stop();
    rec.start_ns = t.sweep_term - gc.start_ns;
    rec.heap_start = stats_heap_live();
    /* Spans that caches kept through the last cycle and have not handed
     * back carry its marks: the marks of this cycle alone must decide
     * them (for gh_gc, everything unreachable now must go). Spans handed
     * back since the sweep above stay unswept: sweeping while marking
     * keeps marks, so they are safe, and leaving them keeps this pause
     * short. */
    cache_unmark_stale();
    if (opts.gccheckmark)
        cmark_check_begin(gc_mark_roots);
    mark_begin(); /* reserves the grey stack, which the marker cannot */
    /* Under the malloc shim a small heap marks with the world stopped:
     * the marker process would count the whole program's memory as its
     * own resident set again (ru_maxrss includes it), for a mark of a few
     * milliseconds at most. */
    if ((roots_private() && rec.heap_start < GC_SHIM_STOPPED_HEAP) ||
        cmark_start(gc_mark_roots_part, gc.mark_workers) != 0) {
        gc_finish_stopped(&rec, t.sweep_term);
        return;
    }
    /* Every allocator lock is held: the phase changes at once for every
     * path that tests it under a lock (central.c). */
    AO_store(&gc_phase_marking, 1);
    uint64_t live0 = stats_heap_live();
    pacer_start_cycle(&gc.pacer, gc.procs, 0, live0, live0, NULL);
    uint64_t goal = pacer_heap_goal(&gc.pacer);
    AO_store(&gc.assist_goal, (AO_t)(goal > live0 ? goal : live0));
    AO_store(&gc.assist_live0, (AO_t)live0);
    AO_store(&gc.assist_start, (AO_t)os_nanotime());
    gc.assist_work_per_byte = pacer_assist_work_per_byte(&gc.pacer);
    AO_store(&gc.assist_ns, 0);
    t.mark = gc_start_world();
    gc.mark_start = t.mark;
    cmark_go();
    AO_fetch_and_add(&gc.limiter_gc_ns, (AO_t)((t.mark - t.sweep_term) * gc.procs));
    gc_limiter_update(t.mark);
    gc.limiter_mark_est = 0;
    gc_phase_changed();

    /* The concurrent mark. */
    while (cmark_wait(GC_REVISE_PERIOD_MS) == 0)
        gc_revise();
    gc.marker_bytes = cmark_private_bytes();
    int ok = cmark_finish(&res) == 0;
    gc_limiter_update(os_nanotime());
    if (res.cpu_ns > gc.limiter_mark_est)
        AO_fetch_and_add(&gc.limiter_gc_ns, (AO_t)(res.cpu_ns - gc.limiter_mark_est));
    sweep_all(); /* spans caches handed back meanwhile (marks kept) */

    /* Mark termination. */
    t.mark_term = gc_stop();
    uint64_t marked, reachable, scanned, live1;
    int64_t background;
    int flushed = 0;
    if (ok) {
        /* Objects only the finalizer queue keeps now (their contents were
         * marked from the snapshot already). */
        mark_begin();
        if (finalizer_queue_unreachable())
            mark_drain();
        sweep_all();
        if (opts.gccheckmark)
            cmark_check_end();
        live1 = stats_heap_live();
        gc.mark_runway = live1 > live0 ? live1 - live0 : 0;
        reachable = res.marked + mark_bytes_marked();
        /* Go counts the objects allocated black in the marked heap. */
        marked = reachable + (live1 > live0 ? live1 - live0 : 0);
        scanned = res.scanned;
        gc.globals_bytes = res.globals;
        gc.stack_bytes = res.stacks;
        background = res.cpu_ns;
    } else {
        print_err("goheap: the concurrent marker failed; marking with the world stopped\n");
        AO_store(&gc_phase_marking, 0);
        int64_t cpu0 = os_thread_cputime();
        marked = reachable = gc_mark_stopped(1);
        background = os_thread_cputime() - cpu0;
        scanned = mark_bytes_scanned();
        live1 = stats_heap_live();
        flushed = 1;
        if (opts.gccheckmark)
            checkmark_verify(gc_mark_roots);
    }
    if (gh_debug >= 2)
        checkmark_verify_heap();

    int64_t assist = (int64_t)AO_load(&gc.assist_ns);
    rec.heap_end = live1;
    rec.heap_marked = marked;
    gc_end_mark(&rec, reachable, scanned, assist, background, t.mark_term - t.mark, gc.procs);
    AO_store(&gc_phase_marking, 0);
    uintptr_t gen = AO_load(&sweep_gen);
    AO_fetch_and_add(&sweep_gen, 2);
    if (!flushed && forced) {
        /* gh_gc returns with every span swept: hand all of them back. */
        cache_flush_all();
        flushed = 1;
    }
    if (flushed)
        cache_stamp_flushed(gen + 2);
    else
        cache_flush_idle(gen);
    mprof_next_cycle();

    t.end = os_nanotime();
    t.pause = (t.mark - t.sweep_term) + (t.end - t.mark_term);
    rec.cpu_stw_start_ns = (t.mark - t.sweep_term) * gc.procs;
    rec.cpu_assist_ns = assist;
    rec.cpu_background_ns = background;
    rec.cpu_stw_end_ns = (t.end - t.mark_term) * gc.procs;
    gc_book(&rec, &t);
    gc_start_world();
    AO_fetch_and_add(&gc.limiter_gc_ns, (AO_t)((t.end - t.mark_term) * gc.procs));
    gc_limiter_update(t.end);
    mprof_flush();
    finalizer_wake();
    sweep_wake();
    gc_trace(&rec);
}

/* ---- The collector thread and requests ------------------------------- */

/* Requests for cycles go through gc.phase_lock, never gc.lock, which the
 * collector thread holds through a whole cycle: an allocating thread past
 * the trigger must be able to ask for the next cycle at once. */
static void *gc_main(void *arg)
{
    (void)arg;
    gc_thread_enter(0);
    for (;;) {
        pthread_mutex_lock(&gc.phase_lock);
        while (gc.requested == 0)
            pthread_cond_wait(&gc.work, &gc.phase_lock);
        int forced = (gc.requested & GC_REQ_FORCED) != 0;
        gc.requested = 0;
        gc.taken = 1;
        pthread_mutex_unlock(&gc.phase_lock);

        pthread_mutex_lock(&gc.lock);
        gc_cycle_concurrent(forced);
        pthread_mutex_lock(&gc.phase_lock);
        gc.taken = 0;
        if (gc.requested == 0)
            AO_store(&gc.active, 0);
        pthread_cond_broadcast(&gc.phase);
        pthread_mutex_unlock(&gc.phase_lock);
        pthread_cond_broadcast(&gc.done);
        pthread_mutex_unlock(&gc.lock);
        /* Huge pages back for the next fork (cmark.c), between cycles. */
        heap_collapse();
    }
    return NULL;
}

enum { GC_THREAD_NONE, GC_THREAD_STARTING, GC_THREAD_RUNNING, GC_THREAD_FAILED };

/* gc_thread_ready starts the collector's threads on first use, from a
 * thread of the program (the only kind that may make threads: see
 * gc_thread_enter), and tells whether the collector thread runs. A
 * collector thread that cannot be made is not tried again: the collector
 * then stops the world for every cycle. */
static int gc_thread_ready(void)
{
    AO_t st = AO_load_acquire(&gc.thread);
    if (st != GC_THREAD_NONE)
        return st == GC_THREAD_RUNNING;
    /* pthread_create may allocate, and so come back here: it finds the
     * thread starting and collects without it this once. */
    if (!AO_compare_and_swap_full(&gc.thread, GC_THREAD_NONE, GC_THREAD_STARTING))
        return 0;
    sweep_start();
    scavenge_start();
    int ok = gc_spawn(gc_main, NULL) == 0;
    AO_store_release(&gc.thread, ok ? GC_THREAD_RUNNING : GC_THREAD_FAILED);
    return ok;
}

/* gc_request asks the collector thread for a cycle (req: GC_REQ_*) and
 * returns how many cycles will end before it: 1 if the thread has taken
 * one it has not finished, else 0. */
static int gc_request(int req)
{
    pthread_mutex_lock(&gc.phase_lock);
    int before = gc.taken;
    gc.requested |= req;
    AO_store(&gc.active, 1);
    pthread_cond_signal(&gc.work);
    pthread_mutex_unlock(&gc.phase_lock);
    return before;
}

static int gc_mark_pending(void) { return AO_load(&gc.active) && !gc_marking(); }

/* gc_assist makes an allocating thread wait while a cycle marks and the
 * heap has grown faster than the marker can keep up with (Go's mark
 * assist, as a delay: the marker is another process, so an allocating
 * thread cannot do its work, only give it time). The heap may grow from
 * where the mark began to the goal in proportion to the mark's expected
 * progress: the last cycle's scan rate times the time since the mark
 * began, over the scan work expected (the pacer's assist ratio at the
 * start, Go's assistWorkPerByte). A thread past that line waits as long
 * as the marker needs to do the scan work its excess costs
 * (pacer_assist_delay), at most GC_ASSIST_MAX_NS at a time, or until the
 * mark ends. Before any cycle measured a rate, only a heap past its goal
 * waits. Not while the CPU limiter is on. */
static void gc_assist(void)
{
    if (pacer_limiter_limiting(&gc.limiter))
        return;
    uint64_t live = stats_heap_live();
    uint64_t goal = AO_load(&gc.assist_goal), live0 = AO_load(&gc.assist_live0);
    double work_per_byte = gc.assist_work_per_byte, rate = gc.pacer.mark_rate;
    int64_t now = os_nanotime();
    uint64_t allowed = goal;
    if (rate > 0 && work_per_byte > 0) {
        double grown = rate * (double)(now - (int64_t)AO_load(&gc.assist_start)) / work_per_byte;
        if (grown < (double)(goal - live0))
            allowed = live0 + (uint64_t)grown;
    }
    if (live <= allowed)
        return;
    int64_t delay = GC_ASSIST_MAX_NS;
    if (rate > 0 && work_per_byte > 0)
        delay = pacer_assist_delay(&gc.pacer, (int64_t)((double)(live - allowed) * work_per_byte));
    if (delay < GC_ASSIST_MIN_NS)
        return;
    if (delay > GC_ASSIST_MAX_NS)
        delay = GC_ASSIST_MAX_NS;
    gc_wait_phase(gc_marking, delay);
    AO_fetch_and_add(&gc.assist_ns, (AO_t)(os_nanotime() - now));
}

/* gc_maybe_start_stw is the stop-the-world collector's trigger: run the
 * cycle right here. */
static void gc_maybe_start_stw(uintptr_t bytes)
{
    sweep_start();
    scavenge_start();
    /* If a cycle is already being set up, let it be (Go does the same):
     * this thread may hold a lock the collector will need, such as the
     * loader's inside a dl_iterate_phdr callback. */
    if (pthread_mutex_trylock(&gc.lock) != 0)
        return;
    /* Another thread may have collected while we waited. */
    if (stats_heap_live() + bytes >= AO_load(&gc_trigger_bytes) && !AO_load(&gc.active)) {
        sweep_all();
        gc_cycle_stw(0);
    }
    pthread_mutex_unlock(&gc.lock);
}

void gc_maybe_start(uintptr_t bytes)
{
    if (likely(stats_heap_live() + bytes < AO_load_acquire(&gc_trigger_bytes)) || lock_held_all)
        return;
    if (opts.gcstoptheworld) {
        gc_maybe_start_stw(bytes);
        return;
    }
    if (gc_marking()) {
        gc_assist();
        return;
    }
    if (!gc_thread_ready()) {
        if (AO_load(&gc.thread) == GC_THREAD_FAILED)
            gc_maybe_start_stw(bytes);
        return;
    }
    if (!AO_load(&gc.active))
        gc_request(GC_REQ_TRIGGER);
    /* Wait for the mark to begin, as Go's gcStart keeps the allocating
     * goroutine for its start. Bounded: this thread may hold a lock the
     * start needs (the loader's, in a dl_iterate_phdr callback). */
    gc_wait_phase(gc_mark_pending, GC_START_WAIT_NS);
}

/* gc_wait_idle waits until no cycle is active (gc.lock held); a new one
 * cannot start until the caller drops the lock. */
static void gc_wait_idle(void)
{
    while (AO_load(&gc.active))
        pthread_cond_wait(&gc.done, &gc.lock);
}

GH_API void gh_gc(void)
{
    cache_get();
    int threaded = !opts.gcstoptheworld && gc_thread_ready();
    /* A cycle under way holds gc.lock until it ends: ours is a new one,
     * as runtime.GC's. */
    pthread_mutex_lock(&gc.lock);
    if (threaded) {
        uint32_t target = gc.num_gc + 1 + (uint32_t)gc_request(GC_REQ_FORCED);
        while ((int32_t)(gc.num_gc - target) < 0)
            pthread_cond_wait(&gc.done, &gc.lock);
    } else {
        gc_wait_idle();
        sweep_all();
        gc_cycle_stw(1);
    }
    pthread_mutex_unlock(&gc.lock);
    if (!threaded) {
        sweep_start();
        scavenge_start();
    }
    sweep_all();
    mprof_post_sweep();
}

GH_API int gh_set_gc_percent(int percent)
{
    gc_init();
    pthread_mutex_lock(&gc.lock);
    int prev = pacer_set_gc_percent(&gc.pacer, percent);
    gc_feed_memory(stats_heap_live());
    pacer_commit(&gc.pacer, stats_heap_live(), true);
    gc_publish_trigger();
    pthread_mutex_unlock(&gc.lock);
    gc_maybe_start(0);
    return prev;
}

GH_API int64_t gh_set_memory_limit(int64_t limit)
{
    gc_init();
    pthread_mutex_lock(&gc.lock);
    int64_t prev = pacer_set_memory_limit(&gc.pacer, limit);
    if (limit >= 0) {
        gc_feed_memory(stats_heap_live());
        pacer_commit(&gc.pacer, stats_heap_live(), true);
        gc_publish_trigger();
    }
    pthread_mutex_unlock(&gc.lock);
    if (limit >= 0)
        gc_maybe_start(0);
    return prev;
}

/* ---- The leak checker's walk ----------------------------------------- */

struct leak_walk {
    void (*visit)(void *obj, size_t size, void *arg);
    void *arg;
};

/* gc_visit_unmarked reports every allocated, unmarked object of span s and
 * then forgets the marks (sweep_skip): nothing is freed. */
static void gc_visit_unmarked(struct span *s, void *arg)
{
    struct leak_walk *lw = arg;
    for (unsigned w = 0; w < span_nwords(s); w++) {
        uint64_t dead = s->alloc_bits[w] & ~(uint64_t)AO_load((volatile AO_t *)&s->mark_bits[w]);
        while (dead) {
            unsigned bit = (unsigned)__builtin_ctzll(dead);
            dead &= dead - 1;
            uintptr_t p = s->base + (uintptr_t)(w * 64 + bit) * s->elemsize;
            size_t size = spanclass_sizeclass(s->spanclass) == 0 ? s->limit - s->base : s->elemsize;
            lw->visit((void *)p, size, lw->arg);
        }
    }
    sweep_skip(s);
}

void gc_find_unreachable(void (*visit)(void *obj, size_t size, void *arg), void *arg)
{
    struct leak_walk lw = { visit, arg };
    cache_get();
    pthread_mutex_lock(&gc.lock);
    gc_wait_idle();
    sweep_all();
    gc_stop();
    cache_flush_all();
    sweep_all();
    /* A cycle abandoned by a fork may have left marks on swept spans. */
    heap_each_span(gc_clear_marks, NULL);
    cache_unmark_busy();
    mark_begin();
    gc_mark_roots();
    /* No sweep follows, so nothing is blackened; the busy caches' spans
     * (not walked: an allocation may be in flight there) just drop their
     * marks like the others. */
    central_each_span(gc_visit_unmarked, &lw);
    cache_each_busy_span(sweep_skip);
    gc_start_world();
    pthread_mutex_unlock(&gc.lock);
}
