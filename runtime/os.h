/* os.h: the operating-system layer (os.c is the only caller of mmap, munmap
 * and madvise) and the runtime's own metadata allocator.
 *
 * goheap never calls malloc: under LD_PRELOAD malloc is goheap itself. All
 * runtime metadata (span structures, thread caches, root tables, profile
 * buckets, mark stacks) comes from os_meta_alloc, which carves persistent
 * blocks out of mmap'd chunks and counts them in one of the MemStats *_sys
 * categories below. */
#ifndef GH_OS_H
#define GH_OS_H

#include <stddef.h>
#include <stdint.h>
#include "atomic.h"

/* MemStats categories of runtime memory (Go's *Sys fields). */
enum os_stat {
    OS_STAT_HEAP,       /* heap arenas (HeapSys) */
    OS_STAT_STACK,      /* StackSys */
    OS_STAT_MSPAN,      /* span structures (MSpanSys) */
    OS_STAT_MCACHE,     /* thread caches (MCacheSys) */
    OS_STAT_BUCKHASH,   /* profiling buckets (BuckHashSys) */
    OS_STAT_GC,         /* bitmaps, arena maps, mark stacks (GCSys) */
    OS_STAT_OTHER,      /* everything else (OtherSys) */
    OS_STAT_COUNT
};

/* Bytes obtained from the OS per category; read with AO_load. */
extern volatile AO_t os_sys[OS_STAT_COUNT];

/* os_reserve maps size bytes of zeroed, readable and writable anonymous
 * memory aligned to align (a power of two, at least the OS page size),
 * counted under stat. Returns NULL when the OS refuses. */
void *os_reserve(size_t size, size_t align, enum os_stat stat);

/* os_reserve_shared is os_reserve with MAP_SHARED: the memory stays shared
 * with a child made by fork or clone (used for mark bits, so that a
 * collector process can mark into them). */
void *os_reserve_shared(size_t size, enum os_stat stat);

/* os_unmap returns [p, p+size) to the OS and uncounts it from stat. */
void os_unmap(void *p, size_t size, enum os_stat stat);

/* os_release tells the OS it may drop the pages of [p, p+size) (which stay
 * mapped and read back as zero): madvise(MADV_DONTNEED). */
void os_release(void *p, size_t size);

/* os_hugepage asks for transparent huge pages on [p, p+size). */
void os_hugepage(void *p, size_t size);

/* os_collapse asks the OS to back [p, p+size) (huge-page aligned, all of
 * it in use) with huge pages again now (MADV_COLLAPSE); pages that were
 * not backed become backed. Returns 0, or -1 if the OS does not know the
 * request (then it never will). */
int os_collapse(void *p, size_t size);

/* os_meta_alloc returns size bytes of zeroed, 16-byte aligned memory that
 * is never given back, counted under stat. Thread-safe (a spin lock).
 * Returns NULL when the OS refuses. */
void *os_meta_alloc(size_t size, enum os_stat stat);

/* os_page_size is the OS page size (4096 here). */
size_t os_page_size(void);

/* os_nanotime: CLOCK_MONOTONIC in ns. os_walltime: CLOCK_REALTIME in ns.
 * os_thread_cputime: CPU time of the calling thread in ns. */
int64_t os_nanotime(void);
int64_t os_walltime(void);
int64_t os_thread_cputime(void);

/* os_ncpu: number of CPUs this process may run on (at least 1). */
int os_ncpu(void);

/* os_proc_number reads a small file of /proc (at most 4 KiB are looked
 * at) and returns the decimal number that follows the first occurrence of
 * key in it (blanks skipped), or 0 if the file cannot be read or has no
 * such key. */
uint64_t os_proc_number(const char *path, const char *key);

#endif
