/* test_os.c: the OS layer: aligned reservations, shared mappings, the
 * metadata allocator, os_sys accounting and the registry of mappings. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os.h"
#include "os_map.h"

static size_t page;

static int setup(void **state)
{
    (void)state;
    page = (size_t)sysconf(_SC_PAGESIZE);
    return 0;
}

/* vm_pages is the process's total mapped size in pages, read without
 * stdio (which could map memory itself). */
static long vm_pages(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = '\0';
    return atol(buf);
}

static uintptr_t sys_total(void)
{
    uintptr_t t = 0;
    for (int i = 0; i < OS_STAT_COUNT; i++)
        t += AO_load(&os_sys[i]);
    return t;
}

static void page_size_matches_sysconf(void **state)
{
    (void)state;
    assert_int_equal(os_page_size(), page);
}

/* reserve_once reserves size bytes aligned to align, checks the result and
 * unmaps it. Returns how many pages the reservation added to the process:
 * exactly its own unless the trimming is broken. (Nothing else in this
 * test program maps memory meanwhile: it allocates nothing from goheap, so
 * no collector thread has work.) */
static long reserve_once(size_t size, size_t align)
{
    long vm0 = vm_pages();
    AO_t gc0 = AO_load(&os_sys[OS_STAT_GC]);
    char *p = os_reserve(size, align, OS_STAT_GC);
    long added = vm_pages() - vm0;
    assert_non_null(p);
    assert_int_equal((uintptr_t)p & (align - 1), 0);
    assert_int_equal(AO_load(&os_sys[OS_STAT_GC]) - gc0, 3 * page);
    for (size_t i = 0; i < 3 * page; i++)
        assert_int_equal(p[i], 0);
    memset(p, 0xa5, 3 * page);
    assert_true(os_owned((uintptr_t)p));
    assert_true(os_owned((uintptr_t)p + 3 * page - 1));
    os_unmap(p, size, OS_STAT_GC);
    assert_int_equal(AO_load(&os_sys[OS_STAT_GC]), gc0);
    assert_false(os_owned((uintptr_t)p));
    return added;
}

static void reserve_honours_alignment_and_trims(void **state)
{
    (void)state;
    size_t size = 2 * page + 1;   /* rounds up to 3 pages */
    for (size_t align = 4096; align <= ((size_t)64 << 20); align <<= 1) {
        assert_int_equal(reserve_once(size, align), 3);
    }
}

static void reserve_big_aligned_region_is_zeroed(void **state)
{
    (void)state;
    size_t size = (size_t)128 << 20, align = (size_t)64 << 20;
    AO_t heap0 = AO_load(&os_sys[OS_STAT_HEAP]);
    char *p = os_reserve(size, align, OS_STAT_HEAP);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p & (align - 1), 0);
    assert_int_equal(AO_load(&os_sys[OS_STAT_HEAP]) - heap0, size);
    for (size_t off = 0; off < size; off += page)
        assert_int_equal(*(volatile uint64_t *)(p + off), 0);
    p[size - 1] = 1;
    assert_int_equal(p[size - 1], 1);
    os_unmap(p, size, OS_STAT_HEAP);
    assert_int_equal(AO_load(&os_sys[OS_STAT_HEAP]), heap0);
}

static void reserve_rejects_bad_arguments(void **state)
{
    (void)state;
    uintptr_t t0 = sys_total();
    errno = 0;
    assert_null(os_reserve(page, 3 * page, OS_STAT_OTHER));
    assert_int_equal(errno, EINVAL);
    assert_null(os_reserve(0, page, OS_STAT_OTHER));
    assert_null(os_reserve(SIZE_MAX - 10, page, OS_STAT_OTHER));
    assert_null(os_reserve((size_t)1 << 62, (size_t)1 << 62, OS_STAT_OTHER));
    assert_null(os_reserve_shared(0, OS_STAT_OTHER));
    assert_int_equal(sys_total(), t0);
}

static void release_drops_contents_and_hugepage_keeps_them(void **state)
{
    (void)state;
    size_t size = (size_t)4 << 20;
    char *p = os_reserve(size, (size_t)2 << 20, OS_STAT_OTHER);
    assert_non_null(p);
    memset(p, 7, size);
    os_hugepage(p, size);
    assert_int_equal(p[0], 7);
    assert_int_equal(p[size - 1], 7);
    os_release(p + page, 2 * page);
    assert_int_equal(p[page - 1], 7);
    assert_int_equal(p[page], 0);
    assert_int_equal(p[3 * page - 1], 0);
    assert_int_equal(p[3 * page], 7);
    /* Released pages stay mapped and owned. */
    assert_true(os_owned((uintptr_t)p + page));
    p[page] = 1;
    os_unmap(p, size, OS_STAT_OTHER);
}

static void shared_memory_is_visible_across_fork(void **state)
{
    (void)state;
    volatile int *shared = os_reserve_shared(page, OS_STAT_GC);
    volatile int *private = os_reserve(page, page, OS_STAT_GC);
    assert_non_null(shared);
    assert_non_null(private);
    assert_int_equal(shared[0], 0);
    assert_true(os_owned((uintptr_t)shared));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        shared[0] = 42;
        private[0] = 42;
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(shared[0], 42);
    assert_int_equal(private[0], 0);
    os_unmap((void *)shared, page, OS_STAT_GC);
    os_unmap((void *)private, page, OS_STAT_GC);
}

static void meta_alloc_is_aligned_zeroed_and_counted(void **state)
{
    (void)state;
    uintptr_t t0 = sys_total();
    AO_t mspan0 = AO_load(&os_sys[OS_STAT_MSPAN]);
    char *prev = NULL;
    size_t counted = 0;
    for (size_t size = 0; size < 600; size += 7) {
        char *p = os_meta_alloc(size, OS_STAT_MSPAN);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p & 15, 0);
        assert_ptr_not_equal(p, prev);
        for (size_t i = 0; i < size; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xff, size);
        assert_true(os_owned((uintptr_t)p));
        counted += size == 0 ? 16 : (size + 15) & ~(size_t)15;
        prev = p;
    }
    assert_int_equal(AO_load(&os_sys[OS_STAT_MSPAN]) - mspan0, counted);
    /* New chunks, if any, are whole 256 KiB mappings. */
    assert_int_equal((sys_total() - t0) % (256 << 10), 0);

    /* A big request gets a mapping of its own, counted in full. */
    t0 = sys_total();
    AO_t gc0 = AO_load(&os_sys[OS_STAT_GC]);
    size_t big = (size_t)1 << 20;
    char *b = os_meta_alloc(big + 1, OS_STAT_GC);
    assert_non_null(b);
    assert_int_equal((uintptr_t)b % page, 0);
    assert_int_equal(AO_load(&os_sys[OS_STAT_GC]) - gc0, big + page);
    assert_int_equal(sys_total() - t0, big + page);
    assert_int_equal(b[big], 0);
    assert_true(os_owned((uintptr_t)b + big));
}

enum { META_THREADS = 4, META_ALLOCS = 100000 };

struct meta_block {
    uintptr_t p;
    size_t size;
};

static struct meta_block meta_blocks[META_THREADS][META_ALLOCS];
static volatile AO_t meta_go;

static void *meta_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seed = (unsigned)id * 2654435761u + 1;
    while (!AO_load_acquire(&meta_go))
        sched_yield();
    /* Allocate in a tight loop first, so that the threads contend for the
     * lock as much as possible; check and fill the blocks afterwards. */
    for (int i = 0; i < META_ALLOCS; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t size = 1 + (seed >> 16) % 64;
        meta_blocks[id][i] = (struct meta_block){ (uintptr_t)os_meta_alloc(size, OS_STAT_BUCKHASH), size };
    }
    for (int i = 0; i < META_ALLOCS; i++) {
        unsigned char *p = (unsigned char *)meta_blocks[id][i].p;
        if (p == NULL || ((uintptr_t)p & 15) != 0)
            return (void *)1;
        for (size_t k = 0; k < meta_blocks[id][i].size; k++)
            if (p[k] != 0)
                return (void *)2;
        memset(p, id + 1, meta_blocks[id][i].size);
    }
    return NULL;
}

static int block_cmp(const void *a, const void *b)
{
    const struct meta_block *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void meta_alloc_is_thread_safe(void **state)
{
    (void)state;
    AO_t buck0 = AO_load(&os_sys[OS_STAT_BUCKHASH]);
    pthread_t t[META_THREADS];
    for (int i = 0; i < META_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, meta_worker, (void *)(intptr_t)i), 0);
    AO_store_release(&meta_go, 1);
    for (int i = 0; i < META_THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    /* Every block still holds its owner's fill: no two blocks overlapped. */
    size_t counted = 0;
    for (int id = 0; id < META_THREADS; id++) {
        for (int i = 0; i < META_ALLOCS; i++) {
            const unsigned char *p = (const unsigned char *)meta_blocks[id][i].p;
            for (size_t k = 0; k < meta_blocks[id][i].size; k++)
                assert_int_equal(p[k], id + 1);
            counted += (meta_blocks[id][i].size + 15) & ~(size_t)15;
        }
    }
    qsort(meta_blocks, META_THREADS * META_ALLOCS, sizeof(struct meta_block), block_cmp);
    struct meta_block *all = &meta_blocks[0][0];
    for (size_t i = 1; i < META_THREADS * META_ALLOCS; i++)
        assert_true(all[i - 1].p + all[i - 1].size <= all[i].p);
    assert_int_equal(AO_load(&os_sys[OS_STAT_BUCKHASH]) - buck0, counted);
}

struct walk {
    uintptr_t total;
    uintptr_t last_hi;
    int ranges;
    int sorted;
};

static void walk_fn(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct walk *w = arg;
    if (lo >= hi || lo < w->last_hi || lo % page != 0 || hi % page != 0)
        w->sorted = 0;
    w->total += hi - lo;
    w->last_hi = hi;
    w->ranges++;
}

static void registry_matches_os_sys(void **state)
{
    (void)state;
    /* Every byte this file maps is both registered and counted. */
    void *a = os_reserve(5 * page, page, OS_STAT_STACK);
    void *b = os_reserve_shared(2 * page, OS_STAT_GC);
    assert_non_null(os_meta_alloc(100, OS_STAT_MCACHE));
    struct walk w = { 0, 0, 0, 1 };
    os_each_mapping(walk_fn, &w);
    assert_true(w.sorted);
    assert_true(w.ranges >= 2);
    assert_int_equal(w.total, sys_total());
    os_unmap(a, 5 * page, OS_STAT_STACK);
    os_unmap(b, 2 * page, OS_STAT_GC);
    w = (struct walk){ 0, 0, 0, 1 };
    os_each_mapping(walk_fn, &w);
    assert_true(w.sorted);
    assert_int_equal(w.total, sys_total());
}

static int static_var;

static void owned_rejects_foreign_memory(void **state)
{
    (void)state;
    int local = 0;
    void *heap = malloc(64);
    assert_non_null(heap);
    assert_false(os_owned((uintptr_t)&local));
    assert_false(os_owned((uintptr_t)&static_var));
    assert_false(os_owned((uintptr_t)heap));
    assert_false(os_owned((uintptr_t)&owned_rejects_foreign_memory));
    assert_false(os_owned(0));
    assert_false(os_owned(UINTPTR_MAX));
    free(heap);
}

struct find {
    uintptr_t addr;
    int hits;
};

static void find_fn(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct find *f = arg;
    if (f->addr >= lo && f->addr < hi)
        f->hits++;
}

static int walk_covers(uintptr_t addr)
{
    struct find f = { addr, 0 };
    os_each_mapping(find_fn, &f);
    return f.hits;
}

static void partial_unmap_splits_and_trims(void **state)
{
    (void)state;
    char *p = os_reserve(5 * page, page, OS_STAT_OTHER);
    assert_non_null(p);
    os_unmap(p + 2 * page, page, OS_STAT_OTHER);   /* hole in the middle */
    os_unmap(p, page, OS_STAT_OTHER);              /* trim the head */
    os_unmap(p + 4 * page, page, OS_STAT_OTHER);   /* trim the tail */
    assert_false(os_owned((uintptr_t)p));
    assert_true(os_owned((uintptr_t)p + page));
    assert_false(os_owned((uintptr_t)p + 2 * page));
    assert_true(os_owned((uintptr_t)p + 3 * page));
    assert_false(os_owned((uintptr_t)p + 4 * page));
    assert_int_equal(walk_covers((uintptr_t)p + page), 1);
    assert_int_equal(walk_covers((uintptr_t)p + 2 * page), 0);
    assert_int_equal(walk_covers((uintptr_t)p + 3 * page), 1);
    struct walk w = { 0, 0, 0, 1 };
    os_each_mapping(walk_fn, &w);
    assert_true(w.sorted);
    assert_int_equal(w.total, sys_total());
    os_unmap(p + page, page, OS_STAT_OTHER);
    os_unmap(p + 3 * page, page, OS_STAT_OTHER);
    assert_false(os_owned((uintptr_t)p + page));
    assert_false(os_owned((uintptr_t)p + 3 * page));
}

/* The callback runs without the registry lock: it may map memory. */
static void *mapped_in_callback;

static void mapping_fn(uintptr_t lo, uintptr_t hi, void *arg)
{
    (void)lo;
    (void)hi;
    int *calls = arg;
    if ((*calls)++ == 0)
        mapped_in_callback = os_reserve(page, page, OS_STAT_OTHER);
}

static void each_mapping_callback_may_map(void **state)
{
    (void)state;
    int calls = 0;
    os_each_mapping(mapping_fn, &calls);
    assert_true(calls >= 1);
    assert_non_null(mapped_in_callback);
    assert_true(os_owned((uintptr_t)mapped_in_callback));
    os_unmap(mapped_in_callback, page, OS_STAT_OTHER);
}

static void proc_numbers_are_read_by_key(void **state)
{
    (void)state;
    /* 8 MiB touched must show in the resident set. */
    size_t n = (size_t)8 << 20;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    uint64_t before = os_proc_number("/proc/self/status", "\nVmRSS:");
    memset(p, 1, n);
    uint64_t after = os_proc_number("/proc/self/status", "\nVmRSS:");
    assert_true(before > 0);
    assert_true(after >= before + (n >> 10) / 2);
    munmap(p, n);
    assert_int_equal(os_proc_number("/proc/self/status", "\nNoSuchKey:"), 0);
    assert_int_equal(os_proc_number("/proc/self/no-such-file", "\nVmRSS:"), 0);
    /* The number right after the key, spaces skipped: Pid is getpid(). */
    assert_int_equal(os_proc_number("/proc/self/status", "\nPid:"), (uint64_t)getpid());
}

static void clocks_and_cpus(void **state)
{
    (void)state;
    int64_t t0 = os_nanotime();
    int64_t t1 = os_nanotime();
    assert_true(t0 > 0 && t1 >= t0);
    /* Later than 2020-01-01: the clock is in nanoseconds since 1970. */
    assert_true(os_walltime() > INT64_C(1577836800) * 1000000000);
    /* Spinning burns thread CPU time, which the clock must see. */
    int64_t c0 = os_thread_cputime();
    volatile uint64_t x = 0;
    for (int i = 0; i < 100000000 && os_thread_cputime() == c0; i++)
        x += (uint64_t)i;
    assert_true(os_thread_cputime() > c0);
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
    assert_int_equal(os_ncpu(), CPU_COUNT(&set));
    assert_true(os_ncpu() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_size_matches_sysconf),
        cmocka_unit_test(reserve_honours_alignment_and_trims),
        cmocka_unit_test(reserve_big_aligned_region_is_zeroed),
        cmocka_unit_test(reserve_rejects_bad_arguments),
        cmocka_unit_test(release_drops_contents_and_hugepage_keeps_them),
        cmocka_unit_test(shared_memory_is_visible_across_fork),
        cmocka_unit_test(meta_alloc_is_aligned_zeroed_and_counted),
        cmocka_unit_test(meta_alloc_is_thread_safe),
        cmocka_unit_test(registry_matches_os_sys),
        cmocka_unit_test(owned_rejects_foreign_memory),
        cmocka_unit_test(partial_unmap_splits_and_trims),
        cmocka_unit_test(each_mapping_callback_may_map),
        cmocka_unit_test(proc_numbers_are_read_by_key),
        cmocka_unit_test(clocks_and_cpus),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
