/* httpserve.c: a running program for tests/pprof/http.sh, which talks to
 * the /debug/pprof/ server that GHPPROF_ADDR starts inside it.
 *
 * It allocates a heap with a known shape (serve_alloc_big holds 80% of
 * the live bytes, serve_alloc_small 20%), collects so that the profile
 * shows it, prints key=value lines for the driver (the true shares and
 * the run-time addresses of the two functions, for /debug/pprof/symbol),
 * then "ready", and waits until its standard input is closed. Every
 * allocation after "ready" would be the server's: the driver checks that
 * there are none. */
#include <stdio.h>
#include <unistd.h>
#include "goheap.h"

#define N 4000
#define BIG_SIZE 4096
#define SMALL_SIZE 1024

/* Global, so that the collector keeps what they point to. */
void *big_share[N];
void *small_share[N];

__attribute__((noipa)) void serve_alloc_big(void)
{
    for (int i = 0; i < N; i++)
        big_share[i] = gh_malloc(BIG_SIZE);
    __asm__ volatile("");
}

__attribute__((noipa)) void serve_alloc_small(void)
{
    for (int i = 0; i < N; i++)
        small_share[i] = gh_malloc(SMALL_SIZE);
    __asm__ volatile("");
}

int main(void)
{
    serve_alloc_big();
    serve_alloc_small();
    gh_gc();
    printf("inuse_big=%d\ninuse_small=%d\n", N * BIG_SIZE, N * SMALL_SIZE);
    printf("addr_big=%p\naddr_small=%p\n", (void *)serve_alloc_big, (void *)serve_alloc_small);
    printf("ready=1\n");
    fflush(stdout);
    char buf[256];
    while (read(0, buf, sizeof buf) > 0)
        continue;
    return 0;
}
