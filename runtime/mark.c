/* mark.c: conservative marking with an explicit grey stack (Go:
 * mgcmark.go scanConservative/greyobject, mgcwork.go).
 *
 * Any aligned word whose value points into an allocated object marks it
 * (heap_find_object: base or interior; free slots and free pages do not
 * count). A newly marked noscan object is black at once; a scan object is
 * pushed as the range [base, base + size) and scanned later, depth first.
 * Ranges longer than OBLET bytes are scanned a piece at a time (Go's
 * oblets), so one huge array never floods the stack. Before a pushed
 * object is scanned it has been prefetched.
 *
 * Overflow: the grey stack is a fixed virtual reservation. When it is full
 * a newly marked object is not pushed; mark_drain then rescans every
 * marked scan object in the heap (every in-use span, cached or not), which
 * pushes whatever those left unmarked, until a pass ends without
 * overflow. Marking always completes.
 *
 * Locking: runs on one thread, with the world stopped or in the
 * concurrent marker process on its snapshot (cmark.c); mark bits are set
 * with atomics anyway, as other threads' frees may set them too. */
#include <string.h>
#include "mark.h"
#include "heap.h"
#include "os.h"
#include "print.h"

#define OBLET ((uintptr_t)128 << 10)
#define STACK_RESERVE ((size_t)64 << 20) /* bytes of address space */
#define STACK_MIN ((size_t)64 << 10)     /* fallback when the OS refuses that */

struct grey { uintptr_t lo, hi; };

static struct {
    struct grey *stack;
    size_t top, cap, limit;
    int overflowed;
    uint64_t marked, scanned;
} mk;

void mark_set_stack_limit(size_t n) { mk.limit = n; }

void mark_begin(void)
{
    /* A smaller stack only means more overflow rescans, so fall back
     * rather than fail (a process under a tight RLIMIT_AS). */
    for (size_t want = STACK_RESERVE; mk.stack == NULL && want >= STACK_MIN; want /= 4) {
        mk.stack = os_reserve(want, os_page_size(), OS_STAT_GC);
        mk.cap = want / sizeof(struct grey);
    }
    if (mk.stack == NULL)
        print_fatal("cannot reserve the mark stack");
    mk.top = 0;
    mk.overflowed = 0;
    mk.marked = mk.scanned = 0;
}

static inline void grey_push(uintptr_t lo, uintptr_t hi)
{
    size_t cap = mk.limit ? mk.limit : mk.cap;
    if (unlikely(mk.top >= cap)) {
        mk.overflowed = 1;
        return;
    }
    __builtin_prefetch((void *)lo);
    mk.stack[mk.top].lo = lo;
    mk.stack[mk.top].hi = hi;
    mk.top++;
}

/* mark_found marks slot idx of span s whose object starts at base, and
 * queues it if it holds pointers. */
static inline void mark_found(struct span *s, uintptr_t base, uintptr_t idx)
{
    if (span_is_marked(s, idx) || !span_set_mark(s, idx))
        return;
    uintptr_t size = spanclass_sizeclass(s->spanclass) == 0 ? s->limit - s->base : s->elemsize;
    mk.marked += s->elemsize;
    if (!spanclass_noscan(s->spanclass))
        grey_push(base, base + size);
}

void mark_object(uintptr_t p)
{
    uintptr_t base, idx;
    struct span *s = heap_find_object(p, &base, &idx);
    if (s)
        mark_found(s, base, idx);
}

void mark_range(uintptr_t lo, uintptr_t hi)
{
    lo = (lo + 7) & ~(uintptr_t)7;
    for (uintptr_t p = lo; p + 8 <= hi; p += 8) {
        uintptr_t v = *(volatile uintptr_t *)p, base, idx;
        struct span *s = heap_find_object(v, &base, &idx);
        if (s)
            mark_found(s, base, idx);
    }
    mk.scanned += hi > lo ? hi - lo : 0;
}

static void drain_stack(void);

/* mark_contents must not lose its range to an overflow: the recovery pass
 * rescans marked objects only, and these contents belong to an object
 * that is not marked. So it makes room first. */
void mark_contents(uintptr_t lo, uintptr_t hi)
{
    if (mk.top >= (mk.limit ? mk.limit : mk.cap))
        drain_stack();
    grey_push(lo, hi);
}

static void drain_stack(void)
{
    while (mk.top > 0) {
        struct grey g = mk.stack[--mk.top];
        if (g.hi - g.lo > OBLET) {
            grey_push(g.lo + OBLET, g.hi);
            g.hi = g.lo + OBLET;
        }
        mark_range(g.lo, g.hi);
    }
}

static void rescan_span(struct span *s, void *arg)
{
    (void)arg;
    if (spanclass_noscan(s->spanclass) || AO_load(&s->state) != SPAN_IN_USE)
        return;
    uintptr_t size = spanclass_sizeclass(s->spanclass) == 0 ? s->limit - s->base : s->elemsize;
    for (uintptr_t i = 0; i < s->nelems; i++) {
        if (span_is_allocated(s, i) && span_is_marked(s, i)) {
            uintptr_t b = s->base + i * s->elemsize;
            mark_range(b, b + size);
            drain_stack();
        }
    }
}

void mark_drain(void)
{
    drain_stack();
    while (mk.overflowed) {
        mk.overflowed = 0;
        heap_each_span(rescan_span, NULL);
    }
}

uint64_t mark_bytes_marked(void) { return mk.marked; }
uint64_t mark_bytes_scanned(void) { return mk.scanned; }
