/* scavenge.c: returning free heap pages to the OS (Go: mgcscavenge.go).
 *
 * Free page runs keep their memory after sweeping frees them, so that the
 * next allocations reuse it without faults. The scavenger gives back
 * (madvise, heap_release_free: largest runs first) what is beyond the
 * retained-memory goal: retained = heap in use plus free pages not yet
 * returned, and its goal is the heap goal plus 10% (Go's
 * retainExtraPercent), or less when the memory limit asks for it: with a
 * limit, all mapped memory not returned should stay under 95% of it (Go's
 * reduceExtraPercent). It runs on its own thread, woken by the background
 * sweeper when a cycle's sweep is done, and releases a step at a time,
 * resting between steps about ten times as long as the step took, so that
 * it holds the heap lock briefly and uses little of one processor.
 *
 * With GODEBUG=scavtrace=1 each pass (and gh_free_os_memory) prints Go
 * 1.19's line: bytes released since the last line, HeapReleased, and the
 * share of retained memory in use.
 *
 * Locking: scav.work.lock guards the wake-up and the report; it is a leaf.
 * heap_release_free takes the heap lock itself. */
#include <pthread.h>
#include <time.h>
#include "goheap.h"
#include "scavenge.h"
#include "bgwork.h"
#include "gc.h"
#include "gcstate.h"
#include "central.h"
#include "heap.h"
#include "options.h"
#include "os.h"
#include "pacer.h"
#include "print.h"
#include "trace.h"

/* Bytes released per step, and the longest rest between steps. */
#define SCAV_STEP ((uint64_t)16 << 20)
#define SCAV_MAX_REST_NS ((int64_t)10000000)

static void scavenge_round(void);
static struct {
    struct bgwork work;       /* its lock also guards released */
    uint64_t released;        /* work.lock: bytes released since the last report */
} scav = { .work = BGWORK_INIT(scavenge_round) };

/* scavenge_free_unreleased is the free heap memory still backed (never
 * used memory counts as released, heap.c). */
static uint64_t scavenge_free_unreleased(void)
{
    uint64_t sys = AO_load(&heap_stats.sys), inuse = AO_load(&heap_stats.inuse);
    uint64_t released = AO_load(&heap_stats.released);
    return sys > inuse + released ? sys - inuse - released : 0;
}

/* scavenge_keep is how much free memory may stay backed. */
static uint64_t scavenge_keep(void)
{
    uint64_t goal = AO_load((volatile AO_t *)&gc.heap_goal);
    uint64_t inuse = AO_load(&heap_stats.inuse);
    uint64_t retained_goal = goal + goal / 10;
    uint64_t keep = retained_goal > inuse ? retained_goal - inuse : 0;
    int64_t limit = gc.pacer.memory_limit;
    if (limit != PACER_NO_LIMIT && limit > 0) {
        uint64_t mapped = AO_load(&gc.mapped);
        uint64_t target = (uint64_t)limit / 100 * 95;
        uint64_t free = scavenge_free_unreleased();
        if (mapped > target) {
            uint64_t excess = mapped - target;
            uint64_t cap = free > excess ? free - excess : 0;
            if (cap < keep)
                keep = cap;
        }
    }
    return keep;
}

static void scavenge_report(int forced)
{
    pthread_mutex_lock(&scav.work.lock);
    struct scav_cycle s = {
        .released = scav.released,
        .heap_released = AO_load(&heap_stats.released),
        .heap_inuse = AO_load(&heap_stats.inuse),
        .heap_free = scavenge_free_unreleased(),
        .forced = forced,
    };
    scav.released = 0;
    pthread_mutex_unlock(&scav.work.lock);
    if (opts.scavtrace > 0) {
        char line[TRACE_LINE_MAX];
        trace_format_scav(line, sizeof(line), &s);
        print_err("%s", line);
    }
}

static void scavenge_count(uint64_t n)
{
    pthread_mutex_lock(&scav.work.lock);
    scav.released += n;
    pthread_mutex_unlock(&scav.work.lock);
}

/* scavenge_pass releases free memory beyond the goal, a step at a time. */
static void scavenge_pass(void)
{
    for (;;) {
        uint64_t keep = scavenge_keep(), free = scavenge_free_unreleased();
        if (free <= keep)
            return;
        uint64_t want = free - keep > SCAV_STEP ? free - SCAV_STEP : keep;
        int64_t t0 = os_nanotime();
        uint64_t n = heap_release_free(want);
        int64_t took = os_nanotime() - t0;
        scavenge_count(n);
        if (n == 0)
            return;
        int64_t rest = took * 10 > SCAV_MAX_REST_NS ? SCAV_MAX_REST_NS : took * 10;
        struct timespec ts = { 0, (long)rest };
        nanosleep(&ts, NULL);
    }
}

static void scavenge_round(void)
{
    scavenge_pass();
    scavenge_report(0);
}

void scavenge_start(void) { bgwork_start(&scav.work); }
void scavenge_wake(void) { bgwork_wake(&scav.work); }
void scavenge_fork_child(void) { bgwork_fork_child(&scav.work); }

GH_API void gh_free_os_memory(void)
{
    gh_gc();
    central_drop_kept();
    scavenge_count(heap_release_free(0));
    scavenge_report(1);
}
