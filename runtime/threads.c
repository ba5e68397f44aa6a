/* threads.c: the thread registry, automatic registration, and stopping the
 * world (Go: stopTheWorld in proc.go; the thread half of bdwgc's
 * pthread_support.c and pthread_stop_world.c). See gc.c for where the
 * collector stops the world, and threads.h for the contract.
 *
 * The registry is a doubly linked list of struct thread, one per registered
 * thread, plus entries for threads that pthread_create has made but that
 * have not yet started (STARTING: their start argument is a root until they
 * run). Entries come from os_meta_alloc and are recycled through a free
 * list; nothing here calls malloc, so it all works before libc's malloc is
 * usable and when goheap is malloc.
 *
 * Registration. threads.c defines pthread_create: it records the start
 * routine and argument in a STARTING entry and starts the real
 * pthread_create (found with dlsym(RTLD_NEXT), once, from a constructor)
 * on threads_trampoline, which registers the new thread before calling the
 * start routine and unregisters it when the routine returns, calls
 * pthread_exit, or is cancelled (a cleanup handler). A thread-specific-data
 * destructor does the same for threads that registered themselves. Once a
 * thread's exit hook has run it is never registered again, because later
 * destructors may still allocate.
 *
 * Stack bounds come from /proc/self/maps, read without allocating
 * (pthread_getattr_np would do: it mallocs, through fopen for the main
 * thread and for the affinity mask of every thread). A thread's stack is
 * the mapping that holds its stack pointer, cut at 64 KiB above its thread
 * descriptor, which glibc keeps at the top of the stack block, in case the
 * kernel merged the block with a mapping above it.
 *
 * Stop-the-world handshake. The stopper bumps `epoch` to an odd value,
 * stores it in each target's stop_epoch and sends SIG_SUSPEND. The handler
 * copies the interrupted registers into the entry (the kernel's signal
 * frame holds them too, on the thread's stack unless it runs on an
 * alternate signal stack), tells cache.c where the thread was interrupted
 * (cache_note_stopped), publishes its stack pointer, acknowledges on the
 * `ack` semaphore and waits in rt_sigsuspend until epoch changes;
 * SIG_RESTART, blocked while the handler runs and unblocked only inside
 * rt_sigsuspend, cannot be lost. The restarter bumps epoch to even, sends
 * SIG_RESTART, and waits for a second acknowledgement from each thread as
 * it leaves the handler; the pause it reports ends with the last signal
 * sent, since the threads are free to run from then on.
 * Invariant: between a stop and its start, every RUNNING entry other than
 * the stopper's has stop_epoch == epoch and sits in the handler.
 *
 * Locking: `world` serialises stops; `lock` guards the registry. Order:
 * world -> lock, both after every allocator lock (lock.h). The stopper
 * holds both from threads_stop_world to threads_start_world, so a thread
 * that registers, unregisters, exits or forks meanwhile simply waits. A
 * thread must never hold `lock` while it could be stopped, so nothing is
 * called under it that can block on another thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "goheap.h"
#include "threads.h"
#include "cache.h"
#include "roots.h"
#include "atomic.h"
#include "os.h"
#include "print.h"

#define SIG_SUSPEND SIGPWR
#define SIG_RESTART SIGXCPU
#define RED_ZONE 128                 /* bytes below sp a leaf may use (x86-64 ABI) */
#define TLS_SLACK (64 * 1024)        /* stack range kept above the thread descriptor */
#define STOP_WARN_SECONDS 10

enum thread_state {
    THREAD_FREE,      /* on the free list */
    THREAD_STARTING,  /* made by pthread_create, not yet running its routine */
    THREAD_RUNNING,   /* registered */
};

struct thread {
    struct thread *next, *prev;    /* lock */
    enum thread_state state;       /* lock */
    int is_main;                   /* fixed while RUNNING: stack grows on demand */
    pthread_t id;                  /* fixed while RUNNING */
    uintptr_t stack_lo, stack_hi;  /* fixed while RUNNING: the stack mapping */
    void *(*start)(void *);        /* STARTING only */
    void *arg;                     /* STARTING only; a root until the thread runs */
    volatile AO_t stop_epoch;      /* the stop it was signalled for; stopper writes */
    volatile AO_t acked_epoch;     /* the stop it acknowledged; handler writes */
    volatile AO_t sp;              /* handler writes before acknowledging */
    uintptr_t alt_lo, alt_hi;      /* handler: alternate signal stack in use, or 0 */
    mcontext_t regs;               /* handler: the interrupted registers */
};

/* Per-thread state. Initial-exec TLS: a plain %fs access, safe in the
 * signal handler, never a call to __tls_get_addr (which may allocate). */
struct threads_tls {
    struct thread *self;   /* this thread's RUNNING entry, or NULL */
    int exited;            /* its exit hook has run */
    int in_init;           /* inside threads_init */
    int resolving;         /* inside dlsym for pthread_create */
    int fork_locked;       /* the fork prepare handler took the locks */
    volatile sig_atomic_t restarted; /* the restart signal reached this park */
};
static __thread struct threads_tls threads_tls __attribute__((tls_model("initial-exec")));

enum { INIT_NONE, INIT_RUNNING, INIT_DONE };

typedef int (*threads_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static struct {
    pthread_mutex_t world;      /* held from stop to start */
    pthread_mutex_t lock;       /* the registry */
    struct thread *list;        /* lock: STARTING and RUNNING entries */
    struct thread *free;        /* lock: recycled entries, linked by next */
    volatile AO_t count;        /* lock to write: RUNNING entries */
    volatile AO_t epoch;        /* odd while the world is stopped; stopper writes */
    volatile AO_t stopped;      /* the world is stopped by owner */
    pthread_t owner;            /* the stopper; valid while stopped */
    uint64_t stack_bytes;       /* stopper: total of the last threads_each_stack */
    sem_t ack;                  /* one post per handler entry and exit */
    sigset_t wait_mask;         /* fixed at init: everything but SIG_RESTART */
    pthread_key_t key;          /* fixed at init: runs the exit hook */
    volatile AO_t init_state;   /* INIT_* */
    volatile AO_t real_create;  /* the next pthread_create, once resolved */
} threads = {
    .world = PTHREAD_MUTEX_INITIALIZER,
    .lock = PTHREAD_MUTEX_INITIALIZER,
};

extern void *__libc_stack_end;

static void threads_link(struct thread *t)
{
    t->prev = NULL;
    t->next = threads.list;
    if (threads.list)
        threads.list->prev = t;
    threads.list = t;
}

static void threads_unlink(struct thread *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        threads.list = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

/* threads_release puts an unlinked entry on the free list (lock held). */
static void threads_release(struct thread *t)
{
    t->state = THREAD_FREE;
    t->next = threads.free;
    threads.free = t;
}

/* threads_entry_get returns a zeroed entry, or NULL when out of memory. */
static struct thread *threads_entry_get(void)
{
    pthread_mutex_lock(&threads.lock);
    struct thread *t = threads.free;
    if (t)
        threads.free = t->next;
    pthread_mutex_unlock(&threads.lock);
    if (t == NULL)
        return os_meta_alloc(sizeof(*t), OS_STAT_OTHER);
    memset(t, 0, sizeof(*t));
    return t;
}

struct threads_find {
    uintptr_t addr, lo, hi;
    int found;
};

static int threads_find_mapping(uintptr_t lo, uintptr_t hi, int prot, void *arg)
{
    struct threads_find *f = arg;
    (void)prot;
    if (f->addr < lo || f->addr >= hi)
        return 0;
    f->lo = lo;
    f->hi = hi;
    f->found = 1;
    return 1;
}

/* threads_stack_bounds fills t's stack bounds from the calling thread. */
static void threads_stack_bounds(struct thread *t)
{
    char here;
    uintptr_t sp = (uintptr_t)&here;
    uintptr_t page = os_page_size();
    uintptr_t pd = (uintptr_t)pthread_self();
    struct threads_find f = { .addr = sp };

    t->is_main = getpid() == gettid();
    if (roots_maps_each(threads_find_mapping, &f) == 0 && f.found) {
        t->stack_lo = f.lo;
        t->stack_hi = f.hi;
        if (!t->is_main && pd > sp && pd < f.hi) {
            uintptr_t cap = ((pd + page - 1) & ~(page - 1)) + TLS_SLACK;
            if (cap < t->stack_hi)
                t->stack_hi = cap;
        }
        return;
    }
    /* No /proc: everything the thread's code can reach lies below the
     * initial stack pointer (main thread) or its descriptor. */
    t->stack_lo = sp & ~(page - 1);
    if (t->is_main)
        t->stack_hi = (uintptr_t)__libc_stack_end;
    else
        t->stack_hi = pd > sp ? pd : (sp + page) & ~(page - 1);
}

/* threads_attach makes t the calling thread's RUNNING entry; t is already
 * in the list when pthread_create made it (linked != 0). */
static void threads_attach(struct thread *t, int linked)
{
    threads_stack_bounds(t);
    pthread_mutex_lock(&threads.lock);
    t->id = pthread_self();
    t->start = NULL;
    t->arg = NULL;
    t->state = THREAD_RUNNING;
    if (!linked)
        threads_link(t);
    AO_store(&threads.count, AO_load(&threads.count) + 1);
    threads_tls.self = t;
    pthread_mutex_unlock(&threads.lock);
    pthread_setspecific(threads.key, t);
}

int threads_register_self(void)
{
    if (likely(threads_tls.self != NULL))
        return 0;
    if (threads_tls.exited || threads_tls.in_init)
        return -1;
    threads_init();
    if (threads_tls.self != NULL)
        return 0;
    if (threads_tls.in_init)
        return -1;
    struct thread *t = threads_entry_get();
    if (t == NULL)
        return -1;
    threads_attach(t, 0);
    return 0;
}

void threads_unregister_self(void)
{
    struct thread *t = threads_tls.self;
    if (t == NULL)
        return;
    gh_assert(!threads_world_stopped_by_me());
    pthread_mutex_lock(&threads.lock);
    threads_unlink(t);
    threads_release(t);
    AO_store(&threads.count, AO_load(&threads.count) - 1);
    threads_tls.self = NULL;
    pthread_mutex_unlock(&threads.lock);
    pthread_setspecific(threads.key, NULL);
}

/* threads_exit_hook runs once as a registered thread exits: from the
 * trampoline's cleanup handler or from the thread-specific-data
 * destructor, whichever comes first. */
static void threads_exit_hook(void *unused)
{
    (void)unused;
    threads_tls.exited = 1;
    threads_unregister_self();
}

static void *threads_trampoline(void *p)
{
    struct thread *t = p;
    void *(*start)(void *) = t->start;
    void *arg = t->arg;
    void *ret;

    threads_attach(t, 1);
    pthread_cleanup_push(threads_exit_hook, NULL);
    ret = start(arg);
    pthread_cleanup_pop(1);
    return ret;
}

/* threads_resolve returns the pthread_create that ours wraps. dlsym may
 * allocate; a nested call from that allocation gets NULL. */
static threads_create_fn threads_resolve(void)
{
    AO_t f = AO_load_acquire(&threads.real_create);
    if (f != 0)
        return (threads_create_fn)f;
    if (threads_tls.resolving)
        return NULL;
    threads_tls.resolving = 1;
    void *p = dlsym(RTLD_NEXT, "pthread_create");
    threads_tls.resolving = 0;
    if (p == NULL || p == (void *)pthread_create)
        return NULL;
    AO_store_release(&threads.real_create, (AO_t)p);
    return (threads_create_fn)p;
}

/* pthread_create: the real one, on a trampoline that registers the thread.
 * Fails with EAGAIN if the real one cannot be found or no entry can be
 * allocated; otherwise as pthread_create. */
#pragma GCC visibility push(default)
int pthread_create(pthread_t *restrict out, const pthread_attr_t *restrict attr,
                   void *(*start)(void *), void *restrict arg)
{
    threads_create_fn real = threads_resolve();
    if (real == NULL)
        return EAGAIN;
    threads_init();
    struct thread *t = threads_entry_get();
    if (t == NULL)
        return EAGAIN;
    t->start = start;
    t->arg = arg;
    pthread_mutex_lock(&threads.lock);
    t->state = THREAD_STARTING;
    threads_link(t);
    pthread_mutex_unlock(&threads.lock);

    int err = real(out, attr, threads_trampoline, t);
    if (err != 0) {
        pthread_mutex_lock(&threads.lock);
        threads_unlink(t);
        threads_release(t);
        pthread_mutex_unlock(&threads.lock);
    }
    return err;
}
#pragma GCC visibility pop

/* threads_park is the body of the suspend handler: save, acknowledge, wait
 * for the restart, acknowledge again. */
static void threads_park(struct thread *t, ucontext_t *uc, AO_t epoch)
{
    char here;
    stack_t ss;

    t->regs = uc->uc_mcontext;
    cache_note_stopped((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    t->alt_lo = t->alt_hi = 0;
    if (sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK)) {
        uintptr_t base = (uintptr_t)ss.ss_sp;
        t->alt_lo = (uintptr_t)&here - RED_ZONE < base ? base : (uintptr_t)&here - RED_ZONE;
        t->alt_hi = base + ss.ss_size;
    }
    AO_store(&t->sp, (uintptr_t)&here);
    threads_tls.restarted = 0;
    /* Pairs with the stopper's sem_wait: everything above is visible. */
    AO_store_release(&t->acked_epoch, epoch);
    sem_post(&threads.ack);
    /* Wait for the restart signal itself, not only for the epoch to move:
     * a restart signal left pending would otherwise be delivered after we
     * return, and the next stop could then interrupt its handler instead
     * of the thread's own code, hiding where the thread really was (see
     * cache_note_stopped). The raw system call, because sigsuspend is a
     * cancellation point and a pending cancellation must not unwind a
     * stopped thread. */
    while (!threads_tls.restarted || AO_load_acquire(&threads.epoch) == epoch)
        syscall(SYS_rt_sigsuspend, &threads.wait_mask, (size_t)(_NSIG / 8));
    sem_post(&threads.ack);
}

static void threads_suspend_handler(int sig, siginfo_t *info, void *context)
{
    int saved_errno = errno;
    struct thread *t = threads_tls.self;
    AO_t epoch = AO_load_acquire(&threads.epoch);
    (void)sig;
    (void)info;
    /* Ignore a stray SIG_SUSPEND (sent by someone else, or repeated). */
    if (t != NULL && (epoch & 1) && AO_load(&t->stop_epoch) == epoch &&
        AO_load(&t->acked_epoch) != epoch)
        threads_park(t, context, epoch);
    errno = saved_errno;
}

/* The restart signal interrupts sigsuspend and says it arrived. */
static void threads_restart_handler(int sig)
{
    (void)sig;
    threads_tls.restarted = 1;
}

/* threads_wait takes n acknowledgements, warning once if it waits long.
 * Not a cancellation point: the stopper must finish what it started. */
static void threads_wait(int n, const char *what)
{
    struct timespec deadline;
    int warned = 0, cancel_state;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += STOP_WARN_SECONDS;
    for (int i = 0; i < n;) {
        int r = warned ? sem_wait(&threads.ack)
                       : sem_clockwait(&threads.ack, CLOCK_MONOTONIC, &deadline);
        if (r == 0) {
            i++;
        } else if (errno == ETIMEDOUT) {
            print_err("goheap: still waiting for %d of %d threads to %s; "
                      "do they block SIGPWR or SIGXCPU?\n", n - i, n, what);
            warned = 1;
        }
    }
    pthread_setcancelstate(cancel_state, NULL);
}

void threads_stop_world(void)
{
    threads_init();
    pthread_mutex_lock(&threads.world);
    pthread_mutex_lock(&threads.lock);
    gh_assert((AO_load(&threads.epoch) & 1) == 0);
    AO_t epoch = AO_load(&threads.epoch) + 1;
    AO_store_release(&threads.epoch, epoch);
    struct thread *self = threads_tls.self;
    int n = 0;
    struct thread *next;
    for (struct thread *t = threads.list; t != NULL; t = next) {
        next = t->next;
        if (t->state != THREAD_RUNNING || t == self)
            continue;
        AO_store(&t->stop_epoch, epoch);
        int err = pthread_kill(t->id, SIG_SUSPEND);
        if (err == 0) {
            n++;
        } else {
            /* Only a thread that exited without its exit hook (a raw
             * exit system call) can be gone. */
            print_err("goheap: a registered thread has exited without unregistering\n");
            threads_unlink(t);
            threads_release(t);
            AO_store(&threads.count, AO_load(&threads.count) - 1);
        }
    }
    threads_wait(n, "stop");
    threads.owner = pthread_self();
    AO_store(&threads.stopped, 1);
}

int64_t threads_start_world(void)
{
    gh_assert(threads_world_stopped_by_me());
    AO_t stop_epoch = AO_load(&threads.epoch);
    struct thread *self = threads_tls.self;
    int n = 0;
    AO_store(&threads.stopped, 0);
    AO_store_release(&threads.epoch, stop_epoch + 1);
    for (struct thread *t = threads.list; t != NULL; t = t->next) {
        if (t->state != THREAD_RUNNING || t == self || AO_load(&t->stop_epoch) != stop_epoch)
            continue;
        pthread_kill(t->id, SIG_RESTART);
        n++;
    }
    int64_t released = os_nanotime();
    threads_wait(n, "restart");
    pthread_mutex_unlock(&threads.lock);
    pthread_mutex_unlock(&threads.world);
    return released;
}

int threads_world_stopped_by_me(void)
{
    return AO_load(&threads.stopped) && pthread_equal(threads.owner, pthread_self());
}

/* threads_report passes the word-aligned part of [lo, hi) to fn and
 * returns its size. */
static uint64_t threads_report(void (*fn)(uintptr_t, uintptr_t, void *), void *arg,
                               uintptr_t lo, uintptr_t hi)
{
    lo = (lo + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    hi &= ~(uintptr_t)(sizeof(void *) - 1);
    if (lo >= hi)
        return 0;
    fn(lo, hi, arg);
    return hi - lo;
}

/* threads_stack_floor is the lowest address of t's stack that is mapped
 * and must be scanned, for a thread stopped at published sp. */
static uintptr_t threads_stack_floor(struct thread *t, uintptr_t sp)
{
    uintptr_t page = os_page_size();
    if (t->alt_hi == 0) {
        /* The handler ran on this stack; the red zone below its frame is
         * mapped except, on the main thread, below sp's page. */
        uintptr_t floor = t->is_main ? sp & ~(page - 1) : t->stack_lo;
        return sp - RED_ZONE < floor ? floor : sp - RED_ZONE;
    }
    /* Stopped on an alternate stack: where the thread left its own stack
     * is unknown, so all of it is scanned. The main thread's may have
     * grown since it registered. */
    if (t->is_main) {
        struct threads_find f = { .addr = t->stack_hi - 1 };
        if (roots_maps_each(threads_find_mapping, &f) == 0 && f.found)
            return f.lo;
    }
    return t->stack_lo;
}

void threads_each_stack(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg)
{
    char here;
    uint64_t bytes = 0;
    struct thread *self = threads_tls.self;
    AO_t epoch = AO_load(&threads.epoch);

    /* Spill the callee-saved registers into this frame, above `here`, so
     * that the scan of our own stack sees what our callers kept in them. */
    __builtin_unwind_init();
    gh_assert(threads_world_stopped_by_me());
    for (struct thread *t = threads.list; t != NULL; t = t->next) {
        if (t->state == THREAD_STARTING) {
            threads_report(fn, arg, (uintptr_t)&t->arg, (uintptr_t)(&t->arg + 1));
        } else if (t == self) {
            bytes += threads_report(fn, arg, (uintptr_t)&here, t->stack_hi);
        } else if (AO_load(&t->stop_epoch) == epoch) {
            uintptr_t sp = AO_load(&t->sp);
            if (t->alt_hi != 0)
                bytes += threads_report(fn, arg, t->alt_lo, t->alt_hi);
            bytes += threads_report(fn, arg, threads_stack_floor(t, sp), t->stack_hi);
            threads_report(fn, arg, (uintptr_t)&t->regs, (uintptr_t)(&t->regs + 1));
        }
    }
    threads.stack_bytes = bytes;
}

uint64_t threads_stack_bytes(void)
{
    return threads.stack_bytes;
}

int threads_count(void)
{
    return (int)AO_load(&threads.count);
}

/* Fork: the prepare handler takes both locks so that the child never
 * inherits a registry in mid-change, unless the forking thread has the
 * world stopped and holds them already. The child keeps only the forking
 * thread, with the world running and both locks free. */
static void threads_fork_prepare(void)
{
    if (threads_world_stopped_by_me())
        return;
    pthread_mutex_lock(&threads.world);
    pthread_mutex_lock(&threads.lock);
    threads_tls.fork_locked = 1;
}

static void threads_fork_parent(void)
{
    if (!threads_tls.fork_locked)
        return;
    threads_tls.fork_locked = 0;
    pthread_mutex_unlock(&threads.lock);
    pthread_mutex_unlock(&threads.world);
}

static void threads_fork_child(void)
{
    struct thread *self = threads_tls.self;
    struct thread *next;

    pthread_mutex_init(&threads.world, NULL);
    pthread_mutex_init(&threads.lock, NULL);
    sem_init(&threads.ack, 0, 0);
    threads_tls.fork_locked = 0;
    for (struct thread *t = threads.list; t != NULL; t = next) {
        next = t->next;
        if (t != self)
            threads_release(t);
    }
    threads.list = NULL;
    if (self != NULL) {
        self->id = pthread_self();
        threads_link(self);
    }
    AO_store(&threads.count, self != NULL);
    AO_store(&threads.stopped, 0);
    AO_store(&threads.epoch, (AO_load(&threads.epoch) + 1) & ~(AO_t)1);
}

static void threads_key_destructor(void *entry)
{
    (void)entry;
    threads_exit_hook(NULL);
}

static void threads_init_slow(void)
{
    struct sigaction sa;

    if (threads_tls.in_init)
        return;
    if (!AO_compare_and_swap_full(&threads.init_state, INIT_NONE, INIT_RUNNING)) {
        while (AO_load_acquire(&threads.init_state) != INIT_DONE)
            sched_yield();
        return;
    }
    threads_tls.in_init = 1;
    if (sem_init(&threads.ack, 0, 0) != 0)
        print_fatal("sem_init failed (errno %d)", errno);
    sigfillset(&threads.wait_mask);
    sigdelset(&threads.wait_mask, SIG_RESTART);

    memset(&sa, 0, sizeof(sa));
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sa.sa_sigaction = threads_suspend_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIG_RESTART);
    if (sigaction(SIG_SUSPEND, &sa, NULL) != 0)
        print_fatal("cannot install the SIGPWR handler (errno %d)", errno);
    memset(&sa, 0, sizeof(sa));
    sa.sa_flags = SA_RESTART;
    sa.sa_handler = threads_restart_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIG_SUSPEND);
    if (sigaction(SIG_RESTART, &sa, NULL) != 0)
        print_fatal("cannot install the SIGXCPU handler (errno %d)", errno);

    int err = pthread_key_create(&threads.key, threads_key_destructor);
    if (err != 0)
        print_fatal("pthread_key_create failed for the thread exit hook (error %d)", err);
    err = pthread_atfork(threads_fork_prepare, threads_fork_parent, threads_fork_child);
    if (err != 0)
        print_fatal("pthread_atfork failed (error %d)", err);
    AO_store_release(&threads.init_state, INIT_DONE);
    threads_tls.in_init = 0;
    threads_register_self();
}

void threads_init(void)
{
    if (likely(AO_load_acquire(&threads.init_state) == INIT_DONE))
        return;
    threads_init_slow();
}

/* Resolve the real pthread_create while the program is still single-
 * threaded, and register the main thread. */
__attribute__((constructor)) static void threads_constructor(void)
{
    threads_resolve();
    threads_init();
}

GH_API int gh_register_thread(void)
{
    return threads_register_self();
}

GH_API void gh_unregister_thread(void)
{
    threads_unregister_self();
}
