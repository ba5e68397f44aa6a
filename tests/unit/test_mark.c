/* test_mark.c: conservative marking (mark.c) from the inside.
 *
 * First the primitives, called directly with the collector idle: which
 * words mark which objects (bases, interior pointers, not one past the
 * end), noscan objects marked but not scanned, large objects scanned in
 * pieces, bytes marked counted by slot size. Then the grey stack's
 * overflow path, forced with mark_set_stack_limit: full collections with
 * a stack of a few entries must keep every reachable object (lists, trees,
 * wide fan-out from the roots), still free garbage, keep Go's finalizer
 * order, and cover objects in spans that a thread's cache still holds when
 * it was stopped inside the allocator.
 *
 * Unreachable objects are remembered only hidden (XORed into a value no
 * heap address has), so that the test itself does not keep them. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "goheap.h"
#include "cache.h"
#include "heap.h"
#include "mark.h"
#include "span.h"

#define KIB ((uintptr_t)1 << 10)
#define MIB ((uintptr_t)1 << 20)
#define HIDE_KEY ((uintptr_t)0xa5a5000000000000ull)
#define TAG ((uint64_t)1 << 63) /* set in every value word: never a pointer */

static uintptr_t hide(const void *p) { return (uintptr_t)p ^ HIDE_KEY; }
static void *unhide(uintptr_t h) { return (void *)(h ^ HIDE_KEY); }

/* marked reports whether the object holding p is marked (it must exist). */
static int marked(const void *p)
{
    uintptr_t base, idx;
    struct span *s = heap_find_object((uintptr_t)p, &base, &idx);
    if (s == NULL)
        fail_msg("%p is not in a live object", p);
    return span_is_marked(s, idx);
}

/* live reports whether p is the base of an allocated object. */
static int live(const void *p)
{
    uintptr_t base, idx;
    return heap_find_object((uintptr_t)p, &base, &idx) != NULL && base == (uintptr_t)p;
}

static uintptr_t slot_size(const void *p)
{
    uintptr_t base, idx;
    struct span *s = heap_find_object((uintptr_t)p, &base, &idx);
    assert_non_null(s);
    return s->elemsize;
}

static __attribute__((noinline)) void clear_stack(void)
{
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof(buf));
    __asm__ volatile("" : : "r"(buf) : "memory");
}

/* ---- Primitives ------------------------------------------------------ */

static void mark_range_marks_what_words_point_into(void **state)
{
    (void)state;
    gh_set_gc_percent(-1); /* no cycle may start in the middle */
    gh_gc();               /* every span swept, every mark bit clear */
    uint64_t *a = gh_malloc(64);
    uint64_t *x = gh_malloc(64);
    uint64_t *after_x = gh_malloc(64);   /* likely x + 64 */
    uint64_t *noscan = gh_malloc_atomic(64);
    uint64_t *target = gh_malloc(64);    /* referenced only from noscan */
    uint64_t *big = gh_malloc(MIB);
    uint64_t *c = gh_malloc(64);         /* referenced from deep inside big */
    uint64_t *d = gh_malloc(64);         /* referenced from big's first word */
    uint64_t *unref = gh_malloc(64);
    assert_true(a && x && after_x && noscan && target && big && c && d && unref);
    memset(noscan, 0, 64);
    noscan[3] = (uintptr_t)target;
    big[700 * KIB / 8] = (uintptr_t)c;
    big[0] = (uintptr_t)d;
    (void)after_x;

    uintptr_t words[] = {
        (uintptr_t)a + 24,                 /* interior pointer */
        (uintptr_t)x + 64,                 /* one past the end of x */
        (uintptr_t)noscan,
        (uintptr_t)big + 300 * KIB,        /* interior pointer into a large object */
        (uintptr_t)&words,                 /* not the heap */
        0x1234,
        TAG | (uintptr_t)unref,            /* unref's address with bit 63 set */
    };
    uintptr_t past_x_base, past_x_idx;
    struct span *past_x = heap_find_object((uintptr_t)x + 64, &past_x_base, &past_x_idx);

    mark_begin();
    mark_range((uintptr_t)words, (uintptr_t)(words + sizeof(words) / sizeof(words[0])));
    mark_drain();

    assert_true(marked(a));
    assert_false(marked(x));
    assert_true(marked(noscan));
    assert_false(marked(target));
    assert_true(marked(big));
    assert_true(marked(c));
    assert_true(marked(d));
    assert_false(marked(unref));
    uintptr_t want = slot_size(a) + slot_size(noscan) + slot_size(big) + slot_size(c) + slot_size(d);
    if (past_x != NULL) {
        assert_true(span_is_marked(past_x, past_x_idx));
        want += past_x->elemsize;
    }
    assert_int_equal(mark_bytes_marked(), want);
    assert_true(mark_bytes_scanned() >= sizeof(words) + MIB + 64 * 3);

    /* The next cycles sweep the marks this left and then the objects. */
    gh_set_gc_percent(100);
    gh_gc();
    gh_gc();
}

static void mark_contents_scans_without_marking(void **state)
{
    (void)state;
    gh_set_gc_percent(-1);
    gh_gc();
    uint64_t *holder = gh_malloc(64);
    uint64_t *child = gh_malloc(64);
    assert_true(holder && child);
    holder[5] = (uintptr_t)child;

    mark_begin();
    mark_contents((uintptr_t)holder, (uintptr_t)holder + 64);
    mark_drain();
    assert_false(marked(holder));
    assert_true(marked(child));

    /* mark_object marks the object and queues it; its child is marked
     * already, so the bytes marked are the holder's alone. */
    mark_begin();
    mark_object((uintptr_t)holder);
    mark_drain();
    assert_true(marked(holder));
    assert_int_equal(mark_bytes_marked(), slot_size(holder));
    assert_int_equal(mark_bytes_scanned(), 64);

    gh_set_gc_percent(100);
    gh_gc();
    gh_gc();
}

/* ---- Overflow: structures survive, garbage goes ----------------------- */

struct node {
    struct node *next;
    uint64_t val;
};

struct tnode {
    struct tnode *left, *right;
    uint64_t size; /* TAG | nodes in this subtree */
};

#define FANOUT 3000
#define CHAIN 4
#define LIST 20000
#define TREE 8191
#define GARBAGE 1000

static struct node *volatile fan[FANOUT];
static struct node *volatile list_head;
static struct tnode *volatile tree_root;
static uintptr_t garbage[GARBAGE]; /* hidden */

static struct node *node_new(struct node *next, uint64_t val)
{
    struct node *n = gh_malloc(sizeof(*n));
    assert_non_null(n);
    n->next = next;
    n->val = TAG | val;
    return n;
}

static struct tnode *tree_new(uint64_t n)
{
    if (n == 0)
        return NULL;
    struct tnode *t = gh_malloc(sizeof(*t));
    assert_non_null(t);
    uint64_t left = (n - 1) / 2;
    t->left = tree_new(left);
    t->right = tree_new(n - 1 - left);
    t->size = TAG | n;
    return t;
}

static uint64_t tree_check(const struct tnode *t)
{
    if (t == NULL)
        return 0;
    uint64_t n = 1 + tree_check(t->left) + tree_check(t->right);
    if (t->size != (TAG | n))
        fail_msg("tree node %p: size word %#llx, counted %llu", (const void *)t, (unsigned long long)t->size,
                 (unsigned long long)n);
    return n;
}

static __attribute__((noinline)) void structures_make(void)
{
    for (int i = 0; i < FANOUT; i++) {
        struct node *n = NULL;
        for (int j = 0; j < CHAIN; j++)
            n = node_new(n, (uint64_t)i * CHAIN + j);
        fan[i] = n;
    }
    struct node *h = NULL;
    for (int i = 0; i < LIST; i++)
        h = node_new(h, (uint64_t)i);
    list_head = h;
    tree_root = tree_new(TREE);
    for (int i = 0; i < GARBAGE; i++)
        garbage[i] = hide(node_new(NULL, (uint64_t)i));
}

static void structures_check(void)
{
    for (int i = 0; i < FANOUT; i++) {
        int j = CHAIN - 1;
        for (const struct node *n = fan[i]; n != NULL; n = n->next, j--) {
            if (j < 0 || n->val != (TAG | ((uint64_t)i * CHAIN + j)))
                fail_msg("chain %d broken at %p", i, (const void *)n);
        }
        assert_int_equal(j, -1);
    }
    int i = LIST - 1;
    for (const struct node *n = list_head; n != NULL; n = n->next, i--) {
        if (i < 0 || n->val != (TAG | (uint64_t)i))
            fail_msg("list broken at %p (node %d)", (const void *)n, i);
    }
    assert_int_equal(i, -1);
    assert_int_equal(tree_check(tree_root), TREE);
}

static void structures_drop(void)
{
    for (int i = 0; i < FANOUT; i++)
        fan[i] = NULL;
    list_head = NULL;
    tree_root = NULL;
}

static void overflowing_grey_stack_still_marks_everything(void **state)
{
    (void)state;
    structures_make();
    for (size_t limit = 1; limit <= 16; limit *= 4) {
        mark_set_stack_limit(limit);
        clear_stack();
        gh_gc();
        mark_set_stack_limit(0);
        structures_check();
    }
    /* The garbage went (a stale copy of an address may keep one or two). */
    int kept = 0;
    for (int i = 0; i < GARBAGE; i++)
        kept += live(unhide(garbage[i]));
    if (kept > 2)
        fail_msg("%d of %d unreachable objects survived", kept, GARBAGE);
    structures_drop();
}

/* ---- Overflow and finalizers ------------------------------------------ */

/* WIDE scanned objects straight from the roots fill a tiny grey stack
 * before the collector gets to the finalizable objects. */
#define WIDE 64
static void *volatile wide[WIDE];

struct chain_probe {
    int runs;
    int order;
    uint32_t num_gc;
};

static int chain_seq;
static gh_mem_stats fin_ms;

static void chain_finalizer(void *obj, void *arg)
{
    struct chain_probe *cp = arg;
    (void)obj;
    gh_read_mem_stats(&fin_ms);
    cp->num_gc = fin_ms.num_gc;
    cp->order = __atomic_add_fetch(&chain_seq, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&cp->runs, 1, __ATOMIC_SEQ_CST);
}

static void *volatile chain_slot;

static __attribute__((noinline)) void chain_make(struct chain_probe *a, struct chain_probe *b)
{
    void **ao = gh_malloc(64);
    void **bo = gh_malloc(64);
    assert_true(ao && bo);
    ao[0] = bo;
    assert_int_equal(gh_set_finalizer(bo, chain_finalizer, b), 0);
    assert_int_equal(gh_set_finalizer(ao, chain_finalizer, a), 0);
    chain_slot = ao;
}

static int wait_runs(struct chain_probe *cp)
{
    for (int i = 0; i < 100 && !__atomic_load_n(&cp->runs, __ATOMIC_SEQ_CST); i++) {
        clear_stack();
        gh_gc();
        usleep(i < 10 ? 1000 : 5000);
    }
    return __atomic_load_n(&cp->runs, __ATOMIC_SEQ_CST);
}

static void overflowing_grey_stack_keeps_finalizer_order(void **state)
{
    (void)state;
    static struct chain_probe a, b;
    for (int i = 0; i < WIDE; i++) {
        wide[i] = gh_malloc(64);
        assert_non_null(wide[i]);
    }
    chain_make(&a, &b);
    chain_slot = NULL;
    clear_stack();
    mark_set_stack_limit(8);
    int a_ran = wait_runs(&a);
    int b_ran = wait_runs(&b);
    mark_set_stack_limit(0);
    for (int i = 0; i < WIDE; i++)
        wide[i] = NULL;
    assert_true(a_ran);
    if (!b_ran)
        fail_msg("B's finalizer never ran after A's (A and what it references never freed?)");
    assert_int_equal(a.order, 1);
    assert_int_equal(b.order, 2);
    /* A's contents keep B marked in the cycle that queues A. */
    if (b.num_gc <= a.num_gc)
        fail_msg("with the grey stack overflowing, A (cycle %u) and B (cycle %u) were finalized in the "
                 "same cycle",
                 a.num_gc, b.num_gc);
}

/* ---- Overflow and caches of stopped threads ----------------------------- */

/* The allocating thread spends most of its time inside the allocator, so
 * that collections often stop it there; its cache then keeps its spans
 * across the cycle. It builds chains of nodes held only by its own stack,
 * and checks each chain (values, and every node still allocated) before
 * dropping it. */
struct allocator_thread {
    struct cache *volatile cache; /* the thread's, once it has one */
    volatile int stop;
    volatile int broken;      /* a chain lost or reused a node */
    volatile uint64_t chains; /* chains checked */
    void *volatile sink;
};

static void *allocating_main(void *arg)
{
    struct allocator_thread *at = arg;
    gh_free(gh_malloc(16)); /* makes the thread's cache */
    at->cache = cache_self;
    while (!at->stop && !at->broken) {
        struct node *head = NULL;
        for (uint64_t i = 0; i < 2048; i++) {
            head = node_new(head, i);
            /* Pointer-free garbage: cheap allocations that keep the
             * thread inside the allocator most of the time. */
            for (int j = 0; j < 16; j++)
                at->sink = gh_malloc_atomic(16);
        }
        uint64_t want = 2048;
        for (const struct node *n = head; n != NULL; n = n->next) {
            if (want == 0 || n->val != (TAG | (want - 1)) || !live(n)) {
                at->broken = 1;
                break;
            }
            want--;
        }
        if (want != 0)
            at->broken = 1;
        at->chains++;
    }
    return NULL;
}

static void overflowing_grey_stack_keeps_objects_in_caches_of_stopped_threads(void **state)
{
    (void)state;
    static struct allocator_thread at;
    pthread_t t;
    for (int i = 0; i < WIDE; i++) {
        wide[i] = gh_malloc(64);
        assert_non_null(wide[i]);
    }
    memset(&at, 0, sizeof(at));
    assert_int_equal(pthread_create(&t, NULL, allocating_main, &at), 0);
    while (at.cache == NULL)
        usleep(100);
    mark_set_stack_limit(8);
    int busy = 0;
    for (int i = 0; i < 1000 && !at.broken; i++) {
        gh_gc();
        busy += at.cache->stopped_busy; /* this cycle found it inside the allocator */
        usleep(500);
    }
    mark_set_stack_limit(0);
    at.stop = 1;
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < WIDE; i++)
        wide[i] = NULL;
    assert_true(at.chains > 0);
    if (busy == 0)
        fail_msg("no collection stopped the allocating thread inside the allocator: nothing tested");
    if (at.broken)
        fail_msg("a chain held by the allocating thread lost a node to the collector");
}

static int teardown(void **state)
{
    (void)state;
    mark_set_stack_limit(0);
    gh_set_gc_percent(100);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(mark_range_marks_what_words_point_into, teardown),
        cmocka_unit_test_teardown(mark_contents_scans_without_marking, teardown),
        cmocka_unit_test_teardown(overflowing_grey_stack_still_marks_everything, teardown),
        cmocka_unit_test_teardown(overflowing_grey_stack_keeps_objects_in_caches_of_stopped_threads, teardown),
        cmocka_unit_test_teardown(overflowing_grey_stack_keeps_finalizer_order, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
