/* span.h: a span is a run of pages holding objects of one span class (Go:
 * mspan). See malloc.c for how spans, caches, central lists and the page
 * heap fit together.
 *
 * Allocation state. alloc_bits is authoritative: bit i set <=> slot i holds
 * an allocated object. Only the span's owner writes it: the thread cache
 * that has the span cached (owner != NULL), otherwise whoever holds the
 * central lock of its class. The owning cache allocates from alloc_cache,
 * the inverted copy of word cache_word of alloc_bits, and writes each
 * allocation through to alloc_bits so that any thread can answer "is this
 * slot allocated?" (the collector's pointer lookup, double-free checks).
 *
 * Frees by a thread that does not own the span set a bit in xfree_bits
 * (atomic OR; a bit already set is a double free) and raise xfree_pending;
 * the owner folds them into alloc_bits when it runs out of free slots, and
 * uncaching and sweeping fold them too. Slots pending in xfree_bits are
 * still allocated as far as everyone else is concerned.
 *
 * Mark bits (mark_bits, one bit per slot) live in memory shared with a
 * forked marker process (os_reserve_shared). At sweep, a slot survives iff
 * it is allocated and marked: alloc_bits &= mark_bits, then mark_bits is
 * cleared (Go swaps gcmarkBits in as allocBits; we mask, because explicit
 * frees and allocation during a cycle also write these bits).
 *
 * States (state, published with a release store once the other fields are
 * valid, read with acquire by lock-free lookups):
 *   SPAN_DEAD    struct is on the span free list, fields meaningless.
 *   SPAN_FREE    a free page run in the page heap (heap.lock).
 *   SPAN_IN_USE  holds objects; base, limit, elemsize, divmul, nelems are
 *                immutable until it is freed again.
 *
 * sweepgen, relative to the heap's sweepgen sg (gc.c bumps it by 2 at every
 * mark termination, world stopped): sg-2 needs sweeping, sg is swept. A
 * cached span is always swept; sweeping runs under the class's central
 * lock. */
#ifndef GH_SPAN_H
#define GH_SPAN_H

#include <stdint.h>
#include <stddef.h>
#include "atomic.h"
#include "sizeclass.h"

/* Code that changes a cache or the spans it owns without holding a lock
 * lives in this section (malloc.c, cache.c, the owner-side functions of
 * span.c), so that the collector can tell from a stopped thread's program
 * counter whether its cache is in the middle of a change (cache.c). */
#define ALLOC_TEXT __attribute__((section("gh_alloc_text")))

#define SPAN_MAX_WORDS 16 /* bitmap words: the most objects in a span is 1024 */

enum span_state { SPAN_DEAD = 0, SPAN_FREE = 1, SPAN_IN_USE = 2 };

struct cache;

struct span {
    /* Hot: touched by every allocation from the owning cache. */
    uint64_t alloc_cache;      /* owner: ~alloc_bits[cache_word] & valid slots */
    uintptr_t window_base;     /* owner: address of slot cache_word * 64 */
    uint32_t cache_word;       /* owner: word of alloc_bits mirrored above */
    uint32_t free_left;        /* owner: fast frees until gh_free calls cache_free_noncurrent */
    uint8_t needzero;          /* owner/lock: slots may hold old data */
    uint8_t spanclass;         /* immutable while in use */
    uint8_t sizeclass;         /* immutable while in use: spanclass_sizeclass(spanclass) */
    uint8_t specials;          /* some object has a finalizer */
    uintptr_t base;            /* immutable while in use: first byte */
    uintptr_t elemsize;        /* immutable: object size (npages*PAGE_SIZE if large) */
    volatile AO_t sampled;     /* atomic: objects the profiler sampled and still tracks */
    struct cache *owner;       /* central lock; read racily by freeing threads */

    /* Lookup: read lock-free by any thread. */
    uintptr_t limit;           /* end of the last object (large: base + requested size) */
    uint32_t divmul;           /* offset -> index: (off * divmul) >> 32; 0 if large */
    uint32_t nelems;           /* number of slots */
    volatile AO_t state;       /* enum span_state: release/acquire */
    volatile AO_t sweepgen;    /* see above */
    uint64_t *mark_bits;       /* shared memory, SPAN_MAX_WORDS words; atomic OR */

    /* Page heap. */
    uintptr_t npages;          /* heap.lock */
    uintptr_t nreleased;       /* SPAN_FREE: pages of this run returned to the OS */
    struct span *next, *prev;  /* central list or heap free bin */
    uint32_t alloc_count;      /* central lock when unowned: slots allocated */
    uint8_t list;              /* central list the span is on (central.c) */
    uint8_t kept;              /* central lock: an empty span kept on a partial list (central.c) */

    volatile AO_t xfree_pending;                /* a bit was set in xfree_bits */
    volatile AO_t xfree_bits[SPAN_MAX_WORDS];   /* frees by non-owners */
    uint64_t alloc_bits[SPAN_MAX_WORDS];        /* see above */
};

/* The placeholder every empty cache slot points at: never has a free slot,
 * so the allocation fast path needs no NULL test (Go: emptymspan). */
extern struct span span_empty;

static inline unsigned span_nwords(const struct span *s) { return (s->nelems + 63) / 64; }

/* span_valid_mask is the mask of real slots in bitmap word w. */
static inline uint64_t span_valid_mask(const struct span *s, unsigned w)
{
    unsigned rest = s->nelems - w * 64;
    return rest >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << rest) - 1);
}

/* span_index is the slot holding byte p of span s (p in [base, limit)). */
static inline uintptr_t span_index(const struct span *s, uintptr_t p)
{
    return (uintptr_t)(((uint64_t)(p - s->base) * s->divmul) >> 32);
}

static inline int span_is_allocated(const struct span *s, uintptr_t idx)
{
    return (int)((s->alloc_bits[idx / 64] >> (idx % 64)) & 1);
}

static inline int span_is_marked(const struct span *s, uintptr_t idx)
{
    return (int)((AO_load((volatile AO_t *)&s->mark_bits[idx / 64]) >> (idx % 64)) & 1);
}

/* span_set_mark sets the mark bit of slot idx; returns 1 if it was clear. */
int span_set_mark(struct span *s, uintptr_t idx);

/* span_init_small/large set up the span struct heap_alloc_span returned
 * (base and npages set) with all slots free (small) or its one object of
 * size bytes allocated (large), stamp it swept at sweepgen, set all mark
 * bits if black (a cycle is marking), and publish it as SPAN_IN_USE. */
void span_init_small(struct span *s, unsigned spanclass, uintptr_t sweepgen, int black);
void span_init_large(struct span *s, unsigned spanclass, size_t size, uintptr_t sweepgen, int black);

/* span_drain_xfree folds pending remote frees into alloc_bits (and the
 * current window); caller owns the span. Returns the number of objects
 * freed. */
unsigned span_drain_xfree(struct span *s);

/* span_count counts allocated slots. */
unsigned span_count(const struct span *s);

/* span_next_window loads the next bitmap word with a free slot into
 * alloc_cache, scanning forward from cache_word and wrapping once; returns
 * 0 when the span is full. Caller owns the span. */
int span_next_window(struct span *s);

/* span_check verifies a span's invariants (debug builds, after GC). */
void span_check(const struct span *s);

#endif
