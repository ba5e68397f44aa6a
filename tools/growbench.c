/* growbench.c: how buffer-growth strategies use a garbage-collected heap.
 *
 * The story: a Go tool that loaded a 4.5 GB Redis dump into a bytes.Buffer
 * peaked at 15 GB. Doubling keeps the old buffer alive while the new one,
 * twice as big, is filled, and the buffers it left behind stay in the heap
 * until the collector gets to them: the heap ends up near three times the
 * data. growbench reproduces that on goheap, next to the same strategies in
 * Go (tools/go/growbench), and shows which strategies avoid it.
 *
 * Each strategy grows one buffer to --total bytes by appending --chunk
 * bytes at a time; the arithmetic of every strategy is in growth.h. Every
 * run happens in a child process of its own (this program re-executed with
 * --child, or the Go binary), so that the peak RSS that wait4 reports
 * belongs to that run alone and every run starts from a fresh heap. A
 * child runs with gctrace on and its stderr in a log file; it reports its
 * measurements as one line of key=value pairs (on fd 3 for goheap, on
 * stdout for Go). The parent prints one table, writes growth.csv and
 * growth.json, and explains the peaks from the measured numbers.
 *
 * Byte buffers are noscan objects (gh_malloc_atomic, like Go's []byte). A
 * strategy that replaces its buffer drops the old one for the collector,
 * except realloc, which frees it at once through gh_realloc. The measured
 * peak heap is goheap's heap_inuse high-water mark (gh_heap_inuse_peak),
 * updated at every span allocation, so it cannot miss a peak. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "goheap.h"
#include "growth.h"

#define MIB (1024.0 * 1024.0)
#define MAX_TOTAL ((size_t)1 << 40)
#define RESULT_FD 3
#define TRACE_SHOW_LINES 20

/* ---- Options ----------------------------------------------------------- */

struct options {
    struct growth_params params;
    size_t exact_total;  /* total for exact, whose copying is quadratic */
    int gogc;            /* GOGC; -1 is off */
    int64_t memlimit;    /* GOMEMLIMIT in bytes; INT64_MAX is off */
    int profile_rate;    /* MemProfileRate of the goheap children */
    int run[GROWTH_NSTRATEGIES];     /* strategies to run */
    int profile[GROWTH_NSTRATEGIES]; /* strategies that write a heap profile */
    int show[GROWTH_NSTRATEGIES];    /* strategies whose gctrace is shown */
    const char *out;     /* output directory */
    const char *go;      /* Go growbench binary, or NULL */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: growbench [options]\n"
            "  -s, --strategies LIST  comma-separated, from double,x1.5,goappend,exact,step,\n"
            "                         chunked,prealloc,realloc (default: all)\n"
            "  -n, --total SIZE       bytes held at the end (default 560M: the 4.5 GB dump\n"
            "                         of the story, scaled down 8 times)\n"
            "  -c, --chunk SIZE       bytes per append (default 32K)\n"
            "      --step SIZE        increment of step, block size of chunked (default 4M)\n"
            "      --exact-total SIZE total for exact, whose copying grows with the square\n"
            "                         of the size (default 8M, at most --total)\n"
            "  -g, --gogc N|off       GOGC for goheap (gh_set_gc_percent) and Go\n"
            "                         (default: $GOGC, else 100)\n"
            "  -m, --memlimit SIZE|off  GOMEMLIMIT (gh_set_memory_limit) (default: off)\n"
            "  -o, --out DIR          logs, profiles, growth.csv, growth.json (default .)\n"
            "      --go PATH          the Go growbench to run the same strategies with\n"
            "      --profile LIST     strategies whose goheap heap profile is written at\n"
            "                         the peak, as DIR/heap-<strategy>.pb.gz (default double)\n"
            "      --profile-rate N   MemProfileRate of the goheap runs (default 524288)\n"
            "      --show LIST        strategies whose gctrace lines are shown when GCTRACE=1\n"
            "                         (or GODEBUG=gctrace=1) is set (default: all)\n"
            "SIZE takes K, M, G (or KiB, MiB, GiB) suffixes, powers of 1024.\n"
            "Every run's gctrace lines go to DIR/gctrace-{goheap,go}-<strategy>.log.\n");
}

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("growbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

/* parse_size reads a byte count with an optional binary suffix; 0 means
 * the text is not one. */
static size_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *s == '-')
        return 0;
    static const struct {
        const char *suffix;
        int shift;
    } units[] = {{"", 0},     {"B", 0},     {"K", 10},    {"KiB", 10}, {"M", 20},
                 {"MiB", 20}, {"G", 30},    {"GiB", 30}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > (unsigned long long)MAX_TOTAL >> units[i].shift)
                return 0;
            return (size_t)v << units[i].shift;
        }
    return 0;
}

static size_t size_arg(const char *name, const char *s)
{
    size_t v = parse_size(s);
    if (v == 0 || v > MAX_TOTAL)
        die("%s: \"%s\" is not a size from 1 to 1T (K, M, G suffixes)", name, s);
    return v;
}

static int gogc_arg(const char *s)
{
    if (strcmp(s, "off") == 0)
        return -1;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v > 1000000 || v < -1)
        die("--gogc: \"%s\" is not a percentage or off", s);
    return (int)v;
}

/* strategy_list sets set[i] for each name in the comma-separated list. */
static void strategy_list(const char *name, const char *list, int *set)
{
    char buf[256];
    if (strlen(list) >= sizeof buf)
        die("%s: list too long", name);
    strcpy(buf, list);
    memset(set, 0, GROWTH_NSTRATEGIES * sizeof *set);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int s = growth_parse(tok);
        if (s < 0)
            die("%s: unknown strategy \"%s\"", name, tok);
        set[s] = 1;
    }
}

/* ---- One run, in the child --------------------------------------------- */

/* A contiguous buffer, or for chunked the directory of blocks. */
struct buf {
    char *data;
    size_t len, cap;
    char **blocks; /* chunked: block pointers (a scanned object) */
    size_t nblocks, blocks_cap;
};

/* What a run measured, as reported by either runtime. */
struct result {
    int ok;
    uint64_t final, cap, peak, alloc, gcs, copied, grows, copy_peak, ns;
    uint64_t maxrss; /* filled by the parent from wait4 */
};

static struct growth_params run_params;
static uint64_t run_copied, run_grows, run_copy_peak;
static int run_profile_fd = -1;
static uint64_t run_profiled_peak;

/* profile_if_peak writes the heap profile when the heap_inuse high-water
 * mark rose since the last write: called right after an allocation, while
 * the old buffer is still live, it leaves the file describing the moment
 * the peak was made. */
static void profile_if_peak(void)
{
    if (run_profile_fd < 0)
        return;
    uint64_t peak = gh_heap_inuse_peak(0);
    if (peak <= run_profiled_peak)
        return;
    run_profiled_peak = peak;
    if (lseek(run_profile_fd, 0, SEEK_SET) != 0 || ftruncate(run_profile_fd, 0) != 0 ||
        gh_write_heap_profile(run_profile_fd, 0) != 0)
        die("writing the heap profile: %s", strerror(errno));
}

/* buf_adopt makes p (capacity cap, just allocated by the caller) the
 * buffer, copying what the old one held; the old one is dropped for the
 * collector. Always inlined, so that the grow function that called the
 * allocator is the allocation's frame in the heap profile. */
static inline __attribute__((always_inline)) void buf_adopt(struct buf *b, char *p, size_t cap)
{
    if (p == NULL)
        die("out of memory growing to %zu bytes", cap);
    if (b->data != NULL) {
        memcpy(p, b->data, b->len);
        run_copied += b->len;
        run_grows++;
        if (b->cap + cap > run_copy_peak)
            run_copy_peak = b->cap + cap;
    }
    profile_if_peak();
    b->data = p;
    b->cap = cap;
}

/* One grow function per strategy: each calls the allocator itself. */
static __attribute__((noinline)) void double_grow(struct buf *b, size_t n)
{
    size_t cap = growth_next_cap(GROWTH_DOUBLE, b->cap, b->len, n, &run_params);
    buf_adopt(b, gh_malloc_atomic(cap), cap);
}

static __attribute__((noinline)) void x15_grow(struct buf *b, size_t n)
{
    size_t cap = growth_next_cap(GROWTH_X15, b->cap, b->len, n, &run_params);
    buf_adopt(b, gh_malloc_atomic(cap), cap);
}

static __attribute__((noinline)) void goappend_grow(struct buf *b, size_t n)
{
    size_t cap = growth_next_cap(GROWTH_GOAPPEND, b->cap, b->len, n, &run_params);
    buf_adopt(b, gh_malloc_atomic(cap), cap);
}

static __attribute__((noinline)) void exact_grow(struct buf *b, size_t n)
{
    size_t cap = growth_next_cap(GROWTH_EXACT, b->cap, b->len, n, &run_params);
    buf_adopt(b, gh_malloc_atomic(cap), cap);
}

static __attribute__((noinline)) void step_grow(struct buf *b, size_t n)
{
    size_t cap = growth_next_cap(GROWTH_STEP, b->cap, b->len, n, &run_params);
    buf_adopt(b, gh_malloc_atomic(cap), cap);
}

static __attribute__((noinline)) void prealloc_grow(struct buf *b, size_t n)
{
    size_t cap = growth_next_cap(GROWTH_PREALLOC, b->cap, b->len, n, &run_params);
    buf_adopt(b, gh_malloc_atomic(cap), cap);
}

/* realloc_grow lets gh_realloc move the block (and free the old one) or
 * grow it in place; only a move copies. */
static __attribute__((noinline)) void realloc_grow(struct buf *b, size_t n)
{
    size_t cap = growth_next_cap(GROWTH_REALLOC, b->cap, b->len, n, &run_params);
    char *old = b->data;
    char *p = old == NULL ? gh_malloc_atomic(cap) : gh_realloc(old, cap);
    if (p == NULL)
        die("out of memory growing to %zu bytes", cap);
    if (old != NULL) {
        run_grows++;
        if (p != old) {
            run_copied += b->len;
            if (b->cap + cap > run_copy_peak)
                run_copy_peak = b->cap + cap;
        }
    }
    profile_if_peak();
    b->data = p;
    b->cap = cap;
}

/* chunked_grow adds one block of run_params.step bytes. */
static __attribute__((noinline)) void chunked_grow(struct buf *b)
{
    if (b->nblocks == b->blocks_cap) {
        size_t cap = b->blocks_cap ? 2 * b->blocks_cap : 16;
        char **dir = gh_realloc(b->blocks, cap * sizeof *dir);
        if (dir == NULL)
            die("out of memory for the block directory");
        b->blocks = dir;
        b->blocks_cap = cap;
    }
    char *p = gh_malloc_atomic(run_params.step);
    if (p == NULL)
        die("out of memory for a block of %zu bytes", run_params.step);
    b->blocks[b->nblocks++] = p;
    b->data = p;
    b->cap += run_params.step;
    profile_if_peak();
}

typedef void (*grow_fn)(struct buf *b, size_t n);

static const grow_fn contiguous_grow[GROWTH_NSTRATEGIES] = {
    [GROWTH_DOUBLE] = double_grow,     [GROWTH_X15] = x15_grow,
    [GROWTH_GOAPPEND] = goappend_grow, [GROWTH_EXACT] = exact_grow,
    [GROWTH_STEP] = step_grow,         [GROWTH_PREALLOC] = prealloc_grow,
    [GROWTH_REALLOC] = realloc_grow,
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* append_all fills b to run_params.total with copies of src. For
 * chunked, b->len counts bytes in all blocks and b->data is the last
 * block, filled up to b->len - (b->nblocks - 1) * step. */
static void append_all(enum growth_strategy s, struct buf *b, const char *src)
{
    const struct growth_params *p = &run_params;
    while (b->len < p->total) {
        size_t n = p->total - b->len < p->chunk ? p->total - b->len : p->chunk;
        if (s == GROWTH_CHUNKED) {
            for (size_t done = 0; done < n;) {
                if (b->len == b->cap)
                    chunked_grow(b);
                size_t off = b->len - (b->nblocks - 1) * p->step;
                size_t k = p->step - off < n - done ? p->step - off : n - done;
                memcpy(b->data + off, src + done, k);
                done += k;
                b->len += k;
            }
            continue;
        }
        if (b->len + n > b->cap)
            contiguous_grow[s](b, n);
        memcpy(b->data + b->len, src, n);
        b->len += n;
    }
}

/* verify checks that the buffer holds exactly the appended chunks, so a
 * collector that freed a live buffer cannot go unnoticed. */
static void verify(enum growth_strategy s, const struct buf *b, const char *src)
{
    const struct growth_params *p = &run_params;
    for (size_t pos = 0; pos < b->len; pos += p->chunk) {
        size_t n = b->len - pos < p->chunk ? b->len - pos : p->chunk;
        for (size_t done = 0; done < n;) {
            size_t at = pos + done, k = n - done;
            const char *q = b->data + at;
            if (s == GROWTH_CHUNKED) {
                size_t off = at % p->step;
                q = b->blocks[at / p->step] + off;
                if (k > p->step - off)
                    k = p->step - off;
            }
            if (memcmp(q, src + done, k) != 0)
                die("the buffer is corrupt near byte %zu", at);
            done += k;
        }
    }
}

/* child_run runs strategy s on goheap and reports on RESULT_FD. */
static int child_run(enum growth_strategy s, const struct options *o)
{
    gh_set_mem_profile_rate(o->profile_rate);
    gh_set_gc_percent(o->gogc);
    gh_set_memory_limit(o->memlimit);
    run_params = o->params;
    if (s == GROWTH_EXACT && run_params.total > o->exact_total)
        run_params.total = o->exact_total;
    if (o->profile[s]) {
        char path[4096];
        snprintf(path, sizeof path, "%s/heap-goheap-%s.pb.gz", o->out, growth_names[s]);
        run_profile_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (run_profile_fd < 0)
            die("%s: %s", path, strerror(errno));
    }
    char *src = gh_malloc_atomic(run_params.chunk);
    if (src == NULL)
        die("out of memory");
    for (size_t i = 0; i < run_params.chunk; i++)
        src[i] = (char)(i % 251);

    gh_mem_stats before, after;
    gh_read_mem_stats(&before);
    gh_heap_inuse_peak(1);
    struct buf b = {0};
    uint64_t t0 = now_ns();
    append_all(s, &b, src);
    uint64_t ns = now_ns() - t0;
    uint64_t peak = gh_heap_inuse_peak(0);
    gh_read_mem_stats(&after);
    verify(s, &b, src);

    FILE *f = fdopen(RESULT_FD, "w");
    if (f == NULL)
        die("fd %d: %s", RESULT_FD, strerror(errno));
    fprintf(f,
            "strategy=%s final=%zu cap=%zu peak=%" PRIu64 " alloc=%" PRIu64 " gcs=%" PRIu32
            " copied=%" PRIu64 " grows=%" PRIu64 " copy_peak=%" PRIu64 " ns=%" PRIu64 "\n",
            growth_names[s], b.len, b.cap, peak, after.total_alloc - before.total_alloc,
            after.num_gc - before.num_gc, run_copied, run_grows,
            run_copy_peak > b.cap ? run_copy_peak : (uint64_t)b.cap, ns);
    gh_keep_alive(b.data);
    gh_keep_alive(b.blocks);
    return fclose(f) == 0 ? 0 : 1;
}

/* ---- Running children, in the parent ------------------------------------ */

/* parse_result reads a key=value line into r; unknown keys are ignored. */
static void parse_result(const char *line, struct result *r)
{
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"final", offsetof(struct result, final)},
        {"cap", offsetof(struct result, cap)},
        {"peak", offsetof(struct result, peak)},
        {"alloc", offsetof(struct result, alloc)},
        {"gcs", offsetof(struct result, gcs)},
        {"copied", offsetof(struct result, copied)},
        {"grows", offsetof(struct result, grows)},
        {"copy_peak", offsetof(struct result, copy_peak)},
        {"ns", offsetof(struct result, ns)},
    };
    int seen = 0;
    for (const char *p = line; *p != '\0';) {
        while (*p == ' ' || *p == '\n')
            p++;
        const char *eq = strchr(p, '=');
        if (eq == NULL)
            break;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (strlen(keys[i].key) == (size_t)(eq - p) && strncmp(p, keys[i].key, eq - p) == 0) {
                *(uint64_t *)((char *)r + keys[i].off) = strtoull(eq + 1, NULL, 10);
                seen++;
            }
        p = eq + strcspn(eq, " \n");
    }
    r->ok = seen == (int)(sizeof keys / sizeof keys[0]);
}

/* spawn runs argv with env additions, stderr to the file log and the
 * result pipe on result_fd (1 or RESULT_FD); it fills r from what the
 * child reported and its rusage. Returns the child's wait status. */
static int spawn(char *const argv[], char *const env[], const char *log, int result_fd,
                 struct result *r)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        die("pipe: %s", strerror(errno));
    int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (logfd < 0)
        die("%s: %s", log, strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        for (int i = 0; env[i] != NULL; i++)
            putenv(env[i]);
        if (dup2(logfd, 2) < 0 || dup2(pfd[1], result_fd) < 0)
            _exit(127);
        if (result_fd != 1 && dup2(logfd, 1) < 0)
            _exit(127);
        execv(argv[0], argv);
        dprintf(2, "growbench: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    close(logfd);
    char line[1024];
    size_t len = 0;
    ssize_t k;
    while ((k = read(pfd[0], line + len, sizeof line - 1 - len)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0)
            len += (size_t)k;
    line[len] = '\0';
    close(pfd[0]);
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            die("wait4: %s", strerror(errno));
    memset(r, 0, sizeof *r);
    parse_result(line, r);
    r->maxrss = (uint64_t)ru.ru_maxrss * 1024;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        r->ok = 0;
    return status;
}

/* gctrace_summary is what the parent reads back from a gctrace log. */
struct gctrace_summary {
    int lines;
    uint64_t max_goal_mb, max_end_mb;
};

static struct gctrace_summary gctrace_read(const char *log, int show, const char *title)
{
    struct gctrace_summary g = {0};
    FILE *f = fopen(log, "r");
    if (f == NULL)
        return g;
    char line[1024];
    int shown = 0;
    if (show)
        printf("%s (%s):\n", title, log);
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "gc ", 3) != 0)
            continue;
        const char *mb = strstr(line, " MB goal");
        const char *heap = strstr(line, "->");
        unsigned long long h0, h1, h2, goal;
        if (mb == NULL || heap == NULL)
            continue;
        while (heap > line && heap[-1] != ' ')
            heap--;
        if (sscanf(heap, "%llu->%llu->%llu MB, %llu MB goal", &h0, &h1, &h2, &goal) != 4)
            continue;
        g.lines++;
        if (goal > g.max_goal_mb)
            g.max_goal_mb = goal;
        if (h1 > g.max_end_mb)
            g.max_end_mb = h1;
        if (show && shown++ < TRACE_SHOW_LINES)
            printf("  %s", line);
    }
    fclose(f);
    if (show && shown > TRACE_SHOW_LINES)
        printf("  ... %d more lines in the log\n", shown - TRACE_SHOW_LINES);
    if (show && shown == 0)
        printf("  (no collections)\n");
    return g;
}

/* ---- Report ------------------------------------------------------------- */

/* gogc_text formats a GOGC setting as Go spells it. */
static const char *gogc_text(int gogc, char *buf, size_t n)
{
    if (gogc < 0)
        return "off";
    snprintf(buf, n, "%d", gogc);
    return buf;
}


struct row {
    int strategy;
    struct result gh, go;
    int go_ran; /* a Go run was attempted */
    struct gctrace_summary gh_trace, go_trace;
    size_t total; /* bytes the runs append */
};

static double mb(uint64_t b) { return (double)b / MIB; }

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0; }

static int gctrace_on(void)
{
    const char *t = getenv("GCTRACE");
    const char *d = getenv("GODEBUG");
    return (t != NULL && strcmp(t, "0") != 0 && *t != '\0') ||
           (d != NULL && strstr(d, "gctrace=") != NULL && strstr(d, "gctrace=0") == NULL);
}

static void print_table(const struct row *rows, int n, int best, int have_go)
{
    printf("\n%-9s %8s %9s %7s %8s %9s %9s %5s %8s", "strategy", "final MB", "peak heap", "peak/",
           "peak RSS", "allocated", "copied MB", "GCs", "time ms");
    if (have_go)
        printf(" | %7s %7s %8s %6s %8s | %8s", "Go peak", "Go peak", "Go RSS", "Go GCs",
               "Go ms", "goheap/Go");
    printf("\n%-9s %8s %9s %7s %8s %9s %9s %5s %8s", "", "", "MB", "final", "MB", "MB", "", "",
           "");
    if (have_go)
        printf(" | %7s %7s %8s %6s %8s | %8s", "MB", "/final", "MB", "", "", "peak");
    printf("\n");
    for (int i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        char name[32];
        snprintf(name, sizeof name, "%s%s", growth_names[r->strategy], i == best ? " *" : "");
        if (!r->gh.ok)
            printf("%-10s %8.1f %9s %7s %8s %9s %9s %5s %8s", name, mb(r->total), "failed", "",
                   "", "", "", "", "");
        else
            printf("%-10s %8.1f %9.1f %6.2fx %8.1f %9.1f %9.1f %5" PRIu64 " %8.1f", name,
                   mb(r->gh.final), mb(r->gh.peak), ratio(r->gh.peak, r->gh.final),
                   mb(r->gh.maxrss), mb(r->gh.alloc), mb(r->gh.copied), r->gh.gcs,
                   (double)r->gh.ns / 1e6);
        if (have_go) {
            if (!r->go_ran)
                printf(" | %7s %7s %8s %6s %8s | %8s", "-", "-", "-", "-", "-", "-");
            else if (!r->go.ok)
                printf(" | %7s %7s %8s %6s %8s | %8s", "failed", "", "", "", "", "-");
            else {
                printf(" | %7.1f %6.2fx %8.1f %6" PRIu64 " %8.1f |", mb(r->go.peak),
                       ratio(r->go.peak, r->go.final), mb(r->go.maxrss), r->go.gcs,
                       (double)r->go.ns / 1e6);
                if (r->gh.ok)
                    printf(" %7.2fx", ratio(r->gh.peak, r->go.peak));
                else
                    printf(" %8s", "-");
            }
        }
        printf("\n");
    }
}

static void write_csv(const char *path, const struct row *rows, int n, const struct options *o)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    fprintf(f, "strategy,runtime,ok,total,chunk,step,gogc,final,cap,peak_heap,peak_rss,"
               "allocated,copied,grows,copy_peak,gcs,ns,peak_per_final\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const struct result *r = k ? &rows[i].go : &rows[i].gh;
            if (k && !rows[i].go_ran)
                continue;
            fprintf(f,
                    "%s,%s,%d,%zu,%zu,%zu,%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%.4f\n",
                    growth_names[rows[i].strategy], k ? "go" : "goheap", r->ok, rows[i].total,
                    o->params.chunk, o->params.step, o->gogc, r->final, r->cap, r->peak,
                    r->maxrss, r->alloc, r->copied, r->grows, r->copy_peak, r->gcs, r->ns,
                    ratio(r->peak, r->final));
        }
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

static void write_json(const char *path, const struct row *rows, int n, const struct options *o,
                       int best)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    fprintf(f,
            "{\n  \"total\": %zu,\n  \"chunk\": %zu,\n  \"step\": %zu,\n  \"exact_total\": %zu,\n"
            "  \"gogc\": %d,\n  \"memlimit\": %" PRId64 ",\n  \"best\": \"%s\",\n  \"runs\": [",
            o->params.total, o->params.chunk, o->params.step, o->exact_total, o->gogc,
            o->memlimit, best >= 0 ? growth_names[rows[best].strategy] : "");
    const char *sep = "\n";
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            const struct result *r = k ? &rows[i].go : &rows[i].gh;
            if (k && !rows[i].go_ran)
                continue;
            fprintf(f,
                    "%s    {\"strategy\": \"%s\", \"runtime\": \"%s\", \"ok\": %s, \"total\": %zu, "
                    "\"final\": %" PRIu64 ", \"cap\": %" PRIu64 ", \"peak_heap\": %" PRIu64
                    ", \"peak_rss\": %" PRIu64 ", \"allocated\": %" PRIu64 ", \"copied\": %" PRIu64
                    ", \"grows\": %" PRIu64 ", \"copy_peak\": %" PRIu64 ", \"gcs\": %" PRIu64
                    ", \"ns\": %" PRIu64 ", \"peak_per_final\": %.4f}",
                    sep, growth_names[rows[i].strategy], k ? "go" : "goheap",
                    r->ok ? "true" : "false", rows[i].total, r->final, r->cap, r->peak,
                    r->maxrss, r->alloc, r->copied, r->grows, r->copy_peak, r->gcs, r->ns,
                    ratio(r->peak, r->final));
            sep = ",\n";
        }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

/* explain_peak says where a copying strategy's peak came from: the old and
 * new buffer of the biggest grow, and garbage not yet collected. */
static void explain_peak(const struct row *r, const struct options *o)
{
    const struct result *g = &r->gh;
    char gogc[16];
    double data = mb(g->final), peak = mb(g->peak), both = mb(g->copy_peak);
    double rest = peak > both ? peak - both : 0;
    printf("\n%s on goheap: the buffer grew %" PRIu64 " times to a capacity of %.1f MB for %.1f MB"
           " of data. During the biggest grow the old buffer and its replacement were both live:"
           " %.1f MB, %.2fx the data. The heap peaked at %.1f MB, %.2fx the data",
           growth_names[r->strategy], g->grows, mb(g->cap), data, both, both / data, peak,
           peak / data);
    if (rest >= 0.05 * both && r->gh_trace.lines > 0)
        printf("; the other %.1f MB (%.2fx) was garbage: buffers from earlier grows that the"
               " collector had not reclaimed yet. With GOGC=%s a cycle is due only when the heap"
               " reaches its goal (up to %" PRIu64 " MB in this run's gctrace), and each grow"
               " allocates a buffer bigger than all the garbage before it.\n",
               rest, rest / data, gogc_text(o->gogc, gogc, sizeof gogc), r->gh_trace.max_goal_mb);
    else if (rest >= 0.05 * both)
        printf("; the other %.1f MB (%.2fx) was garbage from earlier grows: no collection ran"
               " during the run.\n",
               rest, rest / data);
    else
        printf(", hardly more than those two buffers: the collector had reclaimed the older"
               " ones in time.\n");
    printf("It allocated %.1f MB in all (%.1fx the data) and copied %.1f MB.\n", mb(g->alloc),
           mb(g->alloc) / data, mb(g->copied));
}

/* explain_realloc compares realloc, which frees each old buffer, with
 * double, which makes the same requests and leaves them to the collector. */
static void explain_realloc(const struct row *re, const struct row *dbl)
{
    const struct result *g = &re->gh;
    double data = mb(g->final);
    printf("\nrealloc makes the same requests as double but gh_realloc frees each old buffer"
           " as soon as it is copied: its heap peaked at %.1f MB (%.2fx the data), the biggest"
           " grow's old and new buffers being %.1f MB",
           mb(g->peak), mb(g->peak) / data, mb(g->copy_peak));
    if (dbl != NULL && dbl->gh.ok)
        printf(", against %.1f MB (%.2fx) for double", mb(dbl->gh.peak),
               ratio(dbl->gh.peak, dbl->gh.final));
    printf(". It copied %.1f MB in %" PRIu64 " grows; a grow that fits the block's size class or"
           " page run copies nothing.\n",
           mb(g->copied), g->grows);
}

/* differs is true when a and b are more than 10% apart. */
static int differs(double a, double b)
{
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi > 0 && (hi - lo) / hi > 0.10;
}

/* explain_vs_go compares one strategy's peaks on the two runtimes. */
static void explain_vs_go(const struct row *r)
{
    const struct result *g = &r->gh, *v = &r->go;
    double q = ratio(g->peak, v->peak);
    const char *name = growth_names[r->strategy];
    if (q >= 0.9 && q <= 1.1) {
        printf("  %-9s goheap %.1f MB, Go %.1f MB: %.2fx, within 10%%.\n", name, mb(g->peak),
               mb(v->peak), q);
        return;
    }
    printf("  %-9s goheap %.1f MB, Go %.1f MB: %.2fx.", name, mb(g->peak), mb(v->peak), q);
    int said = 0;
    if (g->grows > 0 && v->grows > 0 && differs(mb(g->copy_peak), mb(v->copy_peak))) {
        printf(" The biggest grow held %.1f MB (old + new) on goheap and %.1f MB on Go",
               mb(g->copy_peak), mb(v->copy_peak));
        if (r->strategy == GROWTH_DOUBLE)
            printf(" (goheap's double grows to 2*cap+n, Go 1.19's bytes.Buffer to"
                   " max(2*cap, len+n) rounded to a size class)");
        printf(".");
        said = 1;
    }
    if (differs((double)g->gcs, (double)v->gcs) ||
        differs((double)r->gh_trace.max_goal_mb, (double)r->go_trace.max_goal_mb)) {
        printf(" goheap ran %" PRIu64 " collections, Go %" PRIu64 "; the highest heap goal was"
               " %" PRIu64 " MB on goheap and %" PRIu64 " MB on Go",
               g->gcs, v->gcs, r->gh_trace.max_goal_mb, r->go_trace.max_goal_mb);
        if (q > 1 && g->gcs < v->gcs)
            printf(": goheap collected less often, so more garbage waited for its collector.");
        else if (q < 1 && g->gcs > v->gcs)
            printf(": goheap collected more often, so less garbage waited for its collector.");
        else
            printf(".");
        said = 1;
    }
    if (differs(mb(g->alloc), mb(v->alloc))) {
        printf(" They allocated %.1f MB and %.1f MB.", mb(g->alloc), mb(v->alloc));
        said = 1;
    }
    if (!said)
        printf(" Same grows, collection counts and goals (within 10%%): the difference is in"
               " when each collector finished relative to the grows (see the gctrace lines).");
    printf("\n");
}

/* report prints the table and the explanations; it returns the row with
 * the lowest peak / final on goheap, or -1. */
static int report(const struct row *rows, int n, const struct options *o, int have_go)
{
    int best = -1, best_unknown = -1;
    for (int i = 0; i < n; i++) {
        if (!rows[i].gh.ok || rows[i].gh.final == 0)
            continue;
        double q = ratio(rows[i].gh.peak, rows[i].gh.final);
        if (best < 0 || q < ratio(rows[best].gh.peak, rows[best].gh.final))
            best = i;
        if (rows[i].strategy != GROWTH_PREALLOC &&
            (best_unknown < 0 ||
             q < ratio(rows[best_unknown].gh.peak, rows[best_unknown].gh.final)))
            best_unknown = i;
    }
    print_table(rows, n, best, have_go);
    char gogc[16];
    printf("* lowest peak heap / final size on goheap. GOGC=%s",
           gogc_text(o->gogc, gogc, sizeof gogc));
    if (o->memlimit != INT64_MAX)
        printf(", GOMEMLIMIT=%" PRId64, o->memlimit);
    printf(", %.1f MB in %zu KiB appends; step and chunked use %.1f MB steps.\n",
           mb(o->params.total), o->params.chunk / 1024, mb(o->params.step));
    for (int i = 0; i < n; i++)
        if (rows[i].strategy == GROWTH_EXACT && rows[i].total < o->params.total)
            printf("exact ran to %.1f MB only: it copies everything on every append, so its"
                   " work grows with the square of the size (--exact-total).\n",
                   mb(rows[i].total));
    printf("Peak heap: goheap's heap_inuse high-water mark; Go's HeapInuse, read after each"
           " allocation the program makes and every millisecond. Peak RSS: wait4 of each run's"
           " own process.\n");

    const struct row *dbl = NULL;
    for (int i = 0; i < n; i++)
        if (rows[i].gh.ok && rows[i].strategy == GROWTH_DOUBLE) {
            explain_peak(&rows[i], o);
            dbl = &rows[i];
        }
    for (int i = 0; i < n; i++)
        if (rows[i].gh.ok && rows[i].strategy == GROWTH_REALLOC)
            explain_realloc(&rows[i], dbl);
    if (have_go) {
        printf("\ngoheap's peak / Go's peak, same strategy and GOGC:\n");
        for (int i = 0; i < n; i++)
            if (rows[i].gh.ok && rows[i].go_ran && rows[i].go.ok)
                explain_vs_go(&rows[i]);
    }
    if (best >= 0) {
        printf("\nLowest peak: %s, %.2fx the data", growth_names[rows[best].strategy],
               ratio(rows[best].gh.peak, rows[best].gh.final));
        if (best_unknown >= 0 && best_unknown != best)
            printf("; without knowing the size in advance: %s, %.2fx",
                   growth_names[rows[best_unknown].strategy],
                   ratio(rows[best_unknown].gh.peak, rows[best_unknown].gh.final));
        printf(".\n");
    }
    return best;
}

/* ---- main ----------------------------------------------------------------- */

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    char *s;
    va_start(ap, f);
    if (vasprintf(&s, f, ap) < 0)
        die("out of memory");
    va_end(ap);
    return s;
}

/* An argument vector whose strings are freed together. */
struct args {
    int n;
    char *v[32];
};

static void args_add(struct args *a, char *s)
{
    if (a->n + 1 >= (int)(sizeof a->v / sizeof a->v[0]))
        die("too many arguments");
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
}

static void args_free(struct args *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
}

/* run_goheap runs strategy s of row r in a child of this program. */
static void run_goheap(struct row *r, const struct options *o, char *const env[])
{
    const char *name = growth_names[r->strategy];
    char gogc[16];
    struct args a = {0};
    args_add(&a, fmt("/proc/self/exe"));
    args_add(&a, fmt("--child=%s", name));
    args_add(&a, fmt("--total=%zu", o->params.total));
    args_add(&a, fmt("--chunk=%zu", o->params.chunk));
    args_add(&a, fmt("--step=%zu", o->params.step));
    args_add(&a, fmt("--exact-total=%zu", o->exact_total));
    args_add(&a, fmt("--gogc=%s", gogc_text(o->gogc, gogc, sizeof gogc)));
    if (o->memlimit != INT64_MAX)
        args_add(&a, fmt("--memlimit=%" PRId64, o->memlimit));
    args_add(&a, fmt("--out=%s", o->out));
    args_add(&a, fmt("--profile-rate=%d", o->profile_rate));
    args_add(&a, fmt("--profile=%s", o->profile[r->strategy] ? name : ""));
    char *log = fmt("%s/gctrace-goheap-%s.log", o->out, name);
    int st = spawn(a.v, env, log, RESULT_FD, &r->gh);
    if (r->gh.ok)
        fprintf(stderr, " %.2f s", (double)r->gh.ns / 1e9);
    else
        fprintf(stderr, " failed (%s %d, see %s)", WIFSIGNALED(st) ? "signal" : "exit status",
                WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), log);
    r->gh_trace = gctrace_read(log, 0, NULL);
    free(log);
    args_free(&a);
}

/* run_go runs strategy s of row r with the Go growbench. */
static void run_go(struct row *r, const struct options *o, char *const env[])
{
    const char *name = growth_names[r->strategy];
    struct args a = {0};
    args_add(&a, fmt("%s", o->go));
    args_add(&a, fmt("-strategy=%s", name));
    args_add(&a, fmt("-total=%zu", r->total));
    args_add(&a, fmt("-chunk=%zu", o->params.chunk));
    args_add(&a, fmt("-step=%zu", o->params.step));
    char *log = fmt("%s/gctrace-go-%s.log", o->out, name);
    r->go_ran = 1;
    spawn(a.v, env, log, 1, &r->go);
    if (r->go.ok)
        fprintf(stderr, ", go %.2f s", (double)r->go.ns / 1e9);
    else
        fprintf(stderr, ", go failed (see %s)", log);
    r->go_trace = gctrace_read(log, 0, NULL);
    free(log);
    args_free(&a);
}

/* plan_check compares what the goheap run of r copied with what growth.h
 * computes for the strategy; realloc is left out, as gh_realloc decides
 * when to move. Returns 1 on a mismatch. */
static int plan_check(const struct row *r, const struct options *o)
{
    struct growth_params p = o->params;
    struct growth_plan plan;
    if (!r->gh.ok || r->strategy == GROWTH_REALLOC)
        return 0;
    p.total = r->total;
    growth_plan_run((enum growth_strategy)r->strategy, &p, &plan, NULL, NULL);
    if (plan.copied == r->gh.copied && plan.grows == r->gh.grows && plan.final_cap == r->gh.cap)
        return 0;
    fprintf(stderr,
            "\ngrowbench: %s copied %" PRIu64 " bytes in %" PRIu64 " grows to %" PRIu64
            " bytes; growth.h says %zu in %zu to %zu",
            growth_names[r->strategy], r->gh.copied, r->gh.grows, r->gh.cap, plan.copied,
            plan.grows, plan.final_cap);
    return 1;
}

/* show_traces prints the gctrace lines of row r's runs. */
static void show_traces(const struct row *r, const struct options *o)
{
    const char *name = growth_names[r->strategy];
    char *log = fmt("%s/gctrace-goheap-%s.log", o->out, name);
    char *title = fmt("gctrace of %s on goheap", name);
    gctrace_read(log, 1, title);
    free(log), free(title);
    if (r->go_ran) {
        log = fmt("%s/gctrace-go-%s.log", o->out, name);
        title = fmt("gctrace of %s on Go", name);
        gctrace_read(log, 1, title);
        free(log), free(title);
    }
}

int main(int argc, char **argv)
{
    struct options o = {
        .params = {.total = 560u << 20, .chunk = 32u << 10, .step = 4u << 20},
        .exact_total = 8u << 20,
        .gogc = 100,
        .memlimit = INT64_MAX,
        .profile_rate = 512 * 1024,
        .out = ".",
    };
    for (int i = 0; i < GROWTH_NSTRATEGIES; i++)
        o.run[i] = o.show[i] = 1;
    o.profile[GROWTH_DOUBLE] = 1;
    const char *env_gogc = getenv("GOGC");
    if (env_gogc != NULL && *env_gogc != '\0')
        o.gogc = gogc_arg(env_gogc);
    const char *child = NULL;

    enum { OPT_STEP = 256, OPT_EXACT, OPT_GO, OPT_PROFILE, OPT_RATE, OPT_SHOW, OPT_CHILD };
    static const struct option longopts[] = {
        {"strategies", required_argument, NULL, 's'},
        {"total", required_argument, NULL, 'n'},
        {"chunk", required_argument, NULL, 'c'},
        {"step", required_argument, NULL, OPT_STEP},
        {"exact-total", required_argument, NULL, OPT_EXACT},
        {"gogc", required_argument, NULL, 'g'},
        {"memlimit", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'},
        {"go", required_argument, NULL, OPT_GO},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"profile-rate", required_argument, NULL, OPT_RATE},
        {"show", required_argument, NULL, OPT_SHOW},
        {"child", required_argument, NULL, OPT_CHILD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "s:n:c:g:m:o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': strategy_list("--strategies", optarg, o.run); break;
        case 'n': o.params.total = size_arg("--total", optarg); break;
        case 'c': o.params.chunk = size_arg("--chunk", optarg); break;
        case OPT_STEP: o.params.step = size_arg("--step", optarg); break;
        case OPT_EXACT: o.exact_total = size_arg("--exact-total", optarg); break;
        case 'g': o.gogc = gogc_arg(optarg); break;
        case 'm':
            o.memlimit = strcmp(optarg, "off") == 0 ? INT64_MAX
                                                    : (int64_t)size_arg("--memlimit", optarg);
            break;
        case 'o': o.out = optarg; break;
        case OPT_GO: o.go = optarg; break;
        case OPT_PROFILE: strategy_list("--profile", optarg, o.profile); break;
        case OPT_RATE: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 0 || v > INT32_MAX)
                die("--profile-rate: \"%s\" is not a rate", optarg);
            o.profile_rate = (int)v;
            break;
        }
        case OPT_SHOW: strategy_list("--show", optarg, o.show); break;
        case OPT_CHILD: child = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (o.exact_total > o.params.total)
        o.exact_total = o.params.total;
    if (child != NULL) {
        int s = growth_parse(child);
        if (s < 0)
            die("--child: unknown strategy \"%s\"", child);
        return child_run((enum growth_strategy)s, &o);
    }
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST)
        die("%s: %s", o.out, strerror(errno));

    int show = gctrace_on();
    char gogc[16];
    const char *godebug = getenv("GODEBUG");
    char *env[] = {
        fmt("GOGC=%s", gogc_text(o.gogc, gogc, sizeof gogc)),
        o.memlimit == INT64_MAX ? fmt("GOMEMLIMIT=off") : fmt("GOMEMLIMIT=%" PRId64, o.memlimit),
        godebug != NULL && *godebug != '\0' ? fmt("GODEBUG=%s,gctrace=1", godebug)
                                            : fmt("GODEBUG=gctrace=1"),
        NULL,
    };

    struct row rows[GROWTH_NSTRATEGIES];
    int n = 0, failed = 0;
    for (int s = 0; s < GROWTH_NSTRATEGIES; s++) {
        if (!o.run[s])
            continue;
        struct row *r = &rows[n++];
        memset(r, 0, sizeof *r);
        r->strategy = s;
        r->total = s == GROWTH_EXACT ? o.exact_total : o.params.total;
        fprintf(stderr, "growbench: %-9s goheap", growth_names[s]);
        run_goheap(r, &o, env);
        failed |= plan_check(r, &o);
        if (o.go != NULL && s != GROWTH_REALLOC)
            run_go(r, &o, env);
        fprintf(stderr, "\n");
        failed |= !r->gh.ok || (r->go_ran && !r->go.ok);
        if (show && o.show[s]) {
            show_traces(r, &o);
            fflush(stdout);
        }
    }

    int best = report(rows, n, &o, o.go != NULL);
    char *csv = fmt("%s/growth.csv", o.out), *json = fmt("%s/growth.json", o.out);
    write_csv(csv, rows, n, &o);
    write_json(json, rows, n, &o, best);
    printf("\nWrote %s and %s.\n", csv, json);
    free(csv), free(json);
    for (int i = 0; env[i] != NULL; i++)
        free(env[i]);
    return failed;
}
