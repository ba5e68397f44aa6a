/* finalizer.c: finalizers with Go's semantics (Go: mfinal.go, the
 * finalizer specials of mheap.go).
 *
 * Registered finalizers sit in an open-addressing table keyed by object
 * address. Each cycle, the contents of every finalizable object are
 * scanned (not the object itself), so whatever it references stays alive;
 * an object still unmarked after marking is marked now (it survives this
 * cycle), its entry moves to the run queue, and the finalizer thread calls
 * fn(obj, arg) once. After that the object is ordinary garbage unless fn
 * stored it somewhere reachable. Queued entries are roots until they run.
 * The arg pointer is a root while its finalizer is registered.
 *
 * Locking: fin.lock (a leaf in lock.h's order) guards the table and the
 * queue; the collector holds it across the stop. The finalizer thread
 * runs user code with no lock held. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "goheap.h"
#include "finalizer.h"
#include "heap.h"
#include "mark.h"
#include "cache.h"
#include "os.h"
#include "print.h"
#include "threads.h"

struct fin_entry {
    uintptr_t obj;               /* 0 = empty, 1 = deleted */
    gh_finalizer_fn fn;
    void *arg;
};

struct fin_job {
    struct fin_job *next;
    struct fin_entry e;
};

#define FIN_DELETED ((uintptr_t)1)

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct fin_entry *table;     /* capacity cap, power of two */
    size_t cap, used, live;      /* used counts deleted slots too */
    struct fin_job *queue, *queue_tail, *free_jobs;
    size_t queued;
    int thread_started;
} fin = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static size_t fin_hash(uintptr_t p, size_t cap) { return (size_t)((p >> 3) * 0x9e3779b97f4a7c15ull) & (cap - 1); }

static struct fin_entry *fin_find(uintptr_t p)
{
    if (fin.cap == 0)
        return NULL;
    for (size_t i = fin_hash(p, fin.cap);; i = (i + 1) & (fin.cap - 1)) {
        struct fin_entry *e = &fin.table[i];
        if (e->obj == p)
            return e;
        if (e->obj == 0)
            return NULL;
    }
}

static int fin_grow(void)
{
    size_t ncap = fin.cap ? fin.cap * 2 : 1024;
    if (fin.live * 4 < fin.cap)
        ncap = fin.cap; /* mostly deleted slots: rehash in place size */
    struct fin_entry *nt = os_reserve(ncap * sizeof(*nt), os_page_size(), OS_STAT_OTHER);
    if (nt == NULL)
        return -1;
    for (size_t i = 0; i < fin.cap; i++) {
        struct fin_entry *e = &fin.table[i];
        if (e->obj > FIN_DELETED) {
            size_t j = fin_hash(e->obj, ncap);
            while (nt[j].obj)
                j = (j + 1) & (ncap - 1);
            nt[j] = *e;
        }
    }
    if (fin.table)
        os_unmap(fin.table, fin.cap * sizeof(*nt), OS_STAT_OTHER);
    fin.table = nt;
    fin.cap = ncap;
    fin.used = fin.live;
    return 0;
}

static void fin_delete(struct fin_entry *e)
{
    e->obj = FIN_DELETED;
    e->fn = NULL;
    e->arg = NULL;
    fin.live--;
}

/* fin_clear_stack overwrites the stack below the finalizer thread's frame,
 * where the finalizer just ran: stale copies of the object's address left
 * there would otherwise keep it alive conservatively while the thread
 * sleeps in pthread_cond_wait on top of them. */
static __attribute__((noinline)) void fin_clear_stack(void)
{
    volatile char buf[16384];
    memset((char *)buf, 0, sizeof(buf));
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* fin_run calls job j's finalizer. It is a function of its own so that the
 * object's address lives only in its frame and in registers it may
 * clobber, never in the finalizer thread's own frame or callee-saved
 * registers, where it would outlive the call. */
static __attribute__((noinline)) void fin_run(struct fin_job *j)
{
    j->e.fn((void *)j->e.obj, j->e.arg);
}

static void *fin_thread(void *arg)
{
    (void)arg;
    threads_register_self();
    pthread_mutex_lock(&fin.lock);
    for (;;) {
        while (fin.queue == NULL)
            pthread_cond_wait(&fin.cond, &fin.lock);
        struct fin_job *j = fin.queue;
        pthread_mutex_unlock(&fin.lock);
        fin_run(j);
        fin_clear_stack(); /* also overwrites the scratch registers */
        pthread_mutex_lock(&fin.lock);
        /* Dequeue only after the call, so the object stays a root while
         * its finalizer runs. */
        fin.queue = j->next;
        if (fin.queue == NULL)
            fin.queue_tail = NULL;
        memset(&j->e, 0, sizeof(j->e));
        j->next = fin.free_jobs;
        fin.free_jobs = j;
        fin.queued--;
    }
    return NULL;
}

GH_API int gh_set_finalizer(void *obj, gh_finalizer_fn fn, void *arg)
{
    uintptr_t base, idx;
    cache_get();
    struct span *s = heap_find_object((uintptr_t)obj, &base, &idx);
    if (s == NULL || base != (uintptr_t)obj) {
        errno = EINVAL;
        return -1;
    }
    pthread_mutex_lock(&fin.lock);
    struct fin_entry *e = fin_find((uintptr_t)obj);
    if (fn == NULL) {
        if (e)
            fin_delete(e);
        pthread_mutex_unlock(&fin.lock);
        return 0;
    }
    if (e == NULL) {
        if ((fin.used + 1) * 4 > fin.cap * 3 && fin_grow() != 0) {
            pthread_mutex_unlock(&fin.lock);
            errno = ENOMEM;
            return -1;
        }
        size_t i = fin_hash((uintptr_t)obj, fin.cap);
        while (fin.table[i].obj > FIN_DELETED)
            i = (i + 1) & (fin.cap - 1);
        e = &fin.table[i];
        if (e->obj == 0)
            fin.used++;
        e->obj = (uintptr_t)obj;
        fin.live++;
    }
    e->fn = fn;
    e->arg = arg;
    s->specials = 1;
    if (!fin.thread_started) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, fin_thread, NULL) == 0)
            fin.thread_started = 1;
        pthread_attr_destroy(&a);
    }
    pthread_mutex_unlock(&fin.lock);
    return 0;
}

GH_API __attribute__((noinline)) void gh_keep_alive(const void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

void finalizer_forget(void *p)
{
    pthread_mutex_lock(&fin.lock);
    struct fin_entry *e = fin_find((uintptr_t)p);
    if (e)
        fin_delete(e);
    pthread_mutex_unlock(&fin.lock);
}

void finalizer_lock(void) { pthread_mutex_lock(&fin.lock); }
void finalizer_unlock(void) { pthread_mutex_unlock(&fin.lock); }

void finalizer_mark_roots(void)
{
    for (size_t i = 0; i < fin.cap; i++) {
        struct fin_entry *e = &fin.table[i];
        if (e->obj <= FIN_DELETED)
            continue;
        uintptr_t base, idx;
        struct span *s = heap_find_object(e->obj, &base, &idx);
        if (s && !spanclass_noscan(s->spanclass)) {
            uintptr_t size = spanclass_sizeclass(s->spanclass) == 0 ? s->limit - s->base : s->elemsize;
            mark_contents(base, base + size);
        }
        mark_object((uintptr_t)e->arg);
    }
    for (struct fin_job *j = fin.queue; j; j = j->next) {
        mark_object(j->e.obj);
        mark_object((uintptr_t)j->e.arg);
    }
}

unsigned finalizer_queue_unreachable(void)
{
    unsigned n = 0;
    for (size_t i = 0; i < fin.cap; i++) {
        struct fin_entry *e = &fin.table[i];
        if (e->obj <= FIN_DELETED)
            continue;
        uintptr_t base, idx;
        struct span *s = heap_find_object(e->obj, &base, &idx);
        if (s == NULL) {
            fin_delete(e); /* its object is gone (freed past us): nothing to run */
            continue;
        }
        if (span_is_marked(s, idx))
            continue;
        mark_object(e->obj); /* survives this cycle (the caller drains again) */
        struct fin_job *j = fin.free_jobs;
        if (j)
            fin.free_jobs = j->next;
        else
            j = os_meta_alloc(sizeof(*j), OS_STAT_OTHER);
        if (j == NULL)
            continue; /* no memory for the job: try again next cycle */
        j->e = *e;
        j->next = NULL;
        if (fin.queue_tail)
            fin.queue_tail->next = j;
        else
            fin.queue = j;
        fin.queue_tail = j;
        fin.queued++;
        fin_delete(e);
        n++;
    }
    return n;
}

void finalizer_wake(void)
{
    pthread_mutex_lock(&fin.lock);
    if (fin.queue)
        pthread_cond_signal(&fin.cond);
    pthread_mutex_unlock(&fin.lock);
}
