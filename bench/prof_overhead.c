/* prof_overhead.c: what heap-profile sampling costs, in one run: GCBench
 * and malloc churn on goheap at the default MemProfileRate (512 KiB) and
 * with profiling off (GODEBUG=memprofilerate=0).
 *
 * usage: prof_overhead --gcbench BIN --churn BIN [--reps N] [--csv PATH]
 *
 * BIN are the goheap builds of bench/gcbench.c and bench/churn.c. Each row
 * runs both settings N times (default 7) in child processes, alternating
 * which goes first from one repetition to the next so that a drift of the
 * machine hits both alike. The figure is, for GCBench, the wall time from
 * fork to exit in seconds and, for churn, the ns per malloc+free pair that
 * churn --run prints. The table shows the medians and their ratio,
 * default / off: the target is at most 1.02 (2% slower). Beside them, the
 * CPU time of each child (user + system, its reaped children included,
 * from wait4) and that ratio: on a machine shared with other work the wall
 * figures move with the load, the CPU time much less, and profiling costs
 * CPU time only. The children get the caller's environment without any
 * GODEBUG, plus the setting. Nothing passes or fails here. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

#define MAX_REPS 25

struct row {
    const char *label;
    int churn;             /* 0: GCBench (wall time), 1: churn (its ns) */
    const char *threads, *sizes, *live, *iters;
};

static const struct row rows[] = {
    { "gcbench (s)", 0, NULL, NULL, NULL, NULL },
    { "churn 1T 16 B (ns)", 1, "1", "16", "1000", "40000000" },
    { "churn 1T 8-512 B (ns)", 1, "1", "8-512", "1000", "20000000" },
    { "churn 1T 8-64K B (ns)", 1, "1", "8-64K", "1000", "2000000" },
    { "churn 2T 8-512 B (ns)", 1, "2", "8-512", "10000", "5000000" },
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

/* run_once runs one row with profiling on or off and returns its figure
 * and, in *cpu, the child's CPU seconds; or -1 (with a message) when the
 * child failed. */
static double run_once(const struct row *r, const char *gcbench, const char *churn, int off, double *cpu)
{
    char *env[512];
    int n = 0;
    for (char **e = environ; *e && n < 500; e++)
        if (strncmp(*e, "GODEBUG=", 8) != 0)
            env[n++] = *e;
    if (off)
        env[n++] = "GODEBUG=memprofilerate=0";
    env[n] = NULL;
    char *argv_gc[] = { (char *)gcbench, NULL };
    char *argv_churn[] = { (char *)churn, "--run", "--alloc", "goheap", "--threads", (char *)r->threads,
                           "--sizes", (char *)r->sizes, "--live", (char *)r->live, "--iters", (char *)r->iters,
                           NULL };
    char **argv = r->churn ? argv_churn : argv_gc;
    int fd[2];
    if (pipe(fd) != 0) {
        perror("prof_overhead: pipe");
        return -1;
    }
    uint64_t t0 = harness_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("prof_overhead: fork");
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(fd[1]);
    char out[8192];
    size_t len = 0;
    ssize_t k;
    while ((k = read(fd[0], out + len, sizeof out - 1 - len)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0)
            len += (size_t)k;
    out[len] = '\0';
    close(fd[0]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        continue;
    double wall = (double)(harness_now_ns() - t0) / 1e9;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec / 1e6;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "prof_overhead: %s (%s) failed with status %#x\n", r->label, off ? "off" : "on", status);
        return -1;
    }
    if (!r->churn)
        return wall;
    const char *ns = strstr(out, "ns=");
    return ns ? strtod(ns + 3, NULL) : -1;
}

static int usage(void)
{
    fprintf(stderr, "usage: prof_overhead --gcbench BIN --churn BIN [--reps N (1..%d)] [--csv PATH]\n",
            MAX_REPS);
    return 2;
}

int main(int argc, char **argv)
{
    const char *gcbench = NULL, *churn = NULL, *csv = NULL;
    int reps = 7;
    for (int i = 1; i < argc; i += 2) {
        const char *val = argv[i + 1];
        if (val == NULL)
            return usage();
        if (strcmp(argv[i], "--gcbench") == 0)
            gcbench = val;
        else if (strcmp(argv[i], "--churn") == 0)
            churn = val;
        else if (strcmp(argv[i], "--csv") == 0)
            csv = val;
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(val);
        else
            return usage();
    }
    if (!gcbench || !churn || reps < 1 || reps > MAX_REPS)
        return usage();
    double load = harness_load_average();
    static double fig[NROWS][2][MAX_REPS], cpu[NROWS][2][MAX_REPS];
    int got[NROWS][2] = { { 0 } }, failed[NROWS] = { 0 };
    for (int rep = 0; rep < reps; rep++) {
        for (int r = 0; r < NROWS; r++) {
            fprintf(stderr, "prof_overhead: %d/%d %s\n", rep + 1, reps, rows[r].label);
            for (int k = 0; k < 2 && !failed[r]; k++) {
                int off = (rep + k) % 2;
                double c;
                double v = run_once(&rows[r], gcbench, churn, off, &c);
                if (v < 0) {
                    failed[r] = 1;
                } else {
                    cpu[r][off][got[r][off]] = c;
                    fig[r][off][got[r][off]++] = v;
                }
            }
        }
    }
    static const char *const label_head[] = { "benchmark" };
    static const char *const value_head[] = { "rate 0 (off)", "rate 512 KiB", "ratio on/off",
                                              "cpu s off",    "cpu s on",     "cpu ratio" };
    char title[256];
    snprintf(title, sizeof title,
             "Heap-profile sampling overhead on goheap: median of %d runs each, alternated "
             "(target: ratio <= 1.02)",
             reps);
    struct harness_table t;
    harness_table_init(&t, title, "%.3f", 1, label_head, 6, value_head);
    for (int r = 0; r < NROWS; r++) {
        int row = harness_table_add_row(&t);
        harness_table_set_label(&t, row, 0, "%s", rows[r].label);
        if (failed[r])
            continue;
        double off = harness_median(fig[r][1], got[r][1]), on = harness_median(fig[r][0], got[r][0]);
        t.value[row][0] = off;
        t.value[row][1] = on;
        t.value[row][2] = on / off;
        double coff = harness_median(cpu[r][1], got[r][1]), con = harness_median(cpu[r][0], got[r][0]);
        t.value[row][3] = coff;
        t.value[row][4] = con;
        t.value[row][5] = con / coff;
    }
    harness_table_print(&t, stdout);
    printf("prof_overhead: %ld CPUs online, load average %.2f when the run started\n",
           sysconf(_SC_NPROCESSORS_ONLN), load);
    if (csv != NULL)
        return harness_table_save_csv(&t, csv, "prof_overhead");
    return 0;
}
