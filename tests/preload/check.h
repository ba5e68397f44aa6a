/* check.h: what the preload test programs share.
 *
 * The programs are ordinary C programs that call malloc and friends; run.sh
 * starts them on goheap with LD_PRELOAD=libgoheap-malloc.so and also links
 * them with libgoheap-malloc.a. They reach goheap's API through weak
 * references, so the same binary also runs (and must pass, where a check
 * does not need goheap) on the C library's malloc. */
#ifndef GH_PRELOAD_CHECK_H
#define GH_PRELOAD_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "goheap.h"

#pragma weak gh_gc
#pragma weak gh_read_mem_stats
#pragma weak gh_report_leaks
#pragma weak gh_set_gc_percent

/* on_goheap tells whether goheap provides malloc in this process. */
static inline int on_goheap(void)
{
    return gh_read_mem_stats != NULL;
}

static int check_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

/* num_gc returns the number of completed collections (0 off goheap). */
static inline uint32_t num_gc(void)
{
    static gh_mem_stats m;
    if (!on_goheap())
        return 0;
    gh_read_mem_stats(&m);
    return m.num_gc;
}

/* heap_alloc returns goheap's HeapAlloc (0 off goheap). */
static inline uint64_t heap_alloc(void)
{
    static gh_mem_stats m;
    if (!on_goheap())
        return 0;
    gh_read_mem_stats(&m);
    return m.heap_alloc;
}

/* sink keeps the compiler from dropping an allocation that is never used
 * (gcc may remove a malloc whose result goes nowhere). */
static inline void sink(void *p)
{
    __asm__ volatile("" : : "r"(p) : "memory");
}

/* check_exit prints the verdict and returns the exit status. */
static inline int check_exit(const char *name)
{
    if (check_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    return check_failures != 0;
}

#endif
