/* heapshare.c: a program whose heap profile has a known answer, for
 * tests/pprof/run.sh, which reads its profiles with `go tool pprof`.
 *
 * Live after the collection: alloc_big_share holds 80% of the bytes and
 * alloc_small_share 20%, with equal object counts (sizes are exact size
 * classes, so nothing is rounded). alloc_temp_garbage allocates objects
 * that are dropped before the collection: they count in alloc_space, not
 * in inuse_space. The true figures are printed to stdout as key=value for
 * the driver.
 *
 * usage: heapshare DIR    writes DIR/heap.pb.gz (proto) and DIR/heap.txt
 * (legacy text). With GHHEAPPROFILE set it also leaves that profile at
 * exit (and numbered ones with GHHEAPPROFILE_INTERVAL). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "goheap.h"

#define N 6400
#define BIG_SIZE 4096
#define SMALL_SIZE 1024
#define GARBAGE_N 32768
#define GARBAGE_SIZE 512
#define RATE 8192 /* ~5000 samples: shares within a point or so */

/* Global, so that the collector keeps what they point to. */
void *big_share[N];
void *small_share[N];
void *volatile garbage_sink;

static __attribute__((noipa)) void alloc_big_share(void)
{
    for (int i = 0; i < N; i++)
        big_share[i] = gh_malloc(BIG_SIZE);
    __asm__ volatile("");
}

static __attribute__((noipa)) void alloc_small_share(void)
{
    for (int i = 0; i < N; i++)
        small_share[i] = gh_malloc(SMALL_SIZE);
    __asm__ volatile("");
}

static __attribute__((noipa)) void alloc_temp_garbage(void)
{
    for (int i = 0; i < GARBAGE_N; i++)
        garbage_sink = gh_malloc(GARBAGE_SIZE);
    garbage_sink = NULL;
    __asm__ volatile("");
}

static int write_profile(const char *dir, const char *name, int debug)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || gh_write_heap_profile(fd, debug) != 0) {
        perror(path);
        return 1;
    }
    return close(fd);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    gh_set_mem_profile_rate(RATE);
    alloc_big_share();
    alloc_temp_garbage();
    alloc_small_share();
    /* The profile shows the heap as of this collection. */
    gh_gc();
    printf("inuse_big=%d\ninuse_small=%d\n", N * BIG_SIZE, N * SMALL_SIZE);
    printf("alloc_big=%d\nalloc_small=%d\nalloc_garbage=%d\n", N * BIG_SIZE, N * SMALL_SIZE,
           GARBAGE_N * GARBAGE_SIZE);
    printf("objects_big=%d\nobjects_small=%d\n", N, N);
    if (write_profile(argv[1], "heap.pb.gz", 0) || write_profile(argv[1], "heap.txt", 1))
        return 1;
    return 0;
}
