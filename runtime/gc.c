/* gc.c: the collection cycle (Go: mgc.go).
 *
 * Overview of the collector. goheap's collector is a conservative, non-
 * moving mark-sweep collector over the span heap of malloc.c:
 *
 *   1. Sweep termination. Finish sweeping the previous cycle's spans, take
 *      every allocator lock (lock.h) so that no thread can be stopped while
 *      holding one, stop the world (threads.c: a signal handshake that
 *      leaves each thread's registers on its stack), and flush every
 *      thread cache back to the central lists.
 *   2. Mark. From the roots (roots.c: data and bss of every loaded object,
 *      user roots; threads.c: every thread's stack and registers; the
 *      contents of finalizable objects and queued finalizers) mark every
 *      object reachable through any aligned word that points into it
 *      (mark.c). Unreachable objects with finalizers are then marked too
 *      and their finalizers queued (finalizer.c).
 *   3. Mark termination. Optionally verify the mark (checkmark.c), let the
 *      pacer (pacer.c) set the next goal and trigger from the marked heap,
 *      advance sweep_gen so that every span needs sweeping, advance the
 *      profile cycle (mprof.c), restart the world.
 *   4. Sweep. Lazily, span by span, as allocation needs spans (central.c),
 *      and all the rest before the next cycle begins (sweep.c). gh_gc also
 *      sweeps everything before it returns.
 *
 * A cycle starts when heap_live (Go's heapLive: bytes marked last cycle
 * plus bytes allocated since, counted when spans are cached) reaches the
 * pacer's trigger; allocation slow paths test it. gctrace lines (trace.c)
 * and MemStats (stats.c) are fed from the record of each cycle kept here.
 *
 * Locking: gc.lock serialises cycles and guards the pacer and the cycle
 * records; it comes first in lock.h's order. */
#include <pthread.h>
#include <time.h>
#include <string.h>
#include "goheap.h"
#include "gc.h"
#include "lock.h"
#include "cache.h"
#include "central.h"
#include "heap.h"
#include "sweep.h"
#include "mark.h"
#include "stats.h"
#include "pacer.h"
#include "trace.h"
#include "options.h"
#include "print.h"
#include "os.h"
#include "threads.h"
#include "roots.h"
#include "finalizer.h"
#include "mprof.h"
#include "checkmark.h"
#include "gcstate.h"

volatile AO_t gc_phase_marking;
volatile AO_t gc_trigger_bytes = ~(AO_t)0;
__thread int lock_held_all __attribute__((tls_model("initial-exec")));

struct gc_state gc = { .lock = PTHREAD_MUTEX_INITIALIZER };

__attribute__((constructor)) static void gc_record_start(void)
{
    if (gc.start_ns == 0)
        gc.start_ns = os_nanotime();
}

/* gc_publish_trigger stores the pacer's trigger and goal (gc.lock held). */
static void gc_publish_trigger(void)
{
    uint64_t goal;
    uint64_t trigger = pacer_trigger(&gc.pacer, &goal);
    gc.heap_goal = goal;
    AO_store_release(&gc_trigger_bytes, (AO_t)trigger);
}

/* gc_feed_memory tells the pacer what the memory limit is measured
 * against (gc.lock held). heap_alloc is an estimate outside a stop. */
static void gc_feed_memory(uint64_t heap_alloc)
{
    uint64_t sys = 0;
    for (int i = 0; i < OS_STAT_COUNT; i++)
        sys += AO_load(&os_sys[i]);
    uint64_t released = AO_load(&heap_stats.released);
    uint64_t idle = AO_load(&heap_stats.sys) - AO_load(&heap_stats.inuse);
    pacer_set_memory(&gc.pacer, sys - released, idle > released ? idle - released : 0, heap_alloc);
}

void gc_init(void)
{
    if (AO_load_acquire(&gc.inited))
        return;
    pthread_mutex_lock(&gc.lock);
    if (!gc.inited) {
        options_init();
        gc_record_start();
        pacer_init(&gc.pacer, opts.gogc, opts.memory_limit);
        pacer_limiter_init(&gc.limiter, os_nanotime(), os_ncpu());
        mprof_init();
        gc_publish_trigger();
        AO_store_release(&gc.inited, 1);
    }
    pthread_mutex_unlock(&gc.lock);
}

static void gc_mark_root_range(uintptr_t lo, uintptr_t hi, void *arg)
{
    (void)arg;
    mark_range(lo, hi);
}

/* gc_mark_roots marks from every root (world stopped). Also used by the
 * checkmark pass, which must see exactly the same roots. */
static void gc_mark_roots(void)
{
    roots_each(gc_mark_root_range, NULL);
    gc.globals_bytes = mark_bytes_scanned();
    threads_each_stack(gc_mark_root_range, NULL);
    gc.stack_bytes = mark_bytes_scanned() - gc.globals_bytes;
    finalizer_mark_roots();
    mark_drain();
}

/* gc_stop takes every allocator lock and stops the world. */
static void gc_stop(void)
{
    roots_prepare();
    cache_lock_all();
    central_lock_all();
    heap_lock();
    finalizer_lock();
    mprof_lock();
    lock_held_all = 1;
    threads_stop_world();
}

static void gc_start_world(void)
{
    threads_start_world();
    lock_held_all = 0;
    mprof_unlock();
    finalizer_unlock();
    heap_unlock();
    central_unlock_all();
    cache_unlock_all();
}

/* gc_cycle runs one full cycle. gc.lock held. */
static void gc_cycle(int forced)
{
    struct gc_cycle rec;
    memset(&rec, 0, sizeof(rec));
    int64_t t_sweep_term = os_nanotime();
    rec.start_ns = t_sweep_term - gc.start_ns;
    rec.forced = forced;
    rec.heap_start = stats_heap_live();

    gc_stop();
    cache_flush_all();
    sweep_all();         /* spans that a cache kept across the last cycle */
    cache_unmark_busy(); /* spans that a cache still keeps */
    int64_t t_mark = os_nanotime();
    int64_t cpu0 = os_thread_cputime();

    pacer_start_cycle(&gc.pacer, 1, PACER_STOP_THE_WORLD, rec.heap_start, rec.heap_start, NULL);
    mark_begin();
    gc_mark_roots();
    unsigned queued = finalizer_queue_unreachable();
    if (queued)
        mark_drain();
    cache_blacken_busy();
    uint64_t marked = mark_bytes_marked();
    uint64_t scanned = mark_bytes_scanned();

    int64_t t_mark_term = os_nanotime();
    int64_t cpu1 = os_thread_cputime();
    if (opts.gccheckmark)
        checkmark_verify(gc_mark_roots);
    if (gh_debug >= 2)
        checkmark_verify_heap();

    rec.heap_end = stats_heap_live();
    rec.heap_marked = marked;
    struct pacer_cycle_end e = {
        .heap_live = rec.heap_end,
        .heap_marked = marked,
        .heap_scan_work = (int64_t)(scanned - gc.globals_bytes - gc.stack_bytes),
        .stack_scan_work = (int64_t)gc.stack_bytes,
        .globals_scan_work = (int64_t)gc.globals_bytes,
        .background_ns = cpu1 - cpu0,
        .mark_ns = t_mark_term - t_mark,
        .procs = 1,
        .sweep_done = false,
    };
    pacer_set_roots(&gc.pacer, gc.stack_bytes, gc.globals_bytes);
    gc_feed_memory(marked);
    gc.heap_goal_this_cycle = gc.heap_goal;
    pacer_end_cycle(&gc.pacer, &e);
    AO_store(&stats.heap_live, (AO_t)marked);
    AO_store(&stats.heap_marked, (AO_t)marked);
    gc_publish_trigger();
    AO_fetch_and_add(&sweep_gen, 2);
    cache_stamp_flushed(AO_load(&sweep_gen));
    mprof_next_cycle();

    int64_t t_end = os_nanotime();
    gc_start_world();
    int64_t t_restarted = os_nanotime();
    mprof_flush();
    finalizer_wake();

    /* Bookkeeping, as Go's gcMarkTermination. */
    uint64_t pause = (uint64_t)(t_restarted - t_sweep_term);
    int64_t wall_end = os_walltime();
    gc.pause_ns[gc.num_gc % 256] = pause;
    gc.pause_end[gc.num_gc % 256] = (uint64_t)wall_end;
    gc.pause_total_ns += pause;
    gc.last_gc = (uint64_t)wall_end;
    gc.num_gc++;
    if (forced)
        gc.num_forced_gc++;
    rec.num = gc.num_gc;
    rec.clock_ns[0] = t_mark - t_sweep_term;
    rec.clock_ns[1] = t_mark_term - t_mark;
    rec.clock_ns[2] = t_restarted - t_mark_term;
    rec.cpu_stw_start_ns = rec.clock_ns[0];
    rec.cpu_background_ns = cpu1 - cpu0;
    rec.cpu_stw_end_ns = rec.clock_ns[2];
    rec.heap_goal = gc.heap_goal_this_cycle;
    rec.procs = 1;
    gc.cpu_total_ns += rec.cpu_stw_start_ns + rec.cpu_assist_ns + rec.cpu_background_ns + rec.cpu_stw_end_ns;
    int64_t avail = (os_nanotime() - gc.start_ns) * os_ncpu();
    gc.cpu_fraction = avail > 0 ? (double)gc.cpu_total_ns / (double)avail : 0;
    rec.cpu_fraction = gc.cpu_fraction;
    (void)t_end;
    gc.last = rec;
    if (opts.gctrace > 0) {
        char line[TRACE_LINE_MAX];
        trace_format_gc(line, sizeof(line), &rec);
        print_err("%s", line);
    }
}

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
    sweep_all();
    gc_stop();
    cache_flush_all();
    sweep_all();
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

void gc_maybe_start(uintptr_t bytes)
{
    if (likely(stats_heap_live() + bytes < AO_load_acquire(&gc_trigger_bytes)) || lock_held_all)
        return;
    /* If another thread is starting a cycle, wait for it rather than run
     * ahead of the goal, but only for a while: this thread may hold a lock
     * the collector needs (the loader's, inside a dl_iterate_phdr
     * callback), and then it must go on and let the collector have it. */
    if (pthread_mutex_trylock(&gc.lock) != 0) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 50 * 1000 * 1000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        if (pthread_mutex_timedlock(&gc.lock, &deadline) != 0)
            return;
    }
    /* Another thread may have collected while we waited. */
    if (stats_heap_live() + bytes >= AO_load(&gc_trigger_bytes)) {
        sweep_all();
        gc_cycle(0);
    }
    pthread_mutex_unlock(&gc.lock);
}

GH_API void gh_gc(void)
{
    cache_get();
    pthread_mutex_lock(&gc.lock);
    sweep_all();
    gc_cycle(1);
    sweep_all();
    mprof_post_sweep();
    pthread_mutex_unlock(&gc.lock);
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

GH_API void gh_free_os_memory(void)
{
    gh_gc();
    heap_release_free(0);
}
