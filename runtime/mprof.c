/* mprof.c: heap-profile sampling, stack buckets and the three-slot profile
 * cycle (Go: runtime/mprof.go). See mprof.h for how the heap and the
 * collector drive it and why the cycle has three future slots.
 *
 * What it owns:
 *   - the sample countdown draw (mprof_next_sample) and MemProfileRate;
 *   - buckets: one per distinct (stack, rounded size), found through a
 *     chained hash table of Go's size (BUCK_HASH_SIZE chains) and linked on
 *     one all-buckets list, newest first. Buckets are never freed; their
 *     memory comes from os_meta_alloc (BuckHashSys);
 *   - the sampled-object map p -> bucket, an open-addressing table from
 *     os_reserve, so that mprof_free can find a sampled object's bucket,
 *     and in front of it a filter of counters by address hash, so that
 *     mprof_free can tell at once that an object is not sampled;
 *   - the cycle counter C and the fold of future slots into "active".
 *
 * Locking. One spin lock, prof.lock, guards buckets, counters, the map's
 * writers and C; it is a leaf in lock.h's order (nothing else is taken
 * under it except os.c's allocators). The world is stopped by signals at
 * arbitrary points, so the collector takes prof.lock (mprof_lock) before
 * stopping the world and keeps it until the world runs again: no stopped
 * thread can hold it. While lock_held_all is set on the collector's thread
 * (world stopped) the mprof_* functions run there without locking, which
 * is how mprof_next_cycle and a stopped-world sweeper's mprof_free get in.
 * Stack capture (libunwind, which may call malloc) runs before locking.
 *
 * Lock-free reads. mprof_free is called for every object of a span that
 * holds sampled objects, so it first reads p's counter in the filter (the
 * number of map keys with p's hash; zero for nearly every object), then
 * probes the map without the lock, and only locks when p is there. A
 * counter is written under the lock before the object is handed out (a
 * free of it comes later) and after its key leaves the map; one that
 * reaches 255 stays there and only sends readers on to the map. Tables are never unmapped (a reader may hold
 * an old pointer); a table that is cleared for reuse bumps prof.map_gen
 * first, and a reader that sees the generation change falls back to the
 * locked lookup. Invariant: an object inserted before a reader started is
 * found by that reader, or the reader sees a generation change.
 *
 * Stack capture: unw_backtrace, then goheap's own frames are dropped. When
 * goheap is a shared object of its own (libgoheap.so, LD_PRELOAD), that is
 * every leading frame inside it. When it is linked into the program, the
 * frames are cut at the user's call site: the outermost frame whose call
 * instruction targets an entry point (gh_*, the malloc family). Entry-point
 * frames themselves are unreliable markers: gcc turns the calls into the
 * slow paths into tail calls and moves them into "gh_malloc.cold" parts. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY

#include <errno.h>
#include <link.h>
#include <malloc.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "goheap.h"
#include "lock.h"
#include "mprof.h"
#include "options.h"
#include "os.h"
#include "unwind.h"

#define BUCK_HASH_SIZE 179999       /* chains, as Go's buckHashSize */
#define CYCLE_WRAP (3u << 25)       /* C wraps here, a multiple of 3 */
#define CAPTURE_MAX (MPROF_MAX_STACK + 16) /* frames taken before dropping ours */
#define ENTRY_SEARCH 16             /* the user's call site is among these frames */
#define POOL_CHUNK (64 << 10)       /* bucket memory is carved from these */
#define MAP_MIN_CAP 1024            /* smallest sampled-object table */
#define FILTER_BITS 16              /* the filter has 2^16 counters */
#define FILTER_MAX 255              /* a counter that reached this stays */

/* ---- Buckets ---------------------------------------------------------- */

/* Counts of one profile cycle (Go: memRecordCycle). */
struct cycle_counts {
    int64_t allocs;
    int64_t frees;
    int64_t alloc_bytes;
    int64_t free_bytes;
};

/* One (stack, size) bucket (Go: bucket + memRecord). All fields are
 * written under prof.lock; stk and the key fields never change once the
 * bucket is on a chain. */
struct bucket {
    struct bucket *next;            /* hash chain */
    struct bucket *allnext;         /* all buckets, newest first */
    uintptr_t hash;
    size_t size;                    /* rounded object size */
    int nstk;
    struct cycle_counts active;     /* published: as of the last GC */
    struct cycle_counts future[3];  /* indexed by cycle, see mprof.h */
    uintptr_t stk[];                /* return addresses, innermost first */
};

/* ---- Sampled-object map ----------------------------------------------- */

#define KEY_EMPTY ((AO_t)0)
#define KEY_TOMB ((AO_t)1)          /* objects are 8-aligned: never a key */

struct pslot {
    volatile AO_t key;              /* object address, EMPTY or TOMB */
    volatile AO_t val;              /* struct bucket *; read under prof.lock */
};

struct ptab {
    size_t cap;                     /* slots, a power of two */
    unsigned shift;                 /* 64 - log2(cap) */
    size_t live;                    /* keys present; prof.lock */
    size_t used;                    /* live + tombstones; prof.lock */
    size_t bytes;                   /* size of this mapping */
    struct pslot slot[];
};

/* The bucket chains and the sampled-object filter, mapped together on the
 * first sample. */
struct hash_area {
    struct bucket *chain[BUCK_HASH_SIZE];   /* prof.lock */
    volatile unsigned char filter[1 << FILTER_BITS]; /* prof.lock to write; read racily */
};

/* ---- Module state ----------------------------------------------------- */

volatile AO_t mprof_rate = 512 * 1024;

static struct {
    AO_TS_t lock;
    /* Everything below up to the map is guarded by lock. */
    uint32_t cycle;                 /* C */
    int flushed;                    /* future[C%3] already folded */
    struct hash_area *hash;         /* chains and filter (atomic install) */
    struct bucket *all;             /* newest first */
    volatile AO_t nbuckets;         /* written under lock, read racily */
    char *pool;                     /* bucket memory not yet handed out */
    size_t pool_left;
    /* Sampled-object map. */
    volatile AO_t map_cur;          /* struct ptab *, store_release under lock */
    volatile AO_t map_gen;          /* bumped before a table is reused */
    volatile AO_t map_live;         /* entries in map_cur; written under lock */
    struct ptab *map_spare;         /* second table of the current capacity */
    /* Lock-free state. */
    volatile AO_t rate_set;         /* gh_set_mem_profile_rate was called */
    volatile AO_t est_bytes;        /* unsampled bytes of all samples */
    volatile AO_t hook;             /* void (*)(uint64_t) */
} prof;

/* Set while this thread is inside mprof_alloc: nested samples are skipped. */
static __thread int mprof_busy __attribute__((tls_model("initial-exec")));

void mprof_lock(void)
{
    for (int spins = 0; AO_test_and_set_acquire(&prof.lock) == AO_TS_SET; spins++)
        if (spins > 100)
            sched_yield();
}

void mprof_unlock(void)
{
    AO_CLEAR(&prof.lock);
}

/* prof_lock takes prof.lock unless this thread is the collector holding
 * every allocator lock; it returns whether prof_unlock must release it. */
static int prof_lock(void)
{
    if (lock_held_all)
        return 0;
    mprof_lock();
    return 1;
}

static void prof_unlock(int taken)
{
    if (taken)
        mprof_unlock();
}

void mprof_init(void)
{
    if (!AO_load_acquire(&prof.rate_set))
        AO_store(&mprof_rate, opts.memprofilerate > 0 ? (AO_t)opts.memprofilerate : 0);
}

int gh_set_mem_profile_rate(int rate)
{
    AO_store_release(&prof.rate_set, 1);
    AO_t prev;
    do
        prev = AO_load(&mprof_rate);
    while (!AO_compare_and_swap_full(&mprof_rate, prev, rate > 0 ? (AO_t)rate : 0));
    return (int)prev;
}

void mprof_set_sample_hook(void (*fn)(uint64_t est_bytes))
{
    AO_store_release(&prof.hook, (AO_t)fn);
}

/* ---- Sampling countdown ----------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    if (*s == 0) {
        /* splitmix64 of the state's address and the clock: distinct per
         * thread, never zero afterwards. */
        uint64_t z = (uint64_t)(uintptr_t)s ^ (uint64_t)os_nanotime();
        z += 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        *s = (z ^ (z >> 31)) | 1;
    }
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* The two functions of libm that sampling needs, here so that goheap does
 * not load libm into every process that preloads the malloc shim (half a
 * MiB of resident pages for two calls). */

/* mprof_log2 returns log2(x) for x >= 1, to about 2e-14: x = m 2^e with m
 * in [1, 2), and ln m = 2 atanh(s) with s = (m-1)/(m+1) in [0, 1/3), by
 * its series. */
static double mprof_log2(double x)
{
    union { double d; uint64_t u; } v = { x };
    int e = (int)((v.u >> 52) & 0x7ff) - 1023;
    v.u = (v.u & ~((uint64_t)0x7ff << 52)) | ((uint64_t)1023 << 52);
    double s = (v.d - 1.0) / (v.d + 1.0), s2 = s * s, sum = 0.0;
    for (int k = 25; k >= 1; k -= 2)
        sum = sum * s2 + 1.0 / k;
    return (double)e + 2.0 * s * sum * 1.4426950408889634;
}

/* mprof_exp returns e^x for x <= 0, within a few ulps: x = k ln2 + r with
 * |r| <= ln2 (ln2 split in two parts so that r is exact), e^r by its
 * Taylor series to r^20/20!, then scaled by 2^k through the exponent. */
static double mprof_exp(double x)
{
    if (x < -700.0)
        return 0.0;
    int64_t k = (int64_t)(x * 1.4426950408889634 - 0.5);
    double r = (x - (double)k * 6.93147180369123816490e-01) - (double)k * 1.90821492927058770002e-10;
    double sum = 1.0;
    for (int n = 20; n >= 1; n--)
        sum = 1.0 + sum * r / n;
    union { double d; uint64_t u; } scale = { .u = (uint64_t)(k + 1023) << 52 };
    return sum * scale.d;
}

int64_t mprof_next_sample(uint64_t *rng)
{
    int64_t rate = (int64_t)AO_load(&mprof_rate);
    if (rate <= 0)
        return INT64_MAX;
    if (rate == 1)
        return 0;
    if (rate > 0x7000000)
        rate = 0x7000000;
    /* Exponential with mean rate: q uniform in [1, 2^26], and
     * -ln(q / 2^26) * rate is the byte distance to the next sample. */
    uint64_t q = (rng_next(rng) >> 38) + 1;
    double qlog = mprof_log2((double)q) - 26.0;
    if (qlog > 0)
        qlog = 0;
    return (int64_t)(qlog * (-0.6931471805599453 * (double)rate)) + 1;
}

void mprof_unsample(int64_t count, int64_t bytes, int64_t rate, int64_t *ucount, int64_t *ubytes)
{
    if (count == 0 || bytes == 0) {
        *ucount = 0;
        *ubytes = 0;
        return;
    }
    if (rate <= 1) {
        *ucount = count;
        *ubytes = bytes;
        return;
    }
    double avg = (double)bytes / (double)count;
    double scale = 1.0 / (1.0 - mprof_exp(-avg / (double)rate));
    *ucount = (int64_t)((double)count * scale);
    *ubytes = (int64_t)((double)bytes * scale);
}

/* ---- Stack capture ---------------------------------------------------- */

/* Where goheap's code is, found once: either goheap is a shared object of
 * its own (then every frame inside it is ours), or it is linked into the
 * main program (then the user's frame is the one whose call instruction
 * targets an entry point). */
#define SEGS 8
static struct {
    volatile AO_t state;            /* 0 unknown, 1 being found, 2 ready */
    /* The rest is written once, before state becomes 2 (store_release,
     * paired with where_init's load_acquire). */
    int own_object;                 /* goheap is not the main program */
    int nself, nmain;
    uintptr_t self[SEGS][2];        /* goheap's executable segments */
    uintptr_t main[SEGS][2];        /* the main program's */
    int nentry;
    uintptr_t entry[24];            /* addresses of the entry points */
} where;

/* Entry points, compared by address only (nothing here calls the malloc
 * family). They may be absent: unit tests link no allocator, and the
 * malloc family is goheap's only when its shim is linked in. */
#pragma weak gh_malloc
#pragma weak gh_malloc_atomic
#pragma weak gh_calloc
#pragma weak gh_realloc
#pragma weak gh_aligned_alloc
#pragma weak gh_posix_memalign

static int where_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    int *index = arg;
    uintptr_t me = (uintptr_t)mprof_alloc;
    uintptr_t segs[SEGS][2];
    int n = 0, mine = 0;
    for (int i = 0; i < info->dlpi_phnum && n < SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        segs[n][0] = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
        segs[n][1] = segs[n][0] + ph->p_memsz;
        mine |= me >= segs[n][0] && me < segs[n][1];
        n++;
    }
    if ((*index)++ == 0) {
        memcpy(where.main, segs, sizeof segs);
        where.nmain = n;
    }
    if (mine) {
        memcpy(where.self, segs, sizeof segs);
        where.nself = n;
        where.own_object = *index > 1;
    }
    return 0;
}

/* where_init fills `where` once; a thread that finds another one at it
 * waits (nothing is locked meanwhile). */
static void where_init(void)
{
    if (AO_load_acquire(&where.state) == 2)
        return;
    if (!AO_compare_and_swap_full(&where.state, 0, 1)) {
        while (AO_load_acquire(&where.state) != 2)
            sched_yield();
        return;
    }
    const uintptr_t entries[] = {
        (uintptr_t)gh_malloc, (uintptr_t)gh_malloc_atomic, (uintptr_t)gh_calloc,
        (uintptr_t)gh_realloc, (uintptr_t)gh_aligned_alloc, (uintptr_t)gh_posix_memalign,
        (uintptr_t)malloc, (uintptr_t)calloc, (uintptr_t)realloc, (uintptr_t)reallocarray,
        (uintptr_t)aligned_alloc, (uintptr_t)posix_memalign, (uintptr_t)memalign,
        (uintptr_t)valloc, (uintptr_t)pvalloc,
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        if (entries[i])
            where.entry[where.nentry++] = entries[i];
    int index = 0;
    dl_iterate_phdr(where_segments, &index);
    AO_store_release(&where.state, 2);
}

static int in_segments(uintptr_t pc, uintptr_t (*segs)[2], int n)
{
    for (int i = 0; i < n; i++)
        if (pc >= segs[i][0] && pc < segs[i][1])
            return 1;
    return 0;
}

/* calls_entry: is the instruction before return address ret in the main
 * program a direct call (e8 rel32; also the relaxed "addr32 call" that
 * -fno-plt code becomes) to an entry point? Only code of the main
 * program is read, so the bytes are always mapped. */
static int calls_entry(uintptr_t ret)
{
    if (!in_segments(ret - 5, where.main, where.nmain) || *(const uint8_t *)(ret - 5) != 0xe8)
        return 0;
    int32_t rel;
    memcpy(&rel, (const void *)(ret - 4), sizeof rel);
    uintptr_t target = ret + (uintptr_t)(intptr_t)rel;
    for (int i = 0; i < where.nentry; i++)
        if (target == where.entry[i])
            return 1;
    return 0;
}

/* first_user_frame returns the index in pcs[0..n) of the innermost frame
 * to keep. pcs[0] lies in mprof_alloc, pcs[1..] are return addresses.
 * Inside the main program the outermost frame that calls an entry point
 * wins (gh_realloc may call gh_malloc itself); this survives tail calls
 * and gcc's .cold parts, which leave no entry-point frame. Without a match
 * (an entry point called through a pointer or a PLT) the caller of
 * mprof_alloc is kept. */
static int first_user_frame(const uintptr_t *pcs, int n)
{
    where_init();
    if (where.own_object) {
        int i = 0;
        while (i < n && in_segments(pcs[i] - (i > 0), where.self, where.nself))
            i++;
        return i;
    }
    int lim = n < ENTRY_SEARCH ? n : ENTRY_SEARCH, found = 0;
    for (int i = 1; i < lim; i++)
        if (calls_entry(pcs[i]))
            found = i;
    return found ? found : n > 1 ? 1 : n;
}

/* capture_stack stores the caller's stack into stk (at most
 * MPROF_MAX_STACK return addresses) and returns its depth. Inlined into
 * mprof_alloc, so that pcs[0] lies in mprof_alloc. */
static __attribute__((always_inline)) inline int capture_stack(uintptr_t *stk)
{
    void *raw[CAPTURE_MAX];
    int n = unwind_capture(raw, CAPTURE_MAX);
    if (n <= 0)
        return 0;
    uintptr_t pcs[CAPTURE_MAX];
    for (int i = 0; i < n; i++)
        pcs[i] = (uintptr_t)raw[i];
    int first = first_user_frame(pcs, n);
    int depth = n - first;
    if (depth > MPROF_MAX_STACK)
        depth = MPROF_MAX_STACK;
    memcpy(stk, pcs + first, (size_t)depth * sizeof stk[0]);
    return depth;
}

/* ---- Bucket table ----------------------------------------------------- */

static uintptr_t stack_hash(const uintptr_t *stk, int nstk, size_t size)
{
    uintptr_t h = 0;
    for (int i = 0; i < nstk; i++) {
        h += stk[i];
        h += h << 10;
        h ^= h >> 6;
    }
    h += size;
    h += h << 10;
    h ^= h >> 6;
    h += h << 3;
    h ^= h >> 11;
    return h;
}

/* bucket_find returns the bucket of (stk, size) or NULL. prof.lock held. */
static struct bucket *bucket_find(uintptr_t h, const uintptr_t *stk, int nstk, size_t size)
{
    for (struct bucket *b = prof.hash->chain[h % BUCK_HASH_SIZE]; b; b = b->next)
        if (b->hash == h && b->size == size && b->nstk == nstk &&
            memcmp(b->stk, stk, (size_t)nstk * sizeof stk[0]) == 0)
            return b;
    return NULL;
}

/* bucket_new makes the bucket of (stk, size) and links it in; NULL when
 * no memory. Buckets are carved from POOL_CHUNK blocks of os_meta_alloc
 * (never returned, like Go's persistentalloc). prof.lock held. */
static struct bucket *bucket_new(uintptr_t h, const uintptr_t *stk, int nstk, size_t size)
{
    size_t need = (sizeof(struct bucket) + (size_t)nstk * sizeof stk[0] + 15) & ~(size_t)15;
    if (prof.pool_left < need) {
        char *chunk = os_meta_alloc(POOL_CHUNK, OS_STAT_BUCKHASH);
        if (!chunk)
            return NULL;
        prof.pool = chunk;
        prof.pool_left = POOL_CHUNK;
    }
    struct bucket *b = (struct bucket *)prof.pool;
    prof.pool += need;
    prof.pool_left -= need;
    b->hash = h;
    b->size = size;
    b->nstk = nstk;
    memcpy(b->stk, stk, (size_t)nstk * sizeof stk[0]);
    b->next = prof.hash->chain[h % BUCK_HASH_SIZE];
    prof.hash->chain[h % BUCK_HASH_SIZE] = b;
    b->allnext = prof.all;
    prof.all = b;
    AO_store(&prof.nbuckets, AO_load(&prof.nbuckets) + 1);
    return b;
}

/* hash_ensure maps the chains and the filter on first use (lock not
 * held). */
static int hash_ensure(void)
{
    if (AO_load_acquire((volatile AO_t *)&prof.hash))
        return 0;
    size_t bytes = (sizeof(struct hash_area) + os_page_size() - 1) & ~(os_page_size() - 1);
    void *h = os_reserve(bytes, os_page_size(), OS_STAT_BUCKHASH);
    if (!h)
        return -1;
    if (!AO_compare_and_swap_release((volatile AO_t *)&prof.hash, 0, (AO_t)h))
        os_unmap(h, bytes, OS_STAT_BUCKHASH);
    return 0;
}

/* ---- Sampled-object map ----------------------------------------------- */

static size_t map_hash(const struct ptab *t, AO_t key)
{
    return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> t->shift);
}

static size_t filter_index(AO_t key)
{
    return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ull) >> (64 - FILTER_BITS));
}

static struct ptab *map_table_new(size_t cap)
{
    size_t bytes = sizeof(struct ptab) + cap * sizeof(struct pslot);
    bytes = (bytes + os_page_size() - 1) & ~(os_page_size() - 1);
    struct ptab *t = os_reserve(bytes, os_page_size(), OS_STAT_BUCKHASH);
    if (!t)
        return NULL;
    t->cap = cap;
    t->shift = 64u - (unsigned)__builtin_ctzl(cap);
    t->bytes = bytes;
    return t;
}

/* map_put_fresh inserts a key known to be absent into a table that has
 * no tombstones and is not yet published. */
static void map_put_fresh(struct ptab *t, AO_t key, AO_t val)
{
    size_t i = map_hash(t, key);
    while (t->slot[i].key != KEY_EMPTY)
        i = (i + 1) & (t->cap - 1);
    t->slot[i].val = val;
    t->slot[i].key = key;
    t->live++;
    t->used++;
}

/* map_rebuild moves the live entries of the current table into a clean
 * table of cap slots and publishes it. Returns -1 if no memory. Lock held. */
static int map_rebuild(size_t cap)
{
    struct ptab *old = (struct ptab *)AO_load(&prof.map_cur);
    struct ptab *t = prof.map_spare;
    if (t && t->cap == cap) {
        /* A lock-free reader may still probe the spare from when it was
         * current: announce the reuse before clearing it. */
        AO_store(&prof.map_gen, AO_load(&prof.map_gen) + 1);
        AO_nop_full();
        memset(t->slot, 0, cap * sizeof(struct pslot));
        t->live = t->used = 0;
    } else {
        t = map_table_new(cap);
        if (!t)
            return -1;
    }
    if (old)
        for (size_t i = 0; i < old->cap; i++) {
            AO_t k = old->slot[i].key;
            if (k != KEY_EMPTY && k != KEY_TOMB)
                map_put_fresh(t, k, old->slot[i].val);
        }
    AO_store_release(&prof.map_cur, (AO_t)t);
    /* An outgrown table stays mapped: a reader may still hold it. */
    prof.map_spare = old && old->cap == cap ? old : NULL;
    return 0;
}

/* map_insert records key -> val and counts a new key in the filter. Lock
 * held. Returns -1 if no memory. */
static int map_insert(AO_t key, AO_t val)
{
    struct ptab *t = (struct ptab *)AO_load(&prof.map_cur);
    if (!t || (t->used + 1) * 4 > t->cap * 3) {
        size_t live = t ? t->live : 0;
        size_t cap = MAP_MIN_CAP;
        while (cap < (live + 1) * 2)
            cap *= 2;
        if (map_rebuild(cap) != 0)
            return -1;
        t = (struct ptab *)AO_load(&prof.map_cur);
    }
    size_t i = map_hash(t, key), free_at = SIZE_MAX;
    for (;; i = (i + 1) & (t->cap - 1)) {
        AO_t k = t->slot[i].key;
        if (k == key) {
            /* Sampled again without a free in between: the newest wins. */
            t->slot[i].val = val;
            return 0;
        }
        if (k == KEY_TOMB && free_at == SIZE_MAX)
            free_at = i;
        if (k == KEY_EMPTY)
            break;
    }
    if (free_at == SIZE_MAX) {
        free_at = i;
        t->used++;
    }
    t->slot[free_at].val = val;
    AO_store_release(&t->slot[free_at].key, key);
    t->live++;
    AO_store(&prof.map_live, t->live);
    volatile unsigned char *f = &prof.hash->filter[filter_index(key)];
    if (*f < FILTER_MAX)
        *f = (unsigned char)(*f + 1);
    return 0;
}

/* map_remove deletes key, uncounts it in the filter and returns its
 * value, or 0. Lock held. */
static AO_t map_remove(AO_t key)
{
    struct ptab *t = (struct ptab *)AO_load(&prof.map_cur);
    if (!t)
        return 0;
    for (size_t i = map_hash(t, key);; i = (i + 1) & (t->cap - 1)) {
        AO_t k = t->slot[i].key;
        if (k == KEY_EMPTY)
            return 0;
        if (k == key) {
            AO_t v = t->slot[i].val;
            AO_store_release(&t->slot[i].key, KEY_TOMB);
            t->live--;
            AO_store(&prof.map_live, t->live);
            volatile unsigned char *f = &prof.hash->filter[filter_index(key)];
            if (*f < FILTER_MAX)
                *f = (unsigned char)(*f - 1);
            return v;
        }
    }
}

/* map_maybe_contains: lock-free probe. 0 means key is certainly absent;
 * 1 means present, or the table changed under us (check with the lock). */
static int map_maybe_contains(AO_t key)
{
    AO_t gen = AO_load_acquire(&prof.map_gen);
    struct ptab *t = (struct ptab *)AO_load_acquire(&prof.map_cur);
    if (!t)
        return 0;
    int found = 0;
    size_t i = map_hash(t, key);
    for (size_t n = 0; n < t->cap; n++, i = (i + 1) & (t->cap - 1)) {
        AO_t k = AO_load_acquire(&t->slot[i].key);
        if (k == key) {
            found = 1;
            break;
        }
        if (k == KEY_EMPTY)
            break;
    }
    return found || AO_load_acquire(&prof.map_gen) != gen;
}

/* ---- Recording -------------------------------------------------------- */

static void counts_add(struct cycle_counts *dst, struct cycle_counts *src)
{
    dst->allocs += src->allocs;
    dst->frees += src->frees;
    dst->alloc_bytes += src->alloc_bytes;
    dst->free_bytes += src->free_bytes;
    memset(src, 0, sizeof *src);
}

/* fold_slot moves future[index] of every bucket into active. Lock held. */
static void fold_slot(uint32_t index)
{
    for (struct bucket *b = prof.all; b; b = b->allnext)
        counts_add(&b->active, &b->future[index]);
}

int mprof_alloc(void *p, size_t size)
{
    if (mprof_busy)
        return 0;
    mprof_busy = 1;
    uintptr_t stk[MPROF_MAX_STACK];
    int nstk = capture_stack(stk);
    uintptr_t h = stack_hash(stk, nstk, size);
    struct bucket *b = NULL;
    if (hash_ensure() == 0) {
        int taken = prof_lock();
        b = bucket_find(h, stk, nstk, size);
        if (!b)
            b = bucket_new(h, stk, nstk, size);
        if (b) {
            struct cycle_counts *c = &b->future[(prof.cycle + 2) % 3];
            c->allocs++;
            c->alloc_bytes += (int64_t)size;
            /* Without a map entry the free is never seen and the object
             * stays "in use", as when Go cannot attach its special. */
            map_insert((AO_t)p, (AO_t)b);
        }
        prof_unlock(taken);
    }
    if (b) {
        int64_t uc, ub;
        mprof_unsample(1, (int64_t)size, (int64_t)AO_load(&mprof_rate), &uc, &ub);
        uint64_t est = (uint64_t)AO_fetch_and_add(&prof.est_bytes, (AO_t)ub) + (uint64_t)ub;
        void (*hook)(uint64_t) = (void (*)(uint64_t))AO_load_acquire(&prof.hook);
        if (hook)
            hook(est);
    }
    mprof_busy = 0;
    return b != NULL;
}

/* mprof_free_sampled is mprof_free for an object the filter and the
 * lock-free probe did not rule out; apart, so that the common answer
 * costs no register saves. */
static __attribute__((noinline)) int mprof_free_sampled(void *p, size_t size)
{
    int taken = prof_lock();
    struct bucket *b = (struct bucket *)map_remove((AO_t)p);
    if (b) {
        struct cycle_counts *c = &b->future[(prof.cycle + 1) % 3];
        c->frees++;
        c->free_bytes += (int64_t)size;
    }
    prof_unlock(taken);
    return b != NULL;
}

int mprof_free(void *p, size_t size)
{
    const struct hash_area *h = (const struct hash_area *)AO_load_acquire((volatile AO_t *)&prof.hash);
    if (h == NULL || AO_load(&prof.map_live) == 0 || h->filter[filter_index((AO_t)p)] == 0 ||
        !map_maybe_contains((AO_t)p))
        return 0;
    return mprof_free_sampled(p, size);
}

void mprof_next_cycle(void)
{
    int taken = prof_lock();
    prof.cycle = (prof.cycle + 1) % CYCLE_WRAP;
    prof.flushed = 0;
    prof_unlock(taken);
}

void mprof_flush(void)
{
    int taken = prof_lock();
    if (!prof.flushed) {
        fold_slot(prof.cycle % 3);
        prof.flushed = 1;
    }
    prof_unlock(taken);
}

void mprof_post_sweep(void)
{
    int taken = prof_lock();
    fold_slot((prof.cycle + 1) % 3);
    prof_unlock(taken);
}

/* ---- Snapshot --------------------------------------------------------- */

int mprof_snapshot_take(struct mprof_snapshot *s)
{
    for (;;) {
        size_t cap = (size_t)AO_load(&prof.nbuckets) + 64;
        size_t bytes = cap * sizeof(struct mprof_record);
        bytes = (bytes + os_page_size() - 1) & ~(os_page_size() - 1);
        struct mprof_record *rec = os_reserve(bytes, os_page_size(), OS_STAT_OTHER);
        if (!rec) {
            errno = ENOMEM;
            return -1;
        }
        int taken = prof_lock();
        if ((size_t)AO_load(&prof.nbuckets) > cap) {
            prof_unlock(taken);
            os_unmap(rec, bytes, OS_STAT_OTHER);
            continue;
        }
        /* Between next_cycle and flush the latest GC's data sits in
         * future[C%3]; nothing else writes that slot during cycle C. */
        fold_slot(prof.cycle % 3);
        int clear = 1;
        for (struct bucket *b = prof.all; b && clear; b = b->allnext)
            if (b->active.allocs != 0 || b->active.frees != 0)
                clear = 0;
        if (clear)
            for (uint32_t i = 0; i < 3; i++)
                fold_slot(i);
        size_t n = 0;
        for (struct bucket *b = prof.all; b; b = b->allnext, n++) {
            struct mprof_record *r = &rec[n];
            r->alloc_objects = b->active.allocs;
            r->alloc_bytes = b->active.alloc_bytes;
            r->free_objects = b->active.frees;
            r->free_bytes = b->active.free_bytes;
            r->nstk = b->nstk;
            memcpy(r->stk, b->stk, (size_t)b->nstk * sizeof b->stk[0]);
        }
        prof_unlock(taken);
        s->rec = rec;
        s->n = n;
        s->bytes = bytes;
        return 0;
    }
}

void mprof_snapshot_release(struct mprof_snapshot *s)
{
    if (s->rec)
        os_unmap(s->rec, s->bytes, OS_STAT_OTHER);
    s->rec = NULL;
    s->n = 0;
    s->bytes = 0;
}
