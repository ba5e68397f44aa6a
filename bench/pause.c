/* pause.c: stop-the-world pauses and mutator utilisation with a large
 * live heap, for goheap, bdwgc (full and incremental) and Go in one run
 * (the Go side is bench/go/pause/main.go).
 *
 * The workload, the same in every runtime: a live heap of LIVE MiB
 * (default 1024) of 32-byte nodes linked into complete binary trees (a
 * table of 256 roots), then MUTATOR seconds (default 12) of one mutator
 * thread doing units of work: allocate 32 garbage objects of 16..128
 * bytes (pointer-bearing, each written once and dropped), read 4 random
 * live nodes, and swap the two children of one of them (so that the live
 * heap is written too, as real programs write theirs). The unit is timed
 * with the monotonic clock and its end recorded; GOGC=100 and every
 * runtime's defaults.
 *
 * What is measured, from the mutator phase only:
 *   - stop-the-world pauses: every stop, as the runtime reports it
 *     (goheap and Go: the two stopped phases of each gctrace line; bdwgc:
 *     its stop-world / start-world events), max and 99th percentile;
 *   - mutator utilisation while marking: the units done while a cycle was
 *     marking, times the median time of a unit outside collection cycles,
 *     over the marking time (goheap and Go: the concurrent-mark phase of
 *     each gctrace line; bdwgc: from its mark-start to its mark-end event,
 *     which for a full collection lies inside its pause). It counts
 *     everything that slows the mutator while marking: pauses, assists,
 *     copy-on-write faults, the marker's share of the processors;
 *   - the longest gap the mutator saw (its slowest unit), and the peak
 *     resident memory over LIVE, and the peak memory of the process and
 *     its children (goheap's marker process holds the old copy of every
 *     page the program writes while it marks) over LIVE.
 *
 * usage: pause [--live-mb N] [--seconds S] [--incremental]
 *        pause --drive [--bdwgc BIN] [--go BIN] [--live-mb N] [--seconds S]
 *              [--csv PATH]
 * A worker (built with -DUSE_GOHEAP or -DUSE_BDWGC; --incremental calls
 * GC_enable_incremental) prints one line of key=value figures; with
 * PAUSE_ECHO set in its environment the goheap worker also passes its
 * gctrace lines on to stderr. The
 * driver (the goheap build with --drive) runs the goheap worker (itself),
 * bdwgc full and incremental, and Go, one after the other, and prints the
 * table with the targets. Nothing passes or fails here. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "gcalloc.h"

#define NODE_BYTES 32
#define NTREES 256
#define UNIT_ALLOCS 32
#define UNIT_READS 4
#define MAX_EVENTS (1 << 20)

struct node {
    struct node *left, *right;
    uint64_t value, pad;
};

/* The live heap: roots in the data segment, so every runtime sees them. */
struct node *trees[NTREES];
static int tree_depth;
static volatile void *sink;

/* ---- Intervals of collector activity --------------------------------- */

struct span_ns {
    uint64_t lo, hi;
};

/* Filled by the gctrace reader or the bdwgc event callback; read after
 * the mutator phase. Plain memory from mmap: none of it on the heap. */
static struct {
    struct span_ns *pause, *mark;
    volatile size_t npause, nmark;
    uint64_t stop_at, mark_at;     /* bdwgc: the open stop and mark */
} ev;

/* map_zeroed maps bookkeeping memory off every runtime's heap, in huge
 * pages: goheap's marker forks the process, and a fork's cost grows with
 * the page-table entries of all its memory, the benchmark's own too. */
static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        perror("pause: mmap");
        exit(1);
    }
    madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

static void note(struct span_ns *a, volatile size_t *n, uint64_t lo, uint64_t hi)
{
    if (*n < MAX_EVENTS && hi > lo) {
        a[*n].lo = lo;
        a[*n].hi = hi;
        __atomic_store_n(n, *n + 1, __ATOMIC_RELEASE);
    }
}

#ifdef USE_BDWGC
/* Runs inside the collector, often with the world stopped: no locks, no
 * allocation. */
static void GC_CALLBACK on_gc_event(GC_EventType e)
{
    uint64_t now = harness_now_ns();
    switch (e) {
    case GC_EVENT_PRE_STOP_WORLD:
        ev.stop_at = now;
        break;
    case GC_EVENT_POST_START_WORLD:
        if (ev.stop_at)
            note(ev.pause, &ev.npause, ev.stop_at, now);
        ev.stop_at = 0;
        break;
    case GC_EVENT_MARK_START:
        ev.mark_at = now;
        break;
    case GC_EVENT_MARK_END:
        if (ev.mark_at)
            note(ev.mark, &ev.nmark, ev.mark_at, now);
        ev.mark_at = 0;
        break;
    default:
        break;
    }
}
#else
/* gctrace lines arrive on a pipe put in place of stderr; a thread reads
 * them as they come (the runtime prints one as each cycle ends, with the
 * world running again) and turns "c1+c2+c3 ms clock" into the cycle's two
 * stops and its concurrent mark, counted back from the arrival time. */
static int trace_fd, stderr_copy, echo;

static void trace_line(const char *line, uint64_t now)
{
    double c1, c2, c3;
    const char *p = strstr(line, "%: ");
    if (strncmp(line, "gc ", 3) != 0 || p == NULL || sscanf(p + 3, "%lf+%lf+%lf", &c1, &c2, &c3) != 3) {
        dprintf(stderr_copy, "%s\n", line);
        return;
    }
    if (echo)
        dprintf(stderr_copy, "%s\n", line);
    uint64_t n3 = (uint64_t)(c3 * 1e6), n2 = (uint64_t)(c2 * 1e6), n1 = (uint64_t)(c1 * 1e6);
    uint64_t end = now, mark_term = end - n3, mark = mark_term - n2, start = mark - n1;
    note(ev.pause, &ev.npause, start, mark);
    note(ev.pause, &ev.npause, mark_term, end);
    note(ev.mark, &ev.nmark, mark, mark_term);
}

static void *trace_reader(void *arg)
{
    (void)arg;
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t r = read(trace_fd, buf + have, sizeof(buf) - 1 - have);
        if (r <= 0)
            return NULL;
        uint64_t now = harness_now_ns();
        have += (size_t)r;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n')) != NULL) {
            *nl = 0;
            trace_line(line, now);
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
}

static void trace_start(void)
{
    int fds[2];
    pthread_t t;
    if (pipe(fds) != 0) {
        perror("pause: pipe");
        exit(1);
    }
    echo = getenv("PAUSE_ECHO") != NULL;
    stderr_copy = dup(2);
    dup2(fds[1], 2);
    close(fds[1]);
    trace_fd = fds[0];
    pthread_create(&t, NULL, trace_reader, NULL);
    pthread_detach(t);
}
#endif

/* ---- Memory with the marker ------------------------------------------- */

/* goheap's marker is a copy-on-write copy of the process: every page the
 * program writes while it marks exists twice. A sampler adds up the
 * proportional set size (shared pages split between sharers) of this
 * process and its children every SAMPLE_MS during the mutator phase; the
 * peak is the memory all of them really used (the same as resident memory
 * for a runtime that makes no processes). */
#define SAMPLE_MS 100

static volatile int sampling;
static long mem_peak_kib;

static long pss_kib(long pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/smaps_rollup", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strstr(buf, "\nPss:");
    return p ? strtol(p + 5, NULL, 10) : 0;
}

static long parent_of(long pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    long ppid;
    return p && sscanf(p + 1, " %*c %ld", &ppid) == 1 ? ppid : -1;
}

static void *mem_sampler(void *arg)
{
    (void)arg;
    long self = getpid();
    while (__atomic_load_n(&sampling, __ATOMIC_ACQUIRE)) {
        long kib = pss_kib(self);
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            long pid = strtol(e->d_name, NULL, 10), pp;
            if (pid > 0 && pid != self && (pp = parent_of(pid)) > 0 && (pp == self || parent_of(pp) == self))
                kib += pss_kib(pid);
        }
        if (d)
            closedir(d);
        if (kib > mem_peak_kib)
            mem_peak_kib = kib;
        usleep(SAMPLE_MS * 1000);
    }
    return NULL;
}

/* ---- The workload ----------------------------------------------------- */

static struct node *tree_make(int depth, uint64_t *id)
{
    struct node *n = gcalloc(sizeof(*n));
    n->value = ++*id;
    if (depth > 0) {
        n->left = tree_make(depth - 1, id);
        n->right = tree_make(depth - 1, id);
    }
    return n;
}

/* live_node returns a random node of a random tree. */
static struct node *live_node(struct harness_rng *r)
{
    struct node *n = trees[harness_rng_below(r, NTREES)];
    for (int d = (int)harness_rng_below(r, (uint64_t)tree_depth); d > 0 && n->left; d--)
        n = harness_rng_next(r) & 1 ? n->left : n->right;
    return n;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double pct(uint64_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(v[0]), cmp_u64);
    size_t k = (size_t)(q * (double)n + 0.999999);
    return (double)v[(k ? k : 1) - 1];
}

static int worker(uint64_t live_mb, double seconds, int incremental)
{
    ev.pause = map_zeroed(MAX_EVENTS * sizeof(struct span_ns));
    ev.mark = map_zeroed(MAX_EVENTS * sizeof(struct span_ns));
#ifdef USE_BDWGC
    GCALLOC_INIT();
    if (incremental)
        GC_enable_incremental();
    GC_set_on_collection_event(on_gc_event);
    const char *name = incremental ? "bdwgc-incremental" : "bdwgc";
#else
    (void)incremental;
    trace_start();
    const char *name = "goheap";
#endif
    /* Complete trees of 2^(d+1) - 1 nodes, enough of them for live_mb. */
    uint64_t per_tree = (live_mb << 20) / NODE_BYTES / NTREES;
    for (tree_depth = 1; ((uint64_t)2 << (tree_depth + 1)) - 1 <= per_tree; tree_depth++)
        ;
    uint64_t id = 0, t0 = harness_now_ns();
    for (int i = 0; i < NTREES; i++)
        trees[i] = tree_make(tree_depth, &id);
    double build_s = (double)(harness_now_ns() - t0) / 1e9;

    size_t cap = (size_t)(seconds * 2e6) + 1024;
    uint64_t *ends = map_zeroed(cap * sizeof(uint64_t));
    struct harness_rng rng;
    harness_rng_seed(&rng, 1);
    pthread_t sampler;
    sampling = 1;
    pthread_create(&sampler, NULL, mem_sampler, NULL);
    size_t npause0 = ev.npause, nmark0 = ev.nmark, units = 0;
    uint64_t bytes = 0, start = harness_now_ns(), stop = start + (uint64_t)(seconds * 1e9), now = start;
    while (now < stop && units < cap) {
        for (int k = 0; k < UNIT_ALLOCS; k++) {
            size_t n = 16 + 16 * harness_rng_below(&rng, 8);
            uint64_t *p = gcalloc(n);
            p[0] = units;
            sink = p;
            bytes += n;
        }
        struct node *x = NULL;
        for (int k = 0; k < UNIT_READS; k++)
            x = live_node(&rng);
        struct node *l = x->left;
        x->left = x->right;
        x->right = l;
        now = harness_now_ns();
        ends[units++] = now;
    }
    uint64_t end = now;
    __atomic_store_n(&sampling, 0, __ATOMIC_RELEASE);
    pthread_join(sampler, NULL);
#ifndef USE_BDWGC
    usleep(200000); /* the last gctrace line */
#endif

    /* Pauses and marks that overlap the mutator phase, clipped to it. */
    size_t np = 0, nm = 0;
    uint64_t *pauses = map_zeroed(MAX_EVENTS * sizeof(uint64_t));
    struct span_ns *marks = ev.mark;
    for (size_t i = npause0 ? npause0 - 1 : 0; i < ev.npause; i++)
        if (ev.pause[i].hi > start && ev.pause[i].lo < end)
            pauses[np++] = ev.pause[i].hi - ev.pause[i].lo;
    uint64_t mark_ns = 0;
    for (size_t i = nmark0 ? nmark0 - 1 : 0; i < ev.nmark; i++) {
        uint64_t lo = marks[i].lo > start ? marks[i].lo : start, hi = marks[i].hi < end ? marks[i].hi : end;
        if (hi > lo) {
            marks[nm].lo = lo;
            marks[nm].hi = hi;
            mark_ns += hi - lo;
            nm++;
        }
    }
    /* Units, by whether they ended inside a mark. The base unit time
     * comes from the others (a pause outside a mark, rare, only makes one
     * unit slow and the median does not see it). */
    uint64_t *base = map_zeroed(units * sizeof(uint64_t)), gap_max = 0;
    size_t nbase = 0, in_mark = 0, m = 0;
    for (size_t u = 0; u < units; u++) {
        uint64_t prev = u ? ends[u - 1] : start, d = ends[u] - prev;
        if (d > gap_max)
            gap_max = d;
        while (m < nm && marks[m].hi < ends[u])
            m++;
        int marking = m < nm && marks[m].lo <= ends[u];
        if (marking)
            in_mark++;
        else
            base[nbase++] = d;
    }
    double base_ns = pct(base, nbase, 0.5);
    double util = mark_ns ? (double)in_mark * base_ns / (double)mark_ns : NAN;
    double pmax = 0, p99 = pct(pauses, np, 0.99);
    for (size_t i = 0; i < np; i++)
        if ((double)pauses[i] > pmax)
            pmax = (double)pauses[i];
    double secs = (double)(end - start) / 1e9;
    printf("runtime=%s live_mb=%llu seconds=%.1f build_s=%.1f cycles=%zu pauses=%zu pause_max_us=%.0f "
           "pause_p99_us=%.0f mark_s=%.2f util=%.3f gap_max_us=%.0f alloc_mb_s=%.0f rss_mb=%ld mem_mb=%ld\n",
           name, (unsigned long long)live_mb, secs, build_s, nm, np, pmax / 1e3, p99 / 1e3, (double)mark_ns / 1e9,
           util, (double)gap_max / 1e3, (double)bytes / secs / (1 << 20), harness_peak_rss_kib() / 1024,
           mem_peak_kib / 1024);
    fflush(stdout);
    return 0;
}

/* ---- The driver ----------------------------------------------------------- */

#ifdef USE_GOHEAP
struct result {
    const char *label;
    double v[11];
    int ok;
};

static const char *const keys[] = { "pause_max_us", "pause_p99_us", "pauses", "cycles", "mark_s", "util",
                                    "gap_max_us", "alloc_mb_s", "rss_mb", "mem_mb", "build_s" };
enum { NKEYS = sizeof(keys) / sizeof(keys[0]) };

/* run_one runs argv with env added and parses its key=value line. */
static void run_one(struct result *r, char *const argv[], const char *env)
{
    int fds[2];
    char out[4096];
    if (pipe(fds) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (env)
            putenv((char *)env);
        execv(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], out + got, sizeof(out) - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "pause: %s failed\n", r->label);
        if (strstr(r->label, "incremental") != NULL) {
            /* Its write barrier mprotects the heap page by page: a mapping
             * per 4 KiB page runs into the kernel's limit on a large heap. */
            long maps = 0;
            FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
            if (f != NULL) {
                if (fscanf(f, "%ld", &maps) != 1)
                    maps = 0;
                fclose(f);
            }
            fprintf(stderr, "pause: bdwgc's incremental mode protects the heap page by page, one mapping per "
                            "page; vm.max_map_count is %ld here: raise it (sysctl -w vm.max_map_count=1048576) "
                            "to include it\n", maps);
        }
        return;
    }
    for (int k = 0; k < NKEYS; k++) {
        char pat[64];
        snprintf(pat, sizeof(pat), " %s=", keys[k]);
        const char *p = strstr(out, pat);
        r->v[k] = p ? strtod(p + strlen(pat), NULL) : NAN;
    }
    printf("  %s\n", out[0] ? strtok(out, "\n") : "(no output)");
    fflush(stdout);
    r->ok = 1;
}

static int drive(const char *self, const char *bdwgc, const char *gobin, const char *live, const char *secs,
                 const char *csv)
{
    struct result res[4] = { { "goheap", { 0 }, 0 }, { "bdwgc", { 0 }, 0 },
                             { "bdwgc-incremental", { 0 }, 0 }, { "go", { 0 }, 0 } };
    char *a0[] = { (char *)self, "--live-mb", (char *)live, "--seconds", (char *)secs, NULL };
    printf("Pause benchmark: %s MiB live heap of 32-byte nodes in binary trees, one mutator allocating garbage\n"
           "(16..128 B) and rewriting the live heap for %s s; GOGC=100; load average %.2f.\n",
           live, secs, harness_load_average());
    run_one(&res[0], a0, "GODEBUG=gctrace=1");
    if (bdwgc) {
        char *a1[] = { (char *)bdwgc, "--live-mb", (char *)live, "--seconds", (char *)secs, NULL };
        char *a2[] = { (char *)bdwgc, "--live-mb", (char *)live, "--seconds", (char *)secs, "--incremental", NULL };
        run_one(&res[1], a1, NULL);
        run_one(&res[2], a2, NULL);
    }
    if (gobin) {
        char *a3[] = { (char *)gobin, "-live-mb", (char *)live, "-seconds", (char *)secs, NULL };
        run_one(&res[3], a3, "GODEBUG=gctrace=1");
    }
    static const char *const heads[] = { "max pause us", "p99 pause us", "pauses", "marks", "mark s",
                                         "util %", "max gap us", "alloc MB/s", "peak RSS x live",
                                         "peak mem x live", "build s" };
    static const char *const lh[] = { "runtime" };
    static struct harness_table t;
    harness_table_init(&t, "Stop-the-world pauses and mutator utilisation while marking", "%.1f", 1, lh, NKEYS, heads);
    double live_mb = strtod(live, NULL);
    for (int i = 0; i < 4; i++) {
        if (!res[i].ok)
            continue;
        int row = harness_table_add_row(&t);
        harness_table_set_label(&t, row, 0, "%s", res[i].label);
        for (int k = 0; k < NKEYS; k++)
            t.value[row][k] = res[i].v[k];
        t.value[row][5] *= 100;
        if (isnan(t.value[row][9])) /* Go's worker: no processes of its own */
            t.value[row][9] = t.value[row][8];
        t.value[row][8] /= live_mb;
        t.value[row][9] /= live_mb;
    }
    printf("\n");
    harness_table_print(&t, stdout);
    printf("Targets for goheap: max pause <= 1000 us, utilisation while marking >= 75%%, peak RSS <= 2.2 x live.\n"
           "Peak mem: proportional set size of the process and its children (goheap's marker), sampled every\n"
           "%d ms while the mutator runs: pages the program writes while the marker lives exist twice.\n"
           "Pauses as each runtime reports them (goheap, Go: gctrace's stopped phases; bdwgc: stop/start-world\n"
           "events). Utilisation: mutator work done while marking over what it does outside collection\n"
           "cycles in the same time; bdwgc's full collections mark with the world stopped (0%%).\n",
           SAMPLE_MS);
    if (csv) {
        FILE *f = harness_csv_open(csv, NULL);
        if (f) {
            harness_table_write_csv(&t, f);
            fclose(f);
        }
    }
    return 0;
}
#endif

int main(int argc, char **argv)
{
    const char *live = "1024", *secs = "12", *bdwgc = NULL, *gobin = NULL, *csv = NULL;
    int incremental = 0, driver = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--live-mb") == 0 && i + 1 < argc)
            live = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            secs = argv[++i];
        else if (strcmp(argv[i], "--incremental") == 0)
            incremental = 1;
        else if (strcmp(argv[i], "--drive") == 0)
            driver = 1;
        else if (strcmp(argv[i], "--bdwgc") == 0 && i + 1 < argc)
            bdwgc = argv[++i];
        else if (strcmp(argv[i], "--go") == 0 && i + 1 < argc)
            gobin = argv[++i];
        else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
            csv = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--drive [--bdwgc BIN] [--go BIN] [--csv PATH]] [--live-mb N] "
                            "[--seconds S] [--incremental]\n", argv[0]);
            return 2;
        }
    }
#ifdef USE_GOHEAP
    if (driver)
        return drive(argv[0], bdwgc, gobin, live, secs, csv);
#else
    (void)driver;
    (void)bdwgc;
    (void)gobin;
    (void)csv;
#endif
    return worker(strtoull(live, NULL, 10), strtod(secs, NULL), incremental);
}
