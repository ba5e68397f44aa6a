/* test_collector.c: what keeps an object alive, through the public API.
 *
 * Every kind of root keeps an object alive, and the object is freed once
 * the root lets go of it: a global, a static inside a shared library, the
 * main thread's stack, a blocked thread's stack, a register (best effort on
 * the main thread; exact on another thread, see below), a gh_add_roots
 * range, interior pointers; a pointer one past the end keeps nothing.
 * Pointers inside gh_malloc_atomic objects keep nothing, inside gh_malloc
 * objects they do, in small and large objects alike. Then the pacer: GOGC
 * off never collects, and the heap goal after gh_gc follows Go's formula.
 *
 * How "kept" and "freed" are seen. Each object under test carries a
 * finalizer that counts its calls in a struct probe; the probe remembers
 * the object's address only hidden (XORed into a value no heap address
 * has), so that the probe itself is no root. "Kept": after three gh_gc()
 * calls, an unreachable sentinel object is finalized (the finalizer thread
 * works through its queue in order, so any finalizer queued before it has
 * run by then), and the probe's finalizer has not run and its contents are
 * intact. "Freed": the finalizer runs within a bounded number of gh_gc()
 * rounds. A conservative collector may keep an object because a stale
 * copy of its address lingers in a dead stack slot or a register, so
 * objects are made in noinline functions, and the stack below the caller
 * is cleared (clear_stack) before each round.
 *
 * The static in a shared library lives in libcollector_roots.so, built from
 * this same file with -DCOLLECTOR_ROOTS_LIB (tests/collector.mk) into the
 * directory of each build of this test, where the test loads it from. */
#ifdef COLLECTOR_ROOTS_LIB

/* The library: one pointer in its own bss, reachable only through it. */
static void *lib_slot;

__attribute__((visibility("default"))) void **collector_roots_lib_slot(void)
{
    return &lib_slot;
}

#else

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "goheap.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)

/* ---- Probes ---------------------------------------------------------- */

/* XOR with HIDE_KEY sets the top bits, so a hidden address is no address
 * the heap can have (user space ends at 2^47). */
#define HIDE_KEY ((uintptr_t)0xa5a5000000000000ull)
#define WAIT_ROUNDS 100

static uintptr_t hide(const void *p) { return (uintptr_t)p ^ HIDE_KEY; }
static void *unhide(uintptr_t h) { return (void *)(h ^ HIDE_KEY); }

struct probe {
    int runs;          /* finalizer calls (atomic) */
    int bad;           /* calls with the wrong object or argument (atomic) */
    uintptr_t hidden;  /* the object, hidden from the collector */
    size_t filled;     /* bytes of the object holding the pattern */
};

/* pattern is word i of a probe's object: bit 63 set, so never a pointer. */
static uint64_t pattern(const struct probe *pr, size_t i)
{
    return ((pr->hidden * 31 + i) * 0x9e3779b97f4a7c15ull >> 1) | ((uint64_t)1 << 63);
}

static void probe_finalizer(void *obj, void *arg)
{
    struct probe *pr = arg;
    if (hide(obj) != pr->hidden)
        __atomic_add_fetch(&pr->bad, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&pr->runs, 1, __ATOMIC_SEQ_CST);
}

static int probe_runs(struct probe *pr) { return __atomic_load_n(&pr->runs, __ATOMIC_SEQ_CST); }

/* probe_make allocates size bytes (noscan if atomic), fills the first
 * `fill` bytes with the probe's pattern, sets the probe's finalizer and
 * stores the object in *slot (if slot is not NULL): its only reference. */
static __attribute__((noinline)) void probe_make(struct probe *pr, size_t size, int atomic, size_t fill,
                                                 void *volatile *slot)
{
    memset(pr, 0, sizeof(*pr));
    uint64_t *p = atomic ? gh_malloc_atomic(size) : gh_malloc(size);
    assert_non_null(p);
    pr->hidden = hide(p);
    pr->filled = fill;
    for (size_t i = 0; i < fill / 8; i++)
        p[i] = pattern(pr, i);
    assert_int_equal(gh_set_finalizer(p, probe_finalizer, pr), 0);
    if (slot)
        *slot = p;
}

static __attribute__((noinline)) int probe_intact(const struct probe *pr)
{
    const volatile uint64_t *p = unhide(pr->hidden);
    for (size_t i = 0; i < pr->filled / 8; i++)
        if (p[i] != pattern(pr, i))
            return 0;
    return 1;
}

/* clear_stack zeroes the stack below the caller, where dead frames may
 * still hold addresses of objects the test has dropped. */
static __attribute__((noinline)) void clear_stack(void)
{
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof(buf));
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* wait_runs collects until pr's finalizer has run n times (bounded). */
static int wait_runs(struct probe *pr, int n)
{
    for (int i = 0; i < WAIT_ROUNDS && probe_runs(pr) < n; i++) {
        clear_stack();
        gh_gc();
        usleep(i < 10 ? 1000 : 5000);
    }
    return probe_runs(pr) >= n;
}

/* finalizers_drain returns once every finalizer queued by earlier cycles
 * has run, by waiting for an unreachable sentinel's. The stack is cleared
 * before wait_runs' frame takes the place where probe_make's were. */
static void finalizers_drain(void)
{
    static struct probe sentinel;
    probe_make(&sentinel, 64, 0, 0, NULL);
    clear_stack();
    if (!wait_runs(&sentinel, 1))
        fail_msg("an unreachable object was never finalized: the collector frees nothing");
}

/* assert_kept checks that pr's object survives collections. */
static void assert_kept(struct probe *pr)
{
    for (int i = 0; i < 3; i++)
        gh_gc();
    finalizers_drain();
    assert_int_equal(probe_runs(pr), 0);
    assert_true(probe_intact(pr));
}

/* freed_wait checks that pr's object is finalized exactly once, soon. */
static __attribute__((noinline)) void freed_wait(struct probe *pr)
{
    if (!wait_runs(pr, 1))
        fail_msg("object %p was never finalized after its last reference went away", unhide(pr->hidden));
    assert_int_equal(probe_runs(pr), 1);
    assert_int_equal(pr->bad, 0);
}

/* assert_freed is freed_wait after clearing the stack below the test's
 * own frame, where the frames of the waiting functions are about to be
 * laid out over stale copies of addresses the test has dropped. */
static inline __attribute__((always_inline)) void assert_freed(struct probe *pr)
{
    clear_stack();
    freed_wait(pr);
}

/* ---- Roots ----------------------------------------------------------- */

static void *volatile global_slot;
static void *volatile global_slots[8];

static void global_variable_keeps_object_and_dropping_it_frees_it(void **state)
{
    (void)state;
    struct probe pr;
    probe_make(&pr, 256, 0, 256, &global_slot);
    assert_kept(&pr);
    assert_ptr_equal(global_slot, unhide(pr.hidden));
    global_slot = NULL;
    assert_freed(&pr);
}

/* collector_roots_lib_path finds libcollector_roots.so beside this test. */
static void collector_roots_lib_path(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    assert_non_null(slash);
    *slash = '\0';
    snprintf(buf, len, "%s/libcollector_roots.so", exe);
}

static void *collector_roots_lib_open(void ***slot)
{
    char path[PATH_MAX + 32];
    collector_roots_lib_path(path, sizeof(path));
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        fail_msg("cannot load %s (tests/collector.mk builds it): %s", path, dlerror());
    void **(*get)(void) = (void **(*)(void))dlsym(lib, "collector_roots_lib_slot");
    assert_non_null(get);
    *slot = get();
    return lib;
}

static void static_in_shared_library_keeps_object_and_dropping_it_frees_it(void **state)
{
    (void)state;
    struct probe pr;
    void **slot;
    void *lib = collector_roots_lib_open(&slot);
    probe_make(&pr, 128, 0, 128, (void *volatile *)slot);
    assert_kept(&pr);
    *(void *volatile *)slot = NULL;
    assert_freed(&pr);
    assert_int_equal(dlclose(lib), 0);
}

static void static_in_unloaded_shared_library_is_no_longer_a_root(void **state)
{
    (void)state;
    struct probe pr;
    void **slot;
    char path[PATH_MAX + 32];
    void *lib = collector_roots_lib_open(&slot);
    probe_make(&pr, 128, 0, 128, (void *volatile *)slot);
    assert_kept(&pr);
    slot = NULL;
    assert_int_equal(dlclose(lib), 0);
    collector_roots_lib_path(path, sizeof(path));
    lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (lib != NULL) {
        dlclose(lib);
        skip(); /* the loader kept it mapped: nothing to check */
    }
    assert_freed(&pr);
}

static void main_thread_stack_keeps_object_and_dropping_it_frees_it(void **state)
{
    (void)state;
    struct probe pr;
    void *volatile slot = NULL;
    probe_make(&pr, 64, 0, 64, &slot);
    assert_kept(&pr);
    assert_ptr_equal(slot, unhide(pr.hidden));
    slot = NULL;
    assert_freed(&pr);
}

/* A thread that holds an object on its stack, blocked on a condition
 * variable while the main thread collects. */
struct holder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int phase;              /* 1 holding, 2 drop asked, 3 dropped, 4 exit asked */
    struct probe *pr;
    void *volatile *slot;   /* the holder's stack slot */
    uintptr_t hidden;       /* register_holder: the object, hidden */
};

/* holder_reset readies the one holder record. It is static, so that a
 * test that fails half-way leaves its thread blocked on valid memory. */
static struct holder *holder_reset(struct probe *pr)
{
    static struct holder h = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
    pthread_mutex_lock(&h.mu);
    h.phase = 0;
    h.pr = pr;
    h.slot = NULL;
    h.hidden = 0;
    pthread_mutex_unlock(&h.mu);
    return &h;
}

static void holder_set(struct holder *h, int phase)
{
    pthread_mutex_lock(&h->mu);
    h->phase = phase;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void holder_wait(struct holder *h, int phase)
{
    pthread_mutex_lock(&h->mu);
    while (h->phase < phase)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void *stack_holder_main(void *arg)
{
    struct holder *h = arg;
    void *volatile slot = NULL;
    h->slot = &slot;
    probe_make(h->pr, 64, 0, 64, &slot);
    holder_set(h, 1);
    holder_wait(h, 2);
    slot = NULL;
    clear_stack();
    holder_set(h, 3);
    holder_wait(h, 4);
    return NULL;
}

static void other_threads_stack_keeps_object_and_dropping_it_frees_it(void **state)
{
    (void)state;
    static struct probe pr;
    struct holder *h = holder_reset(&pr);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stack_holder_main, h), 0);
    holder_wait(h, 1);
    assert_kept(&pr);
    assert_int_equal(hide(*h->slot), pr.hidden);
    holder_set(h, 2);
    holder_wait(h, 3);
    assert_freed(&pr);
    holder_set(h, 4);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* local_survives_collections takes the only reference out of
 * global_slot into a local and collects while the local is still needed
 * afterwards, with six more values live across the calls: the compiler
 * keeps p in a callee-saved register or spills it to the stack, its
 * choice (best effort: C cannot force a register); gh_gc must find it
 * either way. Returns whether the object survived untouched. */
static __attribute__((noinline)) int local_survives_collections(struct probe *pr)
{
    const volatile uint64_t *p = global_slot;
    global_slot = NULL;
    uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6;
    for (int i = 0; i < 3; i++) {
        gh_gc();
        a += p[0];
        b ^= p[1] + a;
        c += p[2] ^ b;
        d ^= p[3] + c;
        e += p[4] ^ d;
        f ^= p[5] + e;
    }
    finalizers_drain();
    /* p is used after the drain, so it is live through every gh_gc. */
    uint64_t want_a = 1 + 3 * pattern(pr, 0);
    return probe_runs(pr) == 0 && a == want_a && p[5] == pattern(pr, 5) && probe_intact(pr) &&
           (b | c | d | e | f) != 0;
}

static void local_in_register_keeps_object_and_dropping_it_frees_it(void **state)
{
    (void)state;
    struct probe pr;
    probe_make(&pr, 64, 0, 64, &global_slot);
    assert_true(local_survives_collections(&pr));
    assert_freed(&pr);
}

#if defined(__x86_64__)
/* register_holder_main un-hides the object inside one asm statement and
 * spins there until told to drop it: the address exists only in that
 * register (the stop handler saves it), never in memory. */
static void *register_holder_main(void *arg)
{
    struct holder *h = arg;
    uintptr_t v = h->hidden;
    __asm__ volatile(
        "xorq %[key], %[v]\n\t"
        "movl $1, %[phase]\n\t"
        "1: pause\n\t"
        "cmpl $2, %[phase]\n\t"
        "jne 1b\n\t"
        "xorq %[key], %[v]\n\t"
        : [v] "+r"(v), [phase] "+m"(h->phase)
        : [key] "r"(HIDE_KEY)
        : "cc", "memory");
    clear_stack();
    holder_set(h, 3);
    holder_wait(h, 4);
    return (void *)(v ^ h->hidden); /* NULL: v is hidden again */
}
#endif

static void register_of_running_thread_keeps_object_and_dropping_it_frees_it(void **state)
{
    (void)state;
#if defined(__x86_64__)
    static struct probe pr;
    struct holder *h = holder_reset(&pr);
    pthread_t t;
    void *ret;
    probe_make(&pr, 64, 0, 64, &global_slot);
    h->hidden = pr.hidden;
    assert_int_equal(pthread_create(&t, NULL, register_holder_main, h), 0);
    while (__atomic_load_n(&h->phase, __ATOMIC_SEQ_CST) < 1)
        usleep(100);
    global_slot = NULL; /* now only the spinning thread's register has it */
    assert_kept(&pr);
    __atomic_store_n(&h->phase, 2, __ATOMIC_SEQ_CST);
    holder_wait(h, 3);
    assert_freed(&pr);
    holder_set(h, 4);
    assert_int_equal(pthread_join(t, &ret), 0);
    assert_null(ret);
#else
    skip();
#endif
}

/* user_root_block maps memory goheap knows nothing about (mmap, not
 * malloc: with goheap as malloc, a malloc'd block would be a heap object
 * of its own) and makes it a root before anything is stored in it. */
static void **user_root_block(void)
{
    void **block = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(block != MAP_FAILED);
    assert_int_equal(gh_add_roots(block, block + 512), 0);
    return block;
}

static void user_root_keeps_object_until_removed(void **state)
{
    (void)state;
    struct probe pr;
    void **block = user_root_block();
    probe_make(&pr, 64, 0, 64, (void *volatile *)&block[100]);
    assert_kept(&pr);
    gh_remove_roots(block, block + 512);
    assert_int_equal(hide(block[100]), pr.hidden); /* still there, no longer a root */
    assert_freed(&pr);
    munmap(block, 4096);
}

static void user_root_dropping_pointer_frees_object(void **state)
{
    (void)state;
    struct probe pr;
    void **block = user_root_block();
    probe_make(&pr, 64, 0, 64, (void *volatile *)&block[7]);
    assert_kept(&pr);
    ((void *volatile *)block)[7] = NULL;
    assert_freed(&pr);
    gh_remove_roots(block, block + 512);
    munmap(block, 4096);
}

static void interior_pointer_keeps_object(void **state)
{
    (void)state;
    struct probe pr;
    probe_make(&pr, 64, 0, 64, &global_slot);
    global_slot = (char *)global_slot + 24;
    assert_kept(&pr);
    global_slot = NULL;
    assert_freed(&pr);
}

static void interior_pointer_keeps_large_object(void **state)
{
    (void)state;
    struct probe pr;
    probe_make(&pr, MIB, 0, MIB, &global_slot);
    global_slot = (char *)global_slot + 700 * KIB;
    assert_kept(&pr);
    global_slot = NULL;
    assert_freed(&pr);
}

static void pointer_one_past_the_end_does_not_keep_object(void **state)
{
    (void)state;
    struct probe pr;
    /* 64 bytes is a size class of its own: the object fills its slot, and
     * base + 64 is the next slot's base. */
    probe_make(&pr, 64, 0, 64, &global_slot);
    assert_int_equal(gh_usable_size(global_slot), 64);
    global_slot = (char *)global_slot + 64;
    assert_freed(&pr);
    global_slot = NULL;
}

/* ---- Noscan and large objects -------------------------------------- */

/* holder_make allocates a holder of the given size and kind and stores a
 * new probe object at byte offset off inside it. */
static __attribute__((noinline)) void holder_make(struct probe *target, size_t size, int atomic, size_t off,
                                                  void *volatile *slot)
{
    void **holder = atomic ? gh_malloc_atomic(size) : gh_malloc(size);
    assert_non_null(holder);
    if (atomic)
        memset(holder, 0, size);
    *slot = holder;
    probe_make(target, 64, 0, 64, (void *volatile *)&holder[off / sizeof(void *)]);
}

static void pointer_in_atomic_object_does_not_keep_target(void **state)
{
    (void)state;
    struct probe target;
    holder_make(&target, 64, 1, 8, &global_slot);
    assert_freed(&target);
    assert_int_equal(hide(((void **)global_slot)[1]), target.hidden); /* holder still alive */
    global_slot = NULL;
}

static void pointer_in_scanned_object_keeps_target(void **state)
{
    (void)state;
    struct probe target;
    holder_make(&target, 64, 0, 8, &global_slot);
    assert_kept(&target);
    global_slot = NULL;
    assert_freed(&target);
}

static void pointer_in_large_atomic_object_does_not_keep_target(void **state)
{
    (void)state;
    struct probe target;
    holder_make(&target, MIB, 1, 512 * KIB, &global_slot);
    assert_freed(&target);
    global_slot = NULL;
}

static void large_object_kept_by_global_and_freed_when_dropped(void **state)
{
    (void)state;
    struct probe pr;
    probe_make(&pr, MIB, 0, MIB, &global_slot);
    assert_kept(&pr);
    global_slot = NULL;
    assert_freed(&pr);
}

/* large_holder_make puts a large object in global_slot and new objects
 * at the given offsets inside it (in a function of its own, so that the
 * test's frame keeps no copy of the large object's address). The large
 * object has no finalizer: the small ones tell when it is gone. */
static __attribute__((noinline)) void large_holder_make(struct probe *small, const size_t *offs, size_t n)
{
    char *base = gh_malloc(MIB);
    assert_non_null(base);
    global_slot = base;
    for (size_t i = 0; i < n; i++)
        probe_make(&small[i], 64, 0, 64, (void *volatile *)(base + offs[i]));
}

static void objects_referenced_only_from_large_object_stay_alive(void **state)
{
    (void)state;
    /* Offsets on both sides of the 128 KiB pieces a large object is
     * scanned in, and its last word. */
    static const size_t offs[] = { 0, 128 * KIB - 8, 128 * KIB, 600 * KIB, MIB - 8 };
    enum { N = sizeof(offs) / sizeof(offs[0]) };
    struct probe small[N];
    large_holder_make(small, offs, N);
    for (int i = 0; i < 3; i++)
        gh_gc();
    finalizers_drain();
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(probe_runs(&small[i]), 0);
        assert_true(probe_intact(&small[i]));
    }
    global_slot = NULL;
    for (size_t i = 0; i < N; i++)
        assert_freed(&small[i]);
}

static void many_roots_keep_their_objects_independently(void **state)
{
    (void)state;
    enum { N = sizeof(global_slots) / sizeof(global_slots[0]) };
    struct probe pr[N];
    for (size_t i = 0; i < N; i++)
        probe_make(&pr[i], 16 << i, i % 2, 16 << i, &global_slots[i]);
    for (size_t i = 0; i < N; i += 2)
        global_slots[i] = NULL;
    for (size_t i = 0; i < N; i += 2)
        assert_freed(&pr[i]);
    for (size_t i = 1; i < N; i += 2) {
        assert_int_equal(probe_runs(&pr[i]), 0);
        assert_true(probe_intact(&pr[i]));
        global_slots[i] = NULL;
    }
    for (size_t i = 1; i < N; i += 2)
        assert_freed(&pr[i]);
}

/* ---- Pacing ---------------------------------------------------------- */

static gh_mem_stats ms; /* too big for a comfortable stack frame */

static void set_gc_percent_returns_previous_value(void **state)
{
    (void)state;
    gh_set_gc_percent(100);
    assert_int_equal(gh_set_gc_percent(50), 100);
    assert_int_equal(gh_set_gc_percent(-1), 50);
    assert_int_equal(gh_set_gc_percent(-7), -1);
    assert_int_equal(gh_set_gc_percent(200), -1);
    assert_int_equal(gh_set_gc_percent(100), 200);
}

/* allocate_garbage allocates and drops small pointer-free objects, so
 * that a stale copy of the last address can keep no more than 4 KiB. */
static __attribute__((noinline)) void allocate_garbage(uint64_t bytes)
{
    uint64_t done = 0;
    for (unsigned i = 0; done < bytes; i++) {
        size_t n = 1024 + (i % 7) * 512;
        void *p = gh_malloc_atomic(n);
        assert_non_null(p);
        done += n;
    }
}

static void gogc_off_never_collects(void **state)
{
    (void)state;
    gh_gc();
    gh_set_gc_percent(-1);
    gh_read_mem_stats(&ms);
    uint32_t before = ms.num_gc;
    allocate_garbage(200 * MIB);
    gh_read_mem_stats(&ms);
    uint32_t after = ms.num_gc;
    gh_set_gc_percent(100);
    gh_gc();
    assert_int_equal(after, before);
}

static void gogc_on_collects_while_allocating(void **state)
{
    (void)state;
    gh_set_gc_percent(100);
    gh_gc();
    gh_read_mem_stats(&ms);
    uint32_t before = ms.num_gc;
    allocate_garbage(200 * MIB);
    gh_read_mem_stats(&ms);
    /* A small live heap: the goal is a few MiB, so 200 MiB of garbage must
     * start dozens of cycles. */
    assert_true(ms.num_gc >= before + 10);
}

#define LIVE_OBJECTS 2560 /* of 8 KiB (a size class of its own): 20 MiB */
static void *volatile live[LIVE_OBJECTS];

static void heap_goal_for(int percent)
{
    const uint64_t L = (uint64_t)LIVE_OBJECTS * 8 * KIB;
    gh_set_gc_percent(percent);
    clear_stack();
    gh_gc();
    gh_read_mem_stats(&ms);
    /* After gh_gc, heap_alloc is the marked heap: what the test keeps plus
     * the few objects the runtime and other tests keep, plus whatever a
     * stale pointer holds (at most a garbage object or two of 1 MiB). */
    uint64_t M = ms.heap_alloc;
    if (M < L || M > L + 2 * MIB + 256 * KIB)
        fail_msg("GOGC=%d: heap_alloc %llu after gh_gc, want %llu give or take a stray object", percent,
                 (unsigned long long)M, (unsigned long long)L);
    /* Go: goal = marked + (marked + stacks + globals) * GOGC/100, where
     * stacks + globals (a thread's stack and the data and bss of the
     * loaded objects) are well under 1 MiB here. */
    uint64_t lo = M + M * (uint64_t)percent / 100;
    uint64_t hi = lo + MIB * (uint64_t)percent / 100;
    if (ms.next_gc < lo || ms.next_gc > hi)
        fail_msg("GOGC=%d: next_gc %llu not in [%llu, %llu] (heap_alloc %llu)", percent,
                 (unsigned long long)ms.next_gc, (unsigned long long)lo, (unsigned long long)hi,
                 (unsigned long long)M);
}

static void heap_goal_follows_gogc_formula(void **state)
{
    (void)state;
    for (int i = 0; i < LIVE_OBJECTS; i++) {
        live[i] = gh_malloc_atomic(8 * KIB);
        assert_non_null(live[i]);
    }
    heap_goal_for(50);
    heap_goal_for(100);
    heap_goal_for(200);
}

static int heap_goal_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < LIVE_OBJECTS; i++)
        live[i] = NULL;
    gh_set_gc_percent(100);
    gh_gc();
    return 0;
}

static void heap_goal_of_small_heap_is_heap_minimum(void **state)
{
    (void)state;
    static const int percents[] = { 50, 100, 200 };
    for (size_t i = 0; i < sizeof(percents) / sizeof(percents[0]); i++) {
        gh_set_gc_percent(percents[i]);
        clear_stack();
        gh_gc();
        gh_read_mem_stats(&ms);
        if (ms.heap_alloc >= 256 * KIB)
            fail_msg("heap_alloc %llu after gh_gc, want a heap under 256 KiB", (unsigned long long)ms.heap_alloc);
        /* 4 MiB * GOGC/100 beats both the GOGC formula and the sweep
         * distance (marked + 1 MiB) for a heap this small. */
        assert_int_equal(ms.next_gc, 4 * MIB * (uint64_t)percents[i] / 100);
    }
    gh_set_gc_percent(100);
}

/* The heap's first object sits at the start of a 64 MiB arena, the
 * address just past whatever mapping lies below it; when that is a thread
 * stack, its end address (which the stopped thread's saved state can
 * hold) looks like a pointer to that object. A kept object takes the place,
 * so that no probe is ever the first object of the first arena. */
static void *volatile first_object;

static int group_setup(void **state)
{
    (void)state;
    first_object = gh_malloc(16);
    gh_set_gc_percent(100);
    /* goheap's start-up leaves addresses inside the first arena in dead
     * stack below us, where the test runner's frames are about to lie. */
    clear_stack();
    return first_object != NULL ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(global_variable_keeps_object_and_dropping_it_frees_it),
        cmocka_unit_test(static_in_shared_library_keeps_object_and_dropping_it_frees_it),
        cmocka_unit_test(static_in_unloaded_shared_library_is_no_longer_a_root),
        cmocka_unit_test(main_thread_stack_keeps_object_and_dropping_it_frees_it),
        cmocka_unit_test(other_threads_stack_keeps_object_and_dropping_it_frees_it),
        cmocka_unit_test(local_in_register_keeps_object_and_dropping_it_frees_it),
        cmocka_unit_test(register_of_running_thread_keeps_object_and_dropping_it_frees_it),
        cmocka_unit_test(user_root_keeps_object_until_removed),
        cmocka_unit_test(user_root_dropping_pointer_frees_object),
        cmocka_unit_test(interior_pointer_keeps_object),
        cmocka_unit_test(interior_pointer_keeps_large_object),
        cmocka_unit_test(pointer_one_past_the_end_does_not_keep_object),
        cmocka_unit_test(pointer_in_atomic_object_does_not_keep_target),
        cmocka_unit_test(pointer_in_scanned_object_keeps_target),
        cmocka_unit_test(pointer_in_large_atomic_object_does_not_keep_target),
        cmocka_unit_test(large_object_kept_by_global_and_freed_when_dropped),
        cmocka_unit_test(objects_referenced_only_from_large_object_stay_alive),
        cmocka_unit_test(many_roots_keep_their_objects_independently),
        cmocka_unit_test(set_gc_percent_returns_previous_value),
        cmocka_unit_test(gogc_off_never_collects),
        cmocka_unit_test(gogc_on_collects_while_allocating),
        cmocka_unit_test_teardown(heap_goal_follows_gogc_formula, heap_goal_teardown),
        cmocka_unit_test(heap_goal_of_small_heap_is_heap_minimum),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}

#endif /* COLLECTOR_ROOTS_LIB */
