/* pacer.c: GC pacing, Go 1.19's pacer (mgcpacer.go, gcControllerState)
 * and GC CPU limiter (mgclimit.go). See gc.c for the cycle it paces.
 *
 * A cycle should finish marking just as the heap reaches the goal, with
 * the collector using 25% of the procs. The goal comes from GOGC (the
 * live heap plus GOGC% of everything scanned) and from the memory limit.
 * The trigger is the goal minus a runway: the bytes the program allocates
 * while the expected scan work is done, predicted from the cons/mark ratio
 * (allocation rate over scan rate, per CPU) of past cycles, smoothed by a
 * PI controller. During the cycle the assist ratio converts allocation
 * into scan work the allocating thread owes, so that marking keeps up
 * even when the prediction was wrong.
 *
 * Invariants: trigger <= goal; heap_marked <= memory-limit goal;
 * triggered is UINT64_MAX exactly when no cycle is marking; limiter
 * fill <= capacity.
 * Locking: none inside. The caller holds the GC lock (or has stopped the
 * world) around every call; the assist ratios and the limiter's limiting
 * flag are published with release stores for the lock-free readers listed
 * in pacer.h.
 * Hot path: none; allocation reaches pacer_assist_* only when it owes
 * assist work. */
#include <string.h>
#include "pacer.h"
#include "sizeclass.h"

/* The trigger lies between 45/64 and 61/64 of the way from the live heap
 * to the goal (Go: minTriggerRatioNum, maxTriggerRatioNum). */
#define TRIGGER_DEN 64
#define TRIGGER_MIN_NUM 45
#define TRIGGER_MAX_NUM 61
/* The goal stays this far above the trigger during a cycle (minRunway). */
#define MIN_RUNWAY ((uint64_t)64 << 10)
/* Total mark CPU the pacer aims for (Go 1.18+: equal to the background
 * share; assists only make up for mistakes). */
#define GOAL_UTILIZATION PACER_BACKGROUND_UTILIZATION
/* GOGC used for assist limits when GOGC is off but a cycle runs. */
#define GC_PERCENT_OFF_AS 100000
/* Past the goal, assists aim to finish by goal * MAX_OVERSHOOT. */
#define MAX_OVERSHOOT 1.1
/* Assists never plan for less remaining scan work than this. */
#define MIN_WORK_REMAINING 1000
/* Rounding to dedicated workers may miss 25% by this much. */
#define MAX_UTIL_ERROR 0.3

_Static_assert(sizeof(AO_t) == sizeof(double), "assist ratios are stored as AO_t bits");

static AO_t pacer_double_bits(double d)
{
    AO_t bits;
    memcpy(&bits, &d, sizeof bits);
    return bits;
}

static double pacer_bits_double(AO_t bits)
{
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* pacer_int64 converts like Go's int64(float64) on the values Go feeds
 * it, but saturates instead of being undefined: NaN and +Inf give
 * INT64_MAX, -Inf gives INT64_MIN. */
static int64_t pacer_int64(double x)
{
    if (!(x < 9223372036854775808.0))
        return INT64_MAX;
    if (x < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

static int64_t pacer_clamp_int64(uint64_t x)
{
    return x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x;
}

static uint64_t pacer_nonneg(int64_t x)
{
    return x > 0 ? (uint64_t)x : 0;
}

/* pacer_pi_next feeds one sample to the controller and returns its new
 * output (Go: piController.next, with period 1). On overflow of the
 * output or the integral it resets the integral and returns false with
 * the output at min. */
static bool pacer_pi_next(struct pacer_pi *c, double input, double setpoint, double *out)
{
    double raw = c->kp * (setpoint - input) + c->err_integral;

    if (__builtin_isinf(raw) || __builtin_isnan(raw)) {
        c->err_integral = 0;
        *out = c->min;
        return false;
    }
    double output = raw;
    if (output < c->min)
        output = c->min;
    else if (output > c->max)
        output = c->max;
    c->err_integral += (c->kp / c->ti) * (setpoint - input) + (1 / c->tt) * (output - raw);
    if (__builtin_isinf(c->err_integral) || __builtin_isnan(c->err_integral)) {
        c->err_integral = 0;
        *out = c->min;
        return false;
    }
    *out = output;
    return true;
}

/* pacer_runway_bytes turns the planned runway into bytes. A negative
 * plan (a controller that has lost track) gives the longest runway, so
 * that the trigger goes to its lower bound: the result Go's conversion
 * ends up with on amd64. */
static uint64_t pacer_runway_bytes(double runway)
{
    if (runway < 0 || !(runway < 18446744073709551616.0))
        return UINT64_MAX;
    return (uint64_t)runway;
}

void pacer_init(struct pacer *p, int gc_percent, int64_t memory_limit)
{
    memset(p, 0, sizeof *p);
    p->memory_limit = PACER_NO_LIMIT;
    p->triggered = UINT64_MAX;
    /* Tuned by Go in simulation (Ziegler-Nichols) and then on real
     * programs; the long reset time makes clipping wind down slowly. */
    p->cons_mark_pi.kp = 0.9;
    p->cons_mark_pi.ti = 4.0;
    p->cons_mark_pi.tt = 1000;
    p->cons_mark_pi.min = -1000;
    p->cons_mark_pi.max = 1000;
    pacer_set_gc_percent(p, gc_percent);
    pacer_set_memory_limit(p, memory_limit);
    /* The first cycle has no sweep before it. */
    pacer_commit(p, 0, true);
}

int pacer_set_gc_percent(struct pacer *p, int percent)
{
    int old = p->gc_percent;

    if (percent < 0)
        percent = -1;
    p->gc_percent = percent;
    p->heap_minimum = percent < 0 ? 0 : PACER_HEAP_MINIMUM * (uint64_t)percent / 100;
    return old;
}

int64_t pacer_set_memory_limit(struct pacer *p, int64_t limit)
{
    int64_t old = p->memory_limit;

    if (limit >= 0)
        p->memory_limit = limit;
    return old;
}

void pacer_set_memory(struct pacer *p, uint64_t mapped_ready, uint64_t heap_free,
                      uint64_t heap_alloc)
{
    p->mapped_ready = mapped_ready;
    p->heap_free = heap_free;
    p->heap_alloc = heap_alloc;
}

void pacer_set_roots(struct pacer *p, uint64_t stack_bytes, uint64_t globals_bytes)
{
    p->max_stack_scan = stack_bytes;
    p->globals_scan = globals_bytes;
}

void pacer_commit(struct pacer *p, uint64_t heap_live, bool sweep_done)
{
    /* Sweeping happens while the heap grows from here to the trigger, so
     * give it room if it has not finished. */
    p->sweep_dist_min = sweep_done ? 0 : heap_live + PACER_SWEEP_MIN_DISTANCE;

    /* The heap may grow by GOGC% of everything the last cycle had to scan
     * (heap, stacks, globals) beyond the live heap. */
    uint64_t goal = PACER_GOAL_OFF;
    if (p->gc_percent >= 0) {
        uint64_t scanned = p->heap_marked + p->last_stack_scan + p->globals_scan;
        uint64_t growth;
        if (__builtin_mul_overflow(scanned, (uint64_t)p->gc_percent, &growth) ||
            __builtin_add_overflow(p->heap_marked, growth / 100, &goal))
            goal = PACER_GOAL_OFF;
    }
    if (goal < p->heap_minimum)
        goal = p->heap_minimum;
    p->gc_percent_goal = goal;

    /* Runway: the bytes allocated while the expected scan work is done,
     * if the collector gets GOAL_UTILIZATION of the CPU and the program
     * the rest. cons_mark is per CPU, so weigh it by that split. */
    double expected = (double)(p->last_heap_scan + p->last_stack_scan + p->globals_scan);
    p->runway = pacer_runway_bytes(p->cons_mark * (1 - GOAL_UTILIZATION) / GOAL_UTILIZATION * expected);
}

uint64_t pacer_memory_limit_goal(const struct pacer *p)
{
    uint64_t limit = (uint64_t)p->memory_limit;
    /* Memory that counts against the limit but can never hold objects.
     * Free heap pages are left out: they are where the heap will grow. */
    uint64_t heap = p->heap_free + p->heap_alloc;
    uint64_t non_heap = p->mapped_ready > heap ? p->mapped_ready - heap : 0;
    /* Being over the limit already pulls the goal down further. */
    uint64_t overage = p->mapped_ready > limit ? p->mapped_ready - limit : 0;

    if (non_heap + overage >= limit)
        return p->heap_marked;      /* collect continuously; the CPU limiter decides */
    uint64_t goal = limit - (non_heap + overage);
    if (goal < 2 * PACER_LIMIT_HEADROOM)
        goal = PACER_LIMIT_HEADROOM;
    else
        goal -= PACER_LIMIT_HEADROOM;
    if (goal < p->heap_marked)
        goal = p->heap_marked;
    return goal;
}

/* pacer_goal_and_min is pacer_heap_goal that also returns the lowest
 * trigger the goal's adjustments require (Go: heapGoalInternal). */
static uint64_t pacer_goal_and_min(const struct pacer *p, uint64_t *min_trigger)
{
    uint64_t goal = p->gc_percent_goal;
    uint64_t limit_goal = pacer_memory_limit_goal(p);

    *min_trigger = 0;
    if (limit_goal < goal)
        return limit_goal;
    /* Not memory-limited: the goal may move out, never in. */
    if (p->sweep_dist_min > goal)
        goal = p->sweep_dist_min;
    *min_trigger = p->sweep_dist_min;
    /* Assists are proportional to goal - heap, so keep some distance
     * even if the cycle started late or at a large allocation. */
    if (p->triggered != UINT64_MAX && goal < p->triggered + MIN_RUNWAY)
        goal = p->triggered + MIN_RUNWAY;
    return goal;
}

uint64_t pacer_heap_goal(const struct pacer *p)
{
    uint64_t min_trigger;
    return pacer_goal_and_min(p, &min_trigger);
}

uint64_t pacer_trigger(const struct pacer *p, uint64_t *goal_out)
{
    uint64_t min_trigger;
    uint64_t goal = pacer_goal_and_min(p, &min_trigger);
    uint64_t marked = p->heap_marked;

    if (goal_out != NULL)
        *goal_out = goal;
    if (marked >= goal)
        return goal;
    if (min_trigger < marked)
        min_trigger = marked;
    /* Too low a trigger means an always-on cycle allocating black. */
    uint64_t lower = (goal - marked) / TRIGGER_DEN * TRIGGER_MIN_NUM + marked;
    if (min_trigger < lower)
        min_trigger = lower;
    /* Always leave some headroom: 3/64 of the growth, or for large heaps
     * the cost of a cycle with nothing to scan (the heap minimum). */
    uint64_t max_trigger = (goal - marked) / TRIGGER_DEN * TRIGGER_MAX_NUM + marked;
    if (goal > PACER_HEAP_MINIMUM && goal - PACER_HEAP_MINIMUM > max_trigger)
        max_trigger = goal - PACER_HEAP_MINIMUM;
    if (max_trigger < min_trigger)
        max_trigger = min_trigger;

    uint64_t trigger = p->runway > goal ? min_trigger : goal - p->runway;
    if (trigger < min_trigger)
        trigger = min_trigger;
    if (trigger > max_trigger)
        trigger = max_trigger;
    return trigger;
}

struct pacer_workers pacer_worker_plan(int procs, unsigned flags)
{
    struct pacer_workers w = { 0, 0, 0 };

    if (procs < 1)
        procs = 1;
    double goal = procs * PACER_BACKGROUND_UTILIZATION;
    w.dedicated = (int)(goal + 0.5);
    double error = w.dedicated / goal - 1;
    if (error < -MAX_UTIL_ERROR || error > MAX_UTIL_ERROR) {
        /* Rounding missed by more than 30% (procs <= 3 or 6): round down
         * and let fractional work make up the difference. */
        if (w.dedicated > goal)
            w.dedicated--;
        w.fractional = (goal - w.dedicated) / procs;
    }
    if (flags & PACER_STOP_THE_WORLD) {
        w.dedicated = procs;
        w.fractional = 0;
    }
    if (flags & PACER_PERIODIC)
        /* The program is idle anyway; one idle worker guarantees progress
         * when fractional work alone might never be scheduled. */
        w.max_idle = w.dedicated > 0 ? 0 : 1;
    else
        w.max_idle = procs - w.dedicated;
    return w;
}

void pacer_start_cycle(struct pacer *p, int procs, unsigned flags, uint64_t heap_live,
                       uint64_t heap_scan, struct pacer_workers *workers)
{
    p->triggered = pacer_trigger(p, NULL);
    if (workers != NULL)
        *workers = pacer_worker_plan(procs, flags);
    pacer_revise(p, heap_live, heap_scan, 0);
}

void pacer_revise(struct pacer *p, uint64_t heap_live, uint64_t heap_scan, int64_t scan_work)
{
    int gc_percent = p->gc_percent < 0 ? GC_PERCENT_OFF_AS : p->gc_percent;
    int64_t live = pacer_clamp_int64(heap_live);
    int64_t goal = pacer_clamp_int64(pacer_heap_goal(p));
    int64_t triggered = pacer_clamp_int64(p->triggered);
    /* Expect the work of the last cycle (heap and stacks) plus globals. */
    int64_t expected = pacer_clamp_int64(p->last_heap_scan + p->last_stack_scan + p->globals_scan);
    /* Worst case: every scannable byte live, every stack byte in use. */
    int64_t max_work = pacer_clamp_int64(heap_scan + p->max_stack_scan + p->globals_scan);

    if (scan_work > expected) {
        /* More work than expected means the heap is growing. Stretch the
         * runway in proportion to the worst-case work, which keeps assists
         * flat; the next cycle needs that memory anyway. Never go past
         * (1 + GOGC/100) * goal. */
        int64_t ext = pacer_int64((double)(goal - triggered) / (double)expected * (double)max_work +
                                  (double)triggered);
        int64_t hard = pacer_int64((1.0 + gc_percent / 100.0) * (double)goal);
        goal = ext > hard ? hard : ext;
        expected = max_work;
    }
    if (live > goal) {
        /* Already past even that goal: leave some room and assume the
         * worst-case work. */
        goal = pacer_int64((double)goal * MAX_OVERSHOOT);
        expected = max_work;
    }
    /* Marking is racy and may overshoot its estimate; keep a floor. */
    int64_t work_left = expected - scan_work;
    if (work_left < MIN_WORK_REMAINING)
        work_left = MIN_WORK_REMAINING;
    int64_t heap_left = goal - live;
    if (heap_left <= 0)
        heap_left = 1;
    AO_store_release(&p->assist_work_per_byte,
                     pacer_double_bits((double)work_left / (double)heap_left));
    AO_store_release(&p->assist_bytes_per_work,
                     pacer_double_bits((double)heap_left / (double)work_left));
}

void pacer_end_cycle(struct pacer *p, const struct pacer_cycle_end *e)
{
    int64_t work = e->heap_scan_work + e->stack_scan_work + e->globals_scan_work;

    p->last_heap_goal = pacer_heap_goal(p);
    if (e->mark_ns > 0 && e->procs > 0 && e->heap_live > p->triggered) {
        /* cons/mark: bytes allocated per mutator CPU over bytes scanned
         * per GC CPU. Idle marking counts as GC CPU for the scan rate but
         * is not taken from the mutator, which could have had it. */
        double cpu = (double)e->mark_ns * e->procs;
        double u = (double)(e->background_ns + e->assist_ns) / cpu;
        double u_idle = (double)e->idle_ns / cpu;
        if (u < 1) {
            double now = (double)(e->heap_live - p->triggered) * (u + u_idle) / ((double)work * (1 - u));
            if (!pacer_pi_next(&p->cons_mark_pi, p->cons_mark, now, &p->cons_mark))
                p->cons_mark = 0;   /* the estimate blew up: start over */
        }
    }
    if (e->mark_ns > 0 && work > 0)
        p->mark_rate = (double)work / (double)e->mark_ns;

    p->heap_marked = e->heap_marked;
    p->last_heap_scan = pacer_nonneg(e->heap_scan_work);
    p->last_stack_scan = pacer_nonneg(e->stack_scan_work);
    p->triggered = UINT64_MAX;
    pacer_commit(p, e->heap_marked, e->sweep_done);
}

int64_t pacer_assist_work(const struct pacer *p, int64_t debt_bytes, int64_t *paid_bytes)
{
    double work_per_byte = pacer_bits_double(AO_load_acquire(&p->assist_work_per_byte));
    double bytes_per_work = pacer_bits_double(AO_load_acquire(&p->assist_bytes_per_work));
    int64_t work = pacer_int64(work_per_byte * (double)debt_bytes);

    /* Small debts over-assist to amortize the cost of an assist. */
    if (work < PACER_OVER_ASSIST_WORK) {
        work = PACER_OVER_ASSIST_WORK;
        debt_bytes = pacer_int64(bytes_per_work * (double)work);
    }
    *paid_bytes = debt_bytes;
    return work;
}

double pacer_assist_work_per_byte(const struct pacer *p)
{
    return pacer_bits_double(AO_load_acquire(&p->assist_work_per_byte));
}

int64_t pacer_assist_bytes(const struct pacer *p, int64_t work)
{
    double bytes_per_work = pacer_bits_double(AO_load_acquire(&p->assist_bytes_per_work));
    return pacer_int64(bytes_per_work * (double)work);
}

int64_t pacer_assist_delay(const struct pacer *p, int64_t work)
{
    if (p->mark_rate <= 0 || work <= 0)
        return 0;
    return pacer_int64((double)work / p->mark_rate);
}

double pacer_sweep_pages_per_byte(uint64_t trigger, uint64_t heap_live, uint64_t pages_in_use,
                                  uint64_t pages_swept)
{
    if (pages_in_use <= pages_swept)
        return 0;
    /* The 1 MiB margin absorbs rounding and concurrent sweeping, so that
     * no page is left unswept when the next cycle starts. */
    uint64_t distance = 0;
    if (trigger > heap_live + PACER_SWEEP_MIN_DISTANCE)
        distance = trigger - heap_live - PACER_SWEEP_MIN_DISTANCE;
    if (distance < PAGE_SIZE)
        distance = PAGE_SIZE;
    return (double)(pages_in_use - pages_swept) / (double)distance;
}

void pacer_limiter_init(struct pacer_limiter *l, int64_t now, int procs)
{
    l->fill = 0;
    l->overflow = 0;
    l->last_update = now;
    l->capacity = (uint64_t)(procs < 1 ? 1 : procs) * PACER_LIMITER_CAPACITY_PER_PROC;
    AO_store_release(&l->limiting, 0);
}

void pacer_limiter_set_procs(struct pacer_limiter *l, int procs)
{
    l->capacity = (uint64_t)(procs < 1 ? 1 : procs) * PACER_LIMITER_CAPACITY_PER_PROC;
    if (l->fill > l->capacity) {
        l->fill = l->capacity;
        AO_store_release(&l->limiting, 1);
    } else if (l->fill < l->capacity) {
        AO_store_release(&l->limiting, 0);
    }
}

void pacer_limiter_update(struct pacer_limiter *l, int64_t now, int64_t gc_ns, int64_t mutator_ns)
{
    uint64_t headroom = l->capacity - l->fill;
    bool was_full = headroom == 0;
    uint64_t gc = pacer_nonneg(gc_ns), mutator = pacer_nonneg(mutator_ns);

    if (now > l->last_update)
        l->last_update = now;
    if (gc > mutator && gc - mutator >= headroom) {
        /* Full: the excess is lost to the bucket but counted. */
        l->overflow += gc - mutator - headroom;
        l->fill = l->capacity;
        if (!was_full)
            AO_store_release(&l->limiting, 1);
        return;
    }
    if (gc >= mutator)
        l->fill += gc - mutator;
    else if (mutator - gc >= l->fill)
        l->fill = 0;
    else
        l->fill -= mutator - gc;
    /* Any movement off a full bucket ends limiting; an exact balance
     * (GC at 50%) keeps it on. */
    if (gc != mutator && was_full)
        AO_store_release(&l->limiting, 0);
}

bool pacer_limiter_needs_update(const struct pacer_limiter *l, int64_t now)
{
    return now - l->last_update > PACER_LIMITER_UPDATE_PERIOD;
}

bool pacer_limiter_limiting(const struct pacer_limiter *l)
{
    return AO_load_acquire(&l->limiting) != 0;
}
