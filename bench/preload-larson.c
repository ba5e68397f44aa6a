/* preload-larson.c: the "larson" pattern, objects freed by a thread other
 * than the one that made them (after Larson and Krishnan's server
 * benchmark). An ordinary malloc program: bench/preload-bench.c runs it
 * under each allocator with LD_PRELOAD.
 *
 * THREADS threads form a ring. Each one allocates OBJECTS objects of
 * 16..MAX bytes, fills them, and passes them to the next thread through a
 * bounded queue; each thread takes what its predecessor sent, checks the
 * fill, and frees it. With --leak the receiver checks and drops the object
 * instead of freeing it: only a collector gets that memory back.
 *
 * usage: preload-larson [--threads T] [--objects N] [--max BYTES] [--leak]
 * Prints a checksum of everything received (the same for every allocator). */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define QUEUE 4096
#define MAX_THREADS 16
#define BATCH 64

struct queue {
    pthread_mutex_t lock;
    unsigned char *slot[QUEUE];
    unsigned head, tail;
};

struct worker {
    pthread_t thread;
    int id;
    struct queue *in, *out;
    uint64_t sum;
};

static long objects = 2000000;
static unsigned max_size = 512;
static int leak;

/* queue_put moves up to n objects from buf into q; returns how many. */
static int queue_put(struct queue *q, unsigned char **buf, int n)
{
    int k = 0;
    pthread_mutex_lock(&q->lock);
    while (k < n && q->tail - q->head < QUEUE)
        q->slot[q->tail++ % QUEUE] = buf[k++];
    pthread_mutex_unlock(&q->lock);
    return k;
}

/* queue_take moves up to n objects out of q into buf; returns how many. */
static int queue_take(struct queue *q, unsigned char **buf, int n)
{
    int k = 0;
    pthread_mutex_lock(&q->lock);
    while (k < n && q->head != q->tail)
        buf[k++] = q->slot[q->head++ % QUEUE];
    pthread_mutex_unlock(&q->lock);
    return k;
}

static uint64_t consume(unsigned char *p)
{
    uint32_t len;
    memcpy(&len, p, sizeof len);
    uint64_t s = len;
    if (p[len - 1] != (unsigned char)len)
        s += 1u << 31; /* corrupted: the checksum will show it */
    if (!leak)
        free(p);
    return s;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct harness_rng rng;
    unsigned char *out[BATCH], *in[BATCH];
    long made = 0, got = 0;
    int pending = 0;

    harness_rng_seed(&rng, (uint64_t)w->id + 1);
    while (made < objects || pending > 0 || got < objects) {
        while (made < objects && pending < BATCH) {
            uint32_t len = 16 + (uint32_t)harness_rng_below(&rng, max_size - 15);
            unsigned char *p = malloc(len);
            memcpy(p, &len, sizeof len);
            memset(p + sizeof len, (int)made, len - sizeof len);
            p[len - 1] = (unsigned char)len;
            out[pending++] = p;
            made++;
        }
        int sent = pending ? queue_put(w->out, out, pending) : 0;
        memmove(out, out + sent, (size_t)(pending - sent) * sizeof out[0]);
        pending -= sent;
        int n = queue_take(w->in, in, BATCH);
        for (int i = 0; i < n; i++)
            w->sum += consume(in[i]);
        got += n;
        /* Nothing moved: let the neighbour run rather than spin. */
        if (sent == 0 && n == 0)
            sched_yield();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--objects") == 0 && i + 1 < argc)
            objects = atol(argv[++i]);
        else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc)
            max_size = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--leak") == 0)
            leak = 1;
        else {
            fprintf(stderr, "usage: preload-larson [--threads T] [--objects N] [--max BYTES] [--leak]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > MAX_THREADS || max_size < 16 || objects < 1) {
        fprintf(stderr, "preload-larson: threads 1..%d, max >= 16, objects >= 1\n", MAX_THREADS);
        return 2;
    }
    static struct queue q[MAX_THREADS];
    static struct worker w[MAX_THREADS];
    for (int i = 0; i < threads; i++)
        pthread_mutex_init(&q[i].lock, NULL);
    for (int i = 0; i < threads; i++) {
        w[i].id = i;
        w[i].out = &q[i];
        w[i].in = &q[(i + threads - 1) % threads];
        if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "preload-larson: pthread_create failed\n");
            return 1;
        }
    }
    uint64_t sum = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].thread, NULL);
        sum += w[i].sum;
    }
    printf("larson threads=%d objects=%ld checksum=%llu\n", threads, objects, (unsigned long long)sum);
    return 0;
}
