/* heap.h: the page heap (Go: mheap, mpagealloc). See malloc.c for the
 * overview. */
#ifndef GH_HEAP_H
#define GH_HEAP_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include "span.h"

#define ARENA_SHIFT 26                                /* 64 MiB arenas */
#define ARENA_SIZE ((uintptr_t)1 << ARENA_SHIFT)
#define PAGES_PER_ARENA (ARENA_SIZE >> PAGE_SHIFT)    /* 8192 */
#define ADDR_BITS 47                                  /* user addresses on x86-64 */
#define ARENA_MAP_ENTRIES ((uintptr_t)1 << (ADDR_BITS - ARENA_SHIFT))

/* Per-arena metadata, off-heap (Go: heapArena). */
struct arena {
    struct span *spans[PAGES_PER_ARENA]; /* page -> span; see heap.c for which entries are exact */
    uintptr_t base;
    uintptr_t zeroed;                    /* heap.lock: pages at or past this offset were never used */
};

/* arena_map[addr >> ARENA_SHIFT] is the arena holding addr, or NULL. Entries
 * are written once (heap.lock) with a release store and never cleared. */
extern struct arena *volatile *arena_map;

/* heap_span_of returns the span that page p belongs to, or NULL; the result
 * must be checked for state and range by the caller (O(1), lock-free). */
static inline struct span *heap_span_of(uintptr_t p)
{
    /* Addresses past ADDR_BITS alias a lower arena; no span there holds
     * them, so the caller's range check rejects them. */
    struct arena *a = arena_map ? arena_map[(p >> ARENA_SHIFT) & (ARENA_MAP_ENTRIES - 1)] : NULL;
    if (a == NULL)
        return NULL;
    return a->spans[(p >> PAGE_SHIFT) & (PAGES_PER_ARENA - 1)];
}

/* heap_find_object answers, for any address p, whether it points into an
 * allocated heap object (its base or interior; not past its size, not into
 * a free slot, free pages or anything outside the heap). If so it returns
 * the span and stores the object's base and slot index. O(1): an arena
 * lookup, a page lookup and a multiply-shift division. Lock-free; exact
 * while the world is stopped, a racy but safe hint otherwise. */
static inline struct span *heap_find_object(uintptr_t p, uintptr_t *base, uintptr_t *idx)
{
    struct span *s = heap_span_of(p);
    if (s == NULL || AO_load_acquire(&s->state) != SPAN_IN_USE || p < s->base || p >= s->limit)
        return NULL;
    uintptr_t i = span_index(s, p);
    if (!span_is_allocated(s, i))
        return NULL;
    *idx = i;
    *base = s->base + i * s->elemsize;
    return s;
}

/* Global heap counters (bytes), updated under heap.lock; read with AO_load. */
struct heap_stats {
    volatile AO_t inuse;       /* pages in in-use spans (HeapInuse) */
    volatile AO_t inuse_peak;  /* high-water mark of inuse */
    volatile AO_t sys;         /* arena bytes obtained (HeapSys) */
    volatile AO_t released;    /* free bytes returned to the OS or never used (HeapReleased) */
    volatile AO_t spans_inuse; /* span structs in use (MSpanInuse / sizeof) */
};
extern struct heap_stats heap_stats;

void heap_init(void);

/* heap_alloc_span allocates npages pages (aligned to align_pages pages, a
 * power of two, 1 for none) for a span of class spanclass and returns the
 * span struct with base, npages, state SPAN_IN_USE not yet published (the
 * caller initialises and publishes it with span_init_*). NULL when out of
 * memory. Takes heap.lock. *needzero tells whether the pages may be dirty. */
struct span *heap_alloc_span(uintptr_t npages, uintptr_t align_pages, int *needzero);

/* heap_free_span returns an in-use span's pages to the page heap. The
 * caller has removed it from every list. Takes heap.lock. */
void heap_free_span(struct span *s);

/* heap_grow_in_place tries to extend a large span to npages pages using the
 * free run that follows it; returns 1 on success. Takes heap.lock. */
int heap_grow_in_place(struct span *s, uintptr_t npages);

/* heap_release_free returns free pages to the OS until at most keep bytes
 * of free, unreleased pages remain (keep = 0: all); returns bytes released.
 * Takes heap.lock. */
uintptr_t heap_release_free(uintptr_t keep);

/* heap_lock/heap_unlock: for the collector, which takes every allocator
 * lock before stopping the world (lock order: central, then heap). */
void heap_lock(void);
void heap_unlock(void);

/* heap_collapse asks the OS to back every 2 MiB piece of the arenas that
 * is all used and none of it returned, and the chunks of span structs and
 * mark bits, with a huge page again (os_collapse):
 * copy-on-write after the concurrent marker's fork splits huge pages, and
 * the next fork's pause grows with the page-table entries it copies (see
 * cmark.c). Takes heap.lock only to choose the pieces. */
void heap_collapse(void);

/* heap_each_arena calls fn for every arena (collector, world stopped). */
void heap_each_arena(void (*fn)(struct arena *a, void *arg), void *arg);

/* heap_each_span calls fn for every in-use span, found through the arenas'
 * page maps, whoever owns it (world stopped, or in the marker process). */
void heap_each_span(void (*fn)(struct span *s, void *arg), void *arg);

/* Span mark bitmaps are carved out of private chunks of this many bytes,
 * aligned to their size (a huge page, see heap_collapse).
 * heap_each_mark_chunk calls fn for each chunk, oldest first; chunks are
 * only ever added, at the end (lock-free; the list is published with
 * release stores). */
#define HEAP_MARK_CHUNK ((size_t)2 << 20)
void heap_each_mark_chunk(void (*fn)(uint64_t *base, size_t bytes, void *arg), void *arg);

/* heap_check walks the free bins and arenas, checking the page heap's
 * invariants (debug builds, tests). */
void heap_check(void);

#endif
