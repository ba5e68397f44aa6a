/* os.c: the operating-system layer (Go: mem_linux.go, persistentalloc in
 * malloc.go). It is the only caller of mmap, munmap and madvise.
 *
 * It owns three things:
 *  - os_sys[], the bytes mapped per MemStats *_sys category. Every byte
 *    goheap maps is counted in exactly one category, so the sum of os_sys
 *    is the total mapped (Go's Sys).
 *  - the metadata allocator: os_meta_alloc bumps through 256 KiB chunks
 *    and never frees. A chunk is counted under OS_STAT_OTHER when mapped;
 *    each allocation then moves its bytes to the caller's category (as Go's
 *    persistentalloc does), so the unused tail of a chunk stays in OtherSys.
 *  - the registry of mapped ranges (os_map.h): a sorted array of disjoint
 *    [lo, hi) ranges with their kind; adjacent ranges of one kind merge.
 *    Invariant: a byte is in the registry iff goheap mapped it through this
 *    file and has not unmapped it, and then it is counted in os_sys.
 *    The registry stores each bound complemented (~addr): its array lives
 *    in goheap's bss, and a conservative scan of that bss must not mistake
 *    an arena's base for a pointer to the first object in it.
 *
 * Locking: two spin locks built on AO_test_and_set, usable in a fork child
 * and before libc has finished starting (no pthread mutex). meta.lock is
 * taken before reg.lock; reg.lock is a leaf and nothing under it calls out.
 * os_sys is only touched with atomic adds.
 *
 * Failure: a refused mmap returns NULL with errno set; nothing here prints
 * or aborts. */
#define _GNU_SOURCE
#include "os.h"
#include "os_map.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

volatile AO_t os_sys[OS_STAT_COUNT];

enum {
    META_CHUNK = 256 << 10,      /* bytes per metadata chunk */
    META_OWN = META_CHUNK / 4,   /* requests above this get their own mapping */
    META_ALIGN = 16,
    REG_MAX = 4096,              /* registry capacity, after merging */
};

/* Reservations of at least this size skip the kernel's overcommit check:
 * heap arenas are mostly untouched address space until objects land. */
#define NORESERVE_MIN ((size_t)1 << 20)

enum map_kind { KIND_PRIVATE, KIND_SHARED, KIND_META };

struct reg_range {
    uintptr_t lo_hidden;   /* ~lo */
    uintptr_t hi_hidden;   /* ~hi */
    enum map_kind kind;
};

static struct {
    AO_TS_t lock;
    int n;                            /* reg.lock */
    struct reg_range r[REG_MAX];      /* reg.lock; sorted, disjoint */
} reg = { .lock = AO_TS_INITIALIZER };

static struct {
    AO_TS_t lock;
    uintptr_t next;   /* meta.lock: bump pointer in the current chunk */
    uintptr_t end;    /* meta.lock: end of the current chunk */
} meta = { .lock = AO_TS_INITIALIZER };

static void os_lock(volatile AO_TS_t *l)
{
    /* acquire: pairs with the AO_CLEAR (release) in os_unlock. */
    while (AO_test_and_set_acquire(l) == AO_TS_SET)
        sched_yield();
}

static void os_unlock(volatile AO_TS_t *l)
{
    AO_CLEAR(l);
}

size_t os_page_size(void)
{
    /* Racing first callers store the same value; relaxed is enough. */
    static volatile AO_t page;
    size_t v = AO_load(&page);
    if (v == 0) {
        long p = sysconf(_SC_PAGESIZE);
        v = p > 0 ? (size_t)p : 4096;
        AO_store(&page, v);
    }
    return v;
}

/* os_round_page rounds n up to a page multiple; 0 if that overflows. */
static size_t os_round_page(size_t n)
{
    size_t page = os_page_size();
    if (n > SIZE_MAX - (page - 1))
        return 0;
    return (n + page - 1) & ~(page - 1);
}

/* ---- Registry ------------------------------------------------------- */

static uintptr_t reg_lo(int i) { return ~reg.r[i].lo_hidden; }
static uintptr_t reg_hi(int i) { return ~reg.r[i].hi_hidden; }
static void reg_set_lo(int i, uintptr_t lo) { reg.r[i].lo_hidden = ~lo; }
static void reg_set_hi(int i, uintptr_t hi) { reg.r[i].hi_hidden = ~hi; }

/* reg_search returns the first index whose range ends above addr (reg.n if
 * none). Needs reg.lock. */
static int reg_search(uintptr_t addr)
{
    int lo = 0, hi = reg.n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (reg_hi(mid) <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void reg_delete(int i)
{
    memmove(&reg.r[i], &reg.r[i + 1], (size_t)(reg.n - i - 1) * sizeof reg.r[0]);
    reg.n--;
}

/* reg_add records the fresh mapping [lo, hi). Returns 0, or -1 when the
 * registry is full and the range could not be merged into a neighbour. */
static int reg_add(uintptr_t lo, uintptr_t hi, enum map_kind kind)
{
    int rc = 0;
    os_lock(&reg.lock);
    int i = reg_search(lo);
    int join_prev = i > 0 && reg_hi(i - 1) == lo && reg.r[i - 1].kind == kind;
    int join_next = i < reg.n && reg_lo(i) == hi && reg.r[i].kind == kind;
    if (join_prev && join_next) {
        reg_set_hi(i - 1, reg_hi(i));
        reg_delete(i);
    } else if (join_prev) {
        reg_set_hi(i - 1, hi);
    } else if (join_next) {
        reg_set_lo(i, lo);
    } else if (reg.n == REG_MAX) {
        rc = -1;
    } else {
        memmove(&reg.r[i + 1], &reg.r[i], (size_t)(reg.n - i) * sizeof reg.r[0]);
        reg.r[i] = (struct reg_range){ ~lo, ~hi, kind };
        reg.n++;
    }
    os_unlock(&reg.lock);
    return rc;
}

/* reg_remove forgets [lo, hi), trimming or splitting ranges it cuts. If a
 * split finds the registry full, the part above hi is forgotten too: the
 * registry may under-report goheap's memory (the root scanner then scans
 * some of it needlessly) but never claims memory goheap does not own. */
static void reg_remove(uintptr_t lo, uintptr_t hi)
{
    os_lock(&reg.lock);
    int i = reg_search(lo);
    while (i < reg.n && reg_lo(i) < hi) {
        uintptr_t a = reg_lo(i), b = reg_hi(i);
        if (a < lo && b > hi) {
            if (reg.n < REG_MAX) {
                memmove(&reg.r[i + 2], &reg.r[i + 1], (size_t)(reg.n - i - 1) * sizeof reg.r[0]);
                reg.r[i + 1] = (struct reg_range){ ~hi, ~b, reg.r[i].kind };
                reg.n++;
            }
            reg_set_hi(i, lo);
            break;
        } else if (a < lo) {
            reg_set_hi(i, lo);
            i++;
        } else if (b > hi) {
            reg_set_lo(i, hi);
            break;
        } else {
            reg_delete(i);
        }
    }
    os_unlock(&reg.lock);
}

int os_owned(uintptr_t addr)
{
    os_lock(&reg.lock);
    int i = reg_search(addr);
    int owned = i < reg.n && reg_lo(i) <= addr;
    os_unlock(&reg.lock);
    return owned;
}

void os_each_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg)
{
    /* One lookup per range, with the lock dropped around fn, so that fn
     * may map memory (and so take reg.lock) itself. */
    uintptr_t cursor = 0;
    for (;;) {
        os_lock(&reg.lock);
        int i = reg_search(cursor);
        int found = i < reg.n;
        uintptr_t lo = found ? reg_lo(i) : 0, hi = found ? reg_hi(i) : 0;
        os_unlock(&reg.lock);
        if (!found)
            return;
        if (lo < cursor)
            lo = cursor;
        fn(lo, hi, arg);
        cursor = hi;
    }
}

/* ---- Mapping -------------------------------------------------------- */

/* os_map maps size bytes (a page multiple) aligned to align (a power of
 * two, at least a page), registers them under kind and counts them under
 * stat. Returns NULL with errno set on failure. */
static void *os_map(size_t size, size_t align, int shared, enum map_kind kind, enum os_stat stat)
{
    size_t page = os_page_size();
    int flags = (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
    if (size >= NORESERVE_MIN)
        flags |= MAP_NORESERVE;
    size_t extra = align > page ? align - page : 0;
    if (size > SIZE_MAX - extra) {
        errno = ENOMEM;
        return NULL;
    }
    void *raw = mmap(NULL, size + extra, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    /* Keep the aligned middle of the over-sized mapping; give back the
     * unaligned head and the tail. */
    uintptr_t start = (uintptr_t)raw;
    uintptr_t base = (start + align - 1) & ~(uintptr_t)(align - 1);
    if (base > start)
        munmap(raw, base - start);
    if (start + extra > base)
        munmap((void *)(base + size), start + extra - base);
    if (reg_add(base, base + size, kind) != 0) {
        munmap((void *)base, size);
        errno = ENOMEM;
        return NULL;
    }
    atomic_add(&os_sys[stat], size);
    return (void *)base;
}

void *os_reserve(size_t size, size_t align, enum os_stat stat)
{
    size_t page = os_page_size();
    if (align < page)
        align = page;
    if ((align & (align - 1)) != 0 || size == 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t n = os_round_page(size);
    if (n == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return os_map(n, align, 0, KIND_PRIVATE, stat);
}

void *os_reserve_shared(size_t size, enum os_stat stat)
{
    if (size == 0) {
        errno = EINVAL;
        return NULL;
    }
    size_t n = os_round_page(size);
    if (n == 0) {
        errno = ENOMEM;
        return NULL;
    }
    return os_map(n, os_page_size(), 1, KIND_SHARED, stat);
}

void os_unmap(void *p, size_t size, enum os_stat stat)
{
    size_t n = os_round_page(size);
    if (p == NULL || n == 0)
        return;
    reg_remove((uintptr_t)p, (uintptr_t)p + n);
    munmap(p, n);
    atomic_sub(&os_sys[stat], n);
}

void os_release(void *p, size_t size)
{
    madvise(p, size, MADV_DONTNEED);
}

void os_hugepage(void *p, size_t size)
{
    madvise(p, size, MADV_HUGEPAGE);
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1 */
#endif

int os_collapse(void *p, size_t size)
{
    return madvise(p, size, MADV_COLLAPSE) == 0 || errno != EINVAL ? 0 : -1;
}

/* ---- Metadata ------------------------------------------------------- */

void *os_meta_alloc(size_t size, enum os_stat stat)
{
    if (size > META_OWN) {
        size_t n = os_round_page(size);
        if (n == 0) {
            errno = ENOMEM;
            return NULL;
        }
        return os_map(n, os_page_size(), 0, KIND_META, stat);
    }
    /* Size 0 still gets a slot of its own, so results are distinct. */
    size_t n = size == 0 ? META_ALIGN : (size + META_ALIGN - 1) & ~(size_t)(META_ALIGN - 1);
    os_lock(&meta.lock);
    if (meta.end - meta.next < n) {
        void *chunk = os_map(META_CHUNK, os_page_size(), 0, KIND_META, OS_STAT_OTHER);
        if (chunk == NULL) {
            os_unlock(&meta.lock);
            return NULL;
        }
        meta.next = (uintptr_t)chunk;
        meta.end = meta.next + META_CHUNK;
    }
    void *p = (void *)meta.next;
    meta.next += n;
    os_unlock(&meta.lock);
    if (stat != OS_STAT_OTHER) {
        atomic_add(&os_sys[stat], n);
        atomic_sub(&os_sys[OS_STAT_OTHER], n);
    }
    return p;
}

/* ---- Time and CPUs -------------------------------------------------- */

static int64_t os_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t os_nanotime(void) { return os_clock(CLOCK_MONOTONIC); }
int64_t os_walltime(void) { return os_clock(CLOCK_REALTIME); }
int64_t os_thread_cputime(void) { return os_clock(CLOCK_THREAD_CPUTIME_ID); }

int os_ncpu(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

uint64_t os_proc_number(const char *path, const char *key)
{
    char buf[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strstr(buf, key);
    if (p == NULL)
        return 0;
    for (p += strlen(key); *p == ' ' || *p == '\t'; p++)
        ;
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}
