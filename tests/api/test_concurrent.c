/* test_concurrent.c: the concurrent collector, through the public API.
 *
 * A background thread allocates garbage beside a live heap of a few MiB,
 * so that cycles run one after another, each marking for milliseconds
 * while the tests' own threads run:
 *   - the only pointer to an object moves, thousands of times, between a
 *     global, a field of a heap object, a stack slot and a local kept in a
 *     register, and the object is never lost (its finalizer would run, or
 *     its contents change when its memory is reused);
 *   - objects allocated while a cycle marks, by threads that come and go,
 *     survive the cycle;
 *   - fork() during a cycle: a child that execs, and a child that goes on
 *     allocating and collecting, both work; waitpid in the program never
 *     sees the collector's marker process;
 *   - signals arriving all through cycles are handled, and the program's
 *     data stays intact;
 *   - a signal handler that interrupts gh_malloc or gh_free while the
 *     world stops does not let the collector take the allocating thread's
 *     cache from under it (two threads would get the same slot);
 *   - several marker processes (GODEBUG=gcprocs=3) share a cycle's
 *     marking and leave nothing reachable unmarked (gccheckmark);
 *   - after a peak, the background scavenger returns memory until what
 *     is retained is near the heap goal plus 10%;
 *   - gh_free_os_memory returns the free heap to the OS (heap_released),
 *     a memory limit bounds the heap with GOGC off, GODEBUG=scavtrace=1
 *     prints Go's scavenger lines, and GODEBUG=gcstoptheworld=1 still
 *     collects (the last two in a child run with the knob set). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "goheap.h"

#define MIB ((uint64_t)1 << 20)
#define CHILD_ENV "GH_TEST_CONCURRENT_CHILD"

/* XOR with HIDE_KEY sets the top bits, so a hidden address is no address
 * the heap can have: the test's own bookkeeping keeps nothing alive. */
#define HIDE_KEY ((uintptr_t)0xa5a5000000000000ull)
static uintptr_t hide(const void *p) { return (uintptr_t)p ^ HIDE_KEY; }

/* ---- The background: a live heap and a garbage allocator -------------- */

struct node {
    struct node *next;
    uint64_t check;   /* a function of the node's index: bit 63 set */
    uint64_t pad[2];
};

static uint64_t node_check(uint64_t i) { return (i * 0x9e3779b97f4a7c15ull) | ((uint64_t)1 << 63); }

static struct node *volatile live_list;
static volatile int churn_stop;
static pthread_t churn_thread;

static void *churn_main(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE))
        for (int i = 0; i < 1024; i++) {
            void *volatile p = gh_malloc(48 + (i % 5) * 64);
            (void)p;
        }
    return NULL;
}

static uint32_t num_gc(void)
{
    static gh_mem_stats m;
    gh_read_mem_stats(&m);
    return m.num_gc;
}

/* list_make builds n nodes; list_ok checks them. */
static struct node *list_make(uint64_t n)
{
    struct node *head = NULL;
    for (uint64_t i = 0; i < n; i++) {
        struct node *x = gh_malloc(sizeof(*x));
        assert_non_null(x);
        x->check = node_check(n - 1 - i);
        x->next = head;
        head = x;
    }
    return head;
}

static int list_ok(const struct node *x, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++, x = x->next)
        if (x == NULL || x->check != node_check(i))
            return 0;
    return x == NULL;
}

#define LIVE_NODES 150000 /* about 7 MiB: each cycle marks for a while */

static int setup(void **state)
{
    (void)state;
    live_list = list_make(LIVE_NODES);
    __atomic_store_n(&churn_stop, 0, __ATOMIC_RELEASE);
    return pthread_create(&churn_thread, NULL, churn_main, NULL);
}

static int teardown(void **state)
{
    (void)state;
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
    pthread_join(churn_thread, NULL);
    int ok = list_ok(live_list, LIVE_NODES);
    live_list = NULL;
    return ok ? 0 : -1;
}

/* ---- The moving pointer ------------------------------------------------ */

#define MOVES 20000
#define OBJ_WORDS 8

static volatile int lost;             /* the object's finalizer ran */
static void *volatile global_slot;    /* a global */
static void **volatile holder_slot;   /* a heap object, itself kept by this global */

static void lost_finalizer(void *obj, void *arg)
{
    (void)obj;
    (void)arg;
    __atomic_store_n(&lost, 1, __ATOMIC_SEQ_CST);
}

static uint64_t obj_word(uintptr_t hidden, unsigned i) { return (hidden * 31 + i) | ((uint64_t)1 << 63); }

/* obj_make returns the object itself, not its hidden address: the
 * caller must hold the pointer from the start (a compiler may otherwise
 * keep only the hidden value and rebuild the pointer later, leaving the
 * object rightly unreachable in between). */
static __attribute__((noinline)) void *obj_make(void)
{
    uint64_t *p = gh_malloc(OBJ_WORDS * sizeof(uint64_t));
    assert_non_null(p);
    for (unsigned i = 0; i < OBJ_WORDS; i++)
        p[i] = obj_word(hide(p), i);
    assert_int_equal(gh_set_finalizer(p, lost_finalizer, NULL), 0);
    return p;
}

static __attribute__((noinline)) int obj_intact(const volatile uint64_t *p)
{
    for (unsigned i = 0; i < OBJ_WORDS; i++)
        if (p[i] != obj_word(hide((const void *)p), i))
            return 0;
    return gh_usable_size((const void *)p) >= OBJ_WORDS * sizeof(uint64_t);
}

/* spin gives the collector time to stop the world while the object sits
 * in one place: a little allocation, so cycles keep starting. */
static __attribute__((noinline)) void spin(unsigned i)
{
    for (unsigned k = 0; k < 8 + i % 32; k++) {
        void *volatile g = gh_malloc(32);
        (void)g;
    }
}

/* move_once takes the only pointer, p, around the four places and back.
 * Each place holds it alone while spin runs. */
static __attribute__((noinline)) void *move_once(void *p, unsigned i)
{
    void *volatile stack_slot[1];
    /* A global. */
    global_slot = p;
    p = NULL;
    spin(i);
    p = global_slot;
    global_slot = NULL;
    /* A field of a heap object. */
    holder_slot[0] = p;
    p = NULL;
    spin(i);
    p = holder_slot[0];
    holder_slot[0] = NULL;
    /* A stack slot. */
    stack_slot[0] = p;
    p = NULL;
    spin(i);
    p = stack_slot[0];
    stack_slot[0] = NULL;
    /* A local in a register, across allocations. */
    __asm__ volatile("" : "+r"(p));
    spin(i);
    __asm__ volatile("" : "+r"(p));
    return p;
}

static void only_pointer_moving_between_roots_is_never_lost(void **state)
{
    (void)state;
    holder_slot = gh_malloc(4 * sizeof(void *));
    assert_non_null(holder_slot);
    __atomic_store_n(&lost, 0, __ATOMIC_SEQ_CST);
    uint32_t gc0 = num_gc();
    void *p = obj_make();
    uintptr_t h = hide(p);
    int moved = 0;
    for (unsigned i = 0; i < MOVES; i++) {
        p = move_once(p, i);
        if (hide(p) != h || !obj_intact(p) || __atomic_load_n(&lost, __ATOMIC_SEQ_CST))
            break;
        moved++;
    }
    uint32_t cycles = num_gc() - gc0;
    assert_int_equal(moved, MOVES);
    assert_int_equal(__atomic_load_n(&lost, __ATOMIC_SEQ_CST), 0);
    /* Enough cycles ran meanwhile that the object was moved about while
     * many of them marked. */
    print_message("      %d moves during %u cycles\n", moved, cycles);
    assert_true(cycles >= 20);
    gh_keep_alive(p);
    holder_slot = NULL;
}

/* ---- Threads that come and go ------------------------------------------- */

#define SHORT_THREADS 64
#define SHORT_NODES 2000

static struct node *volatile short_lists[SHORT_THREADS];

static void *short_main(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    short_lists[i] = list_make(SHORT_NODES);
    return NULL;
}

static void threads_created_and_exiting_during_cycles_keep_their_objects(void **state)
{
    (void)state;
    uint32_t gc0 = num_gc();
    for (uintptr_t i = 0; i < SHORT_THREADS; i += 4) {
        pthread_t t[4];
        for (uintptr_t k = 0; k < 4; k++)
            assert_int_equal(pthread_create(&t[k], NULL, short_main, (void *)(i + k)), 0);
        for (uintptr_t k = 0; k < 4; k++)
            assert_int_equal(pthread_join(t[k], NULL), 0);
    }
    for (int r = 0; r < 3; r++)
        gh_gc();
    for (int i = 0; i < SHORT_THREADS; i++) {
        assert_true(list_ok(short_lists[i], SHORT_NODES));
        short_lists[i] = NULL;
    }
    assert_true(num_gc() - gc0 >= 3);
}

/* ---- fork and wait ------------------------------------------------------ */

#define FORKS 40

static void fork_and_exec_during_cycles_work(void **state)
{
    (void)state;
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (i % 2 == 0) {
                execl("/bin/true", "true", (char *)NULL);
                _exit(127);
            }
            /* The child goes on using the heap it inherited. */
            struct node *l = list_make(20000);
            gh_gc();
            int ok = list_ok(l, 20000) && list_ok(live_list, LIVE_NODES);
            _exit(ok ? 0 : 3);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
    }
    assert_true(list_ok(live_list, LIVE_NODES));
}

static void wait_never_sees_the_marker(void **state)
{
    (void)state;
    uint32_t gc0 = num_gc();
    int64_t deadline = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    deadline = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 500;
    int polls = 0;
    do {
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        assert_true(w == -1 && errno == ECHILD);
        polls++;
        spin((unsigned)polls);
        clock_gettime(CLOCK_MONOTONIC, &ts);
    } while ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 < deadline || num_gc() - gc0 < 5);
    assert_true(polls > 0);
}

/* ---- Signals ------------------------------------------------------------ */

static volatile sig_atomic_t usr1_seen, alarm_seen;

static void on_usr1(int sig)
{
    (void)sig;
    usr1_seen++;
}

static void on_alarm(int sig)
{
    (void)sig;
    alarm_seen++;
}

static volatile int signaller_stop;

static void *signaller_main(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    while (!__atomic_load_n(&signaller_stop, __ATOMIC_ACQUIRE)) {
        pthread_kill(target, SIGUSR1);
        usleep(200);
    }
    return NULL;
}

static void signals_during_cycles_are_handled(void **state)
{
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    sa.sa_handler = on_alarm;
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = { { 0, 500 }, { 0, 500 } };
    assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);

    pthread_t self = pthread_self(), sig;
    __atomic_store_n(&signaller_stop, 0, __ATOMIC_RELEASE);
    assert_int_equal(pthread_create(&sig, NULL, signaller_main, &self), 0);
    uint32_t gc0 = num_gc();
    for (int r = 0; r < 40 || (num_gc() - gc0 < 5 && r < 4000); r++) {
        struct node *l = list_make(5000);
        assert_true(list_ok(l, 5000));
    }
    __atomic_store_n(&signaller_stop, 1, __ATOMIC_RELEASE);
    pthread_join(sig, NULL);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
    signal(SIGUSR1, SIG_DFL);
    assert_true(usr1_seen > 0);
    assert_true(alarm_seen > 0);
    assert_true(num_gc() - gc0 >= 5);
    assert_true(list_ok(live_list, LIVE_NODES));
}

/* ---- Signals inside the allocator ------------------------------------ */

#define SIGALLOC_THREADS 2
#define SIGALLOC_RING 512
#define SIGALLOC_CYCLES 600

static volatile int sigalloc_stop;
static volatile unsigned long sigalloc_handled;

/* The handler stays a while (async-signal-safe clock reads), so that
 * stops of the world often land while it runs on top of an allocation. */
static void on_usr2_linger(int sig)
{
    (void)sig;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 20000);
    __atomic_add_fetch(&sigalloc_handled, 1, __ATOMIC_RELAXED);
}

struct sigalloc_worker {
    pthread_t t;
    uint64_t id;
    uint64_t allocs;
    int bad;
};

static uint64_t sigalloc_tag(uint64_t id, uint64_t n) { return id << 48 | n | (uint64_t)1 << 63; }

/* Each worker keeps a ring of its last objects, each holding its own tag
 * and the tag's complement: a slot handed to two threads at once is
 * overwritten by the other and fails the check. */
static void *sigalloc_main(void *arg)
{
    struct sigalloc_worker *w = arg;
    uint64_t *ring[SIGALLOC_RING] = { 0 };
    uint64_t n = 0;
    while (!__atomic_load_n(&sigalloc_stop, __ATOMIC_ACQUIRE)) {
        unsigned i = (unsigned)(n % SIGALLOC_RING);
        if (ring[i] != NULL) {
            uint64_t t = sigalloc_tag(w->id, n - SIGALLOC_RING);
            if (ring[i][0] != t || ring[i][1] != ~t) {
                w->bad = 1;
                break;
            }
            gh_free(ring[i]);
        }
        uint64_t *p = gh_malloc(3 * sizeof(uint64_t));
        uint64_t t = sigalloc_tag(w->id, n);
        p[0] = t;
        p[1] = ~t;
        ring[i] = p;
        n++;
    }
    for (uint64_t k = n > SIGALLOC_RING ? n - SIGALLOC_RING : 0; k < n && !w->bad; k++) {
        uint64_t *p = ring[k % SIGALLOC_RING], t = sigalloc_tag(w->id, k);
        w->bad = p[0] != t || p[1] != ~t;
    }
    w->allocs = n;
    return NULL;
}

/* sigalloc_signaller keeps signalling the workers until the cycles end. */
static void *sigalloc_signaller(void *arg)
{
    struct sigalloc_worker *w = arg;
    for (unsigned k = 0; !__atomic_load_n(&sigalloc_stop, __ATOMIC_ACQUIRE); k++) {
        pthread_kill(w[k % SIGALLOC_THREADS].t, SIGUSR2);
        usleep(20);
    }
    return NULL;
}

static void signals_inside_the_allocator_keep_its_spans(void **state)
{
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr2_linger;
    sa.sa_flags = SA_RESTART;
    assert_int_equal(sigaction(SIGUSR2, &sa, NULL), 0);
    struct sigalloc_worker w[SIGALLOC_THREADS];
    memset(w, 0, sizeof(w));
    __atomic_store_n(&sigalloc_stop, 0, __ATOMIC_RELEASE);
    for (int i = 0; i < SIGALLOC_THREADS; i++) {
        w[i].id = (uint64_t)i + 1;
        assert_int_equal(pthread_create(&w[i].t, NULL, sigalloc_main, &w[i]), 0);
    }
    /* Forced cycles hand back every idle cache; the workers are kept in
     * their handlers a good part of the time meanwhile. */
    pthread_t sig;
    assert_int_equal(pthread_create(&sig, NULL, sigalloc_signaller, w), 0);
    for (int c = 0; c < SIGALLOC_CYCLES; c++)
        gh_gc();
    __atomic_store_n(&sigalloc_stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(sig, NULL), 0);
    for (int i = 0; i < SIGALLOC_THREADS; i++) {
        assert_int_equal(pthread_join(w[i].t, NULL), 0);
        assert_int_equal(w[i].bad, 0);
        assert_true(w[i].allocs > SIGALLOC_RING);
    }
    signal(SIGUSR2, SIG_DFL);
    assert_true(sigalloc_handled > 0);
}

/* ---- Returning memory ------------------------------------------------- */

static __attribute__((noinline)) void garbage(uint64_t bytes)
{
    for (uint64_t done = 0; done < bytes; done += 64 * 1024) {
        void *volatile p = gh_malloc_atomic(64 * 1024);
        (void)p;
    }
}

static void free_os_memory_returns_free_heap(void **state)
{
    (void)state;
    static gh_mem_stats before, after;
    garbage(64 * MIB);
    gh_read_mem_stats(&before);
    gh_free_os_memory();
    gh_read_mem_stats(&after);
    assert_true(after.num_forced_gc > before.num_forced_gc);
    /* Everything free is returned: HeapIdle is all released. */
    assert_true(after.heap_released > 0);
    assert_true(after.heap_released >= after.heap_idle - after.heap_idle / 8);
}

#define PEAK_BLOCKS 1536 /* 96 MiB of 64 KiB blocks */

static void *peak_blocks[PEAK_BLOCKS];

/* After a peak of 96 MiB, the background scavenger brings the memory
 * retained back near the heap goal plus 10%, with no call to
 * gh_free_os_memory: the free heap not released (HeapIdle -
 * HeapReleased) shrinks to what goal + 10% leaves beside the heap in use
 * (which may be past the goal for a while: spans not swept yet), with a
 * few MiB of slack. The test waits for it, a little at a time, for as
 * long as 20 s (the cycles of the churning thread go on meanwhile, each
 * waking the scavenger after its sweep). */
static void scavenger_returns_memory_beyond_goal(void **state)
{
    (void)state;
    static gh_mem_stats m;
    for (int i = 0; i < PEAK_BLOCKS; i++) {
        peak_blocks[i] = gh_malloc_atomic(64 * 1024);
        memset(peak_blocks[i], 1, 64 * 1024);
    }
    memset(peak_blocks, 0, sizeof(peak_blocks));
    gh_gc();
    uint64_t kept = 0, want = 0;
    for (int tries = 0; tries < 2000; tries++) {
        gh_read_mem_stats(&m);
        kept = m.heap_idle - m.heap_released;
        uint64_t retain = m.next_gc + m.next_gc / 10;
        want = (retain > m.heap_inuse ? retain - m.heap_inuse : 0) + 4 * MIB;
        if (kept <= want)
            break;
        usleep(10000);
    }
    if (kept > want)
        fail_msg("%llu MiB free and not released beside %llu MiB in use, goal %llu MiB",
                 (unsigned long long)(kept >> 20), (unsigned long long)(m.heap_inuse >> 20),
                 (unsigned long long)(m.next_gc >> 20));
    assert_true(m.heap_released > 0);
}

/* ---- Children with knobs set ------------------------------------------ */

/* run_child runs this test again with env set and the given child mode;
 * returns its exit status and its stderr in err. */
static int run_child(const char *mode, const char *env, char *err, size_t errlen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            _exit(126);
        self[n] = 0;
        setenv(CHILD_ENV, mode, 1);
        putenv((char *)env);
        execl(self, self, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fds[0], err + got, errlen - 1 - got)) > 0)
        got += (size_t)r;
    err[got] = 0;
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void scavtrace_prints_gos_lines(void **state)
{
    (void)state;
    static char err[1 << 16];
    assert_int_equal(run_child("scav", "GODEBUG=scavtrace=1", err, sizeof(err)), 0);
    regex_t re;
    assert_int_equal(regcomp(&re, "^scav [0-9]+ KiB work, [0-9]+ KiB total, [0-9]+% util( \\(forced\\)| \\[controller reset\\])?$",
                             REG_EXTENDED | REG_NOSUB), 0);
    int lines = 0, forced = 0;
    for (char *line = strtok(err, "\n"); line; line = strtok(NULL, "\n")) {
        if (regexec(&re, line, 0, NULL, 0) != 0)
            fail_msg("not a scavtrace line: \"%s\"", line);
        lines++;
        forced += strstr(line, "(forced)") != NULL;
    }
    regfree(&re);
    assert_true(lines >= 1);
    assert_int_equal(forced, 1);
}

static void gcstoptheworld_still_collects(void **state)
{
    (void)state;
    static char err[1 << 16];
    int rc = run_child("stw", "GODEBUG=gcstoptheworld=1,gctrace=1", err, sizeof(err));
    if (rc != 0)
        fail_msg("child failed (%d): %s", rc, err);
    /* A stop-the-world cycle marks with the world stopped: one proc. */
    assert_non_null(strstr(err, " 1 P"));
}

/* Several marker processes (GODEBUG=gcprocs=3) under gccheckmark, which
 * aborts the child if any object reachable at a cycle's snapshot was left
 * unmarked; the child also sees, in /proc, that helpers marked beside the
 * marker (processes whose parent's parent is the child). */
static void several_marker_processes_mark_everything(void **state)
{
    (void)state;
    static char err[1 << 16];
    int rc = run_child("workers", "GODEBUG=gcprocs=3,gccheckmark=1", err, sizeof(err));
    if (rc != 0)
        fail_msg("child failed (%d): %s", rc, err);
}

static void memory_limit_bounds_heap_with_gogc_off(void **state)
{
    (void)state;
    static char err[1 << 16];
    int rc = run_child("limit", "GOGC=off", err, sizeof(err));
    if (rc != 0)
        fail_msg("child failed (%d): %s", rc, err);
}

/* ---- The child modes ---------------------------------------------------- */

#define ROOT_LISTS 64
#define ROOT_LIST_NODES 4000

static struct node *volatile root_lists[ROOT_LISTS];
static volatile int helpers_seen, watch_stop;

/* proc_parent returns the parent of process pid, or -1. */
static long proc_parent(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    long ppid;
    return p && sscanf(p + 1, " %*c %ld", &ppid) == 1 ? ppid : -1;
}

/* watch_main counts, while the cycles run, the most grandchildren of this
 * process seen at once: the marker's helpers. */
static void *watch_main(void *arg)
{
    (void)arg;
    long self = getpid();
    while (!__atomic_load_n(&watch_stop, __ATOMIC_ACQUIRE)) {
        DIR *d = opendir("/proc");
        if (d == NULL)
            break;
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            long pid = strtol(e->d_name, NULL, 10);
            if (pid > 0 && proc_parent(pid) > 0 && proc_parent(proc_parent(pid)) == self)
                n++;
        }
        closedir(d);
        if (n > helpers_seen)
            helpers_seen = n;
    }
    return NULL;
}

static int child_workers(void)
{
    for (int i = 0; i < ROOT_LISTS; i++)
        root_lists[i] = list_make(ROOT_LIST_NODES);
    struct node *l = list_make(LIVE_NODES);
    pthread_t watch;
    if (pthread_create(&watch, NULL, watch_main, NULL) != 0)
        return 6;
    for (int k = 0; k < 40 && (k < 4 || helpers_seen < 2); k++) {
        garbage(8 * MIB);
        gh_gc();
    }
    __atomic_store_n(&watch_stop, 1, __ATOMIC_RELEASE);
    pthread_join(watch, NULL);
    for (int i = 0; i < ROOT_LISTS; i++)
        if (!list_ok(root_lists[i], ROOT_LIST_NODES))
            return 2;
    if (!list_ok(l, LIVE_NODES))
        return 3;
    if (helpers_seen < 2) {
        fprintf(stderr, "at most %d marker helpers seen at once\n", helpers_seen);
        return 4;
    }
    return 0;
}

static int child_main(const char *mode)
{
    if (strcmp(mode, "scav") == 0) {
        garbage(32 * MIB);
        gh_gc();
        garbage(32 * MIB);
        gh_free_os_memory();
        return 0;
    }
    if (strcmp(mode, "stw") == 0) {
        struct node *l = list_make(100000);
        garbage(64 * MIB);
        gh_gc();
        return list_ok(l, 100000) && num_gc() >= 2 ? 0 : 1;
    }
    if (strcmp(mode, "workers") == 0)
        return child_workers();
    if (strcmp(mode, "limit") == 0) {
        /* GOGC=off: only the 48 MiB limit makes cycles. The limit is soft
         * (the CPU limiter lets the heap past it rather than spend more
         * than half the CPU on collection), so the heap is only held to
         * the same order, but the goal respects it. */
        static gh_mem_stats m;
        gh_set_memory_limit((int64_t)48 * MIB);
        struct node *l = list_make(100000);
        gh_heap_inuse_peak(1);
        garbage(256 * MIB);
        uint64_t peak = gh_heap_inuse_peak(0);
        gh_read_mem_stats(&m);
        if (!list_ok(l, 100000))
            return 2;
        if (peak > 96 * MIB || m.next_gc > 48 * MIB) {
            fprintf(stderr, "heap peaked at %llu MiB, goal %llu MiB, under a 48 MiB limit\n",
                    (unsigned long long)(peak >> 20), (unsigned long long)(m.next_gc >> 20));
            return 3;
        }
        return m.num_gc >= 3 ? 0 : 4;
    }
    return 5;
}

int main(void)
{
    const char *mode = getenv(CHILD_ENV);
    if (mode)
        return child_main(mode);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(only_pointer_moving_between_roots_is_never_lost),
        cmocka_unit_test(threads_created_and_exiting_during_cycles_keep_their_objects),
        cmocka_unit_test(fork_and_exec_during_cycles_work),
        cmocka_unit_test(wait_never_sees_the_marker),
        cmocka_unit_test(signals_during_cycles_are_handled),
        cmocka_unit_test(signals_inside_the_allocator_keep_its_spans),
        cmocka_unit_test(scavenger_returns_memory_beyond_goal),
        cmocka_unit_test(free_os_memory_returns_free_heap),
        cmocka_unit_test(scavtrace_prints_gos_lines),
        cmocka_unit_test(gcstoptheworld_still_collects),
        cmocka_unit_test(several_marker_processes_mark_everything),
        cmocka_unit_test(memory_limit_bounds_heap_with_gogc_off),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
