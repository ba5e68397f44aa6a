/* span.c: span set-up and the bitmap operations on a span's slots (Go:
 * mspan in mheap.go, mbitmap.go). The rules for who may write which bits
 * are in span.h; every function here says which of them it relies on. */
#include <string.h>
#include "span.h"
#include "print.h"
#include "stats.h"

struct span span_empty = { .alloc_cache = 0, .state = SPAN_DEAD };

int span_set_mark(struct span *s, uintptr_t idx)
{
    volatile AO_t *w = (volatile AO_t *)&s->mark_bits[idx / 64];
    AO_t m = (AO_t)1 << (idx % 64);
    AO_t old = AO_load(w);
    while (!(old & m)) {
        if (AO_compare_and_swap_full(w, old, old | m))
            return 1;
        old = AO_load(w);
    }
    return 0;
}

/* span_reset_common clears what both kinds of span start with, in the
 * nw bitmap words the span uses: the struct comes zeroed from the page
 * heap, but its mark bitmap is kept from its earlier lives, and nothing
 * reads mark words past a span's own. The mark bits of a span created
 * while a cycle marks are all set, so that nothing allocated in it during
 * the cycle is swept (allocate black). */
static void span_reset_common(struct span *s, unsigned spanclass, int black, unsigned nw)
{
    s->spanclass = (uint8_t)spanclass;
    s->sizeclass = (uint8_t)spanclass_sizeclass(spanclass);
    AO_store(&s->sampled, 0);
    s->specials = 0;
    s->owner = NULL;
    s->alloc_count = 0;
    s->list = 0;
    s->next = s->prev = NULL;
    AO_store(&s->xfree_pending, 0);
    for (unsigned i = 0; i < nw; i++) {
        AO_store(&s->xfree_bits[i], 0);
        s->alloc_bits[i] = 0;
        AO_store((volatile AO_t *)&s->mark_bits[i], black ? ~(AO_t)0 : 0);
    }
}

void span_init_small(struct span *s, unsigned spanclass, uintptr_t sweepgen, int black)
{
    unsigned sc = spanclass_sizeclass(spanclass);
    span_reset_common(s, spanclass, black, (sizeclass_nelems(sc) + 63) / 64);
    s->elemsize = class_to_size[sc];
    s->divmul = class_to_divmul[sc];
    s->nelems = sizeclass_nelems(sc);
    s->limit = s->base + (uintptr_t)s->nelems * s->elemsize;
    s->cache_word = 0;
    s->window_base = s->base;
    s->alloc_cache = span_valid_mask(s, 0);
    AO_store(&s->sweepgen, sweepgen);
    AO_store_release(&s->state, SPAN_IN_USE);
}

void span_init_large(struct span *s, unsigned spanclass, size_t size, uintptr_t sweepgen, int black)
{
    span_reset_common(s, spanclass, black, 1);
    s->elemsize = s->npages << PAGE_SHIFT;
    s->divmul = 0;
    s->nelems = 1;
    s->limit = s->base + size;
    s->alloc_bits[0] = 1;
    s->alloc_count = 1;
    s->alloc_cache = 0;
    AO_store(&s->sweepgen, sweepgen);
    AO_store_release(&s->state, SPAN_IN_USE);
}

ALLOC_TEXT unsigned span_drain_xfree(struct span *s)
{
    if (!AO_load_acquire(&s->xfree_pending))
        return 0;
    AO_store_full(&s->xfree_pending, 0);
    unsigned n = 0, nw = span_nwords(s);
    for (unsigned w = 0; w < nw; w++) {
        AO_t x = AO_load(&s->xfree_bits[w]);
        if (x == 0)
            continue;
        while (!AO_compare_and_swap_full(&s->xfree_bits[w], x, 0))
            x = AO_load(&s->xfree_bits[w]);
        s->alloc_bits[w] &= ~(uint64_t)x;
        if (w == s->cache_word)
            s->alloc_cache |= (uint64_t)x;
        n += (unsigned)__builtin_popcountll(x);
    }
    if (n) {
        s->needzero = 1;
        stats_small_freed(spanclass_sizeclass(s->spanclass), n);
    }
    return n;
}

ALLOC_TEXT unsigned span_count(const struct span *s)
{
    unsigned n = 0, nw = span_nwords(s);
    for (unsigned w = 0; w < nw; w++)
        n += (unsigned)__builtin_popcountll(s->alloc_bits[w]);
    return n;
}

ALLOC_TEXT int span_next_window(struct span *s)
{
    unsigned nw = span_nwords(s);
    for (unsigned pass = 0; pass < 2; pass++) {
        unsigned w = s->cache_word;
        for (unsigned i = 0; i < nw; i++) {
            if (++w >= nw)
                w = 0;
            uint64_t free = ~s->alloc_bits[w] & span_valid_mask(s, w);
            if (free) {
                s->cache_word = w;
                s->window_base = s->base + (uintptr_t)w * 64 * s->elemsize;
                s->alloc_cache = free;
                return 1;
            }
        }
        if (span_drain_xfree(s) == 0)
            break;
    }
    s->alloc_cache = 0;
    return 0;
}

void span_check(const struct span *s)
{
    gh_check(AO_load(&s->state) == SPAN_IN_USE);
    gh_check(s->nelems >= 1 && s->nelems <= SPAN_MAX_WORDS * 64);
    gh_check(s->limit <= s->base + (s->npages << PAGE_SHIFT));
    unsigned nw = span_nwords(s);
    for (unsigned w = 0; w < SPAN_MAX_WORDS; w++) {
        uint64_t valid = w < nw ? span_valid_mask(s, w) : 0;
        gh_check((s->alloc_bits[w] & ~valid) == 0);
        gh_check((AO_load(&s->xfree_bits[w]) & ~s->alloc_bits[w]) == 0);
    }
    if (s->owner == NULL && spanclass_sizeclass(s->spanclass) != 0)
        gh_check(s->alloc_count == span_count(s));
}
