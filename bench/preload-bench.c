/* preload-bench.c: allocation-heavy programs, unchanged, under glibc,
 * jemalloc, mimalloc, tcmalloc and goheap, each started with LD_PRELOAD
 * (glibc: nothing), in one run. For every program and allocator it takes
 * the wall time and the peak RSS of the process (ru_maxrss from wait4,
 * which covers the children the program waited for, such as goheap's
 * marker), the median of --reps runs with the allocators interleaved, and
 * prints both tables with ratios: time to mimalloc, RSS to glibc.
 *
 * Rows:
 *   churn 16B / churn 8-512 x2  bench/churn.c --run (the heap benchmark's
 *                               malloc/free churn), 1 and 2 threads
 *   larson x2                   bench/preload-larson.c: objects freed by
 *                               another thread
 *   larson x2 leak              the same, received objects dropped
 *   strings                     bench/preload-strings.c: tokenize a text
 *                               into strdup'd tokens and a hash table
 *   strings leak                the same, nothing freed
 *   python3                     tests/preload/work.py
 *   sqlite3                     tests/preload/work.sql
 * goheap runs in its default mode (free honoured, leaks collected); on
 * the "leak" rows the program never frees, so goheap's column shows
 * collection alone while the others keep everything. A program whose
 * standard output differs from glibc's run, or that fails, leaves its cell
 * empty and is reported.
 *
 * usage: preload-bench --gh LIB --churn BIN --larson BIN --strings BIN
 *            --work DIR [--reps N] [--timeout S] [--quick] [--csv PATH]
 * --quick divides every workload by 10 (a smoke test). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"


#define MAX_REPS 9
#define MAX_ARGS 16
#define OUT_MAX 4096

struct alloc {
    const char *name;
    const char *preload; /* NULL: the C library's malloc */
    int usable;
};

static struct alloc allocs[] = {
    {"glibc", NULL, 1},
    {"jemalloc", "libjemalloc.so.2", 1},
    {"mimalloc", "libmimalloc.so.2", 1},
    {"tcmalloc", "libtcmalloc_minimal.so.4", 1},
    {"goheap", NULL, 1}, /* preload set from --gh */
};
#define NALLOCS ((int)(sizeof allocs / sizeof allocs[0]))
#define ALLOC_GLIBC 0
#define ALLOC_MIMALLOC 2
#define ALLOC_GOHEAP 4

struct row {
    const char *name;
    const char *argv[MAX_ARGS]; /* "@churn" etc. name a program, "%N" a scaled number */
    const char *input;          /* standard input, "@work/..." relative to --work */
};

static const struct row rows[] = {
    {"churn 16B", {"@churn", "--run", "--alloc", "glibc", "--threads", "1", "--sizes", "16", "--live", "1000",
                   "--iters", "%20000000"}, NULL},
    {"churn 8-512 x2", {"@churn", "--run", "--alloc", "glibc", "--threads", "2", "--sizes", "8-512", "--live",
                        "10000", "--iters", "%10000000"}, NULL},
    {"larson x2", {"@larson", "--threads", "2", "--objects", "%3000000", "--max", "512"}, NULL},
    {"larson x2 leak", {"@larson", "--threads", "2", "--objects", "%3000000", "--max", "512", "--leak"}, NULL},
    {"strings", {"@strings", "--words", "%3000000", "--rounds", "3"}, NULL},
    {"strings leak", {"@strings", "--words", "%3000000", "--rounds", "3", "--leak"}, NULL},
    {"python3", {"/usr/bin/python3", "@work/work.py", "%150000"}, NULL},
    {"sqlite3", {"sqlite3", "@db"}, "@work/work.sql"},
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

struct cell {
    double secs[MAX_REPS];
    double rss_mib[MAX_REPS];
    int runs, failed;
};

static struct cell cells[NROWS][NALLOCS];
static char ref_out[NROWS][OUT_MAX]; /* glibc's standard output */
static int have_ref[NROWS];

static const char *prog_churn, *prog_larson, *prog_strings, *work_dir;
static char db_path[PATH_MAX];
static int scale_div = 1, timeout_s = 300;

static void die(const char *what)
{
    fprintf(stderr, "preload-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* expand resolves a row word into buf. */
static const char *expand(const char *w, char *buf, size_t n)
{
    if (strcmp(w, "@churn") == 0)
        return prog_churn;
    if (strcmp(w, "@larson") == 0)
        return prog_larson;
    if (strcmp(w, "@strings") == 0)
        return prog_strings;
    if (strcmp(w, "@db") == 0)
        return db_path;
    if (strncmp(w, "@work/", 6) == 0) {
        snprintf(buf, n, "%s/%s", work_dir, w + 6);
        return buf;
    }
    if (w[0] == '%') {
        snprintf(buf, n, "%ld", atol(w + 1) / scale_div);
        return buf;
    }
    return w;
}


/* run_one runs row r under allocator a; returns 0 and fills secs, rss
 * and out, or -1 if it failed, crashed or timed out. */
static int run_one(int r, int a, double *secs, double *rss_mib, char *out, size_t outn)
{
    char bufs[MAX_ARGS][PATH_MAX], inbuf[PATH_MAX];
    char *argv[MAX_ARGS + 1];
    int argc = 0;
    for (; argc < MAX_ARGS && rows[r].argv[argc] != NULL; argc++)
        argv[argc] = (char *)expand(rows[r].argv[argc], bufs[argc], sizeof bufs[argc]);
    argv[argc] = NULL;
    unlink(db_path);

    int fds[2];
    if (pipe(fds) != 0)
        die("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    if (rows[r].input != NULL)
        posix_spawn_file_actions_addopen(&fa, 0, expand(rows[r].input, inbuf, sizeof inbuf), O_RDONLY, 0);
    static const char *const goheap_knobs[] = { "GCTRACE=", "GODEBUG=", NULL };
    char **env = harness_env(allocs[a].preload, goheap_knobs);
    if (env == NULL)
        die("malloc");
    uint64_t t0 = harness_now_ns();
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fds[1]);
    if (err != 0) {
        fprintf(stderr, "preload-bench: cannot run %s: %s\n", argv[0], strerror(err));
        close(fds[0]);
        return -1;
    }
    /* The child is killed if it outlives the timeout (SIGALRM interrupts
     * the read). */
    size_t len = 0;
    alarm((unsigned)timeout_s);
    for (;;) {
        char spill[512];
        char *dst = len + 1 < outn ? out + len : spill;
        size_t room = len + 1 < outn ? outn - 1 - len : sizeof spill;
        ssize_t got = read(fds[0], dst, room);
        if (got > 0) {
            if (dst != spill)
                len += (size_t)got;
            continue;
        }
        if (got < 0 && errno == EINTR) {
            kill(pid, SIGKILL);
            continue;
        }
        break;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    alarm(0);
    *secs = (double)(harness_now_ns() - t0) / 1e9;
    *rss_mib = (double)ru.ru_maxrss / 1024.0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "preload-bench: %s under %s: %s %d\n", rows[r].name, allocs[a].name,
                WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    return 0;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static double median_of(const double *v, int n)
{
    double tmp[MAX_REPS];
    memcpy(tmp, v, (size_t)n * sizeof v[0]);
    return harness_median(tmp, n);
}

static void usage(void)
{
    fprintf(stderr, "usage: preload-bench --gh LIB --churn BIN --larson BIN --strings BIN --work DIR\n"
                    "                     [--reps N] [--timeout S] [--quick] [--csv PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int reps = 3;
    const char *csv = NULL;
    for (int i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--quick") == 0) {
            scale_div = 10;
            continue;
        }
        if (val == NULL)
            usage();
        if (strcmp(argv[i], "--gh") == 0)
            allocs[ALLOC_GOHEAP].preload = val;
        else if (strcmp(argv[i], "--churn") == 0)
            prog_churn = val;
        else if (strcmp(argv[i], "--larson") == 0)
            prog_larson = val;
        else if (strcmp(argv[i], "--strings") == 0)
            prog_strings = val;
        else if (strcmp(argv[i], "--work") == 0)
            work_dir = val;
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(val);
        else if (strcmp(argv[i], "--timeout") == 0)
            timeout_s = atoi(val);
        else if (strcmp(argv[i], "--csv") == 0)
            csv = val;
        else
            usage();
        i++;
    }
    if (!allocs[ALLOC_GOHEAP].preload || !prog_churn || !prog_larson || !prog_strings || !work_dir ||
        reps < 1 || reps > MAX_REPS)
        usage();
    snprintf(db_path, sizeof db_path, "/tmp/preload-bench.%d.db", (int)getpid());
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: the read must see EINTR */
    sigaction(SIGALRM, &sa, NULL);

    /* A peer whose library cannot be loaded gets no column. */
    for (int a = 1; a < NALLOCS; a++) {
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof probe, "LD_PRELOAD=%s /bin/true 2>&1", allocs[a].preload);
        FILE *f = popen(probe, "r");
        char line[256];
        if (f != NULL && fgets(line, sizeof line, f) != NULL && strstr(line, "cannot be preloaded"))
            allocs[a].usable = 0;
        if (f != NULL)
            pclose(f);
        if (!allocs[a].usable)
            fprintf(stderr, "preload-bench: %s (%s) cannot be preloaded; column left out\n", allocs[a].name,
                    allocs[a].preload);
    }

    printf("preload-bench: %d rows x %d allocators x %d reps%s, load average %.2f\n", NROWS, NALLOCS, reps,
           scale_div > 1 ? " (quick)" : "", harness_load_average());
    fflush(stdout);
    for (int rep = 0; rep < reps; rep++) {
        for (int r = 0; r < NROWS; r++) {
            for (int a = 0; a < NALLOCS; a++) {
                struct cell *c = &cells[r][a];
                char out[OUT_MAX];
                double secs, rss;
                if (!allocs[a].usable || c->failed)
                    continue;
                if (run_one(r, a, &secs, &rss, out, sizeof out) != 0) {
                    c->failed = 1;
                    continue;
                }
                /* churn prints its own timing; compare only the others. */
                if (strcmp(rows[r].argv[0], "@churn") == 0)
                    out[0] = '\0';
                if (a == ALLOC_GLIBC && !have_ref[r]) {
                    snprintf(ref_out[r], sizeof ref_out[r], "%s", out);
                    have_ref[r] = 1;
                } else if (have_ref[r] && strcmp(ref_out[r], out) != 0) {
                    fprintf(stderr, "preload-bench: %s under %s printed something else than under glibc\n",
                            rows[r].name, allocs[a].name);
                    c->failed = 1;
                    continue;
                }
                c->secs[c->runs] = secs;
                c->rss_mib[c->runs] = rss;
                c->runs++;
            }
        }
        fprintf(stderr, "preload-bench: rep %d of %d done\n", rep + 1, reps);
    }
    unlink(db_path);

    static const char *const label_head[] = {"program"};
    const char *value_head[NALLOCS];
    for (int a = 0; a < NALLOCS; a++)
        value_head[a] = allocs[a].name;
    static struct harness_table t_time, t_rss, ratio_time, ratio_rss;
    harness_table_init(&t_time, "wall time, seconds (median)", "%.2f", 1, label_head, NALLOCS, value_head);
    harness_table_init(&t_rss, "peak RSS, MiB (median)", "%.1f", 1, label_head, NALLOCS, value_head);
    for (int r = 0; r < NROWS; r++) {
        int rt = harness_table_add_row(&t_time), rr = harness_table_add_row(&t_rss);
        harness_table_set_label(&t_time, rt, 0, "%s", rows[r].name);
        harness_table_set_label(&t_rss, rr, 0, "%s", rows[r].name);
        for (int a = 0; a < NALLOCS; a++) {
            const struct cell *c = &cells[r][a];
            if (c->failed || c->runs == 0)
                continue;
            t_time.value[rt][a] = median_of(c->secs, c->runs);
            t_rss.value[rr][a] = median_of(c->rss_mib, c->runs);
        }
    }
    harness_table_ratios(&ratio_time, &t_time, ALLOC_MIMALLOC, "wall time / mimalloc's");
    harness_table_ratios(&ratio_rss, &t_rss, ALLOC_GLIBC, "peak RSS / glibc's");
    printf("\n");
    harness_table_print(&t_time, stdout);
    printf("\n");
    harness_table_print(&ratio_time, stdout);
    printf("\n");
    harness_table_print(&t_rss, stdout);
    printf("\n");
    harness_table_print(&ratio_rss, stdout);
    printf("\nOn the leak rows the program frees nothing: goheap collects, the others keep it all.\n");
    if (csv != NULL) {
        FILE *f = harness_csv_open(csv, NULL);
        if (f == NULL)
            die(csv);
        fprintf(f, "# wall time, seconds\n");
        harness_table_write_csv(&t_time, f);
        fprintf(f, "# peak RSS, MiB\n");
        harness_table_write_csv(&t_rss, f);
        fclose(f);
    }
    return 0;
}
