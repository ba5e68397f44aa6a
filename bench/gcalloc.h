/* gcalloc.h: the one place where the collector benchmarks (gcbench.c,
 * binarytrees.c) name their collector, so that the same source measures
 * goheap and bdwgc.
 *
 * Build with exactly one of
 *   -DUSE_GOHEAP   gh_malloc / gh_malloc_atomic from goheap.h, linked
 *                  statically with libgoheap.a;
 *   -DUSE_BDWGC    GC_MALLOC / GC_MALLOC_ATOMIC from <gc/gc.h>, linked with
 *                  -lgc, started with GC_INIT() and left with its defaults.
 *
 * Both allocators hand out memory the program never frees: the collector
 * reclaims it. gcalloc() returns zeroed memory that is scanned for
 * pointers; gcalloc_atomic() returns memory that is never scanned and whose
 * contents are unspecified. Both print a message and exit(1) when the
 * allocator returns NULL, so a benchmark never measures a failed run. */
#ifndef BENCH_GCALLOC_H
#define BENCH_GCALLOC_H

#include <stdio.h>
#include <stdlib.h>

#if defined(USE_GOHEAP) && !defined(USE_BDWGC)
#include "goheap.h"
#define GCALLOC_NAME "goheap"
#define GCALLOC_INIT() ((void)0)
#define GCALLOC_RAW(n) gh_malloc(n)
#define GCALLOC_RAW_ATOMIC(n) gh_malloc_atomic(n)
#elif defined(USE_BDWGC) && !defined(USE_GOHEAP)
#include <gc/gc.h>
#define GCALLOC_NAME "bdwgc"
#define GCALLOC_INIT() GC_INIT()
#define GCALLOC_RAW(n) GC_MALLOC(n)
#define GCALLOC_RAW_ATOMIC(n) GC_MALLOC_ATOMIC(n)
#else
#error "build with exactly one of -DUSE_GOHEAP or -DUSE_BDWGC"
#endif

static __attribute__((noreturn, cold, noinline)) void gcalloc_fail(size_t n)
{
    fprintf(stderr, "%s: out of memory allocating %zu bytes\n", GCALLOC_NAME, n);
    exit(1);
}

static inline void *gcalloc(size_t n)
{
    void *p = GCALLOC_RAW(n);
    if (p == NULL)
        gcalloc_fail(n);
    return p;
}

static inline void *gcalloc_atomic(size_t n)
{
    void *p = GCALLOC_RAW_ATOMIC(n);
    if (p == NULL)
        gcalloc_fail(n);
    return p;
}

#endif /* BENCH_GCALLOC_H */
