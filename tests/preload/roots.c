/* roots.c: a program that knows nothing of the collector keeps the only
 * pointers to its objects in places a C program may use, and collections
 * must free none of them while they are freeing the program's garbage:
 *   - an anonymous mmap (another allocator's arena),
 *   - an anonymous mapping made read-only after the pointer was stored,
 *   - a private, writable mapping of a file,
 *   - the brk heap (sbrk),
 *   - a thread-local variable of the main thread and of a pthread,
 *   - the stack of a thread made with clone(2), unknown to pthreads,
 *   - a pthread's stack, while the thread sleeps,
 *   - malloc'd memory reachable only from the places above.
 * Every kept object carries a checksum; the program then allocates and
 * drops a few hundred MB (goheap collects it) and checks that every kept
 * object is intact and that the garbage was collected. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define OBJ_WORDS 30
#define CLONE_STACK (256 << 10)

struct obj {
    uint64_t magic;
    uint64_t seq;
    struct obj *child;  /* a second object reachable only through this one */
    uint64_t words[OBJ_WORDS];
};

enum { ANON, RDONLY, FILEMAP, BRK, TLS_MAIN, TLS_THREAD, CLONE_STACK_SLOT, PTHREAD_STACK, NPLACES };
static const char *const place_name[NPLACES] = {
    "anonymous mmap", "read-only mapping", "private file mapping", "brk heap",
    "main thread TLS", "pthread TLS", "clone(2) thread stack", "pthread stack",
};

/* Where each kept pointer lives; written once, read at the end. The
 * program keeps them in the places only: these hold them XORed. */
static uintptr_t hidden[NPLACES];
#define HIDE 0x5a5a5a5a5a5a5a5aULL

static struct obj *make(uint64_t seq)
{
    struct obj *o = malloc(sizeof(*o));
    struct obj *c = malloc(sizeof(*c));
    o->magic = c->magic = 0x600d600d600d600dULL;
    o->seq = seq;
    c->seq = seq + 1000;
    c->child = NULL;
    for (int i = 0; i < OBJ_WORDS; i++) {
        o->words[i] = seq * 31 + (uint64_t)i;
        c->words[i] = (seq + 1000) * 31 + (uint64_t)i;
    }
    o->child = c;
    return o;
}

static int intact(const struct obj *o, uint64_t seq)
{
    if (o->magic != 0x600d600d600d600dULL || o->seq != seq)
        return 0;
    for (int i = 0; i < OBJ_WORDS; i++)
        if (o->words[i] != seq * 31 + (uint64_t)i)
            return 0;
    return 1;
}

/* Each place keeps its pointer in slot[0] of some memory. */
static struct obj **slot[NPLACES];

static __thread struct obj *tls_main;

static atomic_int thread_stop, thread_ready;

static void *pthread_body(void *arg)
{
    static __thread struct obj *tls_thread;
    (void)arg;
    tls_thread = make(TLS_THREAD);
    slot[TLS_THREAD] = &tls_thread;
    /* A local the compiler must keep in memory: the stack is its home. */
    struct obj *volatile on_stack = make(PTHREAD_STACK);
    slot[PTHREAD_STACK] = (struct obj **)&on_stack;
    hidden[TLS_THREAD] = (uintptr_t)tls_thread ^ HIDE;
    hidden[PTHREAD_STACK] = (uintptr_t)on_stack ^ HIDE;
    atomic_fetch_add(&thread_ready, 1);
    while (!atomic_load(&thread_stop))
        usleep(1000);
    /* Check here, while the stack and TLS still exist. */
    CHECK(intact(tls_thread, TLS_THREAD) && intact(tls_thread->child, TLS_THREAD + 1000));
    CHECK(intact(on_stack, PTHREAD_STACK) && intact(on_stack->child, PTHREAD_STACK + 1000));
    return NULL;
}

/* The clone(2) thread runs without a TLS block of its own, so it must not
 * call into the C library: it only keeps its pointer and spins. */
static struct obj *clone_obj_in;

static pthread_t thread;
static int clone_tid;

static int clone_body(void *arg)
{
    (void)arg;
    struct obj *volatile on_stack = clone_obj_in;
    clone_obj_in = NULL;
    slot[CLONE_STACK_SLOT] = (struct obj **)&on_stack;
    atomic_fetch_add(&thread_ready, 1);
    while (!atomic_load(&thread_stop))
        ;
    return intact(on_stack, CLONE_STACK_SLOT) ? 0 : 1;
}

/* scrub_stack overwrites the stack below its caller, so that no stale
 * copy of a kept pointer there keeps its object alive and hides a miss. */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char junk[64 << 10];
    memset((char *)junk, 0, sizeof(junk));
}

static __attribute__((noinline)) void keep_in_places(void)
{
    long page = sysconf(_SC_PAGESIZE);

    char *anon = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *ro = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    FILE *tmp = tmpfile();
    CHECK(anon != MAP_FAILED && ro != MAP_FAILED && tmp != NULL);
    CHECK(ftruncate(fileno(tmp), 4 * page) == 0);
    char *file = mmap(NULL, (size_t)(4 * page), PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(tmp), 0);
    CHECK(file != MAP_FAILED);
    char *brk_area = sbrk(page);
    CHECK(brk_area != (void *)-1);

    slot[ANON] = (struct obj **)(anon + 12345 * 8);
    slot[RDONLY] = (struct obj **)ro;
    slot[FILEMAP] = (struct obj **)(file + 3 * page);
    slot[BRK] = (struct obj **)brk_area;
    slot[TLS_MAIN] = &tls_main;
    for (int p = ANON; p <= TLS_MAIN; p++) {
        *slot[p] = make((uint64_t)p);
        hidden[p] = (uintptr_t)*slot[p] ^ HIDE;
    }
    CHECK(mprotect(ro, (size_t)page, PROT_READ) == 0);

    CHECK(pthread_create(&thread, NULL, pthread_body, NULL) == 0);
    char *cstack = mmap(NULL, CLONE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(cstack != MAP_FAILED);
    clone_obj_in = make(CLONE_STACK_SLOT);
    hidden[CLONE_STACK_SLOT] = (uintptr_t)clone_obj_in ^ HIDE;
    int ctid = clone(clone_body, cstack + CLONE_STACK,
                     CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_SYSVSEM | SIGCHLD, NULL);
    CHECK(ctid > 0);
    clone_tid = ctid;
    while (atomic_load(&thread_ready) < 2)
        usleep(1000);
}

int main(void)
{
    keep_in_places();
    scrub_stack();

    /* Garbage: 400 MB in objects of 64 B to 16 KiB, most dropped at once,
     * some kept a while in a ring, as a real program would. */
    uint32_t gcs = num_gc();
    void *ring[512] = { 0 };
    uint64_t x = 88172645463325252ULL;
    size_t total = 0;
    for (long i = 0; total < ((size_t)400 << 20); i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t n = 64 + (size_t)(x % 16384);
        char *g = malloc(n);
        memset(g, 0xee, n);
        total += n;
        ring[i % 512] = g;  /* the ring drops (leaks) the oldest */
    }
    sink(ring);
    CHECK(!on_goheap() || num_gc() >= gcs + 3);
    /* The garbage was collected: the heap holds the ring, not 400 MB. */
    CHECK(!on_goheap() || heap_alloc() < ((uint64_t)128 << 20));

    atomic_store(&thread_stop, 1);
    CHECK(pthread_join(thread, NULL) == 0);
    int status = 0;
    CHECK(waitpid(clone_tid, &status, __WALL) == clone_tid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int p = ANON; p <= TLS_MAIN; p++) {
        struct obj *o = (struct obj *)(hidden[p] ^ HIDE);
        if (!intact(o, (uint64_t)p) || !intact(o->child, (uint64_t)p + 1000) || *slot[p] != o) {
            fprintf(stderr, "roots: the object kept in the %s was freed\n", place_name[p]);
            check_failures++;
        }
    }
    return check_exit("roots");
}
