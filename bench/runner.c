/* runner.c: runs a grid of benchmark commands a few times each and prints
 * one table of medians with ratios (used by `make bench-gc`).
 *
 * Usage: runner [-n runs] [-b baseline] [-o file.csv] [-T timeout_s]
 *               [-t header]... row/column=command...
 *
 * Each row/column=command names one cell of the table; rows and columns
 * appear in the order they are first named. A command is split at spaces
 * into words; leading NAME=VALUE words are set in the child's environment
 * and the rest is executed directly (no shell), so wait4 reports the
 * benchmark process itself: wall time from fork to exit, user + system CPU,
 * and peak RSS (ru_maxrss).
 *
 * Runs are interleaved (run 1 of every cell, then run 2, ...) so that a
 * slow drift of the machine affects all cells alike. Each cell's table
 * entry is the median over its runs of wall seconds and of peak RSS in MiB.
 * With -b, each other column also gets the ratios column/baseline of those
 * medians. The table is printed, and written as CSV with -o.
 *
 * Checking: the first run of each cell has its standard output shown. A
 * run fails when it exits non-zero, is killed (a signal, or the -T timeout,
 * default 600 s), or prints output different from the first run of the
 * same cell; a failed cell is not run again. A cell also fails when its
 * output differs from the row's reference (the baseline column's, else the
 * first column's, skipping failed cells), since all implementations of one
 * benchmark must print the same checks. Failed cells are shown as "-", and
 * the runner then exits 1 (2 on usage errors). */
#define _GNU_SOURCE /* pipe2, strsignal */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_RUNS = 25, MAX_COLS = HARNESS_MAX_VALUES / 2, MAX_WORDS = 64, NAME_LEN = 32 };

struct output {
    char *buf;
    size_t len, cap;
};

struct cell {
    int row, col;
    const char *command; /* as given, for messages */
    char *words[MAX_WORDS + 1];
    int nenv; /* words[0..nenv) are NAME=VALUE */
    double wall[MAX_RUNS], rss_mib[MAX_RUNS];
    int nruns; /* successful runs */
    bool failed;
    struct output first; /* standard output of run 1 */
};

struct grid {
    char rows[HARNESS_MAX_ROWS][NAME_LEN];
    char cols[MAX_COLS][NAME_LEN];
    int nrows, ncols;
    struct cell *cells;
    int ncells;
};

static void usage(void)
{
    fprintf(stderr, "usage: runner [-n runs] [-b baseline] [-o file.csv] [-T timeout_s] "
                    "[-t header]... row/column=command...\n");
    exit(2);
}

static int name_index(char names[][NAME_LEN], int *n, int max, const char *name, size_t len)
{
    for (int i = 0; i < *n; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return i;
    }
    if (*n == max || len == 0 || len >= NAME_LEN)
        return -1;
    memcpy(names[*n], name, len);
    names[*n][len] = '\0';
    return (*n)++;
}

static bool is_env_word(const char *w)
{
    const char *eq = strchr(w, '=');

    if (eq == NULL || eq == w)
        return false;
    for (const char *p = w; p < eq; p++) {
        if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
              (p > w && *p >= '0' && *p <= '9')))
            return false;
    }
    return true;
}

/* grid_add parses one row/column=command argument into a new cell. */
static void grid_add(struct grid *g, const char *arg)
{
    const char *slash = strchr(arg, '/');
    const char *eq = strchr(arg, '=');

    if (slash == NULL || eq == NULL || slash > eq) {
        fprintf(stderr, "runner: %s: expected row/column=command\n", arg);
        usage();
    }
    struct cell *c = &g->cells[g->ncells];
    c->row = name_index(g->rows, &g->nrows, HARNESS_MAX_ROWS, arg, (size_t)(slash - arg));
    c->col = name_index(g->cols, &g->ncols, MAX_COLS, slash + 1, (size_t)(eq - slash - 1));
    if (c->row < 0 || c->col < 0) {
        fprintf(stderr, "runner: %s: bad or too many row/column names (at most %d columns)\n", arg,
                MAX_COLS);
        exit(2);
    }
    for (int i = 0; i < g->ncells; i++) {
        if (g->cells[i].row == c->row && g->cells[i].col == c->col) {
            fprintf(stderr, "runner: cell %.*s given twice\n", (int)(eq - arg), arg);
            exit(2);
        }
    }
    c->command = eq + 1;

    char *copy = strdup(eq + 1);
    int n = 0;
    for (char *w = strtok(copy, " \t"); w != NULL; w = strtok(NULL, " \t")) {
        if (n == MAX_WORDS) {
            fprintf(stderr, "runner: %s: more than %d words\n", arg, MAX_WORDS);
            exit(2);
        }
        c->words[n++] = w;
    }
    while (c->nenv < n && is_env_word(c->words[c->nenv]))
        c->nenv++;
    if (c->nenv == n) {
        fprintf(stderr, "runner: %s: no command\n", arg);
        exit(2);
    }
    g->ncells++;
}

static void output_append(struct output *o, const char *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2 + 4096;
        o->buf = realloc(o->buf, o->cap);
        if (o->buf == NULL) {
            perror("runner");
            exit(2);
        }
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

struct run_result {
    double wall_s, cpu_s, rss_mib;
    int status;
    bool timed_out;
};

/* run_once runs cell c, collecting its standard output in out. Returns
 * false (after saying why) when the process could not be started. */
static bool run_once(const struct cell *c, struct output *out, double timeout_s,
                     struct run_result *res)
{
    int pfd[2];
    struct rusage ru;

    if (pipe2(pfd, O_CLOEXEC) != 0) {
        perror("runner: pipe");
        return false;
    }
    fflush(stdout);
    uint64_t t0 = harness_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("runner: fork");
        close(pfd[0]);
        close(pfd[1]);
        return false;
    }
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        for (int i = 0; i < c->nenv; i++)
            putenv(c->words[i]);
        execvp(c->words[c->nenv], &c->words[c->nenv]);
        fprintf(stderr, "runner: %s: %s\n", c->words[c->nenv], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);

    uint64_t deadline = t0 + (uint64_t)(timeout_s * 1e9);
    char buf[65536];
    res->timed_out = false;
    for (;;) {
        uint64_t now = harness_now_ns();
        int wait_ms = -1;
        if (!res->timed_out) {
            if (now >= deadline) {
                kill(pid, SIGKILL);
                res->timed_out = true;
            } else {
                wait_ms = (int)((deadline - now) / 1000000) + 1;
            }
        }
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        int r = poll(&p, 1, wait_ms);
        if (r < 0 && errno != EINTR) {
            perror("runner: poll");
            break;
        }
        if (r <= 0)
            continue;
        ssize_t n = read(pfd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        output_append(out, buf, (size_t)n);
    }
    close(pfd[0]);
    while (wait4(pid, &res->status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("runner: wait4");
            return false;
        }
    }
    res->wall_s = (double)(harness_now_ns() - t0) / 1e9;
    res->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    res->rss_mib = (double)ru.ru_maxrss / 1024.0;
    return true;
}

static bool same_output(const struct output *a, const struct output *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static void show_output(const struct grid *g, const struct cell *c, const struct output *o)
{
    printf("---- %s/%s: %s\n", g->rows[c->row], g->cols[c->col], c->command);
    fwrite(o->buf, 1, o->len, stdout);
    if (o->len > 0 && o->buf[o->len - 1] != '\n')
        putchar('\n');
}

/* run_cell runs c once more and records the result; returns false when
 * the run failed. */
static bool run_cell(const struct grid *g, struct cell *c, int run, int runs, double timeout_s)
{
    struct output out = {0};
    struct run_result res;
    const char *row = g->rows[c->row], *col = g->cols[c->col];

    if (!run_once(c, &out, timeout_s, &res)) {
        free(out.buf);
        return false;
    }
    if (run == 0)
        show_output(g, c, &out);

    bool ok = true;
    if (res.timed_out) {
        printf("runner: %s/%s run %d: killed after %.0f s\n", row, col, run + 1, timeout_s);
        ok = false;
    } else if (WIFSIGNALED(res.status)) {
        printf("runner: %s/%s run %d: killed by signal %d (%s)\n", row, col, run + 1,
               WTERMSIG(res.status), strsignal(WTERMSIG(res.status)));
        ok = false;
    } else if (WEXITSTATUS(res.status) != 0) {
        printf("runner: %s/%s run %d: exit status %d\n", row, col, run + 1,
               WEXITSTATUS(res.status));
        ok = false;
    }
    if (run == 0) {
        c->first = out;
    } else {
        if (!same_output(&out, &c->first)) {
            printf("runner: %s/%s run %d printed different output from run 1:\n", row, col,
                   run + 1);
            show_output(g, c, &out);
            ok = false;
        }
        free(out.buf);
    }
    printf("  run %d/%d  %s/%s  %.2f s wall  %.2f s cpu  %.1f MiB peak RSS%s\n", run + 1, runs,
           row, col, res.wall_s, res.cpu_s, res.rss_mib, ok ? "" : "  FAILED");
    if (ok) {
        c->wall[c->nruns] = res.wall_s;
        c->rss_mib[c->nruns] = res.rss_mib;
        c->nruns++;
    }
    return ok;
}

/* grid_check_outputs compares each cell's first output with its row's
 * reference cell; returns false when any differs. */
static bool grid_check_outputs(struct grid *g, int base)
{
    bool ok = true;

    for (int r = 0; r < g->nrows; r++) {
        const struct cell *ref = NULL;
        for (int i = 0; i < g->ncells; i++) {
            const struct cell *c = &g->cells[i];
            if (c->row == r && !c->failed && (ref == NULL || c->col == base))
                ref = c;
        }
        for (int i = 0; i < g->ncells; i++) {
            struct cell *c = &g->cells[i];
            if (ref == NULL || c->row != r || c->failed || c == ref ||
                same_output(&c->first, &ref->first))
                continue;
            printf("runner: %s/%s printed different checks from %s/%s\n", g->rows[r],
                   g->cols[c->col], g->rows[r], g->cols[ref->col]);
            c->failed = true;
            ok = false;
        }
    }
    return ok;
}

static double cell_median(struct cell *c, bool rss)
{
    if (c == NULL || c->failed || c->nruns == 0)
        return NAN;
    return harness_median(rss ? c->rss_mib : c->wall, c->nruns);
}

static struct cell *grid_find(struct grid *g, int row, int col)
{
    for (int i = 0; i < g->ncells; i++) {
        if (g->cells[i].row == row && g->cells[i].col == col)
            return &g->cells[i];
    }
    return NULL;
}

/* grid_table fills t: per column the median wall seconds and peak RSS,
 * then with a baseline each other column's ratios to it. */
static void grid_table(struct grid *g, int base, int runs, struct harness_table *t)
{
    static char heads[HARNESS_MAX_VALUES][2 * NAME_LEN + 8];
    static const char *value_head[HARNESS_MAX_VALUES];
    static const char *const label_head[] = {"benchmark"};
    static char title[64];
    int nv = 0;

    for (int c = 0; c < g->ncols; c++) {
        snprintf(heads[nv], sizeof heads[nv], "%s s", g->cols[c]);
        snprintf(heads[nv + 1], sizeof heads[nv + 1], "%s MiB", g->cols[c]);
        nv += 2;
    }
    for (int c = 0; base >= 0 && c < g->ncols; c++) {
        if (c == base)
            continue;
        snprintf(heads[nv], sizeof heads[nv], "%s/%s s", g->cols[c], g->cols[base]);
        snprintf(heads[nv + 1], sizeof heads[nv + 1], "%s/%s MiB", g->cols[c], g->cols[base]);
        nv += 2;
    }
    for (int i = 0; i < nv; i++)
        value_head[i] = heads[i];
    snprintf(title, sizeof title, "median of %d runs: wall seconds, peak RSS MiB", runs);
    harness_table_init(t, title, "%.2f", 1, label_head, nv, value_head);

    for (int r = 0; r < g->nrows; r++) {
        int row = harness_table_add_row(t);
        int v = 0;

        harness_table_set_label(t, row, 0, "%s", g->rows[r]);
        for (int c = 0; c < g->ncols; c++) {
            t->value[row][v++] = cell_median(grid_find(g, r, c), false);
            t->value[row][v++] = cell_median(grid_find(g, r, c), true);
        }
        for (int c = 0; base >= 0 && c < g->ncols; c++) {
            if (c == base)
                continue;
            for (int k = 0; k < 2; k++, v++) {
                double num = t->value[row][2 * c + k], den = t->value[row][2 * base + k];
                if (!isnan(num) && !isnan(den) && den > 0)
                    t->value[row][v] = num / den;
            }
        }
    }
}

int main(int argc, char **argv)
{
    int runs = 3, opt;
    double timeout_s = 600;
    const char *baseline = NULL, *csv = NULL;
    const char *headers[16];
    int nheaders = 0;
    struct grid g = {0};

    while ((opt = getopt(argc, argv, "n:b:o:T:t:")) != -1) {
        switch (opt) {
        case 'n':
            runs = atoi(optarg);
            if (runs < 1 || runs > MAX_RUNS)
                usage();
            break;
        case 'b':
            baseline = optarg;
            break;
        case 'o':
            csv = optarg;
            break;
        case 'T':
            timeout_s = atof(optarg);
            if (!(timeout_s > 0))
                usage();
            break;
        case 't':
            if (nheaders == (int)(sizeof headers / sizeof headers[0]))
                usage();
            headers[nheaders++] = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind == argc)
        usage();
    g.cells = calloc((size_t)(argc - optind), sizeof *g.cells);
    if (g.cells == NULL) {
        perror("runner");
        return 2;
    }
    for (int i = optind; i < argc; i++)
        grid_add(&g, argv[i]);

    int base = -1;
    if (baseline != NULL) {
        for (int c = 0; c < g.ncols; c++) {
            if (strcmp(g.cols[c], baseline) == 0)
                base = c;
        }
        if (base < 0) {
            fprintf(stderr, "runner: baseline column %s is not in the grid\n", baseline);
            return 2;
        }
    }
    if (2 * g.ncols + (base >= 0 ? 2 * (g.ncols - 1) : 0) > HARNESS_MAX_VALUES) {
        fprintf(stderr, "runner: too many columns for one table\n");
        return 2;
    }

    bool ok = true;
    for (int run = 0; run < runs; run++) {
        for (int i = 0; i < g.ncells; i++) {
            if (g.cells[i].failed)
                continue;
            if (!run_cell(&g, &g.cells[i], run, runs, timeout_s)) {
                g.cells[i].failed = true;
                ok = false;
            }
        }
    }
    ok = grid_check_outputs(&g, base) && ok;

    struct harness_table t;
    grid_table(&g, base, runs, &t);
    putchar('\n');
    for (int i = 0; i < nheaders; i++)
        printf("%s\n", headers[i]);
    harness_table_print(&t, stdout);
    if (csv != NULL) {
        FILE *f = harness_csv_open(csv, NULL);
        if (f == NULL || (harness_table_write_csv(&t, f), fclose(f) != 0)) {
            fprintf(stderr, "runner: %s: %s\n", csv, strerror(errno));
            ok = false;
        } else {
            printf("(written to %s)\n", csv);
        }
    }
    if (!ok)
        printf("runner: FAILED: some runs failed or printed wrong checks; their cells show \"-\"\n");
    return ok ? 0 : 1;
}
