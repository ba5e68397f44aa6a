/* test_bad_input.c: what goheap does with pointers it did not hand out, or
 * no longer owns: foreign pointers, interior pointers and double frees
 * given to gh_free, gh_realloc and gh_usable_size.
 *
 * Each case runs in a child: this binary re-executed with the case's name,
 * so that the child reads its own GODEBUG. By default the child must die
 * of SIGABRT after a "goheap: <fn>(<address>): ..." line naming the address
 * and a "goheap: fatal error: invalid ..." line; with GODEBUG=invalidptr=0
 * it must print nothing, carry on and exit 0. The child writes the address
 * it is about to misuse on its standard output, so the parent can look for
 * it in the report. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

#define CHILD_ARG "--child"

/* Exit codes of a child whose bad call was ignored (invalidptr=0). */
enum { CHILD_OK = 0, CHILD_BAD_SETUP = 2, CHILD_HEAP_BROKEN = 3, CHILD_WRONG_RESULT = 4 };

/* announce tells the parent which address the child is about to misuse. */
static void announce(const void *p)
{
    printf("addr %p\n", p);
    fflush(stdout);
}

/* heap_still_works allocates and frees a few objects of size n and checks
 * that no two live ones share an address. */
static int heap_still_works(size_t n)
{
    void *a = gh_malloc(n), *b = gh_malloc(n), *c = gh_malloc(n);
    int ok = a && b && c && a != b && b != c && a != c;
    gh_free(a);
    gh_free(b);
    gh_free(c);
    return ok;
}

/* ---- the cases, run in the child ----------------------------------------- */

static int case_free_stack(void)
{
    char buf[64] __attribute__((aligned(16)));
    memset(buf, 1, sizeof(buf));
    announce(buf);
    gh_free(buf);
    return heap_still_works(64) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_free_libc(void)
{
    void *p = malloc(32);
    if (p == NULL)
        return CHILD_BAD_SETUP;
    announce(p);
    gh_free(p);
    free(p);
    return heap_still_works(32) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_free_interior_small(void)
{
    char *p = gh_malloc(64);
    if (p == NULL)
        return CHILD_BAD_SETUP;
    announce(p + 16);
    gh_free(p + 16);
    if (gh_usable_size(p) != 64) /* still live */
        return CHILD_WRONG_RESULT;
    gh_free(p);
    return heap_still_works(64) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_free_interior_large(void)
{
    char *p = gh_malloc(100000);
    if (p == NULL)
        return CHILD_BAD_SETUP;
    announce(p + 2 * 8192 + 8);
    gh_free(p + 2 * 8192 + 8);
    if (gh_usable_size(p) != 100000)
        return CHILD_WRONG_RESULT;
    gh_free(p);
    return heap_still_works(100000) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_double_free_same_thread(void)
{
    void *keep = gh_malloc(64), *p = gh_malloc(64);
    if (keep == NULL || p == NULL)
        return CHILD_BAD_SETUP;
    gh_free(p);
    announce(p);
    gh_free(p);
    int ok = heap_still_works(64);
    gh_free(keep);
    return ok ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static void *free_in_thread(void *p)
{
    gh_free(p);
    return NULL;
}

static int free_from_thread(void *p)
{
    pthread_t t;
    if (pthread_create(&t, NULL, free_in_thread, p) != 0)
        return -1;
    return pthread_join(t, NULL);
}

/* The owner frees, then another thread frees again. */
static int case_double_free_other_thread(void)
{
    void *keep = gh_malloc(64), *p = gh_malloc(64);
    if (keep == NULL || p == NULL)
        return CHILD_BAD_SETUP;
    gh_free(p);
    announce(p);
    if (free_from_thread(p) != 0)
        return CHILD_BAD_SETUP;
    int ok = heap_still_works(64);
    gh_free(keep);
    return ok ? CHILD_OK : CHILD_HEAP_BROKEN;
}

/* Another thread frees twice an object the main thread's cache owns. */
static void *free_twice_in_thread(void *p)
{
    gh_free(p);
    gh_free(p);
    return NULL;
}

static int case_double_remote_free(void)
{
    void *keep = gh_malloc(64), *p = gh_malloc(64);
    if (keep == NULL || p == NULL)
        return CHILD_BAD_SETUP;
    announce(p);
    pthread_t t;
    if (pthread_create(&t, NULL, free_twice_in_thread, p) != 0 || pthread_join(t, NULL) != 0)
        return CHILD_BAD_SETUP;
    int ok = heap_still_works(64);
    gh_free(keep);
    return ok ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_double_free_large(void)
{
    void *p = gh_malloc(200000);
    if (p == NULL)
        return CHILD_BAD_SETUP;
    gh_free(p);
    announce(p);
    gh_free(p);
    return heap_still_works(200000) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_realloc_interior(void)
{
    char *p = gh_malloc(64);
    if (p == NULL)
        return CHILD_BAD_SETUP;
    memset(p, 7, 64);
    announce(p + 8);
    void *q = gh_realloc(p + 8, 100);
    if (q != NULL || gh_usable_size(p) != 64 || p[63] != 7)
        return CHILD_WRONG_RESULT;
    gh_free(p);
    return heap_still_works(64) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_usable_size_freed(void)
{
    void *keep = gh_malloc(64), *p = gh_malloc(64);
    if (keep == NULL || p == NULL)
        return CHILD_BAD_SETUP;
    gh_free(p);
    announce(p);
    if (gh_usable_size(p) != 0)
        return CHILD_WRONG_RESULT;
    gh_free(keep);
    return heap_still_works(64) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

static int case_free_null(void)
{
    gh_free(NULL);
    if (gh_usable_size(NULL) != 0)
        return CHILD_WRONG_RESULT;
    void *p = gh_realloc(NULL, 10);
    if (p == NULL)
        return CHILD_WRONG_RESULT;
    gh_free(p);
    gh_free(NULL);
    return heap_still_works(64) ? CHILD_OK : CHILD_HEAP_BROKEN;
}

struct child_case {
    const char *name;
    int (*run)(void);
};

static const struct child_case cases[] = {
    { "free_stack", case_free_stack },
    { "free_libc", case_free_libc },
    { "free_interior_small", case_free_interior_small },
    { "free_interior_large", case_free_interior_large },
    { "double_free_same_thread", case_double_free_same_thread },
    { "double_free_other_thread", case_double_free_other_thread },
    { "double_remote_free", case_double_remote_free },
    { "double_free_large", case_double_free_large },
    { "realloc_interior", case_realloc_interior },
    { "usable_size_freed", case_usable_size_freed },
    { "free_null", case_free_null },
};

static int run_case(const char *name)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (strcmp(cases[i].name, name) == 0)
            return cases[i].run();
    return 100;
}

/* ---- the parent ---------------------------------------------------------- */

struct child_result {
    int status;
    char out[1024];
    char err[8192];
};

/* child_env is the parent's environment without GODEBUG, plus godebug
 * (a whole "GODEBUG=..." entry) if not NULL. */
static char **child_env(const char *godebug)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 2, sizeof(char *));
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "GODEBUG=", 8) != 0)
            env[k++] = environ[i];
    if (godebug)
        env[k++] = (char *)godebug;
    env[k] = NULL;
    return env;
}

/* drain reads both pipes to their end into r. */
static void drain(int out_fd, int err_fd, struct child_result *r)
{
    struct pollfd fds[2] = { { .fd = out_fd, .events = POLLIN }, { .fd = err_fd, .events = POLLIN } };
    char *buf[2] = { r->out, r->err };
    size_t cap[2] = { sizeof(r->out) - 1, sizeof(r->err) - 1 }, len[2] = { 0, 0 };
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            assert_int_equal(errno, EINTR);
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char chunk[512];
            ssize_t got = read(fds[i].fd, chunk, sizeof(chunk));
            if (got <= 0) {
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            size_t take = (size_t)got < cap[i] - len[i] ? (size_t)got : cap[i] - len[i];
            memcpy(buf[i] + len[i], chunk, take);
            len[i] += take;
        }
    }
    r->out[len[0]] = '\0';
    r->err[len[1]] = '\0';
}

/* run_child runs case name in a re-executed child with GODEBUG set to
 * godebug (or unset) and collects its output and status. */
static void run_child(const char *name, const char *godebug, struct child_result *r)
{
    int out[2], err[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    char **env = child_env(godebug);
    char *argv[] = { "test_bad_input", CHILD_ARG, (char *)name, NULL };
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(err[0]);
        close(out[1]);
        close(err[1]);
        execve("/proc/self/exe", argv, env);
        _exit(127);
    }
    free(env);
    close(out[1]);
    close(err[1]);
    drain(out[0], err[0], r);
    close(out[0]);
    close(err[0]);
    assert_int_equal(waitpid(pid, &r->status, 0), pid);
}

/* expect_abort runs case name with the default GODEBUG and checks that it
 * died of SIGABRT after reporting fn on the address it announced, with
 * what in the detail line. */
static void expect_abort(const char *name, const char *fn, const char *what)
{
    struct child_result r;
    run_child(name, NULL, &r);
    if (!WIFSIGNALED(r.status) || WTERMSIG(r.status) != SIGABRT)
        fail_msg("case %s: want death by SIGABRT, got status %#x; stderr:\n%s", name, r.status, r.err);
    void *addr = NULL;
    if (sscanf(r.out, "addr %p", &addr) != 1)
        fail_msg("case %s: the child announced no address (stdout: %s)", name, r.out);
    char want[128];
    snprintf(want, sizeof(want), "goheap: %s(%p): ", fn, addr);
    const char *line = strstr(r.err, want);
    if (line == NULL)
        fail_msg("case %s: no \"%s\" line in stderr:\n%s", name, want, r.err);
    char detail[512];
    size_t len = strcspn(line, "\n");
    snprintf(detail, sizeof(detail), "%.*s", (int)len, line);
    if (strstr(detail, what) == NULL)
        fail_msg("case %s: the report does not say \"%s\":\n%s", name, what, r.err);
    snprintf(want, sizeof(want), "goheap: fatal error: invalid %s", fn + 3);
    if (strstr(r.err, want) == NULL)
        fail_msg("case %s: no \"%s\" line in stderr:\n%s", name, want, r.err);
}

/* expect_ignored runs case name with GODEBUG=invalidptr=0 and checks that
 * it printed nothing and exited 0. */
static void expect_ignored(const char *name)
{
    struct child_result r;
    run_child(name, "GODEBUG=invalidptr=0", &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("case %s with invalidptr=0: want exit 0, got status %#x; stderr:\n%s", name, r.status, r.err);
    if (r.err[0] != '\0')
        fail_msg("case %s with invalidptr=0: want no output, got:\n%s", name, r.err);
}

#define NOT_OURS "not allocated by goheap"
#define INTERIOR "interior pointer"
#define FREED "already freed"

static void free_of_stack_address_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("free_stack", "gh_free", NOT_OURS);
    expect_ignored("free_stack");
}

static void free_of_libc_pointer_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("free_libc", "gh_free", NOT_OURS);
    expect_ignored("free_libc");
}

static void free_of_interior_pointer_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("free_interior_small", "gh_free", INTERIOR);
    expect_ignored("free_interior_small");
}

static void free_of_large_interior_pointer_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("free_interior_large", "gh_free", INTERIOR);
    expect_ignored("free_interior_large");
}

static void double_free_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("double_free_same_thread", "gh_free", FREED);
    expect_ignored("double_free_same_thread");
}

static void double_free_from_another_thread_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("double_free_other_thread", "gh_free", FREED);
    expect_ignored("double_free_other_thread");
}

static void double_remote_free_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("double_remote_free", "gh_free", FREED);
    expect_ignored("double_remote_free");
}

static void double_free_of_large_object_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("double_free_large", "gh_free", FREED);
    expect_ignored("double_free_large");
}

static void realloc_of_interior_pointer_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("realloc_interior", "gh_realloc", INTERIOR);
    expect_ignored("realloc_interior");
}

static void usable_size_of_freed_pointer_aborts_unless_invalidptr_0(void **state)
{
    (void)state;
    expect_abort("usable_size_freed", "gh_usable_size", FREED);
    expect_ignored("usable_size_freed");
}

static void free_of_null_does_nothing(void **state)
{
    (void)state;
    struct child_result r;
    run_child("free_null", NULL, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("want exit 0, got status %#x; stderr:\n%s", r.status, r.err);
    assert_string_equal(r.err, "");
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], CHILD_ARG) == 0)
        return run_case(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(free_of_stack_address_aborts_unless_invalidptr_0),
        cmocka_unit_test(free_of_libc_pointer_aborts_unless_invalidptr_0),
        cmocka_unit_test(free_of_interior_pointer_aborts_unless_invalidptr_0),
        cmocka_unit_test(free_of_large_interior_pointer_aborts_unless_invalidptr_0),
        cmocka_unit_test(double_free_aborts_unless_invalidptr_0),
        cmocka_unit_test(double_free_from_another_thread_aborts_unless_invalidptr_0),
        cmocka_unit_test(double_remote_free_aborts_unless_invalidptr_0),
        cmocka_unit_test(double_free_of_large_object_aborts_unless_invalidptr_0),
        cmocka_unit_test(realloc_of_interior_pointer_aborts_unless_invalidptr_0),
        cmocka_unit_test(usable_size_of_freed_pointer_aborts_unless_invalidptr_0),
        cmocka_unit_test(free_of_null_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
