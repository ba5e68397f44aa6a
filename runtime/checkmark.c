/* checkmark.c: GODEBUG=gccheckmark=1 and heap verification (Go:
 * mcheckmark.go, and the span walkers mimalloc runs under its expensive
 * asserts).
 *
 * checkmark_verify saves every span's mark bits, clears them, marks again
 * from the same roots with the world still stopped, and compares: an
 * object the fresh, stop-the-world mark reaches but the cycle did not mark
 * is a collector bug that would free a reachable object, so it is reported
 * with its address and span and the process aborts. The cycle's own marks
 * are restored afterwards.
 *
 * Locking: world stopped, every allocator lock held (gc.c). */
#include <string.h>
#include "checkmark.h"
#include "central.h"
#include "heap.h"
#include "mark.h"
#include "os.h"
#include "print.h"

struct saved { struct span *s; uint64_t bits[SPAN_MAX_WORDS]; };

struct walk { struct saved *buf; size_t n, cap; };

static void count_span(struct span *s, void *arg)
{
    (void)s;
    ((struct walk *)arg)->cap++;
}

static void save_span(struct span *s, void *arg)
{
    struct walk *w = arg;
    if (w->n >= w->cap)
        return;
    struct saved *sv = &w->buf[w->n++];
    sv->s = s;
    for (unsigned i = 0; i < SPAN_MAX_WORDS; i++) {
        sv->bits[i] = AO_load((volatile AO_t *)&s->mark_bits[i]);
        AO_store((volatile AO_t *)&s->mark_bits[i], 0);
    }
}

void checkmark_verify(void (*mark_roots)(void))
{
    struct walk w = { 0 };
    central_each_span(count_span, &w);
    size_t bytes = (w.cap ? w.cap : 1) * sizeof(struct saved);
    w.buf = os_reserve(bytes, os_page_size(), OS_STAT_GC);
    if (w.buf == NULL)
        print_fatal("gccheckmark: no memory for the saved mark bits");
    central_each_span(save_span, &w);
    mark_begin();
    mark_roots();
    for (size_t i = 0; i < w.n; i++) {
        struct span *s = w.buf[i].s;
        for (unsigned k = 0; k < span_nwords(s); k++) {
            uint64_t now = AO_load((volatile AO_t *)&s->mark_bits[k]);
            uint64_t missed = now & ~w.buf[i].bits[k] & s->alloc_bits[k];
            if (missed) {
                uintptr_t idx = k * 64 + (uintptr_t)__builtin_ctzll(missed);
                print_err("goheap: gccheckmark: object %p (size %lu, span %p, class %u) is reachable but was not marked\n",
                          (void *)(s->base + idx * s->elemsize), (unsigned long)s->elemsize, (void *)s->base,
                          (unsigned)s->spanclass);
                print_fatal("gccheckmark found an unmarked reachable object");
            }
            AO_store((volatile AO_t *)&s->mark_bits[k], w.buf[i].bits[k]);
        }
    }
    os_unmap(w.buf, bytes, OS_STAT_GC);
}

static void check_span(struct span *s, void *arg)
{
    (void)arg;
    span_check(s);
    gh_check(s->owner == NULL);
    gh_check(heap_span_of(s->base) == s);
    gh_check(heap_span_of(s->base + ((s->npages - 1) << PAGE_SHIFT)) == s);
}

void checkmark_verify_heap(void)
{
    central_each_span(check_span, NULL);
    heap_check();
}
