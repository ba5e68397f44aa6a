/* shim.c: the C allocation family on goheap (malloc, free, calloc,
 * realloc, reallocarray, memalign, posix_memalign, aligned_alloc, valloc,
 * pvalloc, malloc_usable_size and glibc's __libc_* names), so that an
 * unchanged program runs on goheap: LD_PRELOAD=libgoheap-malloc.so, or
 * link with -lgoheap-malloc. C++ new and delete call malloc and free, so
 * they need nothing here. This file is only in libgoheap-malloc; plain
 * libgoheap leaves the C library's malloc alone.
 *
 * Modes (goheap.h, "The malloc family"): by default free is honoured and
 * the collector reclaims what the program leaks, with every private
 * mapping of the process as roots (roots_set_private); with
 * GODEBUG=gcleak=report every allocation is recorded for the leak checker
 * (leak.c); with GOGC=off nothing is collected.
 *
 * Bootstrap. Until shim_init has run (a constructor, ordered after
 * goheap's own set-up constructors), allocations come from a bump arena
 * in this file's bss: those made by the loader, by libraries initialised
 * before ours, and by goheap's own initialisation (pthread_key_create,
 * pthread_atfork and atexit may allocate). Arena objects carry their size
 * in a 16-byte header; free ignores them, realloc moves them to the heap.
 * The used part of the arena becomes a root range when shim_init is done,
 * so objects it points to stay alive. shim.state says which regime holds:
 *   SHIM_BOOT   arena only (no other thread can exist yet)
 *   SHIM_READY  straight to gh_* (the fast path: one load and a branch)
 *   SHIM_LEAK   gh_* plus leak_record / leak_forget, and leak_explain
 *               before a bad free or realloc is reported
 * It goes BOOT -> READY or LEAK once, before main runs.
 *
 * Memory. malloc, realloc and the memalign family hand out scanned memory
 * that is not zeroed (malloc_noz and friends, malloc.h), as glibc's is
 * not: stale words in a reused slot could only keep garbage alive for a
 * cycle, and zeroing cost bench/churn as much as the rest of a small
 * malloc+free pair. calloc zeroes, unless the slot is known to be zero
 * already (fresh pages).
 *
 * Fork. The prepare handler takes the leak lock and every allocator lock
 * in lock.h's order (not gc.lock: gc.c's child handler re-makes it, and
 * the collector thread holds it only while it books a cycle); parent and
 * child release them. It is registered after threads.c's and roots.c's
 * handlers, so it runs before them (prepare handlers run in reverse
 * order), and their leaf locks come after ours.
 *
 * Not async-signal-safe, as glibc's malloc is not. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "goheap.h"
#include "atomic.h"
#include "cache.h"
#include "gc.h"
#include "leak.h"
#include "malloc_noz.h"
#include "mark.h"
#include "unwind.h"
#include "options.h"
#include "os.h"
#include "print.h"
#include "roots.h"
#include "threads.h"

#define BOOT_SIZE ((size_t)1 << 20)
#define BOOT_HEADER 16

enum { SHIM_BOOT, SHIM_READY, SHIM_LEAK };

static struct {
    volatile AO_t state;        /* SHIM_*: written once by shim_init */
    volatile AO_t boot_used;    /* bytes of boot handed out */
    pthread_mutex_t sig_lock;   /* guards kept */
    struct sigaction kept;      /* sig_lock: the program's SIG_SUSPEND action */
} shim = { .sig_lock = PTHREAD_MUTEX_INITIALIZER };

/* The bootstrap arena. Aligned to a page so that valloc works in it. */
static char boot[BOOT_SIZE] __attribute__((aligned(4096)));

#define RA() ((uintptr_t)__builtin_return_address(0))

static inline int in_boot(const void *p)
{
    return (uintptr_t)p - (uintptr_t)boot < BOOT_SIZE;
}

/* ---- The bootstrap arena -------------------------------------------- */

/* boot_alloc returns n zeroed bytes aligned to align (a power of two, at
 * least 16) from the arena, or NULL with errno = ENOMEM when it is full. */
static void *boot_alloc(size_t n, size_t align)
{
    if (n > BOOT_SIZE || align > BOOT_SIZE / 2) {
        errno = ENOMEM;
        return NULL;
    }
    size_t need = (n + 15) & ~(size_t)15;
    for (;;) {
        size_t used = AO_load(&shim.boot_used);
        size_t start = (used + BOOT_HEADER + align - 1) & ~(align - 1);
        if (start + need > BOOT_SIZE) {
            errno = ENOMEM;
            return NULL;
        }
        if (AO_compare_and_swap_full(&shim.boot_used, used, start + need)) {
            *(size_t *)(boot + start - BOOT_HEADER) = n;
            return boot + start;
        }
    }
}

static size_t boot_size(const void *p)
{
    return *(const size_t *)((const char *)p - BOOT_HEADER);
}

/* ---- Fork ------------------------------------------------------------ */

static void shim_fork_prepare(void)
{
    unwind_fork_prepare(); /* first: a capture in flight may allocate */
    leak_lock();
    gc_lock_allocator();
}

static void shim_fork_release(void)
{
    gc_unlock_allocator();
    leak_unlock();
    unwind_fork_done();
}

/* ---- Initialisation -------------------------------------------------- */

/* shim_init makes goheap the allocator: it starts the runtime on this
 * thread, turns the private-memory roots on, makes the used arena a root
 * range, and chooses the regime. Runs once, from the constructor below,
 * while the program is single-threaded. */
static void shim_init(void)
{
    options_init();
    if (cache_get() == NULL)
        print_fatal("cannot start the heap (out of memory)");
    roots_set_private(1);
    /* Reserve the mark stack now: a mapping made after a cycle lists
     * goheap's own memory is scanned as a root in that cycle, and the
     * first cycle would otherwise read all 64 MiB of it. */
    mark_begin();
    int leak_mode = leak_init();
    if (gh_add_roots(boot, boot + BOOT_SIZE) != 0)
        print_fatal("cannot register the bootstrap arena as a root");
    int err = pthread_atfork(shim_fork_prepare, shim_fork_release, shim_fork_release);
    if (err != 0)
        print_fatal("pthread_atfork failed (error %d)", err);
    /* Freeze the arena: from here on nothing more is taken from it. */
    size_t used = AO_load(&shim.boot_used);
    gh_remove_roots(boot, boot + BOOT_SIZE);
    if (used > 0 && gh_add_roots(boot, boot + used) != 0)
        print_fatal("cannot register the bootstrap arena as a root");
    AO_store_release(&shim.state, leak_mode ? SHIM_LEAK : SHIM_READY);
}

/* After cache.c's and central.c's constructor(101) set-up, before any
 * default-priority constructor of this object (threads.c, pprof.c). */
__attribute__((constructor(102))) static void shim_constructor(void)
{
    if (AO_load(&shim.state) == SHIM_BOOT)
        shim_init();
}

/* ---- Slow paths ------------------------------------------------------ */

/* aligned rounds a glibc memalign alignment to what gh_aligned_alloc
 * takes: a power of two (rounded up), at least 8. 0 when too large. */
static size_t aligned_round(size_t align)
{
    if (align <= 8)
        return 8;
    if (align > ((size_t)1 << (sizeof(size_t) * 8 - 2)))
        return 0;
    size_t a = 16;
    while (a < align)
        a <<= 1;
    return a;
}

static __attribute__((noinline)) void *shim_alloc_slow(size_t n, size_t align, int zero, uintptr_t ra)
{
    void *p;
    AO_t state = AO_load_acquire(&shim.state);
    if (state == SHIM_BOOT)
        return boot_alloc(n, align < 16 ? 16 : align);
    if (align > 8)
        p = malloc_aligned_noz(align, n);
    else
        p = zero ? gh_calloc(1, n) : malloc_noz(n);
    if (p != NULL && state == SHIM_LEAK)
        leak_record(p, n, ra);
    return p;
}

static __attribute__((noinline)) void shim_free_slow(void *p, uintptr_t ra)
{
    if (p == NULL || in_boot(p))
        return;
    if (AO_load_acquire(&shim.state) == SHIM_LEAK && !leak_forget(p, ra))
        leak_explain(p, "free");
    gh_free(p);
}

static __attribute__((noinline)) void *shim_realloc_slow(void *p, size_t n, uintptr_t ra)
{
    AO_t state = AO_load_acquire(&shim.state);
    if (p == NULL)
        return shim_alloc_slow(n, 0, 0, ra);
    if (n == 0) {
        shim_free_slow(p, ra);
        return NULL;
    }
    if (in_boot(p) || state == SHIM_BOOT) {
        size_t old = in_boot(p) ? boot_size(p) : gh_usable_size(p);
        void *q = shim_alloc_slow(n, 0, 0, ra);
        if (q != NULL) {
            memcpy(q, p, old < n ? old : n);
            shim_free_slow(p, ra);
        }
        return q;
    }
    if (state == SHIM_LEAK)
        leak_explain(p, "realloc");
    void *q = malloc_realloc_noz(p, n);
    if (q != NULL && state == SHIM_LEAK) {
        leak_forget(p, ra);
        leak_record(q, n, ra);
    }
    return q;
}

static void *shim_memalign(size_t align, size_t n, uintptr_t ra)
{
    size_t a = aligned_round(align);
    if (a == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (likely(AO_load(&shim.state) == SHIM_READY))
        return a > 8 ? malloc_aligned_noz(a, n) : malloc_noz(n);
    return shim_alloc_slow(n, a, 0, ra);
}

/* ---- Signals ---------------------------------------------------------
 *
 * The collector stops threads with SIG_SUSPEND (SIGPWR, threads.h).
 * Programs never written for it may install a handler for it, which would
 * make the first stop of the world hang or kill the process. Once goheap
 * has started, sigaction and signal therefore keep such a handler aside
 * instead of installing it, and report it back as the current one, so the
 * program sees its own setting; it is not run. The real sigaction serves
 * every other signal, and also this one during start-up, when threads.c
 * installs goheap's handler. sysv_signal and sigset are not interposed. */

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static int shim_sig_kept(int sig)
{
    return sig == SIG_SUSPEND && AO_load_acquire(&shim.state) != SHIM_BOOT;
}

GH_API int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (!shim_sig_kept(sig))
        return __sigaction(sig, act, old);
    pthread_mutex_lock(&shim.sig_lock);
    if (old != NULL)
        *old = shim.kept;
    if (act != NULL)
        shim.kept = *act;
    pthread_mutex_unlock(&shim.sig_lock);
    return 0;
}

/* signal has BSD semantics in glibc (SA_RESTART, the signal blocked in
 * its handler); siginterrupt's per-signal exception is not kept. */
GH_API sighandler_t signal(int sig, sighandler_t handler)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    if (handler == SIG_ERR || sigemptyset(&sa.sa_mask) != 0 || sigaddset(&sa.sa_mask, sig) != 0) {
        errno = EINVAL;
        return SIG_ERR;
    }
    if (sigaction(sig, &sa, &old) != 0)
        return SIG_ERR;
    return old.sa_handler;
}

GH_API sighandler_t bsd_signal(int sig, sighandler_t handler) __attribute__((alias("signal"), copy(signal)));

/* ---- The family ------------------------------------------------------ */

GH_API void *malloc(size_t n)
{
    if (likely(AO_load(&shim.state) == SHIM_READY))
        return malloc_noz(n);
    return shim_alloc_slow(n, 0, 0, RA());
}

GH_API void free(void *p)
{
    if (likely(AO_load(&shim.state) == SHIM_READY && !in_boot(p))) {
        gh_free(p);
        return;
    }
    shim_free_slow(p, RA());
}

GH_API void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (likely(AO_load(&shim.state) == SHIM_READY))
        return gh_calloc(1, total);
    return shim_alloc_slow(total, 0, 1, RA());
}

GH_API void *realloc(void *p, size_t n)
{
    if (likely(AO_load(&shim.state) == SHIM_READY && !in_boot(p) && n != 0))
        return malloc_realloc_noz(p, n);
    return shim_realloc_slow(p, n, RA());
}

GH_API void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    if (likely(AO_load(&shim.state) == SHIM_READY && !in_boot(p) && total != 0))
        return malloc_realloc_noz(p, total);
    return shim_realloc_slow(p, total, RA());
}

GH_API void *memalign(size_t align, size_t n)
{
    return shim_memalign(align, n, RA());
}

GH_API void *aligned_alloc(size_t align, size_t n)
{
    return shim_memalign(align, n, RA());
}

GH_API int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    int saved = errno;
    void *p = shim_memalign(align, n, RA());
    if (p == NULL) {
        int err = errno;
        errno = saved;
        return err;
    }
    *out = p;
    return 0;
}

GH_API void *valloc(size_t n)
{
    return shim_memalign(os_page_size(), n, RA());
}

GH_API void *pvalloc(size_t n)
{
    size_t page = os_page_size();
    if (n > SIZE_MAX - page) {
        errno = ENOMEM;
        return NULL;
    }
    n = n == 0 ? page : (n + page - 1) & ~(page - 1);
    return shim_memalign(page, n, RA());
}

GH_API size_t malloc_usable_size(void *p)
{
    if (p == NULL)
        return 0;
    if (in_boot(p))
        return boot_size(p);
    return gh_usable_size(p);
}

/* glibc's own names for the family, which some programs and libraries
 * call to reach "the real malloc". */
GH_API void *__libc_malloc(size_t n) __attribute__((alias("malloc"), copy(malloc)));
GH_API void __libc_free(void *p) __attribute__((alias("free"), copy(free)));
GH_API void *__libc_calloc(size_t n, size_t size) __attribute__((alias("calloc"), copy(calloc)));
GH_API void *__libc_realloc(void *p, size_t n) __attribute__((alias("realloc"), copy(realloc)));
GH_API void *__libc_memalign(size_t align, size_t n) __attribute__((alias("memalign"), copy(memalign)));
GH_API void *__libc_valloc(size_t n) __attribute__((alias("valloc"), copy(valloc)));
GH_API void *__libc_pvalloc(size_t n) __attribute__((alias("pvalloc"), copy(pvalloc)));
