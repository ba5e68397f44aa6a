/* memstats_pause.c: how long gh_read_mem_stats stops the caller while
 * threads allocate, next to Go's runtime.ReadMemStats under the same load
 * (bench/go/memstats/main.go).
 *
 * T worker threads (default 4) each keep a ring of RING objects and
 * replace one per step with a new gh_malloc of 16..1024 bytes, dropping
 * the old one for the collector, as a Go program would. Once every worker
 * is running, the main thread calls gh_read_mem_stats N times (default
 * 1000), sleeping U microseconds (default 1000) between calls so that the
 * workers make progress, and times each call with the monotonic clock
 * around it: the pause the caller sees, which includes stopping and
 * restarting the world. The table shows median, 90th and 99th percentile
 * and maximum in microseconds, the collections that ran during the calls
 * and the workers' allocation rate (to show the load was real). Both
 * runtimes get the same T, N, U and object sizes; Go runs with its default
 * GOMAXPROCS (the number of CPUs).
 *
 * usage: memstats_pause [--calls N] [--threads T] [--interval-us U]
 *                       [--go BIN] [--csv PATH]
 * With --go, BIN (the Go build) is run with the same settings and its
 * figures, printed as key=value, become the second row. Nothing passes or
 * fails here; the target (median <= 50 us) is printed with the table. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "goheap.h"

#define RING 4096
#define MAX_THREADS 16
#define MAX_CALLS 100000

struct worker {
    pthread_t t;
    int id;
    volatile uint64_t allocs;
    void *ring[RING];
};

/* Global, so that the collector sees the rings. */
struct worker workers[MAX_THREADS];
static volatile int stop, running;

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct harness_rng rng;
    harness_rng_seed(&rng, (uint64_t)w->id + 1);
    __atomic_add_fetch(&running, 1, __ATOMIC_RELAXED);
    for (uint64_t i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
        size_t size = 16 + (size_t)harness_rng_below(&rng, 1009);
        unsigned char *p = gh_malloc(size);
        if (p == NULL) {
            fprintf(stderr, "memstats_pause: out of memory\n");
            exit(1);
        }
        p[0] = (unsigned char)i;
        w->ring[i % RING] = p;
        w->allocs = i + 1;
    }
    return NULL;
}

struct result {
    double median_us, p90_us, p99_us, max_us, gcs, mallocs_per_s;
};

/* percentile of sorted v[0..n): the value at rank ceil(q*n). */
static double percentile(const double *v, int n, double q)
{
    int k = (int)(q * n + 0.999999);
    return v[k < 1 ? 0 : k > n ? n - 1 : k - 1];
}

static void measure(int calls, int threads, long interval_us, struct result *r)
{
    static double pause_us[MAX_CALLS];
    static gh_mem_stats m0, m;
    for (int i = 0; i < threads; i++) {
        workers[i].id = i;
        if (pthread_create(&workers[i].t, NULL, worker_main, &workers[i]) != 0) {
            perror("memstats_pause: pthread_create");
            exit(1);
        }
    }
    while (__atomic_load_n(&running, __ATOMIC_RELAXED) < threads)
        sched_yield();
    gh_read_mem_stats(&m0);
    uint64_t a0 = 0, a1 = 0;
    for (int i = 0; i < threads; i++)
        a0 += workers[i].allocs;
    uint64_t start = harness_now_ns();
    struct timespec gap = { interval_us / 1000000, (interval_us % 1000000) * 1000 };
    for (int k = 0; k < calls; k++) {
        uint64_t t0 = harness_now_ns();
        gh_read_mem_stats(&m);
        uint64_t t1 = harness_now_ns();
        pause_us[k] = (double)(t1 - t0) / 1e3;
        nanosleep(&gap, NULL);
    }
    double secs = (double)(harness_now_ns() - start) / 1e9;
    for (int i = 0; i < threads; i++)
        a1 += workers[i].allocs;
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < threads; i++)
        pthread_join(workers[i].t, NULL);
    r->median_us = harness_median(pause_us, calls); /* sorts pause_us */
    r->p90_us = percentile(pause_us, calls, 0.90);
    r->p99_us = percentile(pause_us, calls, 0.99);
    r->max_us = pause_us[calls - 1];
    r->gcs = (double)(m.num_gc - m0.num_gc);
    r->mallocs_per_s = (double)(a1 - a0) / secs / 1e6;
}

/* run_go runs the Go build with the same settings and reads its
 * key=value line. Returns 0, or -1 (with a message) when it failed. */
static int run_go(const char *bin, int calls, int threads, long interval_us, struct result *r)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' -calls %d -threads %d -interval-us %ld", bin, calls, threads, interval_us);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        perror("memstats_pause: popen");
        return -1;
    }
    char line[512];
    int got = 0;
    while (fgets(line, sizeof line, f) != NULL)
        got |= sscanf(line, "median_us=%lf p90_us=%lf p99_us=%lf max_us=%lf gcs=%lf mallocs_per_s=%lf",
                      &r->median_us, &r->p90_us, &r->p99_us, &r->max_us, &r->gcs, &r->mallocs_per_s) == 6;
    int st = pclose(f);
    if (st != 0 || !got) {
        fprintf(stderr, "memstats_pause: %s failed (status %d)\n", bin, st);
        return -1;
    }
    r->mallocs_per_s /= 1e6;
    return 0;
}

static long arg_num(const char *s, long lo, long hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "memstats_pause: bad number \"%s\" (want %ld..%ld)\n", s, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    int calls = 1000, threads = 4;
    long interval_us = 1000;
    const char *go = NULL, *csv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val && strcmp(argv[i], "--calls") == 0)
            calls = (int)arg_num(val, 1, MAX_CALLS);
        else if (val && strcmp(argv[i], "--threads") == 0)
            threads = (int)arg_num(val, 0, MAX_THREADS);
        else if (val && strcmp(argv[i], "--interval-us") == 0)
            interval_us = arg_num(val, 0, 1000000);
        else if (val && strcmp(argv[i], "--go") == 0)
            go = val;
        else if (val && strcmp(argv[i], "--csv") == 0)
            csv = val;
        else {
            fprintf(stderr, "usage: memstats_pause [--calls N] [--threads T] [--interval-us U] "
                            "[--go BIN] [--csv PATH]\n");
            return 2;
        }
        i++;
    }
    double load = harness_load_average();
    struct result gh, gor;
    measure(calls, threads, interval_us, &gh);
    int have_go = go != NULL && run_go(go, calls, threads, interval_us, &gor) == 0;

    static const char *const label_head[] = { "runtime" };
    static const char *const value_head[] = { "median us", "p90 us", "p99 us", "max us", "GCs",
                                              "M allocs/s" };
    char title[256];
    snprintf(title, sizeof title,
             "ReadMemStats pause seen by the caller: %d calls, one every %ld us, %d threads allocating "
             "16..1024 B (target: goheap median <= 50 us)",
             calls, interval_us, threads);
    struct harness_table t, ratio;
    harness_table_init(&t, title, "%.1f", 1, label_head, 6, value_head);
    const struct result *rows[2] = { &gh, &gor };
    const char *names[2] = { "goheap", "go" };
    for (int k = 0; k < (have_go ? 2 : 1); k++) {
        int row = harness_table_add_row(&t);
        harness_table_set_label(&t, row, 0, "%s", names[k]);
        const double v[6] = { rows[k]->median_us, rows[k]->p90_us, rows[k]->p99_us, rows[k]->max_us, rows[k]->gcs,
                              rows[k]->mallocs_per_s };
        memcpy(t.value[row], v, sizeof v);
    }
    harness_table_print(&t, stdout);
    if (have_go) {
        /* goheap / go, column by column. */
        harness_table_init(&ratio, "\ngoheap / go", "%.2f", 1, label_head, 6, value_head);
        int row = harness_table_add_row(&ratio);
        harness_table_set_label(&ratio, row, 0, "ratio");
        for (int c = 0; c < 6; c++)
            if (t.value[1][c] != 0)
                ratio.value[row][c] = t.value[0][c] / t.value[1][c];
        harness_table_print(&ratio, stdout);
    } else if (go != NULL) {
        printf("(no Go row: %s failed)\n", go);
    }
    printf("memstats_pause: %ld CPUs online, load average %.2f when the run started\n",
           sysconf(_SC_NPROCESSORS_ONLN), load);
    if (csv != NULL)
        return harness_table_save_csv(&t, csv, "memstats_pause");
    return 0;
}
