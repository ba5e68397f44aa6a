/* harness.h: small helpers shared by the benchmark programs in bench/.
 *
 * Everything here is static inline, so a program uses what it needs and
 * nothing else is compiled in. Benchmarks are ordinary programs: they may
 * use stdio and the C library allocator for their own bookkeeping.
 *
 *   harness_now_ns        monotonic clock in nanoseconds
 *   harness_peak_rss_kib  peak resident set size of this process
 *   harness_load_average  the machine's 1-minute load average
 *   harness_rng_*         xorshift64* generator (fast, deterministic)
 *   harness_median        median of a small array (sorts it)
 *   harness_table_*       an aligned text table of labels and numbers, a
 *                         ratio table derived from it, CSV export
 *   harness_csv_open      opens a CSV file, creating its directory
 *
 * The table and CSV functions are for one thread; the others may be called
 * from any thread (each thread with its own rng). */
#ifndef GH_BENCH_HARNESS_H
#define GH_BENCH_HARNESS_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

/* ---- Time and memory -------------------------------------------------- */

/* harness_now_ns returns CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t harness_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* harness_peak_rss_kib returns the peak resident set size of the calling
 * process in KiB: VmHWM from /proc/self/status, or getrusage's ru_maxrss
 * when /proc is not mounted. Returns -1 if neither is available. */
static inline long harness_peak_rss_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "VmHWM:", 6) == 0) {
                kib = strtol(line + 6, NULL, 10);
                break;
            }
        }
        fclose(f);
    }
    if (kib < 0) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) == 0)
            kib = ru.ru_maxrss;
    }
    return kib;
}

/* harness_load_average returns the 1-minute load average from
 * /proc/loadavg, or -1 when it cannot be read. Benchmarks print it so that
 * a reader can tell figures taken on a busy machine. */
static inline double harness_load_average(void)
{
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");

    if (f != NULL) {
        if (fscanf(f, "%lf", &load) != 1)
            load = -1;
        fclose(f);
    }
    return load;
}

/* ---- Random numbers --------------------------------------------------- */

/* Marsaglia's xorshift64 followed by a multiply (xorshift64*): a few
 * instructions per number, good enough to pick sizes and slots. */
struct harness_rng {
    uint64_t state; /* never 0 */
};

/* harness_rng_seed starts r from seed; any seed, including 0, is fine. */
static inline void harness_rng_seed(struct harness_rng *r, uint64_t seed)
{
    /* One splitmix64 step spreads small seeds over all 64 bits. */
    uint64_t z = seed + 0x9e3779b97f4a7c15u;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    r->state = z != 0 ? z : 1;
}

/* harness_rng_next returns the next 64 random bits. */
static inline uint64_t harness_rng_next(struct harness_rng *r)
{
    uint64_t x = r->state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545f4914f6cdd1du;
}

/* harness_rng_below returns a number in [0, n) for n > 0 (multiply-shift,
 * bias below 2^-32 for any n that fits 32 bits). */
static inline uint64_t harness_rng_below(struct harness_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)harness_rng_next(r) * n) >> 64);
}

/* ---- Statistics ------------------------------------------------------- */

static inline int harness_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* harness_median sorts v[0..n) and returns its median (the mean of the
 * middle two when n is even); NAN when n is 0. */
static inline double harness_median(double *v, int n)
{
    if (n <= 0)
        return NAN;
    qsort(v, (size_t)n, sizeof v[0], harness_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- Tables ----------------------------------------------------------- */

#define HARNESS_MAX_ROWS 64
#define HARNESS_MAX_LABELS 4
#define HARNESS_MAX_VALUES 12
#define HARNESS_LABEL_LEN 24

/* A table has nlabels text columns (left-aligned) followed by nvalues
 * numeric columns (right-aligned, printed with fmt). A value that is NAN
 * is missing and prints as "-". */
struct harness_table {
    const char *title;
    const char *fmt; /* printf format for one double, e.g. "%.1f" */
    int nlabels, nvalues, nrows;
    const char *label_head[HARNESS_MAX_LABELS];
    const char *value_head[HARNESS_MAX_VALUES];
    char label[HARNESS_MAX_ROWS][HARNESS_MAX_LABELS][HARNESS_LABEL_LEN];
    double value[HARNESS_MAX_ROWS][HARNESS_MAX_VALUES];
};

/* harness_table_init empties t and sets its title, number format and
 * column headings (the strings must outlive t). Counts beyond the limits
 * above are clamped. */
static inline void harness_table_init(struct harness_table *t, const char *title, const char *fmt,
                                      int nlabels, const char *const *label_head, int nvalues,
                                      const char *const *value_head)
{
    memset(t, 0, sizeof *t);
    t->title = title;
    t->fmt = fmt;
    t->nlabels = nlabels < HARNESS_MAX_LABELS ? nlabels : HARNESS_MAX_LABELS;
    t->nvalues = nvalues < HARNESS_MAX_VALUES ? nvalues : HARNESS_MAX_VALUES;
    for (int c = 0; c < t->nlabels; c++)
        t->label_head[c] = label_head[c];
    for (int c = 0; c < t->nvalues; c++)
        t->value_head[c] = value_head[c];
}

/* harness_table_add_row appends a row whose values are all missing and
 * returns its index, or -1 when the table is full. */
static inline int harness_table_add_row(struct harness_table *t)
{
    if (t->nrows == HARNESS_MAX_ROWS)
        return -1;
    for (int c = 0; c < HARNESS_MAX_VALUES; c++)
        t->value[t->nrows][c] = NAN;
    return t->nrows++;
}

/* harness_table_set_label formats label column col of row. */
static inline void __attribute__((format(printf, 4, 5)))
harness_table_set_label(struct harness_table *t, int row, int col, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(t->label[row][col], HARNESS_LABEL_LEN, fmt, ap);
    va_end(ap);
}

/* harness_table_ratios fills out with src's labels and, for each value,
 * src's value divided by the value in column base of the same row
 * (missing when either is missing or the base is 0). */
static inline void harness_table_ratios(struct harness_table *out, const struct harness_table *src,
                                        int base, const char *title)
{
    harness_table_init(out, title, "%.2f", src->nlabels, src->label_head, src->nvalues,
                       src->value_head);
    for (int r = 0; r < src->nrows; r++) {
        int row = harness_table_add_row(out);
        double b = src->value[r][base];

        memcpy(out->label[row], src->label[r], sizeof out->label[row]);
        for (int c = 0; c < src->nvalues; c++) {
            double v = src->value[r][c];

            if (!isnan(v) && !isnan(b) && b != 0)
                out->value[row][c] = v / b;
        }
    }
}

static inline void harness_table_format_value(const struct harness_table *t, char *buf,
                                              size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, t->fmt, v);
}

/* harness_table_print writes t to f: the title, a heading line and one
 * line per row, each column as wide as its widest cell. */
static inline void harness_table_print(const struct harness_table *t, FILE *f)
{
    int lw[HARNESS_MAX_LABELS], vw[HARNESS_MAX_VALUES];
    char cell[64];

    for (int c = 0; c < t->nlabels; c++) {
        lw[c] = (int)strlen(t->label_head[c]);
        for (int r = 0; r < t->nrows; r++) {
            int w = (int)strlen(t->label[r][c]);
            lw[c] = w > lw[c] ? w : lw[c];
        }
    }
    for (int c = 0; c < t->nvalues; c++) {
        vw[c] = (int)strlen(t->value_head[c]);
        for (int r = 0; r < t->nrows; r++) {
            harness_table_format_value(t, cell, sizeof cell, t->value[r][c]);
            int w = (int)strlen(cell);
            vw[c] = w > vw[c] ? w : vw[c];
        }
    }
    if (t->title != NULL)
        fprintf(f, "%s\n", t->title);
    for (int c = 0; c < t->nlabels; c++)
        fprintf(f, "%s%-*s", c ? "  " : "", lw[c], t->label_head[c]);
    for (int c = 0; c < t->nvalues; c++)
        fprintf(f, "  %*s", vw[c], t->value_head[c]);
    fputc('\n', f);
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->nlabels; c++)
            fprintf(f, "%s%-*s", c ? "  " : "", lw[c], t->label[r][c]);
        for (int c = 0; c < t->nvalues; c++) {
            harness_table_format_value(t, cell, sizeof cell, t->value[r][c]);
            fprintf(f, "  %*s", vw[c], cell);
        }
        fputc('\n', f);
    }
}

/* ---- CSV -------------------------------------------------------------- */

/* harness_env returns a copy of the environment without LD_PRELOAD and
 * without any variable whose "NAME=" prefix is in drop (NULL-terminated,
 * may be NULL), plus LD_PRELOAD=preload when preload is not NULL; NULL if
 * out of memory. The strings are shared with environ; one static buffer
 * holds the LD_PRELOAD entry, so the result is good until the next call. */
static inline char **harness_env(const char *preload, const char *const *drop)
{
    extern char **environ;
    static char var[4096 + 16];
    size_t n = 0, k = 0;
    while (environ[n] != NULL)
        n++;
    char **env = malloc((n + 2) * sizeof env[0]);
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int keep = strncmp(environ[i], "LD_PRELOAD=", 11) != 0;
        for (const char *const *d = drop; keep && d != NULL && *d != NULL; d++)
            keep = strncmp(environ[i], *d, strlen(*d)) != 0;
        if (keep)
            env[k++] = environ[i];
    }
    if (preload != NULL) {
        snprintf(var, sizeof var, "LD_PRELOAD=%s", preload);
        env[k++] = var;
    }
    env[k] = NULL;
    return env;
}

/* harness_csv_open creates the directories leading to path, opens path
 * for writing and, unless header is NULL, writes header (one line, without
 * the newline) to it. Returns NULL with errno set on failure. Close it
 * with fclose. */
static inline FILE *harness_csv_open(const char *path, const char *header)
{
    char dir[4096];
    size_t n = strlen(path);
    FILE *f;

    if (n >= sizeof dir) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    memcpy(dir, path, n + 1);
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return NULL;
        *p = '/';
    }
    f = fopen(path, "w");
    if (f != NULL && header != NULL)
        fprintf(f, "%s\n", header);
    return f;
}

/* harness_table_write_csv writes t to f as CSV: one heading line, then
 * one line per row; missing values are empty fields. Labels are written
 * as they are, so they must not contain commas or quotes. */
static inline void harness_table_write_csv(const struct harness_table *t, FILE *f)
{
    for (int c = 0; c < t->nlabels; c++)
        fprintf(f, "%s%s", c ? "," : "", t->label_head[c]);
    for (int c = 0; c < t->nvalues; c++)
        fprintf(f, "%s%s", t->nlabels || c ? "," : "", t->value_head[c]);
    fputc('\n', f);
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->nlabels; c++)
            fprintf(f, "%s%s", c ? "," : "", t->label[r][c]);
        for (int c = 0; c < t->nvalues; c++) {
            fputs(t->nlabels || c ? "," : "", f);
            if (!isnan(t->value[r][c]))
                fprintf(f, "%.6g", t->value[r][c]);
        }
        fputc('\n', f);
    }
}

/* harness_table_save_csv writes t as CSV to path and says so on stdout,
 * prefixed with prog. Returns 0, or 1 (after perror) if path cannot be
 * written. */
static inline int harness_table_save_csv(const struct harness_table *t, const char *path, const char *prog)
{
    FILE *f = harness_csv_open(path, NULL);
    if (f == NULL) {
        perror(path);
        return 1;
    }
    harness_table_write_csv(t, f);
    fclose(f);
    printf("%s: wrote %s\n", prog, path);
    return 0;
}

#endif /* GH_BENCH_HARNESS_H */
