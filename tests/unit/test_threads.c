/* test_threads.c: the thread registry and stop-the-world (threads.c).
 *
 * Registration through the pthread_create wrapper, gh_register_thread and
 * every exit path; a stop that catches threads busy in a loop, blocked in
 * read() and sleeping, with each one's stack, registers and alternate
 * signal stack reported; a thread waiting inside threads_blocking counted
 * as stopped without a signal; stops racing threads that come and go; fork. A
 * stopped thread is recognised by its progress counter standing still
 * while the test waits, and restarted by it moving again. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <cmocka.h>

#include "goheap.h"
#include "threads.h"
#include "atomic.h"

#define MAX_RANGES 512
/* Secrets are stored xor-ed with MASK so that the true value exists only
 * where a thread computes it: in its registers and on its stack. */
#define MASK ((uintptr_t)0x3c3c3c3c3c3c3c3cu)

static struct ranges {
    size_t n;
    uintptr_t lo[MAX_RANGES], hi[MAX_RANGES];
} found;

static void collect(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct ranges *r = arg;
    if (r->n < MAX_RANGES) {
        r->lo[r->n] = lo;
        r->hi[r->n] = hi;
    }
    r->n++;
}

/* range_of returns the index of the range holding addr, or -1. */
static int range_of(uintptr_t addr)
{
    for (size_t i = 0; i < found.n && i < MAX_RANGES; i++)
        if (addr >= found.lo[i] && addr < found.hi[i])
            return (int)i;
    return -1;
}

/* holds reports whether a reported range other than skip contains the
 * word secret_masked ^ MASK. */
static int holds(uintptr_t secret_masked, int skip)
{
    uintptr_t want = secret_masked ^ MASK;
    for (size_t i = 0; i < found.n && i < MAX_RANGES; i++) {
        if ((int)i == skip)
            continue;
        for (const uintptr_t *w = (const uintptr_t *)found.lo[i]; w < (const uintptr_t *)found.hi[i]; w++)
            if (*w == want)
                return 1;
    }
    return 0;
}

/* stop_and_collect stops the world and records what threads_each_stack reports;
 * returns the index of the caller's own stack range. */
static int stop_and_collect(void)
{
    int here;
    found.n = 0;
    threads_stop_world();
    threads_each_stack(collect, &found);
    return range_of((uintptr_t)&here);
}

static void pause_briefly(void)
{
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* wait_until polls cond with short sleeps; the bound only turns a hang
 * into a failure. */
#define wait_until(cond)                                         \
    do {                                                         \
        int tries_ = 0;                                          \
        while (!(cond) && tries_++ < 20000)                      \
            usleep(500);                                         \
        assert_true(cond);                                       \
    } while (0)

/* ---- Workers ------------------------------------------------------------ */

enum work { BUSY, READER, SLEEPER };

struct worker {
    pthread_t id;
    enum work kind;
    int fd;                       /* READER: read end of its pipe */
    uintptr_t secret_masked;      /* BUSY: the register-only value, masked */
    volatile AO_t ready;
    volatile AO_t quit;
    volatile AO_t progress;
    volatile uintptr_t local;     /* address of a local on its stack */
    volatile uintptr_t result;    /* BUSY: the secret, used after the loop */
};

static void *worker_main(void *p)
{
    struct worker *w = p;
    volatile int anchor = 0;
    w->local = (uintptr_t)&anchor;
    if (w->kind == BUSY) {
        uintptr_t v = w->secret_masked ^ MASK;
        AO_store_release(&w->ready, 1);
        while (!AO_load_acquire(&w->quit)) {
            __asm__ volatile("" : "+r"(v));
            AO_store(&w->progress, AO_load(&w->progress) + 1);
        }
        w->result = v ^ MASK;
    } else if (w->kind == READER) {
        char c;
        AO_store_release(&w->ready, 1);
        while (read(w->fd, &c, 1) == 1 && c != 'q')
            AO_store(&w->progress, AO_load(&w->progress) + 1);
    } else {
        AO_store_release(&w->ready, 1);
        while (!AO_load_acquire(&w->quit)) {
            struct timespec ts = { 0, 1000 * 1000 };
            nanosleep(&ts, NULL);
            AO_store(&w->progress, AO_load(&w->progress) + 1);
        }
    }
    return (void *)(uintptr_t)anchor;
}

static int pipes[2][2];

static void start_worker(struct worker *w, enum work kind, int index)
{
    memset(w, 0, sizeof(*w));
    w->kind = kind;
    w->secret_masked = ((uintptr_t)0x5ec7e7000000 + (uintptr_t)index * 0x1111) ^ MASK;
    if (kind == READER)
        w->fd = pipes[index][0];
    assert_int_equal(pthread_create(&w->id, NULL, worker_main, w), 0);
    wait_until(AO_load_acquire(&w->ready));
}

static void stop_worker(struct worker *w, int index)
{
    if (w->kind == READER)
        assert_int_equal(write(pipes[index][1], "q", 1), 1);
    AO_store_release(&w->quit, 1);
    assert_int_equal(pthread_join(w->id, NULL), 0);
}

/* ---- Registration --------------------------------------------------------- */

static void main_thread_is_registered_once(void **state)
{
    (void)state;
    int n = threads_count();
    assert_true(n >= 1);
    assert_int_equal(threads_register_self(), 0);
    assert_int_equal(gh_register_thread(), 0);
    assert_int_equal(threads_count(), n);
}

static volatile AO_t seen_count;

static void *report_count(void *arg)
{
    AO_store(&seen_count, (AO_t)threads_count());
    return arg;
}

static void *exit_early(void *arg)
{
    AO_store(&seen_count, (AO_t)threads_count());
    pthread_exit(arg);
}

static void *block_until_cancelled(void *arg)
{
    AO_store(&seen_count, (AO_t)threads_count());
    for (;;)
        pause();
    return arg;
}

static void created_threads_register_until_they_exit(void **state)
{
    (void)state;
    int base = threads_count();
    void *(*routines[])(void *) = { report_count, exit_early, block_until_cancelled };
    pthread_t t;
    void *ret;

    for (int i = 0; i < 3; i++) {
        AO_store(&seen_count, 0);
        assert_int_equal(pthread_create(&t, NULL, routines[i], (void *)&seen_count), 0);
        wait_until(AO_load(&seen_count) != 0);
        assert_int_equal(AO_load(&seen_count), base + 1);
        if (routines[i] == block_until_cancelled)
            assert_int_equal(pthread_cancel(t), 0);
        assert_int_equal(pthread_join(t, &ret), 0);
        assert_ptr_equal(ret, routines[i] == block_until_cancelled ? PTHREAD_CANCELED : (void *)&seen_count);
        assert_int_equal(threads_count(), base);
    }

    /* Cancelled at once, perhaps before it registers: no entry may be
     * left behind, STARTING ones included (their argument is reported). */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(pthread_create(&t, NULL, block_until_cancelled, (void *)&seen_count), 0);
        assert_int_equal(pthread_cancel(t), 0);
        assert_int_equal(pthread_join(t, &ret), 0);
        assert_ptr_equal(ret, PTHREAD_CANCELED);
    }
    stop_and_collect();
    size_t starting = 0;
    for (size_t i = 0; i < found.n; i++)
        starting += found.hi[i] - found.lo[i] == sizeof(void *);
    threads_start_world();
    assert_int_equal(starting, 0);
    assert_int_equal(threads_count(), base);

    /* Detached: unregistered as it exits, with no join. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    AO_store(&seen_count, 0);
    assert_int_equal(pthread_create(&t, &attr, report_count, NULL), 0);
    pthread_attr_destroy(&attr);
    wait_until(AO_load(&seen_count) != 0);
    wait_until(threads_count() == base);
}

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* raw_create makes a thread with the real pthread_create, behind goheap's
 * back, as a library created before goheap would. */
static int raw_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    create_fn real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
    assert_non_null(real);
    assert_true(real != pthread_create);
    return real(t, NULL, fn, arg);
}

static int foreign_counts[5];

static void *foreign_registers_explicitly(void *arg)
{
    foreign_counts[0] = threads_count();
    foreign_counts[1] = gh_register_thread();
    foreign_counts[2] = threads_count();
    gh_register_thread();
    foreign_counts[3] = threads_count();
    gh_unregister_thread();
    foreign_counts[4] = threads_count();
    /* Registered again and left so: its exit hook must unregister it. */
    gh_register_thread();
    return arg;
}

static void foreign_thread_registers_with_gh_register_thread(void **state)
{
    (void)state;
    int base = threads_count();
    pthread_t t;
    assert_int_equal(raw_create(&t, foreign_registers_explicitly, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(foreign_counts[0], base);
    assert_int_equal(foreign_counts[1], 0);
    assert_int_equal(foreign_counts[2], base + 1);
    assert_int_equal(foreign_counts[3], base + 1);
    assert_int_equal(foreign_counts[4], base);
    assert_int_equal(threads_count(), base);
}

static pthread_key_t late_key;
static volatile int late_register = 99;

static void late_destructor(void *v)
{
    (void)v;
    late_register = threads_register_self();
}

static void *set_late_key(void *arg)
{
    pthread_setspecific(late_key, (void *)1);
    return arg;
}

static void exiting_thread_is_never_registered_again(void **state)
{
    (void)state;
    int base = threads_count();
    pthread_t t;
    assert_int_equal(pthread_key_create(&late_key, late_destructor), 0);
    assert_int_equal(pthread_create(&t, NULL, set_late_key, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(late_register, -1);
    assert_int_equal(threads_count(), base);
    pthread_key_delete(late_key);
}

/* ---- Stopping the world ----------------------------------------------------- */

#define NWORKERS 7

static void stop_catches_busy_blocked_and_sleeping_threads(void **state)
{
    (void)state;
    struct worker w[NWORKERS];
    AO_t before[NWORKERS];
    int base = threads_count();

    for (int i = 0; i < 2; i++)
        assert_int_equal(pipe(pipes[i]), 0);
    for (int i = 0; i < 4; i++)
        start_worker(&w[i], BUSY, i);
    start_worker(&w[4], READER, 0);
    start_worker(&w[5], READER, 1);
    start_worker(&w[6], SLEEPER, 2);
    assert_int_equal(threads_count(), base + NWORKERS);

    for (int round = 0; round < 3; round++) {
        /* Nothing is asserted with the world stopped: a failure would
         * leave it stopped. */
        int self = stop_and_collect();
        int by_me = threads_world_stopped_by_me();
        int moved = 0, unreported = 0, in_ours = 0, secrets = 0;
        for (int i = 0; i < NWORKERS; i++)
            before[i] = AO_load(&w[i].progress);
        /* Data for the readers: a stopped reader must not take it. */
        ssize_t wrote = write(pipes[0][1], "x", 1) + write(pipes[1][1], "x", 1);
        pause_briefly();
        for (int i = 0; i < NWORKERS; i++) {
            int r = range_of(w[i].local);
            moved += AO_load(&w[i].progress) != before[i];
            unreported += r < 0;
            in_ours += r == self;
        }
        /* Each busy thread's secret lives only in a register: it must be
         * in what was reported for some other thread than ours. */
        for (int i = 0; i < 4; i++)
            secrets += holds(w[i].secret_masked, self);
        /* Ours, then a stack and the saved registers of every other
         * registered thread; stack bytes are all but the registers. */
        uint64_t total = 0;
        size_t others = (size_t)threads_count() - 1;
        for (size_t i = 0; i < found.n; i++)
            total += found.hi[i] - found.lo[i];
        uint64_t stack_bytes = threads_stack_bytes();
        threads_start_world();

        assert_true(by_me);
        assert_false(threads_world_stopped_by_me());
        assert_true(self >= 0);
        assert_int_equal(wrote, 2);
        assert_int_equal(moved, 0);
        assert_int_equal(unreported, 0);
        assert_int_equal(in_ours, 0);
        assert_int_equal(secrets, 4);
        assert_int_equal(others, NWORKERS);
        assert_int_equal(found.n, 1 + 2 * others);
        assert_int_equal(stack_bytes, total - others * sizeof(mcontext_t));
        for (int i = 0; i < NWORKERS; i++)
            wait_until(AO_load(&w[i].progress) > before[i]);
    }

    for (int i = 0; i < 4; i++)
        stop_worker(&w[i], i);
    stop_worker(&w[4], 0);
    stop_worker(&w[5], 1);
    stop_worker(&w[6], 2);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i].result, w[i].secret_masked);
    for (int i = 0; i < 2; i++) {
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    assert_int_equal(threads_count(), base);
}

/* A thread waiting inside threads_blocking counts as stopped without
 * being woken (its count of context switches stands still), the stop
 * reports its stack with what its caller kept in registers, and when its
 * wait ends while the world is stopped it holds until the restart. */
struct blocked {
    int fd;                       /* read end of its pipe */
    volatile pid_t tid;
    uintptr_t secret_masked;
    volatile AO_t waiting;        /* inside the wait */
    volatile AO_t done;           /* threads_blocking returned */
    volatile uintptr_t result;
};

static void blocked_wait(void *arg)
{
    struct blocked *b = arg;
    char c;
    AO_store_release(&b->waiting, 1);
    while (read(b->fd, &c, 1) < 0 && errno == EINTR)
        ;
}

static void *blocked_main(void *p)
{
    struct blocked *b = p;
    b->tid = gettid();
    uintptr_t v = b->secret_masked ^ MASK;
    __asm__ volatile("" : "+r"(v));
    threads_blocking(blocked_wait, b);
    __asm__ volatile("" : "+r"(v));
    b->result = v ^ MASK;
    AO_store_release(&b->done, 1);
    return NULL;
}

/* switches returns the context switches of thread tid so far. */
static long switches(pid_t tid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long total = 0, v;
    while (fgets(buf, sizeof buf, f))
        if (sscanf(buf, "voluntary_ctxt_switches: %ld", &v) == 1 ||
            sscanf(buf, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
            total += v;
    fclose(f);
    return total;
}

static void blocked_thread_counts_as_stopped_until_the_restart(void **state)
{
    (void)state;
    static struct blocked b;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    b.fd = fds[0];
    b.secret_masked = (uintptr_t)0x1234567890abcdefu;
    pthread_t id;
    assert_int_equal(pthread_create(&id, NULL, blocked_main, &b), 0);
    wait_until(AO_load_acquire(&b.waiting));
    pause_briefly(); /* into read() */

    long before = switches(b.tid);
    int self = stop_and_collect();
    long during = switches(b.tid);
    assert_true(holds(b.secret_masked, self));
    assert_int_equal(write(fds[1], "x", 1), 1);
    pause_briefly();
    AO_t done_while_stopped = AO_load_acquire(&b.done);
    threads_start_world();
    assert_int_equal(during, before);
    assert_int_equal(done_while_stopped, 0);
    wait_until(AO_load_acquire(&b.done));
    assert_int_equal(b.result, b.secret_masked);
    pthread_join(id, NULL);
    close(fds[0]);
    close(fds[1]);
}

static void stray_suspend_signal_is_ignored(void **state)
{
    (void)state;
    struct worker w;
    start_worker(&w, BUSY, 0);
    assert_int_equal(pthread_kill(w.id, SIGPWR), 0);
    AO_t p = AO_load(&w.progress);
    wait_until(AO_load(&w.progress) > p + 1000);

    /* Had the stray signal been acknowledged, this stop would return
     * before the thread stops. */
    stop_and_collect();
    p = AO_load(&w.progress);
    pause_briefly();
    AO_t q = AO_load(&w.progress);
    threads_start_world();
    assert_int_equal(q, p);
    stop_worker(&w, 0);
}

/* A thread with a cancellation pending must not act on it inside the
 * suspend handler (which would leave the stopper waiting for ever). */
static volatile AO_t cancel_ready, cancel_go, cancel_progress;

static void *busy_until_told(void *arg)
{
    AO_store_release(&cancel_ready, 1);
    while (!AO_load_acquire(&cancel_go))
        AO_store(&cancel_progress, AO_load(&cancel_progress) + 1);
    pthread_testcancel();
    return arg;
}

static void pending_cancellation_waits_for_the_restart(void **state)
{
    (void)state;
    int base = threads_count();
    pthread_t t;
    void *ret;
    assert_int_equal(pthread_create(&t, NULL, busy_until_told, NULL), 0);
    wait_until(AO_load_acquire(&cancel_ready));
    assert_int_equal(pthread_cancel(t), 0);

    stop_and_collect();
    AO_t p = AO_load(&cancel_progress);
    pause_briefly();
    AO_t q = AO_load(&cancel_progress);
    threads_start_world();
    assert_int_equal(q, p);
    wait_until(AO_load(&cancel_progress) > q);

    AO_store_release(&cancel_go, 1);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_ptr_equal(ret, PTHREAD_CANCELED);
    assert_int_equal(threads_count(), base);
}

/* A thread stopped while it runs a handler on an alternate signal stack:
 * both stacks and the handler's registers must be reported. */
static char alt_stack[64 * 1024];
static volatile AO_t alt_in_handler, alt_release, alt_progress;
static uintptr_t alt_secret_masked = (uintptr_t)0xa17a17a17a1ull ^ MASK;
static uintptr_t normal_secret_masked = (uintptr_t)0x0a11a11a11a1ull ^ MASK;
static volatile uintptr_t alt_result;

static void on_usr1(int sig)
{
    uintptr_t v = alt_secret_masked ^ MASK;
    (void)sig;
    AO_store_release(&alt_in_handler, 1);
    while (!AO_load_acquire(&alt_release)) {
        __asm__ volatile("" : "+r"(v));
        AO_store(&alt_progress, AO_load(&alt_progress) + 1);
    }
    alt_result = v ^ MASK;
}

static void *run_on_alt_stack(void *arg)
{
    volatile uintptr_t on_normal_stack = normal_secret_masked ^ MASK;
    (void)arg;
    stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof(alt_stack) };
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR1, &sa, NULL) != 0)
        return NULL;
    pthread_kill(pthread_self(), SIGUSR1);
    return (void *)(on_normal_stack ^ MASK);
}

static void thread_on_alternate_signal_stack_is_scanned(void **state)
{
    (void)state;
    pthread_t t;
    void *ret;
    assert_int_equal(pthread_create(&t, NULL, run_on_alt_stack, NULL), 0);
    wait_until(AO_load_acquire(&alt_in_handler));

    int self = stop_and_collect();
    AO_t p = AO_load(&alt_progress);
    int alt = range_of((uintptr_t)alt_stack + sizeof(alt_stack) - 1);
    int alt_secret = holds(alt_secret_masked, self);
    int normal_secret = holds(normal_secret_masked, self);
    pause_briefly();
    AO_t q = AO_load(&alt_progress);
    threads_start_world();
    assert_true(alt >= 0);
    assert_true(alt_secret);
    assert_true(normal_secret);
    assert_int_equal(q, p);

    AO_store_release(&alt_release, 1);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_int_equal((uintptr_t)ret, normal_secret_masked);
    assert_int_equal(alt_result, alt_secret_masked);
}

/* ---- Threads coming and going during stops ----------------------------- */

#define CHURN_ARGS 16
static uintptr_t churn_args[CHURN_ARGS];
static volatile AO_t churn_quit, churn_made;

static void *churn_child(void *arg)
{
    uintptr_t *slot = arg;
    (*slot)++;
    if (((uintptr_t)(slot - churn_args)) % 3 == 0)
        pthread_exit(NULL);
    return NULL;
}

static void *churn_creator(void *arg)
{
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (unsigned i = 0; !AO_load_acquire(&churn_quit); i++) {
        pthread_t t;
        void *slot = &churn_args[i % CHURN_ARGS];
        if (i % 4 == 3) {
            if (pthread_create(&t, &detached, churn_child, slot) == 0)
                AO_fetch_and_add1(&churn_made);
        } else if (pthread_create(&t, NULL, churn_child, slot) == 0) {
            pthread_join(t, NULL);
            AO_fetch_and_add1(&churn_made);
        }
    }
    pthread_attr_destroy(&detached);
    return arg;
}

static void stops_race_threads_that_come_and_go(void **state)
{
    (void)state;
    int base = threads_count();
    pthread_t creators[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&creators[i], NULL, churn_creator, &churn_args[i]), 0);
    wait_until(threads_count() >= base + 2);

    for (int round = 0; round < 1000; round++) {
        stop_and_collect();
        int n = threads_count();
        size_t stacks = 0, bad = 0;
        for (size_t i = 0; i < found.n; i++) {
            bad += found.lo[i] >= found.hi[i];
            if (found.hi[i] - found.lo[i] == sizeof(void *)) {
                /* A thread made but not yet started: its argument. */
                void *arg = *(void **)found.lo[i];
                bad += arg < (void *)churn_args || arg >= (void *)(churn_args + CHURN_ARGS);
            } else if (found.hi[i] - found.lo[i] != sizeof(mcontext_t)) {
                stacks++;
            }
        }
        threads_start_world();
        assert_int_equal(bad, 0);
        /* Ours, then one stack per other registered thread. */
        assert_int_equal(stacks, (size_t)n);
        assert_true(n >= base + 2);
        /* Let threads register and exit between stops. */
        usleep(100);
    }
    AO_store_release(&churn_quit, 1);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(creators[i], NULL), 0);
    assert_true(AO_load(&churn_made) > 0);
    wait_until(threads_count() == base);
}

/* ---- fork ------------------------------------------------------------------------ */

static void *count_in_child(void *arg)
{
    *(int *)arg = threads_count();
    return NULL;
}

/* child_checks runs in a forked child and returns its exit status: 0 when
 * the child's registry holds just itself and works. */
static int child_checks(void)
{
    int seen = 0;
    pthread_t t;
    if (threads_world_stopped_by_me())
        return 1;
    if (threads_count() != 1)
        return 2;
    found.n = 0;
    threads_stop_world();
    threads_each_stack(collect, &found);
    threads_start_world();
    if (found.n != 1)
        return 3;
    if (pthread_create(&t, NULL, count_in_child, &seen) != 0 || pthread_join(t, NULL) != 0)
        return 4;
    if (seen != 2 || threads_count() != 1)
        return 5;
    return 0;
}

static void fork_child_keeps_only_the_forking_thread(void **state)
{
    (void)state;
    struct worker w[3];
    int base = threads_count();
    for (int i = 0; i < 3; i++)
        start_worker(&w[i], BUSY, i);

    for (int stopped = 0; stopped < 2; stopped++) {
        /* Fork from a running world, then from one this thread stopped. */
        if (stopped)
            threads_stop_world();
        pid_t pid = fork();
        if (pid == 0)
            _exit(child_checks());
        assert_true(pid > 0);
        if (stopped)
            threads_start_world();
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }

    assert_int_equal(threads_count(), base + 3);
    stop_and_collect();
    AO_t p = AO_load(&w[0].progress);
    pause_briefly();
    AO_t q = AO_load(&w[0].progress);
    threads_start_world();
    assert_int_equal(q, p);
    for (int i = 0; i < 3; i++)
        stop_worker(&w[i], i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(main_thread_is_registered_once),
        cmocka_unit_test(created_threads_register_until_they_exit),
        cmocka_unit_test(foreign_thread_registers_with_gh_register_thread),
        cmocka_unit_test(exiting_thread_is_never_registered_again),
        cmocka_unit_test(stop_catches_busy_blocked_and_sleeping_threads),
        cmocka_unit_test(stray_suspend_signal_is_ignored),
        cmocka_unit_test(blocked_thread_counts_as_stopped_until_the_restart),
        cmocka_unit_test(pending_cancellation_waits_for_the_restart),
        cmocka_unit_test(thread_on_alternate_signal_stack_is_scanned),
        cmocka_unit_test(stops_race_threads_that_come_and_go),
        cmocka_unit_test(fork_child_keeps_only_the_forking_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
