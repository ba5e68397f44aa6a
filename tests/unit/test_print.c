/* test_print.c: print_format against the C library's snprintf, and the
 * fd 2 output paths (print_err, print_fatal, print_internal_error). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "print.h"

/* Cutting output short is what these tests are about. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

/* ---- print_format against snprintf ---------------------------------- */

static int mismatches;

/* check_case compares one result pair and counts (and describes) any
 * difference, so that one run lists every failing format. */
static void check_case(int line, const char *what, size_t n, int want_r, const char *want, int got_r,
                       const char *got, size_t cmp)
{
    if (want_r != got_r || memcmp(want, got, cmp) != 0) {
        mismatches++;
        fprintf(stderr, "line %d, n=%zu: %s\n  snprintf -> %d \"%.*s\"\n  print    -> %d \"%.*s\"\n",
                line, n, what, want_r, (int)cmp, want, got_r, (int)cmp, got);
    }
}

/* CMP formats its arguments with both functions, into a large buffer and
 * into every small size from 0 to 7 (checking that nothing is written
 * past n: the buffers start out filled with 'Z'). */
#define CMP(...)                                                                     \
    do {                                                                             \
        char want[512], got[512];                                                    \
        int wr = snprintf(want, sizeof want, __VA_ARGS__);                           \
        int gr = print_format(got, sizeof got, __VA_ARGS__);                         \
        check_case(__LINE__, #__VA_ARGS__, sizeof want, wr, want, gr, got,           \
                   strlen(want) + 1);                                                \
        for (size_t n = 0; n < 8; n++) {                                             \
            char w8[8], g8[8];                                                       \
            memset(w8, 'Z', sizeof w8);                                              \
            memset(g8, 'Z', sizeof g8);                                              \
            wr = snprintf(w8, n, __VA_ARGS__);                                       \
            gr = print_format(g8, n, __VA_ARGS__);                                   \
            check_case(__LINE__, #__VA_ARGS__, n, wr, w8, gr, g8, sizeof w8);        \
        }                                                                            \
    } while (0)

static void format_integers_match_snprintf(void **state)
{
    (void)state;
    mismatches = 0;
    CMP("%d", 0);
    CMP("%d", 42);
    CMP("%d", -42);
    CMP("%d", INT_MIN);
    CMP("%d", INT_MAX);
    CMP("%i", -7);
    CMP("%5d", 42);
    CMP("%-5d|", 42);
    CMP("%05d", -42);
    CMP("%05d", 42);
    CMP("%+d", 5);
    CMP("%+d", -5);
    CMP("%+d", 0);
    CMP("% d", 5);
    CMP("% d", -5);
    CMP("% 5d", 5);
    CMP("%+05d", 5);
    CMP("%.3d", 7);
    CMP("%.3d", -7);
    CMP("%.0d", 0);
    CMP("%.d", 0);
    CMP("%5.0d|", 0);
    /* The compiler warns that '0' is ignored here; that is the point. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    CMP("%08.3d", 5);
    CMP("%+ d", 5);
    CMP("%-08d|", 5);
#pragma GCC diagnostic pop
    CMP("%-8.3d|", -5);
    CMP("%+.0d", 0);
    CMP("%ld", LONG_MIN);
    CMP("%ld", LONG_MAX);
    CMP("%lld", LLONG_MIN);
    CMP("%lld", LLONG_MAX);
    CMP("%lli", (long long)-1);
    CMP("%jd", INTMAX_MIN);
    CMP("%jd", (intmax_t)INT64_MIN);
    CMP("%25lld|", (long long)INT64_MIN);
    CMP("%-25lld|", (long long)INT64_MIN);
    CMP("%025lld", (long long)INT64_MIN);
    CMP("%hd", (short)-5);
    CMP("%hd", 70000);
    CMP("%hhd", 300);
    CMP("%hhd", -129);
    CMP("%zd", (ssize_t)-3);
    CMP("%td", (ptrdiff_t)-9);
    CMP("%u", 0u);
    CMP("%u", UINT_MAX);
    CMP("%hu", 70000);
    CMP("%hhu", 300);
    CMP("%lu", ULONG_MAX);
    CMP("%llu", ULLONG_MAX);
    CMP("%zu", SIZE_MAX);
    CMP("%ju", UINTMAX_MAX);
    CMP("%tx", (ptrdiff_t)-1);
    CMP("%10u|", 123u);
    CMP("%-10u|", 123u);
    CMP("%010u", 123u);
    CMP("%.6u", 123u);
    CMP("%x", 0xdeadbeefu);
    CMP("%X", 0xdeadbeefu);
    CMP("%x", 0u);
    CMP("%#x", 0u);
    CMP("%#x", 255u);
    CMP("%#X", 255u);
    CMP("%#10x|", 255u);
    CMP("%#010x", 255u);
    CMP("%-#10x|", 255u);
    CMP("%.8x", 0x1fu);
    CMP("%#.8x", 0x1fu);
    CMP("%.0x", 0u);
    CMP("%#.0x", 0u);
    CMP("%5.0x|", 0u);
    CMP("%llx", ULLONG_MAX);
    CMP("%#llX", 0xabcdef0123ULL);
    CMP("%lx", (unsigned long)0x7f3a10c030);
    CMP("%hhx", 0x1ffu);
    CMP("%o", 8u);
    CMP("%o", 0u);
    CMP("%#o", 0u);
    CMP("%#o", 8u);
    CMP("%#.0o", 0u);
    CMP("%.0o", 0u);
    CMP("%#.5o", 8u);
    CMP("%#5o|", 8u);
    CMP("%llo", ULLONG_MAX);
    CMP("%*d", 6, 42);
    CMP("%*d|", -6, 42);
    CMP("%-*d|", 6, 42);
    CMP("%.*d", -1, 42);
    CMP("%.*d", 5, 42);
    CMP("%*.*d|", 8, 4, -42);
    CMP("%300d", 1);
    CMP("%-300d|", 1);
    CMP("%.300d", 1);
    assert_int_equal(mismatches, 0);
}

static void format_text_and_pointers_match_snprintf(void **state)
{
    (void)state;
    const char *volatile null_str = NULL;
    void *volatile null_ptr = NULL;
    void *ptr = (void *)(uintptr_t)0x7f3a10c030;
    mismatches = 0;
    CMP("plain text");
    CMP("%%");
    CMP("a%%b%%");
    CMP("100%%");
    CMP("%c", 'a');
    CMP("%c", 0xe9);
    CMP("%5c|", 'b');
    CMP("%-5c|", 'c');
    CMP("%c%c%c", 'x', 'y', 'z');
    CMP("%s", "hello");
    CMP("%s", "");
    CMP("%10s|", "hello");
    CMP("%-10s|", "hello");
    CMP("%.3s", "hello");
    CMP("%.10s", "hello");
    CMP("%10.3s|", "hello");
    CMP("%-10.3s|", "hello");
    CMP("%.0s|", "hello");
    CMP("%.*s", 2, "abcdef");
    CMP("%.*s", -1, "abcdef");
    CMP("%*s|", -8, "ab");
    CMP("%*.*s|", 7, 3, "abcdef");
    CMP("%s", null_str);
    CMP("%10s|", null_str);
    CMP("%p", null_ptr);
    CMP("%10p|", null_ptr);
    CMP("%-10p|", null_ptr);
    CMP("%p", ptr);
    CMP("%20p|", ptr);
    CMP("%-20p|", ptr);
    CMP("%p", (void *)(uintptr_t)1);
    CMP("%p", (void *)UINTPTR_MAX);
    CMP("gc %u @%s %d%%: %s ms clock, %llu->%llu->%llu MB, %d P%s", 21u, "8.389s", 0,
        "0.069+4.0+0.16", 87ULL, 88ULL, 45ULL, 24, " (forced)");
    CMP("goheap: gh_free(%p): interior pointer (object %p, size %zu)", ptr, ptr, (size_t)64);
    CMP("%s=%d %s=%#x %s=%lld", "a", -1, "b", 16u, "c", (long long)INT64_MIN);
    assert_int_equal(mismatches, 0);
}

/* A format that the compiler does not check, for unsupported input. */
static int format_unchecked(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = print_vformat(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

static void format_unsupported_conversions_are_copied(void **state)
{
    (void)state;
    char buf[64];
    /* No argument is consumed by the unsupported one: 7 goes to %d. */
    assert_int_equal(format_unchecked(buf, sizeof buf, "a%5.2fb%d", 7), 8);
    assert_string_equal(buf, "a%5.2fb7");
    assert_int_equal(format_unchecked(buf, sizeof buf, "tail%"), 5);
    assert_string_equal(buf, "tail%");
    assert_int_equal(format_unchecked(buf, sizeof buf, "x%-08l"), 6);
    assert_string_equal(buf, "x%-08l");
}

static void format_truncates_and_returns_full_length(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(print_format(buf, 5, "abcdefgh"), 8);
    assert_string_equal(buf, "abcd");
    assert_int_equal(buf[5], 'Z');
    assert_int_equal(print_format(NULL, 0, "%d-%s", -12345, "xyz"), 10);
    memset(buf, 'Z', sizeof buf);
    assert_int_equal(print_format(buf, 1, "%s", "abc"), 3);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'Z');
}

/* ---- Output to fd 2 ------------------------------------------------- */

/* capture_begin points fd 2 at a new pipe; capture_end restores it and
 * returns what was written (at most cap-1 bytes, NUL-terminated). */
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

static size_t capture_end(struct capture *c, char *out, size_t cap)
{
    assert_int_equal(dup2(c->saved, 2), 2);
    close(c->saved);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(c->rd, out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(c->rd);
    return n;
}

static void err_writes_one_formatted_line(void **state)
{
    (void)state;
    struct capture c;
    char out[256];
    capture_begin(&c);
    print_err("goheap: %s=\"%s\" is not a number; using %d\n", "GOGC", "abc", 100);
    capture_end(&c, out, sizeof out);
    assert_string_equal(out, "goheap: GOGC=\"abc\" is not a number; using 100\n");
}

static void err_truncates_at_4k_and_ends_the_line(void **state)
{
    (void)state;
    static char big[5000], out[8192];
    memset(big, 'a', sizeof big - 1);
    struct capture c;
    capture_begin(&c);
    print_err("%s\n", big);
    print_err("next\n");
    size_t n = capture_end(&c, out, sizeof out);
    assert_int_equal(n, 4095 + 5);
    for (size_t i = 0; i < 4094; i++)
        assert_int_equal(out[i], 'a');
    assert_int_equal(out[4094], '\n');
    assert_string_equal(out + 4095, "next\n");
}

enum { WRITERS = 4, LINES = 400, PAD = 120 };

static void *writer_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    char pad[PAD + 1];
    memset(pad, 'a' + id, PAD);
    pad[PAD] = '\0';
    for (int i = 0; i < LINES; i++)
        print_err("T%d L%04d %s\n", id, i, pad);
    return NULL;
}

/* The pipe holds far less than all the lines, so a reader drains it while
 * the writers run, until the last write end closes. */
static char lines_out[WRITERS * LINES * (PAD + 16)];
static size_t lines_len;

static void *reader_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    ssize_t r;
    while ((r = read(fd, lines_out + lines_len, sizeof lines_out - 1 - lines_len)) > 0)
        lines_len += (size_t)r;
    lines_out[lines_len] = '\0';
    return NULL;
}

static void err_lines_from_threads_never_interleave(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    int saved = dup(2);
    assert_int_equal(dup2(p[1], 2), 2);
    close(p[1]);
    pthread_t reader, t[WRITERS];
    assert_int_equal(pthread_create(&reader, NULL, reader_main, (void *)(intptr_t)p[0]), 0);
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer_main, (void *)(intptr_t)i), 0);
    for (int i = 0; i < WRITERS; i++)
        pthread_join(t[i], NULL);
    dup2(saved, 2);
    close(saved);
    pthread_join(reader, NULL);
    close(p[0]);

    assert_int_equal(lines_len, (size_t)WRITERS * LINES * (PAD + 10));
    int next[WRITERS] = { 0 };
    for (char *line = lines_out; *line; ) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_int_equal(nl - line, PAD + 9);
        int id = line[1] - '0';
        assert_true(line[0] == 'T' && id >= 0 && id < WRITERS);
        assert_int_equal(atoi(line + 4), next[id]);
        next[id]++;
        for (int k = 0; k < PAD; k++)
            assert_int_equal(line[9 + k], 'a' + id);
        line = nl + 1;
    }
    for (int i = 0; i < WRITERS; i++)
        assert_int_equal(next[i], LINES);
}

/* fill_pipe makes the pipe p full, so that the next write to p[1] blocks
 * (p[0] is left non-blocking for draining). Returns 0 or -1. */
static int fill_pipe(const int p[2])
{
    char fill[4096];
    memset(fill, 'f', sizeof fill);
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(p[1], F_SETFL, O_NONBLOCK) != 0)
        return -1;
    while (write(p[1], fill, sizeof fill) > 0)
        ;
    while (write(p[1], fill, 1) > 0)
        ;
    return fcntl(p[1], F_SETFL, 0);
}

/* wait_in_write waits until thread tid sleeps in write(2, ...): print_err
 * only writes with the print lock held, so tid then holds it. Returns 0,
 * or -1 if the kernel does not show what a thread is doing. */
static int wait_in_write(pid_t tid)
{
    char path[64], want[32], got[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    snprintf(want, sizeof want, "%d 0x2 ", (int)SYS_write);
    for (;;) {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return -1;
        ssize_t r = read(fd, got, sizeof got - 1);
        close(fd);
        if (r > 0) {
            got[r] = '\0';
            if (strncmp(got, want, strlen(want)) == 0)
                return 0;
        }
        sched_yield();
    }
}

/* run_child runs fn in a child process and requires it to exit with 0. A
 * scenario that deadlocks is killed by the child's alarm and fails here
 * instead of hanging the suite. */
static void run_child(int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        _exit(fn());
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Re-entry: the child's main thread blocks in print_err's write (the pipe
 * is full) while holding the print lock; a helper thread then signals it,
 * and the handler drains the pipe and prints too. Without the re-entry
 * rule the handler would spin forever. */
static int reentry_rd;
static char reentry_buf[1 << 17];
static size_t reentry_len;
static volatile sig_atomic_t reentry_handled;
static pid_t reentry_tid;

static void reentry_drain(void)
{
    ssize_t r;
    while ((r = read(reentry_rd, reentry_buf + reentry_len, sizeof reentry_buf - reentry_len)) > 0)
        reentry_len += (size_t)r;
}

static void reentry_handler(int sig)
{
    (void)sig;
    reentry_drain();
    print_err("inner %d\n", 1);
    reentry_handled = 1;
}

static void *reentry_signaller(void *arg)
{
    if (wait_in_write(reentry_tid) == 0)
        pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

static int reentry_child(void)
{
    int p[2];
    if (pipe(p) != 0 || fill_pipe(p) != 0)
        return 10;
    reentry_rd = p[0];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reentry_handler;
    sigaction(SIGUSR1, &sa, NULL);
    dup2(p[1], 2);
    reentry_tid = gettid();
    pthread_t self = pthread_self(), helper;
    if (pthread_create(&helper, NULL, reentry_signaller, &self) != 0)
        return 11;
    print_err("outer %d\n", 2);
    pthread_join(helper, NULL);
    reentry_drain();
    if (!reentry_handled)
        return 12;
    size_t fills = 0;
    while (fills < reentry_len && reentry_buf[fills] == 'f')
        fills++;
    reentry_buf[reentry_len] = '\0';
    return strcmp(reentry_buf + fills, "inner 1\nouter 2\n") == 0 ? 0 : 13;
}

static void err_reentry_from_signal_handler_does_not_deadlock(void **state)
{
    (void)state;
    run_child(reentry_child);
}

/* Fork: a thread blocks in print_err's write holding the print lock, and
 * another thread forks. The child has no such thread, so its first print
 * must take the lock over instead of waiting forever. */
static volatile pid_t blocked_tid;

static void *blocked_printer(void *arg)
{
    (void)arg;
    blocked_tid = gettid();
    print_err("blocked %d\n", 3);
    return NULL;
}

static int fork_takeover_child(void)
{
    int p[2];
    if (pipe(p) != 0 || fill_pipe(p) != 0)
        return 20;
    dup2(p[1], 2);
    pthread_t t;
    if (pthread_create(&t, NULL, blocked_printer, NULL) != 0)
        return 21;
    while (blocked_tid == 0)
        sched_yield();
    if (wait_in_write(blocked_tid) != 0)
        return 22;
    int q[2];
    if (pipe(q) != 0)
        return 23;
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);   /* alarms do not survive fork */
        dup2(q[1], 2);
        print_err("child %d\n", 4);
        _exit(0);
    }
    close(q[1]);
    char got[64];
    ssize_t n = read(q[0], got, sizeof got - 1);
    int status;
    waitpid(pid, &status, 0);
    /* Let the blocked thread finish. */
    char sink[4096];
    while (read(p[0], sink, sizeof sink) > 0 || pthread_tryjoin_np(t, NULL) != 0)
        ;
    if (n != 8 || memcmp(got, "child 4\n", 8) != 0)
        return 24;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 25;
}

static void err_after_fork_takes_over_a_lock_held_by_a_lost_thread(void **state)
{
    (void)state;
    run_child(fork_takeover_child);
}

/* run_dying forks a child that runs fn with fd 2 on a pipe, and returns
 * what it wrote; the child must die of SIGABRT. */
static void run_dying(void (*fn)(void), char *out, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGABRT, SIG_DFL);
        dup2(p[1], 2);
        fn();
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(p[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void die_fatal(void) { print_fatal("span %d broken (%s)", 42, "sweepgen"); }

static void fatal_prints_and_aborts(void **state)
{
    (void)state;
    char out[256];
    run_dying(die_fatal, out, sizeof out);
    assert_string_equal(out, "goheap: fatal error: span 42 broken (sweepgen)\n");
}

static void die_fatal_long(void)
{
    static char big[6000];
    memset(big, 'b', sizeof big - 1);
    print_fatal("%s", big);
}

static void fatal_long_message_keeps_its_newline(void **state)
{
    (void)state;
    static char out[8192];
    run_dying(die_fatal_long, out, sizeof out);
    assert_int_equal(strlen(out), 4095);
    assert_memory_equal(out, "goheap: fatal error: bbb", 24);
    assert_int_equal(out[4093], 'b');
    assert_int_equal(out[4094], '\n');
}

/* Both on one line, so that die_check_line is the line gh_check reports. */
static const int die_check_line = __LINE__; static void die_check(void) { volatile int two = 2; gh_check(two == 3); }

static void internal_error_prints_file_line_and_expression(void **state)
{
    (void)state;
    char out[512], want[512];
    run_dying(die_check, out, sizeof out);
    snprintf(want, sizeof want, "goheap: internal error: %s:%d: two == 3\n", __FILE__, die_check_line);
    assert_string_equal(out, want);
}

static void write_reports_errors(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(print_write(p[1], "hello", 5), 0);
    char buf[8] = { 0 };
    assert_int_equal(read(p[0], buf, sizeof buf), 5);
    assert_string_equal(buf, "hello");
    close(p[0]);
    close(p[1]);
    errno = 0;
    assert_int_equal(print_write(p[1], "x", 1), -1);
    assert_int_equal(errno, EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_integers_match_snprintf),
        cmocka_unit_test(format_text_and_pointers_match_snprintf),
        cmocka_unit_test(format_unsupported_conversions_are_copied),
        cmocka_unit_test(format_truncates_and_returns_full_length),
        cmocka_unit_test(err_writes_one_formatted_line),
        cmocka_unit_test(err_truncates_at_4k_and_ends_the_line),
        cmocka_unit_test(err_lines_from_threads_never_interleave),
        cmocka_unit_test(err_reentry_from_signal_handler_does_not_deadlock),
        cmocka_unit_test(err_after_fork_takes_over_a_lock_held_by_a_lost_thread),
        cmocka_unit_test(fatal_prints_and_aborts),
        cmocka_unit_test(fatal_long_message_keeps_its_newline),
        cmocka_unit_test(internal_error_prints_file_line_and_expression),
        cmocka_unit_test(write_reports_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
