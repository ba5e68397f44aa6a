/* signals.c: a program that installs its own handlers for the signal
 * goheap stops threads with (SIGPWR) and for SIGXCPU (coreutils sort
 * catches it; goheap once used it too), with sigaction and with signal,
 * then collects with a second thread running. On goheap the SIGPWR
 * handler is kept aside: each call reports the previous setting the
 * program made, and no collection kills the process. Off goheap the same
 * calls install them, which the checks also accept. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "check.h"

static void on_xcpu(int sig)
{
    (void)sig;
}

static void on_pwr(int sig)
{
    (void)sig;
}

static volatile int stop;

static void *churn(void *arg)
{
    (void)arg;
    while (!stop) {
        char *p = malloc(64);
        memset(p, 2, 64);
        free(p);
    }
    return NULL;
}

int main(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_xcpu;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGXCPU, &sa, NULL) == 0);
    CHECK(sigaction(SIGXCPU, NULL, &old) == 0 && old.sa_handler == on_xcpu);
    CHECK(signal(SIGPWR, on_pwr) != SIG_ERR);
    CHECK(signal(SIGPWR, on_pwr) == on_pwr);
    CHECK(signal(SIGUSR1, SIG_IGN) != SIG_ERR);
    CHECK(signal(SIGUSR1, SIG_DFL) == SIG_IGN);

    pthread_t t;
    CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
    uint32_t gcs = num_gc();
    for (int i = 0; i < 3 && on_goheap(); i++)
        gh_gc();
    for (int i = 0; i < 200000; i++)
        sink(malloc(100));
    stop = 1;
    pthread_join(t, NULL);
    CHECK(!on_goheap() || num_gc() >= gcs + 3);
    CHECK(sigaction(SIGXCPU, NULL, &old) == 0 && old.sa_handler == on_xcpu);
    return check_exit("signals");
}
