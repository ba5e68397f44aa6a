/* growth.h: the arithmetic of buffer-growth strategies, as pure functions,
 * for tools/growbench.c (which runs them on goheap) and for
 * tests/unit/test_growth.c (which checks them against hand-computed
 * sequences and Go's own numbers).
 *
 * A run appends p->chunk bytes at a time (the last append may be shorter)
 * until p->total bytes are held. A contiguous strategy keeps one buffer of
 * some capacity; when an append does not fit, growth_next_cap says the new
 * capacity, a new buffer is allocated and the bytes held so far are
 * copied. The strategies:
 *
 *   double    2*cap + n, Go 1.9's bytes.Buffer.grow (n = the append size);
 *             the old buffer is dropped for the collector.
 *   x1.5      max(cap + cap/2, need), need = len + n.
 *   goappend  Go 1.19's growslice for a []byte: double below 256 elements,
 *             then add (newcap + 3*256)/4 until need fits, need itself when
 *             that is more than double; then roundupsize (size class, or
 *             whole pages above 32 KiB).
 *   exact     need: every append that does not fit reallocates.
 *   step      need rounded up to a multiple of p->step.
 *   chunked   blocks of p->step bytes, filled in order, never copied.
 *   prealloc  p->total from the start: one allocation, no copy.
 *   realloc   capacities as double, but grown with gh_realloc, which grows
 *             in place when the object's size class or page run has room
 *             and otherwise copies and frees the old block at once.
 *
 * Everything here is header-only and free of side effects, so a test can
 * include it without linking anything. Sizes are size_t; the caller keeps
 * them far from SIZE_MAX (growbench limits total to 1 TiB). */
#ifndef TOOLS_GROWTH_H
#define TOOLS_GROWTH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum growth_strategy {
    GROWTH_DOUBLE,
    GROWTH_X15,
    GROWTH_GOAPPEND,
    GROWTH_EXACT,
    GROWTH_STEP,
    GROWTH_CHUNKED,
    GROWTH_PREALLOC,
    GROWTH_REALLOC,
    GROWTH_NSTRATEGIES
};

static const char *const growth_names[GROWTH_NSTRATEGIES] = {
    "double", "x1.5", "goappend", "exact", "step", "chunked", "prealloc", "realloc",
};

/* growth_parse returns the strategy called name, or -1. */
static inline int growth_parse(const char *name)
{
    for (int i = 0; i < GROWTH_NSTRATEGIES; i++)
        if (strcmp(name, growth_names[i]) == 0)
            return i;
    return -1;
}

struct growth_params {
    size_t total; /* bytes held at the end */
    size_t chunk; /* bytes per append */
    size_t step;  /* increment of step, block size of chunked */
};

#define GROWTH_PAGE_SIZE ((size_t)8192)
#define GROWTH_MAX_SMALL ((size_t)32768)

/* Go 1.19's object sizes of size classes 1..67 (runtime/sizeclasses.go;
 * goheap's runtime/sizeclass.c has the same table, which the unit test
 * checks). */
static const uint16_t growth_class_size[67] = {
    8,     16,    24,    32,    48,    64,    80,    96,    112,   128,   144,   160,
    176,   192,   208,   224,   240,   256,   288,   320,   352,   384,   416,   448,
    480,   512,   576,   640,   704,   768,   896,   1024,  1152,  1280,  1408,  1536,
    1792,  2048,  2304,  2688,  3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,
    6784,  6912,  8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384, 18432,
    19072, 20480, 21760, 24576, 27264, 28672, 32768,
};

/* growth_roundupsize is Go's roundupsize: the size the allocator really
 * hands out for a request of n bytes. Below 32 KiB it is the smallest size
 * class that fits; from 32 KiB on, n rounded up to whole 8 KiB pages; 0
 * stays 0. */
static inline size_t growth_roundupsize(size_t n)
{
    if (n == 0)
        return 0;
    if (n < GROWTH_MAX_SMALL) {
        size_t lo = 0, hi = sizeof growth_class_size / sizeof growth_class_size[0] - 1;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (growth_class_size[mid] < n)
                lo = mid + 1;
            else
                hi = mid;
        }
        return growth_class_size[lo];
    }
    return (n + GROWTH_PAGE_SIZE - 1) / GROWTH_PAGE_SIZE * GROWTH_PAGE_SIZE;
}

/* growth_goappend_cap is the capacity Go 1.19's append gives a []byte of
 * capacity cap that must hold need bytes (runtime.growslice). */
static inline size_t growth_goappend_cap(size_t cap, size_t need)
{
    const size_t threshold = 256;
    size_t newcap = cap;
    if (need > 2 * cap) {
        newcap = need;
    } else if (cap < threshold) {
        newcap = 2 * cap;
    } else {
        while (newcap < need)
            newcap += (newcap + 3 * threshold) / 4;
    }
    return growth_roundupsize(newcap);
}

/* growth_next_cap is the capacity a contiguous strategy grows to when a
 * buffer of capacity cap holding len bytes must take n more that do not
 * fit (len + n > cap; cap is 0 before the first allocation). chunked has
 * no single buffer: for it the answer is the next block's size. */
static inline size_t growth_next_cap(enum growth_strategy s, size_t cap, size_t len, size_t n,
                                     const struct growth_params *p)
{
    size_t need = len + n;
    switch (s) {
    case GROWTH_DOUBLE:
    case GROWTH_REALLOC:
        return 2 * cap + n;
    case GROWTH_X15:
        return cap + cap / 2 > need ? cap + cap / 2 : need;
    case GROWTH_GOAPPEND:
        return growth_goappend_cap(cap, need);
    case GROWTH_STEP:
        return (need + p->step - 1) / p->step * p->step;
    case GROWTH_CHUNKED:
        return p->step;
    case GROWTH_PREALLOC:
        return need > p->total ? need : p->total;
    case GROWTH_EXACT:
    case GROWTH_NSTRATEGIES:
        break;
    }
    return need;
}

/* growth_realloc_moves says whether growing a block that was requested
 * with old_size bytes to new_size bytes must move it: it can stay only if
 * the allocator's rounded size for old_size already holds new_size. */
static inline int growth_realloc_moves(size_t old_size, size_t new_size)
{
    return old_size == 0 || new_size > growth_roundupsize(old_size);
}

/* A whole run of a strategy, computed without allocating anything. */
struct growth_plan {
    size_t final_cap; /* capacity at the end (chunked: all blocks) */
    size_t allocs;    /* allocations (chunked: blocks; realloc: moves) */
    size_t grows;     /* allocations that replaced a smaller buffer */
    size_t copied;    /* bytes copied by grows */
    size_t allocated; /* bytes allocated, each rounded by growth_roundupsize */
    size_t copy_peak; /* largest old + new capacity alive during one grow;
                         for chunked and prealloc the final capacity */
};

/* growth_plan_run fills *out for strategy s. If each is not NULL it is
 * called once per allocation with the new capacity (chunked: the block
 * size) and the bytes copied into it. */
static inline void growth_plan_run(enum growth_strategy s, const struct growth_params *p,
                                   struct growth_plan *out,
                                   void (*each)(size_t cap, size_t copied, void *arg), void *arg)
{
    size_t len = 0, cap = 0;
    memset(out, 0, sizeof *out);
    while (len < p->total) {
        size_t n = p->total - len < p->chunk ? p->total - len : p->chunk;
        if (s == GROWTH_CHUNKED) {
            while (n > 0) {
                if (len == cap) {
                    cap += p->step;
                    out->allocs++;
                    out->allocated += growth_roundupsize(p->step);
                    if (each != NULL)
                        each(p->step, 0, arg);
                }
                size_t k = cap - len < n ? cap - len : n;
                len += k;
                n -= k;
            }
            continue;
        }
        if (len + n > cap) {
            size_t newcap = growth_next_cap(s, cap, len, n, p);
            size_t copied = len;
            int alloc = 1;
            if (s == GROWTH_REALLOC && !growth_realloc_moves(cap, newcap)) {
                copied = 0;
                alloc = 0;
            }
            if (cap > 0) {
                out->grows++;
                out->copied += copied;
                if (alloc && cap + newcap > out->copy_peak)
                    out->copy_peak = cap + newcap;
            }
            if (alloc) {
                out->allocs++;
                out->allocated += growth_roundupsize(newcap);
            }
            if (each != NULL)
                each(newcap, copied, arg);
            cap = newcap;
        }
        len += n;
    }
    out->final_cap = cap;
    if (out->copy_peak < cap)
        out->copy_peak = cap;
}

#endif
