/* test_options.c: every knob's good and bad values, the exact report
 * text, report-once, precedence, and Go's GOMEMLIMIT syntax. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"

/* ---- Helpers -------------------------------------------------------- */

struct capture {
    int saved;
    int rd;
};

static void capture_begin(struct capture *c)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(stderr);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(p[1], 2), 2);
    close(p[1]);
    c->rd = p[0];
}

static void capture_end(struct capture *c, char *out, size_t cap)
{
    assert_int_equal(dup2(c->saved, 2), 2);
    close(c->saved);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(c->rd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(c->rd);
}

/* What the last parse() wrote on stderr. */
static char reports[8192];

/* parse runs options_parse on a NULL-terminated list of NAME=value
 * strings, capturing its reports. */
static struct options parse(const char *const *env)
{
    struct options o;
    struct capture c;
    capture_begin(&c);
    options_parse(&o, (char *const *)env);
    capture_end(&c, reports, sizeof reports);
    return o;
}

#define PARSE(...) parse((const char *const[]){ __VA_ARGS__, NULL })

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* ---- Defaults ------------------------------------------------------- */

static void defaults_when_nothing_is_set(void **state)
{
    (void)state;
    struct options o = PARSE("PATH=/bin", "HOME=/root");
    assert_int_equal(o.gogc, 100);
    assert_true(o.memory_limit == INT64_MAX);
    assert_int_equal(o.gctrace, 0);
    assert_int_equal(o.gccheckmark, 0);
    assert_int_equal(o.gcstoptheworld, 0);
    assert_int_equal(o.invalidptr, 1);
    assert_int_equal(o.memprofilerate, 524288);
    assert_int_equal(o.scavtrace, 0);
    assert_int_equal(o.gcpacertrace, 0);
    assert_int_equal(o.clobberfree, 0);
    assert_int_equal(o.gcleak, 0);
    assert_int_equal(o.gcprocs, 0);
    assert_string_equal(o.heapprofile, "");
    assert_true(o.heapprofile_interval == 0);
    assert_string_equal(o.pprof_addr, "");
    assert_string_equal(reports, "");

    struct options e = parse((const char *const[]){ NULL });
    assert_int_equal(e.gogc, 100);
    assert_int_equal(e.invalidptr, 1);
    assert_string_equal(reports, "");
}

/* ---- GOGC ----------------------------------------------------------- */

static void gogc_values(void **state)
{
    (void)state;
    static const struct { const char *env; int want; } good[] = {
        { "GOGC=50", 50 },   { "GOGC=0", 0 },       { "GOGC=off", -1 },
        { "GOGC=-1", -1 },   { "GOGC=-20", -1 },    { "GOGC=+7", 7 },
        { "GOGC=", 100 },    { "GOGC=2147483647", 2147483647 },
        { "GOGC=-2147483648", -1 }, { "GOGC=007", 7 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct options o = PARSE(good[i].env);
        assert_int_equal(o.gogc, good[i].want);
        assert_string_equal(reports, "");
    }
    static const char *const bad[] = {
        "abc", "Off", "OFF", "12x", "1.5", " 50", "50 ", "-", "+", "2147483648", "-2147483649", "0x10",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char env[64], want[128];
        snprintf(env, sizeof env, "GOGC=%s", bad[i]);
        snprintf(want, sizeof want, "goheap: GOGC=\"%s\" is not a number or \"off\"; using 100\n", bad[i]);
        struct options o = PARSE(env);
        assert_int_equal(o.gogc, 100);
        assert_string_equal(reports, want);
    }
}

static void gogc_report_text_is_exact(void **state)
{
    (void)state;
    struct options o = PARSE("GOGC=abc");
    assert_int_equal(o.gogc, 100);
    assert_string_equal(reports, "goheap: GOGC=\"abc\" is not a number or \"off\"; using 100\n");
}

static void first_of_duplicate_variables_counts(void **state)
{
    (void)state;
    struct options o = PARSE("GOGC=10", "GOGC=20");
    assert_int_equal(o.gogc, 10);
    /* A longer name or a bare name without '=' is not GOGC. */
    o = PARSE("GOGCX=5", "GOGC", "XGOGC=6");
    assert_int_equal(o.gogc, 100);
    assert_string_equal(reports, "");
}

/* ---- GOMEMLIMIT ----------------------------------------------------- */

static void parse_bytes_follows_go_syntax(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t want; } good[] = {
        { "0", 0 },
        { "1B", 1 },
        { "100B", 100 },
        { "1KiB", 1024 },
        { "512MiB", INT64_C(512) << 20 },
        { "2GiB", INT64_C(2) << 30 },
        { "8TiB", INT64_C(8) << 40 },
        { "536870912", 536870912 },
        { "9223372036854775807", INT64_MAX },
        { "9223372036854775807B", INT64_MAX },
        { "8388607TiB", INT64_C(8388607) << 40 },
        { "0TiB", 0 },
        { "off", INT64_MAX },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -7;
        assert_int_equal(options_parse_bytes(good[i].s, &v), 0);
        assert_true(v == good[i].want);
    }
    static const char *const bad[] = {
        "", "9223372036854775808", "18446744073709551616", "8388608TiB", "9007199254740992KiB",
        "1.5GiB", "1GB", "1MB", "1KB", "1kib", "1mib", "1Gib", "-1", "+1", "-0", "off ", "Off",
        "KiB", "B", "iB", "1iB", "1 MiB", " 1", "1B ", "0x10", "1PiB", "1KiBB", "abc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 12345;
        if (options_parse_bytes(bad[i], &v) != -1)
            fail_msg("options_parse_bytes accepted \"%s\"", bad[i]);
        assert_true(v == 12345);
    }
}

static void gomemlimit_values_and_report(void **state)
{
    (void)state;
    struct options o = PARSE("GOMEMLIMIT=512MiB");
    assert_true(o.memory_limit == INT64_C(512) << 20);
    o = PARSE("GOMEMLIMIT=off");
    assert_true(o.memory_limit == INT64_MAX);
    o = PARSE("GOMEMLIMIT=");
    assert_true(o.memory_limit == INT64_MAX);
    o = PARSE("GOMEMLIMIT=0");
    assert_true(o.memory_limit == 0);
    assert_string_equal(reports, "");
    o = PARSE("GOMEMLIMIT=1GB");
    assert_true(o.memory_limit == INT64_MAX);
    assert_string_equal(reports,
                        "goheap: GOMEMLIMIT=\"1GB\" is not a byte count (like 512MiB) or \"off\"; using off\n");
    o = PARSE("GOMEMLIMIT=9223372036854775808");
    assert_true(o.memory_limit == INT64_MAX);
    assert_int_equal(count(reports, "GOMEMLIMIT=\"9223372036854775808\" is not a byte count"), 1);
}

/* ---- GCTRACE and GODEBUG -------------------------------------------- */

static void godebug_sets_every_key(void **state)
{
    (void)state;
    struct options o = PARSE("GODEBUG=gctrace=1,gccheckmark=1,gcstoptheworld=2,invalidptr=0,"
                             "memprofilerate=1,scavtrace=1,gcpacertrace=1,clobberfree=1,gcprocs=3,"
                             "gcleak=report");
    assert_int_equal(o.gctrace, 1);
    assert_int_equal(o.gccheckmark, 1);
    assert_int_equal(o.gcstoptheworld, 2);
    assert_int_equal(o.invalidptr, 0);
    assert_int_equal(o.memprofilerate, 1);
    assert_int_equal(o.scavtrace, 1);
    assert_int_equal(o.gcpacertrace, 1);
    assert_int_equal(o.clobberfree, 1);
    assert_int_equal(o.gcprocs, 3);
    assert_int_equal(o.gcleak, 1);
    assert_string_equal(reports, "");

    o = PARSE("GODEBUG=memprofilerate=0,gcprocs=-2,invalidptr=+1,gcleak=off");
    assert_int_equal(o.memprofilerate, 0);
    assert_int_equal(o.gcprocs, -2);
    assert_int_equal(o.invalidptr, 1);
    assert_int_equal(o.gcleak, 0);
    o = PARSE("GODEBUG=gcleak=report,gcleak=0");
    assert_int_equal(o.gcleak, 0);
    assert_string_equal(reports, "");
}

static void godebug_ignores_foreign_items(void **state)
{
    (void)state;
    struct options o = PARSE("GODEBUG=http2client=0,foo,,gctrace=1,=5,madvdontneed=1,GCTRACE=7,"
                             "gctrace2=9,xgctrace=9,x509sha1=1");
    assert_int_equal(o.gctrace, 1);
    assert_string_equal(reports, "");
    o = PARSE("GODEBUG=");
    assert_int_equal(o.gctrace, 0);
    o = PARSE("GODEBUG=,,,");
    assert_int_equal(o.invalidptr, 1);
    o = PARSE("GODEBUG=gctrace");
    assert_int_equal(o.gctrace, 0);
    assert_string_equal(reports, "");
}

static void godebug_malformed_values_are_reported(void **state)
{
    (void)state;
    struct options o = PARSE("GODEBUG=gctrace=x");
    assert_int_equal(o.gctrace, 0);
    assert_string_equal(reports, "goheap: GODEBUG gctrace=\"x\" is not a number; using 0\n");

    o = PARSE("GODEBUG=invalidptr=no,memprofilerate=1e6,gctrace=");
    assert_int_equal(o.invalidptr, 1);
    assert_int_equal(o.memprofilerate, 524288);
    assert_int_equal(o.gctrace, 0);
    assert_string_equal(reports,
                        "goheap: GODEBUG invalidptr=\"no\" is not a number; using 1\n"
                        "goheap: GODEBUG memprofilerate=\"1e6\" is not a number; using 524288\n"
                        "goheap: GODEBUG gctrace=\"\" is not a number; using 0\n");

    o = PARSE("GODEBUG=gcleak=1");
    assert_int_equal(o.gcleak, 0);
    assert_string_equal(reports, "goheap: GODEBUG gcleak=\"1\" is not \"report\", \"off\" or \"0\"; using off\n");

    o = PARSE("GODEBUG=gcprocs=99999999999");
    assert_int_equal(o.gcprocs, 0);
    assert_string_equal(reports, "goheap: GODEBUG gcprocs=\"99999999999\" is not a number; using 0\n");
}

static void godebug_later_items_override_earlier(void **state)
{
    (void)state;
    struct options o = PARSE("GODEBUG=gctrace=1,gctrace=0");
    assert_int_equal(o.gctrace, 0);
    o = PARSE("GODEBUG=gctrace=0,gctrace=2");
    assert_int_equal(o.gctrace, 2);
    /* A malformed later item keeps the value in force, and says which. */
    o = PARSE("GODEBUG=gctrace=2,gctrace=x");
    assert_int_equal(o.gctrace, 2);
    assert_string_equal(reports, "goheap: GODEBUG gctrace=\"x\" is not a number; using 2\n");
    o = PARSE("GODEBUG=gctrace=x,gctrace=2");
    assert_int_equal(o.gctrace, 2);
    assert_string_equal(reports, "goheap: GODEBUG gctrace=\"x\" is not a number; using 0\n");
}

static void gctrace_variable_and_godebug_precedence(void **state)
{
    (void)state;
    struct options o = PARSE("GCTRACE=1");
    assert_int_equal(o.gctrace, 1);
    o = PARSE("GCTRACE=1", "GODEBUG=gctrace=2");
    assert_int_equal(o.gctrace, 2);
    o = PARSE("GODEBUG=gctrace=2", "GCTRACE=1");
    assert_int_equal(o.gctrace, 2);
    o = PARSE("GODEBUG=gctrace=0", "GCTRACE=1");
    assert_int_equal(o.gctrace, 0);
    /* GODEBUG without gctrace leaves GCTRACE alone. */
    o = PARSE("GODEBUG=invalidptr=0", "GCTRACE=1");
    assert_int_equal(o.gctrace, 1);
    assert_string_equal(reports, "");
    /* A malformed GODEBUG gctrace keeps GCTRACE's value. */
    o = PARSE("GCTRACE=1", "GODEBUG=gctrace=x");
    assert_int_equal(o.gctrace, 1);
    assert_string_equal(reports, "goheap: GODEBUG gctrace=\"x\" is not a number; using 1\n");
    o = PARSE("GCTRACE=on");
    assert_int_equal(o.gctrace, 0);
    assert_string_equal(reports, "goheap: GCTRACE=\"on\" is not a number; using 0\n");
}

/* ---- Report-once ---------------------------------------------------- */

static void each_parse_reports_each_knob_once(void **state)
{
    (void)state;
    /* Within one parse a knob is reported once, however often GODEBUG
     * repeats it; the first bad value is the one named. */
    struct options o = PARSE("GODEBUG=gctrace=x,gctrace=y,gctrace=z");
    assert_int_equal(o.gctrace, 0);
    assert_string_equal(reports, "goheap: GODEBUG gctrace=\"x\" is not a number; using 0\n");
    /* Each parse call reports afresh: parsing twice reports twice. */
    struct capture c;
    capture_begin(&c);
    const char *const env[] = { "GOGC=abc", NULL };
    options_parse(&o, (char *const *)env);
    options_parse(&o, (char *const *)env);
    capture_end(&c, reports, sizeof reports);
    assert_int_equal(count(reports, "goheap: GOGC=\"abc\""), 2);
    /* Distinct knobs are reported separately, in table order. */
    o = PARSE("GODEBUG=scavtrace=q", "GOGC=q", "GOMEMLIMIT=q");
    assert_string_equal(reports,
                        "goheap: GOGC=\"q\" is not a number or \"off\"; using 100\n"
                        "goheap: GOMEMLIMIT=\"q\" is not a byte count (like 512MiB) or \"off\"; using off\n"
                        "goheap: GODEBUG scavtrace=\"q\" is not a number; using 0\n");
}

static void long_values_are_cut_in_reports(void **state)
{
    (void)state;
    static char env[1000];
    memcpy(env, "GOGC=", 5);
    memset(env + 5, '9', 300);
    env[5 + 150] = 'x';
    struct options o = PARSE(env);
    assert_int_equal(o.gogc, 100);
    assert_int_equal(strlen(reports), strlen("goheap: GOGC=\"\" is not a number or \"off\"; using 100\n") + 200);
}

/* ---- Profile knobs -------------------------------------------------- */

static void string_knobs_are_bounded(void **state)
{
    (void)state;
    struct options o = PARSE("GHHEAPPROFILE=/var/tmp/app.heap", "GHPPROF_ADDR=127.0.0.1:6060");
    assert_string_equal(o.heapprofile, "/var/tmp/app.heap");
    assert_string_equal(o.pprof_addr, "127.0.0.1:6060");
    assert_string_equal(reports, "");

    static char path[600], addr[200];
    memcpy(path, "GHHEAPPROFILE=", 14);
    memset(path + 14, 'p', 511);
    o = PARSE(path);
    assert_int_equal(strlen(o.heapprofile), 511);
    assert_string_equal(reports, "");
    path[14 + 511] = 'p';
    o = PARSE(path);
    assert_string_equal(o.heapprofile, "");
    assert_string_equal(reports, "goheap: GHHEAPPROFILE is longer than 511 bytes; ignored\n");

    memcpy(addr, "GHPPROF_ADDR=", 13);
    memset(addr + 13, 'a', 128);
    o = PARSE(addr);
    assert_string_equal(o.pprof_addr, "");
    assert_string_equal(reports, "goheap: GHPPROF_ADDR is longer than 127 bytes; ignored\n");
    addr[13 + 127] = '\0';
    o = PARSE(addr);
    assert_int_equal(strlen(o.pprof_addr), 127);
}

static void heapprofile_interval_values(void **state)
{
    (void)state;
    struct options o = PARSE("GHHEAPPROFILE_INTERVAL=1048576");
    assert_true(o.heapprofile_interval == 1048576);
    o = PARSE("GHHEAPPROFILE_INTERVAL=64MiB");
    assert_true(o.heapprofile_interval == INT64_C(64) << 20);
    o = PARSE("GHHEAPPROFILE_INTERVAL=off");
    assert_true(o.heapprofile_interval == 0);
    o = PARSE("GHHEAPPROFILE_INTERVAL=0");
    assert_true(o.heapprofile_interval == 0);
    assert_string_equal(reports, "");
    o = PARSE("GHHEAPPROFILE_INTERVAL=10MB");
    assert_true(o.heapprofile_interval == 0);
    assert_string_equal(reports, "goheap: GHHEAPPROFILE_INTERVAL=\"10MB\" is not a byte count "
                                 "(like 512MiB) or \"off\"; using 0\n");
}

/* ---- options_init --------------------------------------------------- */

/* options_init reads the real environment, once per process, and the
 * runtime's constructors may already have called it when main starts. So
 * the test runs this program again with a chosen environment, in a mode
 * that calls options_init from several threads at once and checks what
 * each of them sees; the parent checks the report appeared just once. */
enum { INIT_THREADS = 4 };

static const char init_mode[] = "--options-init-child";
static pthread_barrier_t init_barrier;

static void *init_main(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&init_barrier);
    options_init();
    /* Whoever returns from options_init sees the finished options. */
    return (void *)(intptr_t)(opts.gogc == 100 && opts.gctrace == 1 &&
                              opts.memory_limit == INT64_C(1) << 30);
}

static int init_child(void)
{
    pthread_barrier_init(&init_barrier, NULL, INIT_THREADS);
    pthread_t t[INIT_THREADS];
    for (int i = 0; i < INIT_THREADS; i++)
        if (pthread_create(&t[i], NULL, init_main, NULL) != 0)
            return 2;
    int bad = 0;
    for (int i = 0; i < INIT_THREADS; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        bad |= ok == NULL;
    }
    /* Later calls change nothing, even if the environment does. */
    setenv("GOGC", "50", 1);
    options_init();
    return bad || opts.gogc != 100 ? 3 : 0;
}

static void init_parses_environ_once_across_threads(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *const argv[] = { "test_options", (char *)init_mode, NULL };
        char *const envp[] = { "GOGC=abc", "GODEBUG=gctrace=1", "GOMEMLIMIT=1GiB", NULL };
        dup2(p[1], 2);
        execve("/proc/self/exe", argv, envp);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < sizeof reports && (r = read(p[0], reports + n, sizeof reports - 1 - n)) > 0)
        n += (size_t)r;
    reports[n] = '\0';
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(count(reports, "goheap: GOGC=\"abc\" is not a number or \"off\"; using 100\n"), 1);
    assert_int_equal(count(reports, "GOGC"), 1);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], init_mode) == 0)
        return init_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_when_nothing_is_set),
        cmocka_unit_test(gogc_values),
        cmocka_unit_test(gogc_report_text_is_exact),
        cmocka_unit_test(first_of_duplicate_variables_counts),
        cmocka_unit_test(parse_bytes_follows_go_syntax),
        cmocka_unit_test(gomemlimit_values_and_report),
        cmocka_unit_test(godebug_sets_every_key),
        cmocka_unit_test(godebug_ignores_foreign_items),
        cmocka_unit_test(godebug_malformed_values_are_reported),
        cmocka_unit_test(godebug_later_items_override_earlier),
        cmocka_unit_test(gctrace_variable_and_godebug_precedence),
        cmocka_unit_test(each_parse_reports_each_knob_once),
        cmocka_unit_test(long_values_are_cut_in_reports),
        cmocka_unit_test(string_knobs_are_bounded),
        cmocka_unit_test(heapprofile_interval_values),
        cmocka_unit_test(init_parses_environ_once_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
