/* stress_concurrent.c: the concurrent collector under everything at once.
 *
 *   stress_concurrent THREADS SECONDS SEED
 *
 * THREADS worker threads run for SECONDS. Each keeps a table of roots,
 * each root a checksummed list of small nodes; it replaces lists, moves
 * the only pointer to a marked object ("the token": its finalizer must
 * never run) between a global slot, a field of a heap object, a stack
 * slot and a register, and hands finished lists to the other workers
 * through global slots. Every so often a worker exits and a new one takes
 * its place (threads made and gone while cycles mark), a signal thread
 * interrupts the workers with SIGUSR1 all along, and the main thread
 * forks: a child that execs /bin/true, or one that keeps using the heap
 * it inherited (allocates, collects, checks a list) and exits. Cycles are
 * started by allocation and by gh_gc. Every list is walked and checked
 * before it is dropped and at the end; a node freed while reachable and
 * reused fails its checksum, or gh_usable_size reports it. Exit status 0
 * on success, else a message and 1 (or goheap's abort). */
// test-args: 4 4 1
// stress-args: 4 120 1
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "goheap.h"

#define MAX_THREADS 32
#define NROOTS 64
#define NEXCHANGE 16
#define MIN_CYCLES 10
#define TAG ((uint64_t)1 << 63)

struct node {
    struct node *next;
    uint64_t id;      /* TAG | list id << 20 | index */
    uint64_t sum;     /* checksum of id and next */
    uint64_t pad[1 + 0];
};

static volatile int stop_all;
static uint64_t seed;
/* A list handed between workers travels in a parcel on the heap, which
 * an exchange slot holds: published by compare-and-swap into an empty
 * slot, so that a list and its length always go together. */
struct parcel {
    struct node *list;
    uint64_t len;
};

static struct parcel *volatile exchange[NEXCHANGE];
static volatile int token_lost;
static volatile uint64_t usr1_count;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "stress_concurrent: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t node_sum(const struct node *n)
{
    return ((n->id * 0x9e3779b97f4a7c15ull) ^ (uintptr_t)n->next) | TAG;
}

static struct node *list_make(uint64_t list, uint64_t len)
{
    struct node *head = NULL;
    for (uint64_t i = 0; i < len; i++) {
        struct node *n = gh_malloc(sizeof(*n));
        if (n == NULL)
            fail("out of memory");
        n->next = head;
        n->id = TAG | list << 20 | (len - 1 - i);
        n->sum = node_sum(n);
        head = n;
    }
    return head;
}

static void list_check(const struct node *n, uint64_t len, const char *what)
{
    for (uint64_t i = 0; i < len; i++, n = n->next) {
        if (n == NULL)
            fail("%s: list ends after %" PRIu64 " of %" PRIu64 " nodes", what, i, len);
        if ((n->id & 0xfffff) != i || n->sum != node_sum(n) || gh_usable_size(n) < sizeof(*n))
            fail("%s: node %p (%" PRIu64 " of %" PRIu64 ") broken: freed while reachable?", what, (void *)n,
                 i, len);
    }
    if (n != NULL)
        fail("%s: list longer than %" PRIu64, what, len);
}

/* ---- The token: an object whose only pointer keeps moving ------------- */

/* The token's state, off the heap (malloc is the C library's here): a
 * worker retires its token just before it lets go of it. */
struct token_state {
    volatile int retired;
};

static void token_finalizer(void *obj, void *arg)
{
    struct token_state *ts = arg;
    (void)obj;
    if (!ts->retired)
        token_lost = 1;
}

static void *volatile token_global[MAX_THREADS];

static __attribute__((noinline)) void *token_move(void *p, void **holder, int slot)
{
    void *volatile stack_slot[1];
    token_global[slot] = p;
    p = NULL;
    sched_yield();
    p = token_global[slot];
    token_global[slot] = NULL;
    holder[0] = p;
    p = NULL;
    sched_yield();
    p = holder[0];
    holder[0] = NULL;
    stack_slot[0] = p;
    p = NULL;
    sched_yield();
    p = stack_slot[0];
    stack_slot[0] = NULL;
    __asm__ volatile("" : "+r"(p));
    sched_yield();
    __asm__ volatile("" : "+r"(p));
    return p;
}

/* ---- Workers ------------------------------------------------------------ */

struct worker {
    pthread_t t;
    int slot;
    uint64_t rng;
    uint64_t lifetime;      /* operations before it leaves */
    volatile int done;
};

static struct worker workers[MAX_THREADS];

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct node *roots[NROOTS] = { 0 };
    uint64_t lens[NROOTS] = { 0 };
    void **holder = gh_malloc(2 * sizeof(void *));
    uint64_t *tok = gh_malloc(64);
    struct token_state *ts = calloc(1, sizeof(*ts));
    if (holder == NULL || tok == NULL || ts == NULL)
        fail("out of memory");
    for (int i = 0; i < 8; i++)
        tok[i] = TAG | (uint64_t)i;
    if (gh_set_finalizer(tok, token_finalizer, ts) != 0)
        fail("gh_set_finalizer failed");
    void *p = tok;
    tok = NULL;
    for (uint64_t op = 0; op < w->lifetime && !stop_all; op++) {
        int r = (int)(rnd(&w->rng) % NROOTS);
        if (roots[r])
            list_check(roots[r], lens[r], "worker root");
        uint64_t k = rnd(&w->rng) % 100;
        if (k < 70) {
            lens[r] = 1 + rnd(&w->rng) % 400;
            roots[r] = list_make((uint64_t)w->slot << 8 | (uint64_t)r, lens[r]);
        } else if (k < 80) {
            int e = (int)(rnd(&w->rng) % NEXCHANGE);
            struct parcel *g = __atomic_exchange_n(&exchange[e], NULL, __ATOMIC_ACQ_REL);
            if (g) {
                list_check(g->list, g->len, "adopted");
                roots[r] = g->list;
                lens[r] = g->len;
                gh_free(g);
            }
        } else if (k < 85 && roots[r]) {
            int e = (int)(rnd(&w->rng) % NEXCHANGE);
            struct parcel *g = gh_malloc(sizeof(*g)), *empty = NULL;
            if (g == NULL)
                fail("out of memory");
            g->list = roots[r];
            g->len = lens[r];
            if (__atomic_compare_exchange_n(&exchange[e], &empty, g, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                roots[r] = NULL;
                lens[r] = 0;
            } else {
                gh_free(g);
            }
        } else if (k < 86) {
            if (rnd(&w->rng) % 16 == 0)
                gh_gc();
        } else {
            p = token_move(p, holder, w->slot);
            const uint64_t *t = p;
            for (int i = 0; i < 8; i++)
                if (t[i] != (TAG | (uint64_t)i))
                    fail("token %p overwritten: freed while reachable", p);
            if (token_lost)
                fail("the token's finalizer ran: it was found unreachable");
        }
    }
    for (int r = 0; r < NROOTS; r++)
        if (roots[r])
            list_check(roots[r], lens[r], "worker root at exit");
    gh_keep_alive(p);
    ts->retired = 1; /* leaked with the token's finalizer: a few bytes */
    w->done = 1;
    return NULL;
}

static void worker_start(int slot)
{
    struct worker *w = &workers[slot];
    w->slot = slot;
    w->done = 0;
    w->lifetime = 500 + rnd(&w->rng) % 3000;
    if (pthread_create(&w->t, NULL, worker_main, w) != 0)
        fail("pthread_create failed");
}

/* ---- Signals ------------------------------------------------------------ */

static void on_usr1(int sig)
{
    (void)sig;
    __atomic_add_fetch(&usr1_count, 1, __ATOMIC_RELAXED);
}

static int nthreads;

static void *signaller(void *arg)
{
    uint64_t s = (uint64_t)(uintptr_t)arg | 1;
    while (!stop_all) {
        struct worker *w = &workers[rnd(&s) % (uint64_t)nthreads];
        if (!w->done)
            pthread_kill(w->t, SIGUSR1);
        usleep(300);
    }
    return NULL;
}

/* ---- Forks -------------------------------------------------------------- */

static void fork_once(int n, struct node *mine, uint64_t len)
{
    pid_t pid = fork();
    if (pid < 0)
        fail("fork failed: %s", strerror(errno));
    if (pid == 0) {
        if (n % 2 == 0) {
            execl("/bin/true", "true", (char *)NULL);
            _exit(127);
        }
        struct node *l = list_make(1 << 19, 5000);
        gh_gc();
        list_check(l, 5000, "fork child");
        list_check(mine, len, "inherited");
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("fork child %d failed (status %#x)", n, st);
}

int main(int argc, char **argv)
{
    if (argc != 4)
        fail("usage: stress_concurrent THREADS SECONDS SEED");
    nthreads = atoi(argv[1]);
    uint64_t seconds = strtoull(argv[2], NULL, 10);
    seed = strtoull(argv[3], NULL, 10);
    if (nthreads < 1 || nthreads > MAX_THREADS)
        fail("THREADS must be 1..%d", MAX_THREADS);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);

    for (int i = 0; i < nthreads; i++) {
        workers[i].rng = (seed + 1) * 0x9e3779b97f4a7c15ull + (uint64_t)i;
        worker_start(i);
    }
    pthread_t sig;
    pthread_create(&sig, NULL, signaller, (void *)(uintptr_t)(seed + 7));

    struct node *mine = list_make(1 << 18, 20000);
    /* Run for SECONDS, and on until MIN_CYCLES cycles have run (a loaded
     * machine gives the workers less time), up to ten times as long. */
    uint64_t start = now_ms(), restarts = 0;
    int forks = 0;
    static gh_mem_stats m;
    for (;;) {
        uint64_t ran = now_ms() - start;
        if (ran >= seconds * 10000)
            break;
        if (ran >= seconds * 1000) {
            gh_read_mem_stats(&m);
            if (m.num_gc >= MIN_CYCLES)
                break;
        }
        for (int i = 0; i < nthreads; i++) {
            if (workers[i].done) {
                pthread_join(workers[i].t, NULL);
                worker_start(i);
                restarts++;
            }
        }
        fork_once(forks++, mine, 20000);
        list_check(mine, 20000, "main list");
        usleep(20000);
    }
    stop_all = 1;
    for (int i = 0; i < nthreads; i++)
        pthread_join(workers[i].t, NULL);
    pthread_join(sig, NULL);
    gh_gc();
    list_check(mine, 20000, "main list at exit");
    for (int e = 0; e < NEXCHANGE; e++)
        if (exchange[e])
            list_check(exchange[e]->list, exchange[e]->len, "exchange at exit");
    if (token_lost)
        fail("a token's finalizer ran: it was found unreachable");
    gh_read_mem_stats(&m);
    printf("%u collections (%u forced), %d forks, %" PRIu64 " thread restarts, %" PRIu64 " signals\n", m.num_gc,
           m.num_forced_gc, forks, restarts, usr1_count);
    if (m.num_gc < MIN_CYCLES)
        fail("only %u collections: the test did not exercise the collector", m.num_gc);
    return 0;
}
