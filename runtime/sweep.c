/* sweep.c: sweeping (Go: mgcsweep.go). After mark termination every span
 * needs sweeping (sweep_gen moved on by 2 with the world stopped). A span
 * is swept lazily when its central list hands it to a cache, by the
 * background sweeper thread (Go's bgsweep), by sweep_all before the next
 * cycle starts and on gh_gc, or when a free lands in it. Sweeping keeps
 * exactly the slots that are allocated and marked and never touches a
 * marked object's memory.
 *
 * Sweeping while a cycle marks (gc.c: a span a cache kept through the
 * last cycle and hands back now) frees the slots that cycle left unmarked
 * but keeps the marks: the running cycle's marker sends its marks in while
 * the program runs (cmark.c), and clearing a span's bits now could drop
 * them. The span's next sweep, after this cycle, clears them. Every slot
 * allocated since that cycle's snapshot is marked, so keeping its marks
 * keeps at most what the earlier cycle found dead a cycle longer.
 *
 * The background sweeper sweeps one span at a time, class by class, and
 * yields the processor every few spans, so that sweeping rarely lands on
 * an allocation; it is woken after every cycle and wakes the scavenger
 * when it finds nothing left.
 *
 * Locking: the caller of sweep_span holds the span's central lock and no
 * cache owns the span (central.c guarantees both). The sweeper thread is
 * a bgwork (bgwork.c). */
#include <sched.h>
#include <string.h>
#include "sweep.h"
#include "bgwork.h"
#include "central.h"
#include "gc.h"
#include "scavenge.h"
#include "stats.h"
#include "mprof.h"
#include "options.h"
#include "print.h"

/* Spans swept between two yields of the background sweeper. */
#define SWEEP_BATCH 16

volatile AO_t sweep_gen = 2;

static void sweep_round(void);
static struct bgwork bg = BGWORK_INIT(sweep_round);

/* sweep_dead handles each slot freed by this sweep that someone may know
 * about: the profiler, or GODEBUG=clobberfree. */
static void sweep_dead(struct span *s, unsigned w, uint64_t dead)
{
    while (dead) {
        unsigned bit = (unsigned)__builtin_ctzll(dead);
        dead &= dead - 1;
        uintptr_t p = s->base + (uintptr_t)(w * 64 + bit) * s->elemsize;
        if (AO_load(&s->sampled) && mprof_free((void *)p, s->elemsize))
            AO_fetch_and_sub1(&s->sampled);
        if (opts.clobberfree) {
            uint32_t *q = (uint32_t *)p, *end = (uint32_t *)(p + (s->limit - s->base < s->elemsize ? s->limit - s->base : s->elemsize));
            while (q < end)
                *q++ = 0xdeadbeef;
        }
    }
}

enum sweep_result sweep_span(struct span *s)
{
    gh_assert(s->owner == NULL);
    gh_assert(gh_debug < 2 || sweep_needed(s));
    span_drain_xfree(s);
    unsigned nw = span_nwords(s), live = 0, freed = 0;
    int notify = AO_load(&s->sampled) || opts.clobberfree;
    int keep = gc_marking(); /* see the top of this file */
    for (unsigned w = 0; w < nw; w++) {
        uint64_t alloc = s->alloc_bits[w];
        uint64_t mark = (uint64_t)AO_load((volatile AO_t *)&s->mark_bits[w]);
        uint64_t dead = alloc & ~mark;
        if (dead && notify)
            sweep_dead(s, w, dead);
        alloc &= mark;
        s->alloc_bits[w] = alloc;
        if (!keep)
            AO_store((volatile AO_t *)&s->mark_bits[w], 0);
        freed += (unsigned)__builtin_popcountll(dead);
        live += (unsigned)__builtin_popcountll(alloc);
    }
    s->alloc_count = live;
    if (freed) {
        s->needzero = 1;
        if (spanclass_sizeclass(s->spanclass) != 0)
            stats_small_freed(spanclass_sizeclass(s->spanclass), freed);
    }
    AO_store_release(&s->sweepgen, AO_load(&sweep_gen));
    return live == 0 ? SWEEP_EMPTY : live == s->nelems ? SWEEP_FULL : SWEEP_PARTIAL;
}

ALLOC_TEXT void sweep_skip(struct span *s)
{
    for (unsigned w = 0; w < SPAN_MAX_WORDS; w++)
        AO_store((volatile AO_t *)&s->mark_bits[w], 0);
    AO_store_release(&s->sweepgen, AO_load(&sweep_gen));
}

void sweep_all(void)
{
    for (unsigned spc = 0; spc < NUM_SPAN_CLASSES; spc++)
        while (central_sweep_one(spc))
            ;
}

/* sweep_background sweeps every unswept span, yielding between batches. */
static void sweep_background(void)
{
    unsigned n = 0;
    for (unsigned spc = 0; spc < NUM_SPAN_CLASSES; spc++) {
        while (central_sweep_one(spc)) {
            if (++n % SWEEP_BATCH == 0)
                sched_yield();
        }
    }
}

/* sweep_round is the background sweeper's round: sweep, then let the
 * scavenger see what sweeping freed. */
static void sweep_round(void)
{
    sweep_background();
    scavenge_wake();
}

void sweep_start(void) { bgwork_start(&bg); }
void sweep_wake(void) { bgwork_wake(&bg); }
void sweep_fork_child(void) { bgwork_fork_child(&bg); }
