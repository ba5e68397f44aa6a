/* fork.c: fork() while other threads allocate, free and collect. The
 * child must find every allocator lock free and the heap consistent: it
 * allocates, frees, starts a thread and collects, then exits. A deadlock
 * shows as a timeout in run.sh. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 3
#define FORKS 60

static volatile int stop;

static void *churn(void *arg)
{
    uint64_t x = (uintptr_t)arg * 2654435761u + 1;
    void *keep[256] = { 0 };
    for (unsigned long i = 0; !stop; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x % 256);
        free(keep[k]);
        keep[k] = malloc(16 + (size_t)(x % 5000));
        memset(keep[k], (int)i, 16);
        if (i % 8 == 0)
            sink(malloc(200)); /* garbage: collections start by themselves */
    }
    for (int k = 0; k < 256; k++)
        free(keep[k]);
    return NULL;
}

static void *child_thread(void *arg)
{
    char *s = malloc(1000);
    memset(s, 7, 1000);
    return s == arg ? NULL : s;
}

static int child(void)
{
    char *p[1000];
    for (int i = 0; i < 1000; i++) {
        p[i] = malloc((size_t)i + 1);
        memset(p[i], i, (size_t)i + 1);
    }
    pthread_t t;
    void *r = NULL;
    if (pthread_create(&t, NULL, child_thread, NULL) != 0 || pthread_join(t, &r) != 0)
        return 2;
    free(r);
    if (on_goheap())
        gh_gc();
    for (int i = 0; i < 1000; i++) {
        for (int k = 0; k <= i; k++)
            if ((unsigned char)p[i][k] != (unsigned char)i)
                return 3;
        free(p[i]);
    }
    return 0;
}

int main(void)
{
    pthread_t w[WORKERS];
    for (long i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&w[i], NULL, churn, (void *)(i + 1)) == 0);
    for (int f = 0; f < FORKS; f++) {
        usleep(2000);
        pid_t pid = fork();
        if (pid == 0)
            _exit(child());
        int status = 0;
        CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "fork: child %d ended with status %#x\n", f, status);
            check_failures++;
        }
    }
    stop = 1;
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    return check_exit("fork");
}
