/* threads.c: threads under the malloc shim, while collections run.
 *   - producer/consumer pairs: objects made on one thread, checked and
 *     freed on another (the "larson" pattern);
 *   - thread exit: a pthread key destructor and a C++-style thread_local
 *     cleanup that free and allocate after the thread's cache is gone;
 *   - many short-lived threads.
 * Every object carries a checksum that is verified before it is freed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define PAIRS 2
#define ITEMS 200000
#define QUEUE 1024

struct item {
    uint64_t seq;
    uint32_t len;
    unsigned char data[];
};

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct item *slot[QUEUE];
    unsigned head, tail;
};

static struct queue queues[PAIRS];
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

static void fail(const char *what)
{
    pthread_mutex_lock(&fail_lock);
    fprintf(stderr, "threads: %s\n", what);
    check_failures++;
    pthread_mutex_unlock(&fail_lock);
}

static void *producer(void *arg)
{
    struct queue *q = arg;
    uint64_t x = (uint64_t)(uintptr_t)arg | 1;
    for (uint64_t i = 0; i < ITEMS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t len = (uint32_t)(x % 600);
        struct item *it = malloc(sizeof(*it) + len);
        it->seq = i;
        it->len = len;
        for (uint32_t k = 0; k < len; k++)
            it->data[k] = (unsigned char)(i + k);
        /* Some garbage of our own, never freed: the collector's work. */
        if (i % 4 == 0)
            sink(malloc(64 + len));
        pthread_mutex_lock(&q->lock);
        while (q->tail - q->head == QUEUE)
            pthread_cond_wait(&q->cond, &q->lock);
        q->slot[q->tail++ % QUEUE] = it;
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct queue *q = arg;
    for (uint64_t i = 0; i < ITEMS; i++) {
        pthread_mutex_lock(&q->lock);
        while (q->tail == q->head)
            pthread_cond_wait(&q->cond, &q->lock);
        struct item *it = q->slot[q->head++ % QUEUE];
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
        int ok = it->seq == i;
        for (uint32_t k = 0; ok && k < it->len; k++)
            ok = it->data[k] == (unsigned char)(i + k);
        if (!ok) {
            fail("an item changed between producer and consumer");
            return NULL;
        }
        free(it);
    }
    return NULL;
}

/* ---- Thread exit ---- */

static pthread_key_t key;
static volatile int destructor_ran;

static void key_destructor(void *p)
{
    /* Runs after the thread's own allocations are done, possibly after
     * goheap gave the thread's cache back. */
    char *s = p;
    if (strcmp(s, "thread data") != 0)
        fail("thread-specific data changed");
    free(s);
    char *late = malloc(100);
    memset(late, 1, 100);
    late = realloc(late, 5000);
    free(late);
    __atomic_fetch_add(&destructor_ran, 1, __ATOMIC_SEQ_CST);
}

static void *short_lived(void *arg)
{
    (void)arg;
    char *s = strdup("thread data");
    pthread_setspecific(key, s);
    for (int i = 0; i < 200; i++)
        free(malloc((size_t)i * 7 + 1));
    sink(malloc(1000)); /* leaked at exit */
    return NULL;
}

int main(void)
{
    pthread_t prod[PAIRS], cons[PAIRS];
    uint32_t gcs = num_gc();
    for (int i = 0; i < PAIRS; i++) {
        pthread_mutex_init(&queues[i].lock, NULL);
        pthread_cond_init(&queues[i].cond, NULL);
        CHECK(pthread_create(&cons[i], NULL, consumer, &queues[i]) == 0);
        CHECK(pthread_create(&prod[i], NULL, producer, &queues[i]) == 0);
    }
    CHECK(pthread_key_create(&key, key_destructor) == 0);
    int started = 0;
    for (int round = 0; round < 20; round++) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++)
            started += pthread_create(&t[i], NULL, short_lived, NULL) == 0;
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
    }
    for (int i = 0; i < PAIRS; i++) {
        pthread_join(prod[i], NULL);
        pthread_join(cons[i], NULL);
    }
    CHECK(started == 160);
    CHECK(destructor_ran == started);
    CHECK(!on_goheap() || num_gc() > gcs);
    return check_exit("threads");
}
