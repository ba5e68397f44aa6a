/* test_finalizer.c: gh_set_finalizer and gh_keep_alive with Go's
 * runtime.SetFinalizer and runtime.KeepAlive semantics, through the public
 * API.
 *
 * A finalizer runs once, on goheap's finalizer thread, after its object
 * becomes unreachable; whatever the object references stays alive with
 * it, also while the finalizer runs; of a chain A -> B of finalizable
 * objects, A's finalizer runs first and B's only in a later cycle, after
 * A's has finished; an object the finalizer makes reachable again survives
 * and is not finalized again; once the finalizer has run and the object is
 * unreachable, it is freed.
 *
 * Observation works as in test_collector.c: each object's finalizer counts
 * its calls in a struct probe that holds the object's address only hidden;
 * "not run" is checked after an unreachable sentinel's finalizer has run
 * (the finalizer thread works through its queue in order); "runs" waits a
 * bounded number of gh_gc() rounds. Objects are made in noinline functions
 * and the stack is cleared before collecting, so that stale copies of
 * their addresses do not keep them. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "goheap.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)

/* ---- Probes (as in test_collector.c) -------------------------------- */

#define HIDE_KEY ((uintptr_t)0xa5a5000000000000ull)
#define WAIT_ROUNDS 100

static uintptr_t hide(const void *p) { return (uintptr_t)p ^ HIDE_KEY; }
static void *unhide(uintptr_t h) { return (void *)(h ^ HIDE_KEY); }

struct probe {
    int runs;          /* finalizer calls (atomic) */
    int bad;           /* calls with the wrong object or argument (atomic) */
    uintptr_t hidden;  /* the object, hidden from the collector */
    size_t filled;     /* bytes of the object holding the pattern */
};

static uint64_t pattern(uintptr_t hidden, size_t i)
{
    return ((hidden * 31 + i) * 0x9e3779b97f4a7c15ull >> 1) | ((uint64_t)1 << 63);
}

static void fill(void *obj, size_t n)
{
    uint64_t *w = obj;
    for (size_t i = 0; i < n / 8; i++)
        w[i] = pattern(hide(obj), i);
}

static int intact(const void *obj, size_t n)
{
    const volatile uint64_t *w = obj;
    for (size_t i = 0; i < n / 8; i++)
        if (w[i] != pattern(hide(obj), i))
            return 0;
    return 1;
}

static void probe_finalizer(void *obj, void *arg)
{
    struct probe *pr = arg;
    if (hide(obj) != pr->hidden)
        __atomic_add_fetch(&pr->bad, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&pr->runs, 1, __ATOMIC_SEQ_CST);
}

static int probe_runs(struct probe *pr) { return __atomic_load_n(&pr->runs, __ATOMIC_SEQ_CST); }

/* probe_make_fn allocates size bytes (noscan if atomic), fills them with
 * the object's pattern unless nofill, sets fn(obj, arg) as its finalizer
 * (arg NULL: pr) and stores it in *slot (if slot is not NULL). */
static __attribute__((noinline)) void probe_make_fn(struct probe *pr, size_t size, int atomic, int nofill,
                                                    gh_finalizer_fn fn, void *arg, void *volatile *slot)
{
    memset(pr, 0, sizeof(*pr));
    void *p = atomic ? gh_malloc_atomic(size) : gh_malloc(size);
    assert_non_null(p);
    pr->hidden = hide(p);
    pr->filled = nofill ? 0 : size;
    fill(p, pr->filled);
    assert_int_equal(gh_set_finalizer(p, fn, arg ? arg : pr), 0);
    if (slot)
        *slot = p;
}

static void probe_make(struct probe *pr, size_t size, int atomic, void *volatile *slot)
{
    probe_make_fn(pr, size, atomic, 0, probe_finalizer, NULL, slot);
}

static __attribute__((noinline)) void clear_stack(void)
{
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof(buf));
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static int wait_runs(struct probe *pr, int n)
{
    for (int i = 0; i < WAIT_ROUNDS && probe_runs(pr) < n; i++) {
        clear_stack();
        gh_gc();
        usleep(i < 10 ? 1000 : 5000);
    }
    return probe_runs(pr) >= n;
}

static void finalizers_drain(void)
{
    static struct probe sentinel;
    probe_make(&sentinel, 64, 0, NULL);
    clear_stack(); /* under the frame wait_runs is about to take */
    if (!wait_runs(&sentinel, 1))
        fail_msg("an unreachable object was never finalized: the collector frees nothing");
}

static __attribute__((noinline)) void runs_wait(struct probe *pr, int n)
{
    if (!wait_runs(pr, n))
        fail_msg("finalizer of %p ran %d times, want %d", unhide(pr->hidden), probe_runs(pr), n);
}

/* assert_runs clears the stack below the test's frame first, where the
 * waiting functions' frames are about to be laid out over stale copies of
 * addresses the test has dropped. */
static inline __attribute__((always_inline)) void assert_runs(struct probe *pr, int n)
{
    clear_stack();
    runs_wait(pr, n);
}

/* churn allocates and drops objects of size n, so that the slots of any
 * object freed too early are reused (and zeroed) by now. */
static __attribute__((noinline)) void churn(size_t n)
{
    for (int i = 0; i < 20000; i++) {
        void *volatile p = gh_malloc(n);
        assert_non_null(p);
    }
}

static void *volatile global_slot;
static gh_mem_stats ms;     /* the main thread's */
static gh_mem_stats fin_ms; /* the finalizer thread's */

/* ---- Running once ---------------------------------------------------- */

static void finalizer_runs_once_after_object_becomes_unreachable(void **state)
{
    (void)state;
    static const size_t sizes[] = { 8, 64, 4096, 32 * KIB, MIB };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int atomic = 0; atomic <= 1; atomic++) {
            struct probe pr;
            probe_make(&pr, sizes[i], atomic, NULL);
            assert_runs(&pr, 1);
            finalizers_drain();
            finalizers_drain();
            assert_int_equal(probe_runs(&pr), 1);
            assert_int_equal(pr.bad, 0);
        }
    }
}

static void finalizer_does_not_run_while_object_is_reachable(void **state)
{
    (void)state;
    struct probe pr;
    probe_make(&pr, 128, 0, &global_slot);
    for (int i = 0; i < 3; i++)
        gh_gc();
    finalizers_drain();
    assert_int_equal(probe_runs(&pr), 0);
    assert_true(intact(global_slot, 128));
    global_slot = NULL;
    assert_runs(&pr, 1);
}

static void many_finalizers_each_run_once(void **state)
{
    (void)state;
    enum { N = 20000 };
    static struct probe prs[N];
    for (int i = 0; i < N; i++)
        probe_make(&prs[i], 16 + (i % 8) * 16, i % 3 == 0, NULL);
    for (int round = 0; round < WAIT_ROUNDS; round++) {
        int done = 0;
        for (int i = 0; i < N; i++)
            done += probe_runs(&prs[i]) >= 1;
        if (done == N)
            break;
        clear_stack();
        gh_gc();
        usleep(2000);
    }
    finalizers_drain();
    for (int i = 0; i < N; i++) {
        if (probe_runs(&prs[i]) != 1 || prs[i].bad != 0)
            fail_msg("object %d of %d: finalizer ran %d times (%d with wrong arguments)", i, N,
                     probe_runs(&prs[i]), prs[i].bad);
    }
}

/* ---- What stays alive ------------------------------------------------ */

/* A finalizable object A holding the only pointer to B, a patterned
 * object with no finalizer. a_finalizer checks B while A's finalizer
 * runs, after the main thread has churned and collected meanwhile. */
struct pair {
    struct probe a;
    size_t b_size;
    int b_ok;            /* set by a_finalizer: B was intact */
    int started, release; /* a_finalizer started; main let it go on */
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void a_finalizer(void *obj, void *arg)
{
    struct pair *pp = arg;
    pthread_mutex_lock(&pp->mu);
    pp->started = 1;
    pthread_cond_broadcast(&pp->cv);
    while (!pp->release)
        pthread_cond_wait(&pp->cv, &pp->mu);
    pthread_mutex_unlock(&pp->mu);
    void *b = *(void **)obj;
    pp->b_ok = b != NULL && intact(b, pp->b_size);
    probe_finalizer(obj, &pp->a);
}

static __attribute__((noinline)) void pair_make(struct pair *pp, void *volatile *slot)
{
    probe_make_fn(&pp->a, 64, 0, 1, a_finalizer, pp, slot);
    void *b = gh_malloc(pp->b_size);
    assert_non_null(b);
    fill(b, pp->b_size);
    *(void **)*slot = b;
}

static void object_referenced_by_finalizable_object_stays_alive(void **state)
{
    (void)state;
    static struct pair pp = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    pp.b_size = 48;
    pp.b_ok = pp.started = pp.release = 0;
    pair_make(&pp, &global_slot);

    /* While A is reachable, B is. */
    for (int i = 0; i < 3; i++) {
        gh_gc();
        churn(pp.b_size);
    }
    assert_true(intact(*(void **)global_slot, pp.b_size));

    /* Once A is unreachable it is queued, and B must stay alive while A's
     * finalizer has not finished, whatever is allocated and collected
     * meanwhile. */
    global_slot = NULL;
    int started = 0;
    for (int i = 0; i < WAIT_ROUNDS && !started; i++) {
        clear_stack();
        gh_gc();
        usleep(1000);
        pthread_mutex_lock(&pp.mu);
        started = pp.started;
        pthread_mutex_unlock(&pp.mu);
    }
    assert_true(started);
    for (int i = 0; i < 3; i++) {
        churn(pp.b_size);
        gh_gc();
    }
    churn(pp.b_size);
    pthread_mutex_lock(&pp.mu);
    pp.release = 1;
    pthread_cond_broadcast(&pp.cv);
    pthread_mutex_unlock(&pp.mu);
    assert_runs(&pp.a, 1);
    assert_true(pp.b_ok);
    assert_int_equal(pp.a.bad, 0);
}

/* The chain A -> B, both finalizable. Each finalizer notes the order it
 * ran in and the number of completed cycles at the time. */
struct chain_probe {
    struct probe p;
    int order;
    uint32_t num_gc;
    int other_runs;      /* the other object's finalizer calls, as seen */
    struct chain_probe *other;
};

static int chain_seq;

static void chain_finalizer(void *obj, void *arg)
{
    struct chain_probe *cp = arg;
    gh_read_mem_stats(&fin_ms);
    cp->num_gc = fin_ms.num_gc;
    cp->other_runs = probe_runs(&cp->other->p);
    cp->order = __atomic_add_fetch(&chain_seq, 1, __ATOMIC_SEQ_CST);
    probe_finalizer(obj, &cp->p);
}

static __attribute__((noinline)) void chain_make(struct chain_probe *a, struct chain_probe *b, void *volatile *slot)
{
    void *volatile b_obj = NULL;
    probe_make_fn(&b->p, 64, 0, 1, chain_finalizer, b, &b_obj);
    probe_make_fn(&a->p, 64, 0, 1, chain_finalizer, a, slot);
    *(void **)*slot = b_obj;
}

static void finalizers_of_chain_run_in_order_one_cycle_apart(void **state)
{
    (void)state;
    static struct chain_probe a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.other = &b;
    b.other = &a;
    chain_seq = 0;
    chain_make(&a, &b, &global_slot);
    global_slot = NULL;
    assert_runs(&a.p, 1);
    assert_runs(&b.p, 1);
    assert_int_equal(a.order, 1);
    assert_int_equal(b.order, 2);
    assert_int_equal(a.other_runs, 0);
    assert_int_equal(b.other_runs, 1);
    /* B was queued by a cycle that began after A's finalizer returned. */
    if (b.num_gc <= a.num_gc)
        fail_msg("B finalized in cycle %u, A in cycle %u: same cycle", b.num_gc, a.num_gc);
    assert_int_equal(a.p.bad + b.p.bad, 0);
}

static void finalized_object_is_freed_after_its_finalizer_ran(void **state)
{
    (void)state;
    struct probe pr;
    /* Sweep away all garbage first: from here on nothing is allocated but
     * the 4 MiB object, so heap_alloc must come back to where it was. */
    for (int i = 0; i < 2; i++) {
        clear_stack();
        gh_gc();
    }
    gh_read_mem_stats(&ms);
    uint64_t before = ms.heap_alloc;
    probe_make_fn(&pr, 4 * MIB, 1, 1, probe_finalizer, NULL, NULL);
    assert_runs(&pr, 1);
    for (int i = 0; i < 20; i++) {
        clear_stack();
        gh_gc();
        gh_read_mem_stats(&ms);
        if (ms.heap_alloc <= before)
            return;
        usleep(1000);
    }
    fail_msg("a finalized, unreachable 4 MiB object is never freed (heap_alloc %llu, %llu before it)",
             (unsigned long long)ms.heap_alloc, (unsigned long long)before);
}

/* ---- Resurrection and removal ---------------------------------------- */

static void *volatile resurrected;

static void resurrecting_finalizer(void *obj, void *arg)
{
    resurrected = obj;
    probe_finalizer(obj, arg);
}

static void resurrected_object_survives_and_is_not_finalized_again(void **state)
{
    (void)state;
    struct probe pr, again;
    probe_make_fn(&pr, 96, 0, 0, resurrecting_finalizer, NULL, NULL);
    assert_runs(&pr, 1);
    assert_int_equal(hide(resurrected), pr.hidden);
    for (int i = 0; i < 3; i++) {
        gh_gc();
        churn(96);
    }
    finalizers_drain();
    assert_int_equal(probe_runs(&pr), 1);
    assert_true(intact(resurrected, 96));
    /* It is an ordinary object again: a new finalizer runs when it is
     * dropped once more. */
    memset(&again, 0, sizeof(again));
    again.hidden = pr.hidden;
    assert_int_equal(gh_set_finalizer(resurrected, probe_finalizer, &again), 0);
    resurrected = NULL;
    assert_runs(&again, 1);
    assert_int_equal(probe_runs(&pr), 1);
    assert_int_equal(again.bad, 0);
}

static void null_finalizer_removes_finalizer(void **state)
{
    (void)state;
    struct probe pr;
    probe_make(&pr, 64, 0, &global_slot);
    assert_int_equal(gh_set_finalizer(global_slot, NULL, NULL), 0);
    /* Removing what is not there is fine too. */
    assert_int_equal(gh_set_finalizer(global_slot, NULL, NULL), 0);
    global_slot = NULL;
    for (int i = 0; i < 3; i++) {
        clear_stack();
        gh_gc();
    }
    finalizers_drain();
    assert_int_equal(probe_runs(&pr), 0);
}

static void finalizer_on_non_heap_pointer_fails_with_einval(void **state)
{
    (void)state;
    static int global_int;
    int local_int = 0;
    void *mapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mapped != MAP_FAILED);
    char *obj = gh_malloc(64);
    char *freed = gh_malloc(64);
    assert_non_null(obj);
    assert_non_null(freed);
    gh_free(freed);

    void *bad[] = { NULL, &local_int, &global_int, mapped, obj + 8, obj + 64, freed };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(gh_set_finalizer(bad[i], probe_finalizer, NULL), -1);
        assert_int_equal(errno, EINVAL);
    }
    assert_int_equal(gh_set_finalizer(obj, NULL, NULL), 0);
    gh_free(obj);
    munmap(mapped, 4096);
}

/* ---- The finalizer's argument and gh_keep_alive ----------------------- */

struct arg_check {
    struct probe p;
    size_t size;
    int arg_ok;
};

static void arg_check_finalizer(void *obj, void *arg)
{
    struct arg_check *ac = *(struct arg_check **)arg;
    ac->arg_ok = intact((char *)arg + 64, ac->size - 64);
    probe_finalizer(obj, &ac->p);
}

/* arg_make registers a finalizer whose argument is a heap object of its
 * own (first word: the check record; the rest patterned), referenced by
 * nothing but the registration. */
static __attribute__((noinline)) void arg_make(struct arg_check *ac, void *volatile *slot)
{
    char *arg = gh_malloc(ac->size);
    assert_non_null(arg);
    *(struct arg_check **)arg = ac;
    fill(arg + 64, ac->size - 64);
    probe_make_fn(&ac->p, 64, 0, 1, arg_check_finalizer, arg, slot);
}

static void finalizer_argument_stays_alive_until_finalizer_runs(void **state)
{
    (void)state;
    static struct arg_check ac;
    memset(&ac, 0, sizeof(ac));
    ac.size = 256;
    arg_make(&ac, &global_slot);
    for (int i = 0; i < 3; i++) {
        clear_stack();
        gh_gc();
        churn(ac.size);
    }
    global_slot = NULL;
    assert_runs(&ac.p, 1);
    assert_true(ac.arg_ok);
}

/* keep_alive_window holds the only reference in a local, collects, and
 * reports how often the finalizer had run just before gh_keep_alive. */
static __attribute__((noinline)) int keep_alive_window(struct probe *pr)
{
    void *volatile slot = NULL;
    probe_make(pr, 64, 0, &slot);
    void *p = slot;
    slot = NULL;
    for (int i = 0; i < 3; i++)
        gh_gc();
    finalizers_drain();
    int runs = probe_runs(pr);
    gh_keep_alive(p);
    return runs;
}

static void keep_alive_keeps_object_until_the_call(void **state)
{
    (void)state;
    struct probe pr;
    assert_int_equal(keep_alive_window(&pr), 0);
    assert_runs(&pr, 1);
}

static void *volatile first_object;

/* A kept first object, so that no tested object is the first of the first
 * arena (see test_collector.c's group_setup). */
static int group_setup(void **state)
{
    (void)state;
    first_object = gh_malloc(16);
    gh_set_gc_percent(100);
    /* goheap's start-up leaves addresses inside the first arena in dead
     * stack below us, where the test runner's frames are about to lie. */
    clear_stack();
    return first_object != NULL ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: a later finalizer can hide the bug it looks for. */
        cmocka_unit_test(finalized_object_is_freed_after_its_finalizer_ran),
        cmocka_unit_test(finalizer_runs_once_after_object_becomes_unreachable),
        cmocka_unit_test(finalizer_does_not_run_while_object_is_reachable),
        cmocka_unit_test(many_finalizers_each_run_once),
        cmocka_unit_test(object_referenced_by_finalizable_object_stays_alive),
        cmocka_unit_test(finalizers_of_chain_run_in_order_one_cycle_apart),
        cmocka_unit_test(resurrected_object_survives_and_is_not_finalized_again),
        cmocka_unit_test(null_finalizer_removes_finalizer),
        cmocka_unit_test(finalizer_on_non_heap_pointer_fails_with_einval),
        cmocka_unit_test(finalizer_argument_stays_alive_until_finalizer_runs),
        cmocka_unit_test(keep_alive_keeps_object_until_the_call),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
