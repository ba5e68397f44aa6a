/* stress_graph.c: threads building, mutating and dropping object graphs
 * while the collector runs, every object checksummed.
 *
 *   stress_graph THREADS TOTAL_MB LIVE_MB SEED
 *
 * THREADS threads together allocate TOTAL_MB megabytes while keeping about
 * LIVE_MB megabytes reachable (each thread a share, held by root slots in
 * a struct on its own stack). A root holds a list, a tree, a DAG or a
 * cycle of nodes; a node has child pointers, pointer-free payload words
 * and sometimes a blob (a gh_malloc_atomic object), with sizes from 16
 * bytes to 1 MiB, mostly small. Each node's first word is a checksum of its
 * identity, size, child pointers (their addresses), payload and blob
 * contents, recomputed whenever the thread changes the node. The threads
 * replace whole subgraphs, drop and redirect edges, graft new subgraphs,
 * pass finished subgraphs to each other through global slots (the
 * receiver only reads them), and call gh_gc() now and then while automatic
 * collections run too. After every gh_gc() and every few megabytes, each
 * thread walks everything reachable from its roots, checks every checksum
 * (an object freed while reachable and handed out again, or overwritten,
 * fails it) and asks gh_usable_size for every object's size (an object
 * freed while reachable but not yet reused makes goheap report the
 * pointer and abort). SEED makes the threads' choices repeatable, though
 * not their interleaving.
 *
 * At the end the heap must have stayed bounded at GOGC=100:
 * gh_heap_inuse_peak() < 2.5 * LIVE_MB + 4 MB. Exit status 0 on success;
 * on the first failure a message on stderr and status 1 (or goheap's
 * abort). */
// test-args: 4 2048 20 1
// stress-args: 4 20480 20 1
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "goheap.h"

#define MB ((uint64_t)1 << 20)
#define KB ((uint64_t)1 << 10)
#define TAG ((uint64_t)1 << 63) /* set in every value word: never a pointer */
#define MAX_THREADS 64
#define NROOTS 32
#define NEXCHANGE 8
#define EXCHANGE_BUDGET (8 * KB)
#define MAX_KIDS 4
#define MAX_OBJECT MB
#define VERIFY_EVERY (8 * MB)
#define GC_EVERY (64 * MB)

enum kind { LIST, TREE, DAG, CYCLE, NKINDS };

struct node {
    uint64_t sum;          /* checksum of everything below */
    uint64_t id;           /* TAG | unique id */
    uint32_t size;         /* bytes asked of gh_malloc */
    uint16_t nkids;
    uint16_t pad;
    uint64_t *blob;        /* pointer-free object, or NULL */
    uint64_t blob_size;    /* TAG | its size in bytes */
    struct node *kid[];    /* nkids children, then payload words up to size */
};

#define HEADER sizeof(struct node)

/* Subgraphs handed from one thread to another; read-only once here. */
static struct node *volatile exchange[NEXCHANGE];

static uint64_t live_target;       /* bytes each thread keeps reachable */
static uint64_t alloc_share;       /* bytes each thread allocates */
static uint64_t seed;

/* ---- Small helpers ----------------------------------------------------- */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "stress_graph: FAIL: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t *s, uint64_t n) { return n ? rng_next(s) % n : 0; }

/* rng_size is a size in [lo, hi), log-uniform, so small ones dominate. */
static uint64_t rng_size(uint64_t *s, uint64_t lo, uint64_t hi)
{
    if (hi <= lo)
        return lo;
    unsigned bits = 64 - (unsigned)__builtin_clzll(hi - lo);
    uint64_t v = rng_next(s) >> (64 - 1 - rng_below(s, bits));
    return lo + v % (hi - lo);
}

static uint64_t mix(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x100000001b3ull;
    return h ^ (h >> 29);
}

static uint64_t payload_word(uint64_t id, uint64_t i)
{
    return TAG | ((id * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull) >> 1);
}

static uint64_t blob_word(uint64_t id, uint64_t i)
{
    return (id << 20) ^ (i * 0x94d049bb133111ebull);
}

static unsigned node_payload_words(const struct node *n)
{
    return (unsigned)((n->size - HEADER - n->nkids * sizeof(struct node *)) / 8);
}

static uint64_t node_checksum(const struct node *n)
{
    uint64_t h = mix(0xcbf29ce484222325ull, n->id);
    h = mix(h, n->size);
    h = mix(h, n->nkids);
    h = mix(h, (uintptr_t)n->blob);
    h = mix(h, n->blob_size);
    for (unsigned i = 0; i < n->nkids; i++)
        h = mix(h, (uintptr_t)n->kid[i]);
    const uint64_t *p = (const uint64_t *)&n->kid[n->nkids];
    for (unsigned i = 0, w = node_payload_words(n); i < w; i++)
        h = mix(h, p[i]);
    if (n->blob) {
        uint64_t words = (n->blob_size & ~TAG) / 8;
        for (uint64_t i = 0; i < words; i++)
            h = mix(h, n->blob[i]);
    }
    return h;
}

static void node_seal(struct node *n) { n->sum = node_checksum(n); }

static void *scratch_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        fail("mmap of %zu bytes failed", bytes);
    return p;
}

/* ---- Per-thread state --------------------------------------------------- */

/* Scratch memory (the walk stack and the visited set) is mmap'd, so that
 * neither goheap nor, with goheap as malloc, its collector sees the node
 * addresses in it. */
struct walker {
    struct node **stack;
    size_t stack_cap;
    uintptr_t *set;        /* open addressing, 0 = empty */
    size_t set_cap;        /* power of two */
    size_t set_used;
};

/* The thread's whole state lives on its stack: root slots are stack roots. */
struct tstate {
    struct node *root[NROOTS];
    uint64_t bytes[NROOTS];    /* reachable bytes of each root (estimate until walked) */
    int frozen[NROOTS];        /* taken from the exchange: read only */
    struct node **tmp;         /* gh_malloc'd: nodes of a subgraph being built */
    size_t tmp_cap;
    uint64_t rng;
    uint64_t next_id;
    uint64_t allocated;        /* bytes asked of goheap */
    uint64_t next_verify, next_gc;
    uint64_t verifies, gcs, max_live;
    int index;
    struct walker w;
};

static void tmp_reserve(struct tstate *t, size_t n)
{
    if (n <= t->tmp_cap)
        return;
    size_t cap = t->tmp_cap ? t->tmp_cap * 2 : 1024;
    while (cap < n)
        cap *= 2;
    struct node **nt = gh_realloc(t->tmp, cap * sizeof(*nt));
    if (nt == NULL)
        fail("out of memory growing the build array");
    t->tmp = nt;
    t->tmp_cap = cap;
}

static size_t usable(const void *p) { return p ? gh_usable_size(p) : 0; }

/* node_new allocates a node with nkids (NULL) children and at most about
 * room bytes in all, filled and sealed. */
static struct node *node_new(struct tstate *t, unsigned nkids, uint64_t room)
{
    uint64_t min = HEADER + nkids * sizeof(struct node *);
    uint64_t payload = 0, r = rng_below(&t->rng, 1000);
    if (r < 900)
        payload = rng_below(&t->rng, 9) * 8;
    else if (r < 995)
        payload = rng_size(&t->rng, 64, 2 * KB);
    else if (r < 999)
        payload = rng_size(&t->rng, 2 * KB, 32 * KB);
    else
        payload = rng_size(&t->rng, 32 * KB, MAX_OBJECT - min);
    if (min + payload > room)
        payload = room > min ? room - min : 0;
    uint64_t size = (min + payload) & ~(uint64_t)7;
    uint64_t blob_size = 0;
    if (rng_below(&t->rng, 10) < 3) {
        r = rng_below(&t->rng, 1000);
        if (r < 900)
            blob_size = rng_size(&t->rng, 16, 256);
        else if (r < 990)
            blob_size = rng_size(&t->rng, 256, 8 * KB);
        else if (r < 999)
            blob_size = rng_size(&t->rng, 8 * KB, 64 * KB);
        else
            blob_size = rng_size(&t->rng, 64 * KB, MAX_OBJECT);
        blob_size &= ~(uint64_t)7;
        if (size + blob_size > room)
            blob_size = 0;
    }

    struct node *n = gh_malloc(size);
    if (n == NULL)
        fail("gh_malloc(%" PRIu64 ") failed", size);
    t->allocated += size;
    n->id = TAG | (t->next_id++ << 8) | (uint64_t)t->index;
    n->size = (uint32_t)size;
    n->nkids = (uint16_t)nkids;
    uint64_t *p = (uint64_t *)&n->kid[nkids];
    for (unsigned i = 0, w = node_payload_words(n); i < w; i++)
        p[i] = payload_word(n->id, i);
    if (blob_size) {
        uint64_t *b = gh_malloc_atomic(blob_size);
        if (b == NULL)
            fail("gh_malloc_atomic(%" PRIu64 ") failed", blob_size);
        t->allocated += blob_size;
        for (uint64_t i = 0; i < blob_size / 8; i++)
            b[i] = blob_word(n->id, i);
        n->blob = b;
        n->blob_size = TAG | blob_size;
    } else {
        n->blob_size = TAG;
    }
    node_seal(n);
    return n;
}

static unsigned kind_kids(struct tstate *t, enum kind k)
{
    switch (k) {
    case LIST: return 1;
    case TREE: return 2;
    case DAG: return 1 + (unsigned)rng_below(&t->rng, 3);
    default: return 1 + (unsigned)rng_below(&t->rng, 2);
    }
}

/* build makes a subgraph of kind k of about budget bytes and returns its
 * root; *bytes gets its size (usable bytes of nodes and blobs). */
static struct node *build(struct tstate *t, enum kind k, uint64_t budget, uint64_t *bytes)
{
    size_t n = 0;
    uint64_t got = 0;
    do {
        tmp_reserve(t, n + 1);
        struct node *x = node_new(t, kind_kids(t, k), budget > got ? budget - got : 0);
        t->tmp[n++] = x;
        got += usable(x) + usable(x->blob);
    } while (got < budget);

    for (size_t i = 0; i < n; i++) {
        struct node *x = t->tmp[i];
        for (unsigned c = 0; c < x->nkids; c++) {
            struct node *to = NULL;
            switch (k) {
            case LIST:
                to = i + 1 < n ? t->tmp[i + 1] : NULL;
                break;
            case TREE:
                to = 2 * i + 1 + c < n ? t->tmp[2 * i + 1 + c] : NULL;
                break;
            case DAG:
                if (c == 0)
                    to = i + 1 < n ? t->tmp[i + 1] : NULL;
                else if (i + 1 < n)
                    to = t->tmp[i + 1 + rng_below(&t->rng, n - i - 1)];
                break;
            default:
                to = c == 0 ? t->tmp[(i + 1) % n] : t->tmp[rng_below(&t->rng, n)];
                break;
            }
            x->kid[c] = to;
        }
        node_seal(x);
    }
    struct node *root = t->tmp[0];
    memset(t->tmp, 0, n * sizeof(*t->tmp));
    *bytes = got;
    return root;
}

/* ---- Verification ------------------------------------------------------- */

static size_t slot_of(uintptr_t v, size_t cap) { return (size_t)((v >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1); }

static void walker_reset(struct walker *w)
{
    if (w->set == NULL) {
        w->set_cap = (size_t)1 << 16;
        w->set = scratch_map(w->set_cap * sizeof(*w->set));
    } else {
        memset(w->set, 0, w->set_cap * sizeof(*w->set));
    }
    w->set_used = 0;
}

/* visit adds n to the visited set; 0 if it was there already. */
static int visit(struct walker *w, const struct node *n)
{
    if (w->set_used * 2 >= w->set_cap) {
        size_t ncap = w->set_cap * 2;
        uintptr_t *ns = scratch_map(ncap * sizeof(*ns));
        for (size_t i = 0; i < w->set_cap; i++) {
            if (w->set[i] == 0)
                continue;
            size_t j = slot_of(w->set[i], ncap);
            while (ns[j])
                j = (j + 1) & (ncap - 1);
            ns[j] = w->set[i];
        }
        munmap(w->set, w->set_cap * sizeof(*w->set));
        w->set = ns;
        w->set_cap = ncap;
    }
    uintptr_t v = (uintptr_t)n;
    size_t j = slot_of(v, w->set_cap);
    while (w->set[j]) {
        if (w->set[j] == v)
            return 0;
        j = (j + 1) & (w->set_cap - 1);
    }
    w->set[j] = v;
    w->set_used++;
    return 1;
}

static void push(struct walker *w, size_t *top, struct node *n)
{
    if (*top == w->stack_cap) {
        size_t ncap = w->stack_cap ? w->stack_cap * 2 : 1 << 16;
        struct node **ns = scratch_map(ncap * sizeof(*ns));
        memcpy(ns, w->stack, *top * sizeof(*ns));
        if (w->stack)
            munmap(w->stack, w->stack_cap * sizeof(*ns));
        w->stack = ns;
        w->stack_cap = ncap;
    }
    w->stack[(*top)++] = n;
}

static void check_node(const struct tstate *t, int r, const struct node *n)
{
    if (!(n->id & TAG) || n->size < HEADER || n->nkids > MAX_KIDS ||
        HEADER + n->nkids * sizeof(struct node *) > n->size || !(n->blob_size & TAG))
        fail("thread %d root %d: node %p has a broken header (id %#" PRIx64 ", size %u, %u kids): "
             "freed while reachable and reused?",
             t->index, r, (const void *)n, n->id, n->size, n->nkids);
    uint64_t sum = node_checksum(n);
    if (sum != n->sum)
        fail("thread %d root %d: node %p (id %#" PRIx64 ", size %u) checksum %#" PRIx64 ", stored %#" PRIx64
             ": overwritten or freed while reachable",
             t->index, r, (const void *)n, n->id, n->size, sum, n->sum);
}

/* walk checks every node reachable from root r that the visited set does
 * not hold yet and returns their bytes. Roots share no nodes, so after one
 * walker_reset, walking every root gives each root's own bytes. */
static uint64_t walk(struct tstate *t, int r)
{
    struct walker *w = &t->w;
    size_t top = 0;
    uint64_t bytes = 0;
    if (t->root[r])
        push(w, &top, t->root[r]);
    while (top > 0) {
        struct node *n = w->stack[--top];
        if (!visit(w, n))
            continue;
        check_node(t, r, n);
        bytes += usable(n) + usable(n->blob);
        for (unsigned i = 0; i < n->nkids; i++)
            if (n->kid[i])
                push(w, &top, n->kid[i]);
    }
    return bytes;
}

static void verify_all(struct tstate *t)
{
    uint64_t total = 0;
    walker_reset(&t->w);
    for (int r = 0; r < NROOTS; r++) {
        t->bytes[r] = walk(t, r);
        total += t->bytes[r];
    }
    if (total > t->max_live)
        t->max_live = total;
    t->verifies++;
}

/* ---- Operations ----------------------------------------------------------- */

static uint64_t total_bytes(const struct tstate *t)
{
    uint64_t s = 0;
    for (int r = 0; r < NROOTS; r++)
        s += t->bytes[r];
    return s;
}

/* replace_root builds a new subgraph for root r within the thread's live
 * target; the old one becomes garbage. */
static void replace_root(struct tstate *t, int r)
{
    uint64_t others = total_bytes(t) - t->bytes[r];
    t->root[r] = NULL;
    t->bytes[r] = 0;
    t->frozen[r] = 0;
    if (others + 4 * KB >= live_target)
        return;
    uint64_t room = live_target - others;
    uint64_t want = rng_below(&t->rng, 20) == 0 ? live_target / 4 : KB + rng_below(&t->rng, 2 * live_target / NROOTS);
    if (want > room)
        want = room;
    t->root[r] = build(t, (enum kind)rng_below(&t->rng, NKINDS), want, &t->bytes[r]);
}

/* pick walks a few random steps from root r. */
static struct node *pick(struct tstate *t, int r)
{
    struct node *n = t->root[r];
    for (unsigned steps = (unsigned)rng_below(&t->rng, 8); n != NULL && steps > 0; steps--) {
        if (n->nkids == 0)
            break;
        struct node *k = n->kid[rng_below(&t->rng, n->nkids)];
        if (k == NULL)
            break;
        n = k;
    }
    return n;
}

static void mutate(struct tstate *t, int r)
{
    struct node *n = pick(t, r);
    if (n == NULL || n->nkids == 0)
        return;
    unsigned c = (unsigned)rng_below(&t->rng, n->nkids);
    switch (rng_below(&t->rng, 3)) {
    case 0:
        n->kid[c] = NULL;
        break;
    case 1:
        n->kid[c] = pick(t, r);
        break;
    default: {
        uint64_t bytes;
        if (total_bytes(t) + 2 * KB > live_target)
            return;
        n->kid[c] = build(t, (enum kind)rng_below(&t->rng, NKINDS), rng_size(&t->rng, 64, 2 * KB), &bytes);
        t->bytes[r] += bytes;
        break;
    }
    }
    node_seal(n);
}

/* publish hands a new small subgraph to the exchange; adopt takes one. */
static void publish(struct tstate *t)
{
    uint64_t bytes;
    struct node *g = build(t, (enum kind)rng_below(&t->rng, NKINDS), rng_size(&t->rng, 64, EXCHANGE_BUDGET), &bytes);
    __atomic_store_n(&exchange[rng_below(&t->rng, NEXCHANGE)], g, __ATOMIC_RELEASE);
}

static void adopt(struct tstate *t, int r)
{
    struct node *g = __atomic_exchange_n(&exchange[rng_below(&t->rng, NEXCHANGE)], NULL, __ATOMIC_ACQ_REL);
    if (g == NULL)
        return;
    t->root[r] = g;
    t->frozen[r] = 1;
    walker_reset(&t->w);
    t->bytes[r] = walk(t, r);
}

static void *worker(void *arg)
{
    struct tstate t;
    memset(&t, 0, sizeof(t));
    t.index = (int)(intptr_t)arg;
    t.rng = (seed + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)t.index + 1) * 0xbf58476d1ce4e5b9ull;
    t.rng = t.rng ? t.rng : 1;
    t.next_verify = VERIFY_EVERY;
    t.next_gc = GC_EVERY / 2 + GC_EVERY / 8 * (uint64_t)t.index;

    while (t.allocated < alloc_share) {
        int r = (int)rng_below(&t.rng, NROOTS);
        uint64_t op = rng_below(&t.rng, 100);
        if (op < 30 || t.root[r] == NULL)
            replace_root(&t, r);
        else if (op < 32)
            adopt(&t, r);
        else if (op < 34)
            publish(&t);
        else if (!t.frozen[r])
            mutate(&t, r);
        if (t.allocated >= t.next_gc) {
            gh_gc();
            t.gcs++;
            verify_all(&t);
            t.next_gc += GC_EVERY;
        }
        if (t.allocated >= t.next_verify) {
            verify_all(&t);
            t.next_verify += VERIFY_EVERY;
        }
    }
    verify_all(&t);
    printf("thread %d: %" PRIu64 " MB allocated, %" PRIu64 " verifications, %" PRIu64 " gh_gc, max live %" PRIu64
           " KB\n",
           t.index, t.allocated / MB, t.verifies, t.gcs, t.max_live / KB);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: stress_graph THREADS TOTAL_MB LIVE_MB SEED\n");
        return 2;
    }
    int nthreads = atoi(argv[1]);
    uint64_t total = strtoull(argv[2], NULL, 0) * MB, live = strtoull(argv[3], NULL, 0) * MB;
    seed = strtoull(argv[4], NULL, 0);
    if (nthreads < 1 || nthreads > MAX_THREADS || live < MB || total < live)
        fail("bad arguments");
    live_target = (live - NEXCHANGE * EXCHANGE_BUDGET) / (uint64_t)nthreads;
    alloc_share = total / (uint64_t)nthreads;

    gh_set_gc_percent(100);
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0)
            fail("pthread_create failed");
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);

    gh_mem_stats *ms = scratch_map(sizeof(*ms));
    gh_read_mem_stats(ms);
    uint64_t peak = gh_heap_inuse_peak(0);
    uint64_t bound = live * 5 / 2 + 4 * MB;
    printf("%u collections (%u forced), peak heap_inuse %" PRIu64 " KB, bound %" PRIu64 " KB\n", ms->num_gc,
           ms->num_forced_gc, peak / KB, bound / KB);
    if (ms->num_gc <= ms->num_forced_gc)
        fail("no collection started by itself while %" PRIu64 " MB were allocated", total / MB);
    if (peak >= bound)
        fail("peak heap_inuse %" PRIu64 " KB reached the bound of 2.5 x %" PRIu64 " MB live + 4 MB", peak / KB,
             live / MB);
    return 0;
}
