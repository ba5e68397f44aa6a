/* churn.c: malloc/free churn, goheap against glibc, jemalloc, mimalloc and
 * tcmalloc, in one run.
 *
 * Each thread keeps a ring of `live` objects. Step i frees the object in
 * slot i % live (the oldest one), allocates a new one of the next size
 * from a precomputed table, writes its first and last byte (so allocators
 * that map lazily pay for their pages) and stores it in the slot. Before an
 * object is freed its first byte is read into a checksum, as a program
 * would use its data. A run fills the ring and goes round it once more
 * untimed, then times `iters` steps. The figure is the wall time of the
 * timed part divided by the steps of one thread: ns per malloc+free pair
 * as one thread sees it, so perfect scaling gives the same number for 1
 * and 2 threads.
 *
 * The file is compiled twice. With -DUSE_GOHEAP it calls gh_malloc (or
 * gh_malloc_atomic) and gh_free from the statically linked libgoheap.a;
 * without, it calls malloc and free, and the allocator is whichever one
 * LD_PRELOAD put first (glibc's when nothing is preloaded). Both builds run
 * the same loop, with direct calls on the goheap side and the usual PLT
 * call on the libc side, as any program would call them.
 *
 * Modes:
 *   churn [--gh BIN] [--peer NAME=LIB]... [--reps N] [--timeout S] [--quick]
 *         [--csv PATH]
 *       the driver: runs every row for every allocator in child processes
 *       (the goheap build BIN for the goheap columns, this binary with
 *       LD_PRELOAD=LIB for the peers), interleaving allocators within each
 *       of N repetitions (default 5), and prints the median ns per pair and
 *       the ratio to mimalloc; --csv also writes every figure to PATH. A run
 *       that crashes, or is still going after S seconds (default 20), leaves
 *       its cell empty. --quick runs 1/20 of the steps, for a smoke test.
 *   churn --run --alloc NAME --threads T --sizes DIST --live W --iters N
 *       one measurement; prints "ns=.. rss_kib=.. gcs=.." on stdout: ns per
 *       pair, peak RSS, and the collections goheap ran during the timed
 *       part (always 0 for the peers).
 *   churn --probe
 *       prints the file that provides malloc in this process, which the
 *       driver checks before it trusts a peer column. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#ifdef USE_GOHEAP
#include "goheap.h"
#endif


/* ---- The measured loop ------------------------------------------------ */

#define SIZE_TABLE 4096 /* sizes drawn per thread, used round-robin */
#define MAX_THREADS 8

enum churn_dist { DIST_16, DIST_64, DIST_8_512, DIST_8_64K, NDIST };

static const char *const dist_names[NDIST] = {"16", "64", "8-512", "8-64K"};

/* One thread's ring and its position in it. The workers live in a global
 * array and the goheap build allocates the ring with gh_malloc, so the
 * collector sees every live object through it. */
struct worker {
    pthread_t thread;
    int atomic;            /* goheap build: use gh_malloc_atomic */
    long live, iters;
    uint32_t *sizes;       /* SIZE_TABLE entries */
    unsigned char **ring;  /* live entries */
    long slot;             /* next ring slot */
    unsigned next_size;    /* next index into sizes, modulo SIZE_TABLE */
    uint64_t sum;          /* checksum of first bytes read before free */
    uint64_t start, end;   /* monotonic ns around the timed steps */
};

static struct worker workers[MAX_THREADS];
static pthread_barrier_t warm_barrier, go_barrier;
static volatile uint64_t churn_sink;

static void churn_die(const char *what)
{
    fprintf(stderr, "churn: %s: %s\n", what, strerror(errno));
    exit(2);
}

static inline __attribute__((always_inline)) unsigned char *churn_alloc(size_t n, int atomic)
{
#ifdef USE_GOHEAP
    return atomic ? gh_malloc_atomic(n) : gh_malloc(n);
#else
    (void)atomic;
    return malloc(n);
#endif
}

static inline __attribute__((always_inline)) void churn_free(void *p)
{
#ifdef USE_GOHEAP
    gh_free(p);
#else
    free(p);
#endif
}

/* churn_loop runs n steps of w's ring; `atomic` is a constant in each of
 * its two instantiations, so the choice costs nothing inside the loop. */
static inline __attribute__((always_inline)) void churn_loop(struct worker *w, long n, int atomic)
{
    unsigned char **ring = w->ring;
    const uint32_t *sizes = w->sizes;
    long slot = w->slot, live = w->live;
    unsigned k = w->next_size;
    uint64_t sum = w->sum;

    for (long i = 0; i < n; i++) {
        unsigned char *old = ring[slot];
        if (old != NULL) {
            sum += old[0];
            churn_free(old);
        }
        size_t size = sizes[k++ % SIZE_TABLE];
        unsigned char *p = churn_alloc(size, atomic);
        if (__builtin_expect(p == NULL, 0))
            churn_die("allocation failed");
        p[0] = (unsigned char)i;
        p[size - 1] = (unsigned char)i;
        ring[slot] = p;
        if (++slot == live)
            slot = 0;
    }
    w->slot = slot;
    w->next_size = k;
    w->sum = sum;
}

static void __attribute__((noinline)) churn_steps(struct worker *w, long n)
{
    churn_loop(w, n, 0);
}

#ifdef USE_GOHEAP
static void __attribute__((noinline)) churn_steps_atomic(struct worker *w, long n)
{
    churn_loop(w, n, 1);
}
#endif

static void churn_run_steps(struct worker *w, long n)
{
#ifdef USE_GOHEAP
    if (w->atomic) {
        churn_steps_atomic(w, n);
        return;
    }
#endif
    churn_steps(w, n);
}

/* churn_size draws one size of distribution d. 8-64K is log-uniform: a
 * power of two from 8 to 32768, then a uniform size up to twice that, so
 * each octave is equally likely, as in real programs where small objects
 * are far more numerous than large ones. */
static uint32_t churn_size(struct harness_rng *r, enum churn_dist d)
{
    switch (d) {
    case DIST_16:
        return 16;
    case DIST_64:
        return 64;
    case DIST_8_512:
        return 8 + (uint32_t)harness_rng_below(r, 512 - 8 + 1);
    default: {
        uint32_t lo = 8u << harness_rng_below(r, 13);
        return lo + (uint32_t)harness_rng_below(r, lo);
    }
    }
}

static void *churn_worker(void *arg)
{
    struct worker *w = arg;

    churn_run_steps(w, 2 * w->live);
    pthread_barrier_wait(&warm_barrier);
    pthread_barrier_wait(&go_barrier);
    w->start = harness_now_ns();
    churn_run_steps(w, w->iters);
    w->end = harness_now_ns();
    return NULL;
}

#ifdef USE_GOHEAP
static long churn_gc_count(void)
{
    static gh_mem_stats m;

    gh_read_mem_stats(&m);
    return m.num_gc;
}
#else
static long churn_gc_count(void)
{
    return 0;
}
#endif

/* churn_measure runs one measurement and prints its result line. The
 * workers time themselves: the main thread may not be running when they
 * start, since they keep every core busy. */
static int churn_measure(int atomic, int threads, enum churn_dist dist, long live, long iters)
{
    struct harness_rng rng;
    uint64_t t0 = UINT64_MAX, t1 = 0, sum = 0;
    long gc0, gc1;

    for (int t = 0; t < threads; t++) {
        struct worker *w = &workers[t];

        w->atomic = atomic;
        w->live = live;
        w->iters = iters;
        w->sizes = malloc(SIZE_TABLE * sizeof w->sizes[0]);
#ifdef USE_GOHEAP
        w->ring = gh_malloc(live * sizeof w->ring[0]);
#else
        w->ring = calloc(live, sizeof w->ring[0]);
#endif
        if (w->sizes == NULL || w->ring == NULL)
            churn_die("out of memory");
        harness_rng_seed(&rng, 1000 + t);
        for (int i = 0; i < SIZE_TABLE; i++)
            w->sizes[i] = churn_size(&rng, dist);
    }
    if (pthread_barrier_init(&warm_barrier, NULL, threads + 1) != 0 ||
        pthread_barrier_init(&go_barrier, NULL, threads + 1) != 0)
        churn_die("pthread_barrier_init");
    for (int t = 0; t < threads; t++) {
        errno = pthread_create(&workers[t].thread, NULL, churn_worker, &workers[t]);
        if (errno != 0)
            churn_die("pthread_create");
    }
    pthread_barrier_wait(&warm_barrier);
    gc0 = churn_gc_count();
    pthread_barrier_wait(&go_barrier);
    for (int t = 0; t < threads; t++)
        pthread_join(workers[t].thread, NULL);
    gc1 = churn_gc_count();
    for (int t = 0; t < threads; t++) {
        t0 = workers[t].start < t0 ? workers[t].start : t0;
        t1 = workers[t].end > t1 ? workers[t].end : t1;
        sum += workers[t].sum;
    }
    churn_sink = sum;
    printf("ns=%.3f rss_kib=%ld gcs=%ld\n", (double)(t1 - t0) / (double)iters,
           harness_peak_rss_kib(), gc1 - gc0);
    return 0;
}

/* churn_probe prints which loaded object defines malloc. */
static int churn_probe(void)
{
#ifdef USE_GOHEAP
    printf("goheap (static)\n");
#else
    Dl_info info;
    void *(*volatile m)(size_t) = malloc;

    if (dladdr((void *)m, &info) == 0 || info.dli_fname == NULL) {
        printf("unknown\n");
        return 1;
    }
    printf("%s\n", info.dli_fname);
#endif
    return 0;
}

/* ---- The driver ------------------------------------------------------- */

/* Rows of the table. iters is per thread and per run, chosen so that each
 * run takes tens of milliseconds with the faster allocators. */
struct churn_row {
    int threads;
    enum churn_dist dist;
    long live;
    long iters;
};

static const struct churn_row churn_rows[] = {
    {1, DIST_16, 1000, 5000000},
    {1, DIST_64, 1000, 5000000},
    {1, DIST_8_512, 1000, 3000000},
    {1, DIST_8_64K, 1000, 500000},
    {1, DIST_16, 10000, 5000000},
    {1, DIST_64, 10000, 5000000},
    {1, DIST_8_512, 10000, 3000000},
    {1, DIST_8_64K, 10000, 500000},
    {2, DIST_16, 1000, 5000000},
    {2, DIST_64, 1000, 5000000},
    {2, DIST_8_512, 1000, 3000000},
    {2, DIST_8_64K, 1000, 500000},
    {2, DIST_16, 10000, 5000000},
    {2, DIST_64, 10000, 5000000},
    {2, DIST_8_512, 10000, 3000000},
    {2, DIST_8_64K, 10000, 500000},
};
#define NROWS ((int)(sizeof churn_rows / sizeof churn_rows[0]))

/* One column. The goheap columns run the goheap build; the peers run this
 * binary with preload put in front by LD_PRELOAD (glibc: nothing). A column
 * runs only if --probe then names a file containing expect. */
struct churn_alloc {
    const char *name;
    int goheap;
    const char *preload;
    const char *expect;
    int usable;
};

static struct churn_alloc churn_allocs[] = {
    {"goheap", 1, NULL, "goheap", 0},
    {"goheap-atomic", 1, NULL, "goheap", 0},
    {"glibc", 0, NULL, "libc.so", 0},
    {"jemalloc", 0, "libjemalloc.so.2", "jemalloc", 0},
    {"mimalloc", 0, "libmimalloc.so.2", "mimalloc", 0},
    {"tcmalloc", 0, "libtcmalloc_minimal.so.4", "tcmalloc", 0},
};
#define NALLOCS ((int)(sizeof churn_allocs / sizeof churn_allocs[0]))
#define BASE_ALLOC 4 /* mimalloc: the ratio table divides by it */

#define MAX_REPS 15

struct churn_result {
    double ns[MAX_REPS];
    int runs;
    int failed; /* a run crashed or hung: the cell is left empty */
    long rss_kib, gcs;
};

static int churn_timeout_s = 20; /* per run; --timeout */

static struct churn_result results[NROWS][NALLOCS];


/* churn_spawn runs bin with argv and the environment of alloc a, stores up
 * to n-1 bytes of its standard output in out, and returns its exit status,
 * or -1 if it could not run, was killed by a signal, or had to be killed
 * after churn_timeout_s seconds (a hung allocator must not stall the whole
 * table). */
static int churn_spawn(const char *bin, char *const argv[], const struct churn_alloc *a,
                       char *out, size_t n)
{
    posix_spawn_file_actions_t fa;
    char **env = harness_env(a->preload, NULL);
    uint64_t deadline = harness_now_ns() + (uint64_t)churn_timeout_s * 1000000000u;
    size_t len = 0;
    int fds[2], status, timed_out = 0;
    pid_t pid;

    if (env == NULL)
        churn_die("out of memory");
    if (pipe(fds) != 0)
        churn_die("pipe");
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    errno = posix_spawn(&pid, bin, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fds[1]);
    if (errno != 0) {
        fprintf(stderr, "churn: cannot run %s: %s\n", bin, strerror(errno));
        close(fds[0]);
        return -1;
    }
    for (;;) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        uint64_t now = harness_now_ns();
        char spill[256];
        ssize_t got;

        if (now >= deadline) {
            timed_out = 1;
            kill(pid, SIGKILL);
            break;
        }
        if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
            continue;
        if (len + 1 < n)
            got = read(fds[0], out + len, n - 1 - len);
        else
            got = read(fds[0], spill, sizeof spill);
        if (got == 0 || (got < 0 && errno != EINTR))
            break;
        if (got > 0 && len + 1 < n)
            len += (size_t)got;
    }
    out[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            churn_die("waitpid");
    }
    if (timed_out) {
        fprintf(stderr, "churn: %s did not finish in %d s; killed it\n", a->name, churn_timeout_s);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* churn_run_one runs row r once for allocator a and records the result;
 * a failure marks the cell failed, and it is not run again. */
static void churn_run_one(const char *bin, int r, int a, long iters)
{
    const struct churn_row *row = &churn_rows[r];
    struct churn_result *res = &results[r][a];
    char threads[16], live[24], niters[24], out[256];
    char *argv[] = {(char *)bin, "--run", "--alloc", (char *)churn_allocs[a].name,
                    "--threads", threads, "--sizes", (char *)dist_names[row->dist],
                    "--live", live, "--iters", niters, NULL};
    const char *line;
    double ns;
    long rss, gcs;
    int st;

    snprintf(threads, sizeof threads, "%d", row->threads);
    snprintf(live, sizeof live, "%ld", row->live);
    snprintf(niters, sizeof niters, "%ld", iters);
    st = churn_spawn(bin, argv, &churn_allocs[a], out, sizeof out);
    /* The result is the line that starts with "ns="; an allocator may
     * print lines of its own. */
    line = out;
    while (line != NULL && strncmp(line, "ns=", 3) != 0) {
        line = strchr(line, '\n');
        if (line != NULL)
            line++;
    }
    if (st != 0 || line == NULL ||
        sscanf(line, "ns=%lf rss_kib=%ld gcs=%ld", &ns, &rss, &gcs) != 3) {
        fprintf(stderr, "churn: %s failed on %d thread(s), sizes %s B, %ld live (status %d)\n",
                churn_allocs[a].name, row->threads, dist_names[row->dist], row->live, st);
        res->failed = 1;
        return;
    }
    res->ns[res->runs++] = ns;
    res->rss_kib = rss > res->rss_kib ? rss : res->rss_kib;
    res->gcs = gcs > res->gcs ? gcs : res->gcs;
}

/* churn_check_allocs decides which columns can run: each whose binary
 * (the goheap build, or this one under its LD_PRELOAD) says with --probe
 * that malloc comes from the expected place. */
static void churn_check_allocs(const char *self, const char *gh)
{
    char out[PATH_MAX + 64];

    for (int a = 0; a < NALLOCS; a++) {
        struct churn_alloc *al = &churn_allocs[a];
        const char *bin = al->goheap ? gh : self;
        char *argv[] = {(char *)bin, "--probe", NULL};

        if (bin == NULL) {
            fprintf(stderr, "churn: %s skipped: no --gh binary given\n", al->name);
            continue;
        }
        if (churn_spawn(bin, argv, al, out, sizeof out) == 0 && strstr(out, al->expect) != NULL) {
            al->usable = 1;
            continue;
        }
        out[strcspn(out, "\n")] = '\0';
        fprintf(stderr, "churn: %s skipped: %s%s%s%s --probe gives malloc from \"%s\"\n", al->name,
                al->preload != NULL ? "LD_PRELOAD=" : "", al->preload != NULL ? al->preload : "",
                al->preload != NULL ? " " : "", bin, out);
    }
}

/* churn_report prints the two tables and writes the CSV file; load is the
 * load average when the run started, printed because other work on the
 * machine inflates the figures. */
static void churn_report(int reps, const char *csv, double load)
{
    static struct harness_table ns, ratio;
    static const char *const label_head[] = {"threads", "sizes (B)", "live/thread"};
    const char *value_head[NALLOCS];
    char title[160];
    FILE *f = NULL;
    int nfailed = 0;

    for (int a = 0; a < NALLOCS; a++)
        value_head[a] = churn_allocs[a].name;
    snprintf(title, sizeof title,
             "churn: ns per malloc+free pair, median of %d run%s (lower is better)", reps,
             reps == 1 ? "" : "s");
    harness_table_init(&ns, title, "%.1f", 3, label_head, NALLOCS, value_head);
    if (csv != NULL) {
        f = harness_csv_open(csv, "threads,sizes,live,allocator,ns_median,ns_min,ns_max,runs,"
                                  "failed,peak_rss_kib,gc_cycles_max");
        if (f == NULL)
            fprintf(stderr, "churn: cannot write %s: %s\n", csv, strerror(errno));
    }
    for (int r = 0; r < NROWS; r++) {
        const struct churn_row *row = &churn_rows[r];
        int t = harness_table_add_row(&ns);

        harness_table_set_label(&ns, t, 0, "%d", row->threads);
        harness_table_set_label(&ns, t, 1, "%s", dist_names[row->dist]);
        harness_table_set_label(&ns, t, 2, "%ld", row->live);
        for (int a = 0; a < NALLOCS; a++) {
            struct churn_result *res = &results[r][a];

            if (res->runs == 0 && !res->failed)
                continue;
            /* harness_median sorts, so ns[0] and ns[runs - 1] are min and max. */
            double med = harness_median(res->ns, res->runs);
            if (!res->failed)
                ns.value[t][a] = med;
            else
                nfailed++;
            if (f == NULL)
                continue;
            fprintf(f, "%d,%s,%ld,%s,", row->threads, dist_names[row->dist], row->live,
                    churn_allocs[a].name);
            if (res->runs > 0)
                fprintf(f, "%.3f,%.3f,%.3f,", med, res->ns[0], res->ns[res->runs - 1]);
            else
                fprintf(f, ",,,");
            fprintf(f, "%d,%d,%ld,%ld\n", res->runs, res->failed, res->rss_kib, res->gcs);
        }
    }
    if (f != NULL && fclose(f) != 0)
        fprintf(stderr, "churn: cannot write %s: %s\n", csv, strerror(errno));
    harness_table_ratios(&ratio, &ns, BASE_ALLOC, "churn: ratio to mimalloc (lower is better)");
    printf("churn: %ld CPUs online, load average %.2f when the run started\n",
           sysconf(_SC_NPROCESSORS_ONLN), load);
    harness_table_print(&ns, stdout);
    putchar('\n');
    harness_table_print(&ratio, stdout);
    if (nfailed > 0)
        printf("\nchurn: %d cell%s left empty because a run failed (see the messages above)\n",
               nfailed, nfailed == 1 ? " is" : "s are");
    if (csv != NULL && f != NULL)
        printf("\nchurn: wrote %s\n", csv);
}

static int churn_drive(const char *gh, int reps, int quick, const char *csv)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    double load;

    if (n < 0)
        churn_die("readlink /proc/self/exe");
    self[n] = '\0';
    churn_check_allocs(self, gh);
    load = harness_load_average();
    for (int r = 0; r < NROWS; r++) {
        const struct churn_row *row = &churn_rows[r];
        long iters = quick ? row->iters / 20 : row->iters;

        fprintf(stderr, "churn: %d/%d: %d thread%s, sizes %s B, %ld live\n", r + 1, NROWS,
                row->threads, row->threads == 1 ? "" : "s", dist_names[row->dist], row->live);
        for (int rep = 0; rep < reps; rep++) {
            for (int a = 0; a < NALLOCS; a++) {
                if (churn_allocs[a].usable && !results[r][a].failed)
                    churn_run_one(churn_allocs[a].goheap ? gh : self, r, a, iters);
            }
        }
    }
    churn_report(reps, csv, load);
    return 0;
}

/* ---- Command line ----------------------------------------------------- */

static void churn_usage(void)
{
    fprintf(stderr,
            "usage: churn [--gh BIN] [--peer NAME=LIB]... [--reps N] [--timeout S] [--quick]\n"
            "             [--csv PATH]\n"
            "       churn --run --alloc NAME --threads T --sizes 16|64|8-512|8-64K --live W "
            "--iters N\n"
            "       churn --probe\n");
    exit(2);
}

static long churn_number(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "churn: bad number \"%s\" (want %ld..%ld)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

static void churn_set_peer(const char *spec)
{
    const char *eq = strchr(spec, '=');

    for (int a = 0; eq != NULL && a < NALLOCS; a++) {
        struct churn_alloc *al = &churn_allocs[a];

        if (!al->goheap && al->preload != NULL && strlen(al->name) == (size_t)(eq - spec) &&
            strncmp(al->name, spec, (size_t)(eq - spec)) == 0) {
            al->preload = eq + 1;
            return;
        }
    }
    fprintf(stderr, "churn: --peer wants jemalloc=LIB, mimalloc=LIB or tcmalloc=LIB\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *gh = NULL, *csv = NULL, *alloc = NULL, *sizes = NULL;
    int run = 0, reps = 5, quick = 0, threads = 1, atomic = 0, dist = -1;
    long live = 1000, iters = 1000000;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(arg, "--probe") == 0)
            return churn_probe();
        if (strcmp(arg, "--run") == 0) {
            run = 1;
            continue;
        }
        if (strcmp(arg, "--quick") == 0) {
            quick = 1;
            continue;
        }
        if (val == NULL)
            churn_usage();
        i++;
        if (strcmp(arg, "--gh") == 0)
            gh = val;
        else if (strcmp(arg, "--peer") == 0)
            churn_set_peer(val);
        else if (strcmp(arg, "--reps") == 0)
            reps = (int)churn_number(val, 1, MAX_REPS);
        else if (strcmp(arg, "--timeout") == 0)
            churn_timeout_s = (int)churn_number(val, 1, 86400);
        else if (strcmp(arg, "--csv") == 0)
            csv = val;
        else if (strcmp(arg, "--alloc") == 0)
            alloc = val;
        else if (strcmp(arg, "--threads") == 0)
            threads = (int)churn_number(val, 1, MAX_THREADS);
        else if (strcmp(arg, "--sizes") == 0)
            sizes = val;
        else if (strcmp(arg, "--live") == 0)
            live = churn_number(val, 1, 10000000);
        else if (strcmp(arg, "--iters") == 0)
            iters = churn_number(val, 1, LONG_MAX / 2);
        else
            churn_usage();
    }
    if (!run)
        return churn_drive(gh, reps, quick, csv);
    for (int d = 0; sizes != NULL && d < NDIST; d++) {
        if (strcmp(sizes, dist_names[d]) == 0)
            dist = d;
    }
    if (alloc == NULL || dist < 0)
        churn_usage();
#ifdef USE_GOHEAP
    if (strcmp(alloc, "goheap-atomic") == 0)
        atomic = 1;
    else if (strcmp(alloc, "goheap") != 0)
        churn_usage();
#else
    if (strncmp(alloc, "goheap", 6) == 0) {
        fprintf(stderr, "churn: this build has no goheap; use the goheap build\n");
        return 2;
    }
#endif
    return churn_measure(atomic, threads, (enum churn_dist)dist, live, iters);
}
