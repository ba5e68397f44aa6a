/* test_gctrace.c: the gctrace lines, read as a Go programmer's tools read
 * them, and checked against gh_read_mem_stats.
 *
 * The test runs itself again as a child with the knob in its environment
 * (GCTRACE=1, GODEBUG=gctrace=1, GODEBUG=gctrace=2, or none), and
 * captures the child's stderr through a pipe. The child runs a fixed
 * workload (churn that triggers collections by itself, gh_gc calls, a
 * growing live heap) and reports on stdout which cycles gh_gc started and
 * MemStats around its last gh_gc. The parent then checks:
 *   - every line of stderr matches Go's layout exactly (a strict regular
 *     expression, with the number shapes fmtNSAsMS produces), and there is
 *     nothing else on stderr;
 *   - cycle numbers start at 1 and go up by one; @ times never go back;
 *     the line count is NumGC;
 *   - "(forced)" ends exactly the lines of cycles gh_gc started;
 *   - the last line (a gh_gc with nothing allocating meanwhile) agrees with
 *     MemStats as Go's do: its number is NumGC; its live heap H2 is
 *     HeapAlloc after the collection (>>20); its goal is the goal that
 *     cycle ran against, i.e. NextGC read just before it (Go prints
 *     gcController.lastHeapGoal, taken at the end of mark), while NextGC
 *     afterwards is the next goal, at least twice H2 at GOGC=100 (half
 *     the live heap dies before that cycle, so the two goals differ);
 *   - gctrace=2 behaves as gctrace=1 (Go 1.19 only tests gctrace > 0), and
 *     without the knob nothing is printed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "goheap.h"

#define MIB ((uint64_t)1 << 20)
#define CHILD_ENV "GH_TEST_GCTRACE_CHILD"

/* ---- The child ----------------------------------------------------------- */

#define CHURN_BYTES (48 * MIB)
#define LIVE_OBJS 3072
#define OBJ_SIZE 4096

/* Global and read back at the end, so that the stores stay and the
 * collector sees the objects. */
void *live[LIVE_OBJS];
static void *volatile sink;

static void child_forced(void)
{
    gh_mem_stats m;
    gh_gc();
    gh_read_mem_stats(&m);
    printf("forced %u\n", m.num_gc);
}

static int child_main(void)
{
    static gh_mem_stats before, after;
    /* Garbage with a small live set: the pacer starts cycles by itself. */
    for (uint64_t done = 0; done < CHURN_BYTES; done += OBJ_SIZE) {
        sink = gh_malloc(OBJ_SIZE);
        live[(done / OBJ_SIZE) % 256] = sink;
    }
    child_forced();
    child_forced();
    /* A live heap of 12 MiB, grown with collections along the way. */
    for (int i = 0; i < LIVE_OBJS; i++)
        live[i] = gh_malloc(OBJ_SIZE);
    child_forced();
    for (int i = 0; i < 4096; i++)
        sink = gh_malloc(OBJ_SIZE);
    sink = NULL;
    /* Half of the live heap dies: the last cycle ran against a goal made
     * for 12 MiB, and sets one for 6 MiB. */
    for (int i = 1; i < LIVE_OBJS; i += 2)
        live[i] = NULL;
    gh_read_mem_stats(&before);
    gh_gc();
    gh_read_mem_stats(&after);
    printf("forced %u\n", after.num_gc);
    printf("before_next_gc %llu\n", (unsigned long long)before.next_gc);
    printf("after_num_gc %u\nafter_num_forced_gc %u\n", after.num_gc, after.num_forced_gc);
    printf("after_heap_alloc %llu\nafter_next_gc %llu\n", (unsigned long long)after.heap_alloc,
           (unsigned long long)after.next_gc);
    for (int i = 0; i < LIVE_OBJS; i += 2)
        if (!live[i])
            return 1;
    return 0;
}

/* ---- Running it ---------------------------------------------------------- */

#define MAX_LINES 512
#define OUT_MAX (64 << 10)

struct line {
    unsigned n;
    uint64_t at_ms;         /* @S.SSS as milliseconds */
    unsigned util;
    uint64_t h0, h1, h2, goal;
    unsigned procs;
    int forced;
};

struct run {
    char err[OUT_MAX], out[OUT_MAX];
    size_t nerr, nout;
    struct line line[MAX_LINES];
    int nline;
    unsigned forced[MAX_LINES];
    int nforced;
    uint64_t before_next_gc, after_heap_alloc, after_next_gc;
    unsigned after_num_gc, after_num_forced_gc;
};

/* Go's fmtNSAsMS output: 0; 0.001-0.099; 0.10-0.99; 1.0-9.9; 10 and up. */
#define MS "(0|0\\.00[1-9]|0\\.0[1-9][0-9]|0\\.[1-9][0-9]|[1-9]\\.[0-9]|[1-9][0-9]+)"
#define NUM "(0|[1-9][0-9]*)"
static const char line_re[] =
    "^gc " NUM " @" NUM "\\.([0-9]{3})s " NUM "%: " MS "\\+" MS "\\+" MS " ms clock, "
    MS "\\+" MS "/" MS "/" MS "\\+" MS " ms cpu, " NUM "->" NUM "->" NUM " MB, " NUM " MB goal, "
    NUM " P( \\(forced\\))?$";

static uint64_t num(const char *s, const regmatch_t *m)
{
    return strtoull(s + m->rm_so, NULL, 10);
}

/* parse_err checks every stderr line against Go's layout and fills
 * r->line. Fails the test on a line that does not match. */
static void parse_err(struct run *r)
{
    regex_t re;
    regmatch_t m[24];
    assert_int_equal(regcomp(&re, line_re, REG_EXTENDED), 0);
    char *save = NULL;
    for (char *s = strtok_r(r->err, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
        if (regexec(&re, s, 24, m, 0) != 0)
            fail_msg("not a gctrace line in Go's layout: \"%s\"", s);
        assert_true(r->nline < MAX_LINES);
        struct line *l = &r->line[r->nline++];
        l->n = (unsigned)num(s, &m[1]);
        l->at_ms = num(s, &m[2]) * 1000 + num(s, &m[3]);
        l->util = (unsigned)num(s, &m[4]);
        l->h0 = num(s, &m[13]);
        l->h1 = num(s, &m[14]);
        l->h2 = num(s, &m[15]);
        l->goal = num(s, &m[16]);
        l->procs = (unsigned)num(s, &m[17]);
        l->forced = m[18].rm_so >= 0;
    }
    regfree(&re);
}

static void parse_out(struct run *r)
{
    char *save = NULL;
    for (char *s = strtok_r(r->out, "\n", &save); s; s = strtok_r(NULL, "\n", &save)) {
        unsigned long long v;
        char key[32];
        assert_int_equal(sscanf(s, "%31s %llu", key, &v), 2);
        if (strcmp(key, "forced") == 0) {
            assert_true(r->nforced < MAX_LINES);
            r->forced[r->nforced++] = (unsigned)v;
        } else if (strcmp(key, "before_next_gc") == 0) {
            r->before_next_gc = v;
        } else if (strcmp(key, "after_num_gc") == 0) {
            r->after_num_gc = (unsigned)v;
        } else if (strcmp(key, "after_num_forced_gc") == 0) {
            r->after_num_forced_gc = (unsigned)v;
        } else if (strcmp(key, "after_heap_alloc") == 0) {
            r->after_heap_alloc = v;
        } else if (strcmp(key, "after_next_gc") == 0) {
            r->after_next_gc = v;
        } else {
            fail_msg("child said \"%s\"", s);
        }
    }
}

/* run_child runs this program as the child with env[] added to a clean
 * copy of the environment (no GODEBUG, GCTRACE or GOGC of the caller's),
 * and collects its stdout and stderr. */
static void run_child(struct run *r, const char *const *env)
{
    memset(r, 0, sizeof *r);
    int out[2], err[2];
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(err, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *envp[16];
        int n = 0;
        for (char **e = environ; *e && n < 8; e++)
            if (strncmp(*e, "PATH=", 5) == 0 || strncmp(*e, "LD_LIBRARY_PATH=", 16) == 0)
                envp[n++] = *e;
        envp[n++] = CHILD_ENV "=1";
        for (; *env; env++)
            envp[n++] = (char *)*env;
        envp[n] = NULL;
        dup2(out[1], 1);
        dup2(err[1], 2);
        char *argv[] = { "test_gctrace", NULL };
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    struct pollfd p[2] = { { .fd = out[0], .events = POLLIN }, { .fd = err[0], .events = POLLIN } };
    char *buf[2] = { r->out, r->err };
    size_t *len[2] = { &r->nout, &r->nerr };
    int open_fds = 2;
    while (open_fds) {
        if (poll(p, 2, -1) < 0) {
            assert_int_equal(errno, EINTR);
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            assert_true(*len[i] < OUT_MAX - 1);
            ssize_t k = read(p[i].fd, buf[i] + *len[i], OUT_MAX - 1 - *len[i]);
            if (k > 0) {
                *len[i] += (size_t)k;
            } else {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child failed (status %#x); stderr:\n%s", status, r->err);
    parse_out(r);
    parse_err(r);
}

/* check_trace applies every check of the top comment to one run. */
static void check_trace(const struct run *r)
{
    /* One line per cycle, numbered from 1 without gaps. */
    assert_true(r->nline >= 6);
    assert_int_equal(r->nline, r->after_num_gc);
    for (int i = 0; i < r->nline; i++) {
        const struct line *l = &r->line[i];
        assert_int_equal(l->n, (unsigned)i + 1);
        if (i > 0)
            assert_true(l->at_ms >= r->line[i - 1].at_ms);
        assert_true(l->util <= 100);
        assert_true(l->procs >= 1);
        assert_true(l->h2 <= l->h1);
    }
    /* The churn made cycles by itself: not every line is forced. */
    assert_true(r->nforced < r->nline);
    /* "(forced)" on exactly the cycles gh_gc started. */
    int nforced = 0;
    for (int i = 0; i < r->nline; i++) {
        int want = 0;
        for (int k = 0; k < r->nforced; k++)
            want |= r->forced[k] == r->line[i].n;
        if (r->line[i].forced != want)
            fail_msg("gc %u: forced=%d, but gh_gc %s it", r->line[i].n, r->line[i].forced,
                     want ? "started" : "did not start");
        nforced += want;
    }
    assert_int_equal(nforced, r->nforced);
    assert_int_equal(r->after_num_forced_gc, (unsigned)r->nforced);

    /* The last line against MemStats. */
    const struct line *last = &r->line[r->nline - 1];
    assert_int_equal(last->n, r->after_num_gc);
    assert_true(last->forced);
    assert_int_equal(last->h2, r->after_heap_alloc >> 20);
    assert_true(last->h2 >= (LIVE_OBJS / 2 * (uint64_t)OBJ_SIZE) >> 20);
    assert_int_equal(last->goal, r->before_next_gc >> 20);
    assert_true(r->after_next_gc >> 20 >= 2 * last->h2);
    assert_true(r->after_next_gc >= 4 * MIB);
    /* The live heap halved, so the two goals differ: the line must show
     * the earlier one. */
    assert_true(r->after_next_gc >> 20 < last->goal);
}

static struct run run;

static void gctrace_env_prints_gos_lines(void **state)
{
    (void)state;
    static const char *const env[] = { "GCTRACE=1", NULL };
    run_child(&run, env);
    check_trace(&run);
}

static void godebug_gctrace_1_prints_gos_lines(void **state)
{
    (void)state;
    static const char *const env[] = { "GODEBUG=gcstoptheworld=0,gctrace=1", NULL };
    run_child(&run, env);
    check_trace(&run);
}

static void godebug_gctrace_2_behaves_as_1(void **state)
{
    (void)state;
    static const char *const env[] = { "GODEBUG=gctrace=2", NULL };
    run_child(&run, env);
    check_trace(&run);
}

static void no_gctrace_prints_nothing(void **state)
{
    (void)state;
    static const char *const env[] = { "GODEBUG=gctrace=0", NULL };
    run_child(&run, env);
    assert_int_equal(run.nerr, 0);
    assert_true(run.after_num_gc >= 6);
}

int main(void)
{
    if (getenv(CHILD_ENV))
        return child_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gctrace_env_prints_gos_lines),
        cmocka_unit_test(godebug_gctrace_1_prints_gos_lines),
        cmocka_unit_test(godebug_gctrace_2_behaves_as_1),
        cmocka_unit_test(no_gctrace_prints_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
