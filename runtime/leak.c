/* leak.c: the leak checker, GODEBUG=gcleak=report (in the manner of
 * LeakSanitizer, on the collector's mark).
 *
 * In leak mode nothing is collected automatically (leak_init sets GOGC
 * off); free is honoured as always. The malloc shim calls leak_record for
 * every object it hands out and leak_forget for every object it frees, so
 * this file keeps two tables:
 *   stacks   every distinct allocation stack (up to LEAK_MAX_FRAMES return
 *            addresses from the malloc call site outward), interned: id 0
 *            means "not recorded", ids from 1 index chunks of records;
 *   objects  live object base -> (size asked for, stack id), an open-
 *            addressing table with linear probing and backward-shift
 *            deletion.
 *   freed    a ring of the last LEAK_FREED_MAX objects freed (base, size,
 *            allocation and free stacks), so that a bad free or realloc
 *            can say where its object was allocated and freed
 *            (leak_explain, called by the shim before goheap reports and
 *            aborts).
 * All three live in memory from os_reserve, which the collector never
 * scans, so recording an object does not make it reachable.
 *
 * A report (gh_report_leaks, and the exit handler in leak mode) marks the
 * heap from every root with the world stopped (gc_find_unreachable), and
 * flags each unmarked object in the object table. Then, with the world
 * running again, a leaked object that another leaked object points to is
 * an indirect leak (LeakSanitizer's term: it would be freed along with its
 * owner); the others are direct leaks. Leaks are grouped by (stack,
 * direct or indirect) and printed biggest first, direct ones before
 * indirect ones, frames named from the binaries' symbol tables
 * (pprof_lookup_symbols); optionally the same groups are written as a heap
 * profile in Go's legacy text format, which `go tool pprof` reads.
 *
 * Locking: leak.lock guards the tables. A report holds it throughout, so
 * it comes before gc.lock in lock.h's order, and no table changes while
 * the world is stopped; stack capture (libunwind may call malloc) runs
 * before it is taken. Nothing under it calls malloc. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goheap.h"
#include "atomic.h"
#include "gc.h"
#include "heap.h"
#include "hsort.h"
#include "leak.h"
#include "options.h"
#include "os.h"
#include "pprof.h"
#include "print.h"
#include "unwind.h"

#define LEAK_MAX_FRAMES 32
#define LEAK_CAPTURE (LEAK_MAX_FRAMES + 8)  /* frames taken before dropping ours */
#define LEAK_CALLER_SEARCH 8                /* the caller is among these frames */
#define STACK_CHUNK 4096                    /* stack records per chunk */
#define STACK_CHUNKS 4096                   /* at most 16M distinct stacks */
#define OBJ_MIN_CAP 4096
#define NAME_MAX_LEN 160                    /* longest function name printed */
#define LEAK_FREED_MAX 4096                 /* objects in the freed ring */

enum { OBJ_LEAKED = 1, OBJ_INDIRECT = 2 };

struct leak_stack {
    uint64_t hash;
    uint32_t n;
    uintptr_t pc[LEAK_MAX_FRAMES];   /* return addresses, innermost first */
};

struct leak_obj {
    uintptr_t addr;    /* object base; 0 = empty slot */
    uintptr_t size;    /* bytes asked for */
    uint32_t stack;    /* stack id, 0 = not recorded */
    uint32_t flags;    /* OBJ_*, during a report */
};

struct leak_freed {
    uintptr_t addr, size;          /* the object's base and size asked for */
    uint32_t alloc_stack, free_stack; /* stack ids, 0 = not recorded */
};

static struct {
    pthread_mutex_t lock;
    volatile AO_t init_state;               /* 0, 1 = being set up, 2 = done */
    int on;                                 /* fixed at init: leak mode */
    struct leak_obj *obj;                   /* lock */
    size_t obj_cap, nobj;                   /* lock; obj_cap a power of two */
    struct leak_stack *chunk[STACK_CHUNKS]; /* lock */
    uint32_t nstack;                        /* lock: ids in use, 1..nstack */
    uint32_t *index;                        /* lock: stack ids by hash, 0 = empty */
    size_t index_cap;                       /* lock; a power of two */
    struct leak_freed *freed;               /* lock: the freed ring, or NULL */
    size_t nfreed;                          /* lock: objects ever put in it */
} leak = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Set while this thread captures a stack: an allocation libunwind makes
 * meanwhile is recorded without one. */
static __thread int leak_busy __attribute__((tls_model("initial-exec")));

void leak_lock(void) { pthread_mutex_lock(&leak.lock); }
void leak_unlock(void) { pthread_mutex_unlock(&leak.lock); }

static struct leak_stack *stack_at(uint32_t id)
{
    return &leak.chunk[(id - 1) / STACK_CHUNK][(id - 1) % STACK_CHUNK];
}

/* ---- Stack capture and interning -------------------------------------- */

/* leak_capture stores into pcs the stack from the frame whose return
 * address is caller (the user's call of the malloc family) outward, and
 * returns its depth. Without such a frame (a caller libunwind cannot
 * see) everything beyond leak_capture's own caller is kept. Returns 0 for
 * an allocation libunwind makes while this thread captures. */
static __attribute__((noinline)) int leak_capture(uintptr_t caller, uintptr_t *pcs)
{
    void *raw[LEAK_CAPTURE];
    if (leak_busy)
        return 0;
    leak_busy = 1;
    int n = unwind_capture(raw, LEAK_CAPTURE);
    leak_busy = 0;
    int first = n > 2 ? 2 : n;
    for (int i = 0; i < n && i < LEAK_CALLER_SEARCH; i++) {
        if ((uintptr_t)raw[i] == caller) {
            first = i;
            break;
        }
    }
    int depth = n - first < LEAK_MAX_FRAMES ? n - first : LEAK_MAX_FRAMES;
    for (int i = 0; i < depth; i++)
        pcs[i] = (uintptr_t)raw[first + i];
    return depth > 0 ? depth : 0;
}

static uint64_t leak_hash(const uintptr_t *pcs, int n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (int i = 0; i < n; i++)
        h = (h ^ pcs[i]) * 0x100000001b3u;
    return h ^ (h >> 29);
}

/* index_grow doubles the stack index. Lock held. Returns 0 or -1. */
static int index_grow(void)
{
    size_t cap = leak.index_cap ? leak.index_cap * 2 : 4096;
    uint32_t *ix = os_reserve(cap * sizeof(*ix), 0, OS_STAT_OTHER);
    if (ix == NULL)
        return -1;
    for (uint32_t id = 1; id <= leak.nstack; id++) {
        size_t j = stack_at(id)->hash & (cap - 1);
        while (ix[j] != 0)
            j = (j + 1) & (cap - 1);
        ix[j] = id;
    }
    if (leak.index)
        os_unmap(leak.index, leak.index_cap * sizeof(*ix), OS_STAT_OTHER);
    leak.index = ix;
    leak.index_cap = cap;
    return 0;
}

/* leak_intern returns the id of stack pcs[0..n), adding it if new; 0 if
 * there is no memory for it. Lock held. */
static uint32_t leak_intern(const uintptr_t *pcs, int n)
{
    uint64_t h = leak_hash(pcs, n);
    size_t mask = leak.index_cap - 1;
    if (leak.index != NULL) {
        for (size_t j = h & mask; leak.index[j] != 0; j = (j + 1) & mask) {
            struct leak_stack *st = stack_at(leak.index[j]);
            if (st->hash == h && st->n == (uint32_t)n && memcmp(st->pc, pcs, (size_t)n * sizeof(*pcs)) == 0)
                return leak.index[j];
        }
    }
    uint32_t id = leak.nstack + 1;
    if (id > (uint32_t)STACK_CHUNKS * STACK_CHUNK)
        return 0;
    struct leak_stack **chunk = &leak.chunk[(id - 1) / STACK_CHUNK];
    if (*chunk == NULL) {
        *chunk = os_reserve(STACK_CHUNK * sizeof(struct leak_stack), 0, OS_STAT_OTHER);
        if (*chunk == NULL)
            return 0;
    }
    if ((size_t)id * 2 > leak.index_cap && index_grow() != 0)
        return 0;
    struct leak_stack *st = stack_at(id);
    st->hash = h;
    st->n = (uint32_t)n;
    memcpy(st->pc, pcs, (size_t)n * sizeof(*pcs));
    leak.nstack = id;
    mask = leak.index_cap - 1;
    size_t j = h & mask;
    while (leak.index[j] != 0)
        j = (j + 1) & mask;
    leak.index[j] = id;
    return id;
}

/* ---- Object table ---------------------------------------------------- */

static size_t obj_home(uintptr_t addr, size_t cap)
{
    return (size_t)(((uint64_t)addr * 0x9e3779b97f4a7c15u) >> 20) & (cap - 1);
}

/* obj_find returns the slot of addr, or NULL. Lock held (or world stopped
 * by a report that holds it). */
static struct leak_obj *obj_find(uintptr_t addr)
{
    if (leak.obj == NULL || addr == 0)
        return NULL;
    size_t mask = leak.obj_cap - 1;
    for (size_t j = obj_home(addr, leak.obj_cap); leak.obj[j].addr != 0; j = (j + 1) & mask)
        if (leak.obj[j].addr == addr)
            return &leak.obj[j];
    return NULL;
}

static void obj_put(struct leak_obj *tab, size_t cap, const struct leak_obj *o)
{
    size_t j = obj_home(o->addr, cap);
    while (tab[j].addr != 0 && tab[j].addr != o->addr)
        j = (j + 1) & (cap - 1);
    tab[j] = *o;
}

/* obj_grow doubles the object table. Lock held. Returns 0 or -1. */
static int obj_grow(void)
{
    size_t cap = leak.obj_cap ? leak.obj_cap * 2 : OBJ_MIN_CAP;
    struct leak_obj *tab = os_reserve(cap * sizeof(*tab), 0, OS_STAT_OTHER);
    if (tab == NULL)
        return -1;
    for (size_t i = 0; i < leak.obj_cap; i++)
        if (leak.obj[i].addr != 0)
            obj_put(tab, cap, &leak.obj[i]);
    if (leak.obj)
        os_unmap(leak.obj, leak.obj_cap * sizeof(*tab), OS_STAT_OTHER);
    leak.obj = tab;
    leak.obj_cap = cap;
    return 0;
}

/* obj_remove empties slot o and closes the gap it leaves in its probe
 * run, so lookups never need tombstones. Lock held. */
static void obj_remove(struct leak_obj *o)
{
    size_t mask = leak.obj_cap - 1;
    size_t i = (size_t)(o - leak.obj);
    leak.obj[i].addr = 0;
    for (size_t j = (i + 1) & mask; leak.obj[j].addr != 0; j = (j + 1) & mask) {
        size_t k = obj_home(leak.obj[j].addr, leak.obj_cap);
        /* Entry j may move back to i unless its home lies cyclically in
         * (i, j]. */
        int stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (stays)
            continue;
        leak.obj[i] = leak.obj[j];
        leak.obj[j].addr = 0;
        i = j;
    }
    leak.nobj--;
}

void leak_record(void *p, size_t size, uintptr_t caller)
{
    uintptr_t pcs[LEAK_MAX_FRAMES];
    int n = leak_capture(caller, pcs);
    pthread_mutex_lock(&leak.lock);
    struct leak_obj o = { (uintptr_t)p, size, n > 0 ? leak_intern(pcs, n) : 0, 0 };
    if ((leak.nobj + 1) * 2 <= leak.obj_cap || obj_grow() == 0) {
        struct leak_obj *old = obj_find(o.addr);
        if (old != NULL) {
            *old = o;
        } else {
            obj_put(leak.obj, leak.obj_cap, &o);
            leak.nobj++;
        }
    }
    pthread_mutex_unlock(&leak.lock);
}

int leak_forget(void *p, uintptr_t caller)
{
    uintptr_t pcs[LEAK_MAX_FRAMES];
    int n = leak_capture(caller, pcs);
    pthread_mutex_lock(&leak.lock);
    struct leak_obj *o = obj_find((uintptr_t)p);
    int known = o != NULL;
    if (o != NULL) {
        if (leak.freed == NULL)
            leak.freed = os_reserve(LEAK_FREED_MAX * sizeof(struct leak_freed), 0, OS_STAT_OTHER);
        if (leak.freed != NULL) {
            struct leak_freed *f = &leak.freed[leak.nfreed++ % LEAK_FREED_MAX];
            f->addr = o->addr;
            f->size = o->size;
            f->alloc_stack = o->stack;
            f->free_stack = n > 0 ? leak_intern(pcs, n) : 0;
        }
        obj_remove(o);
    }
    pthread_mutex_unlock(&leak.lock);
    return known;
}

/* ---- Output ---------------------------------------------------------- */

/* A small buffered writer over print_write; errors stick. */
struct out {
    int fd;
    int err;
    size_t n;
    char buf[4096];
};

static void out_flush(struct out *o)
{
    if (o->n > 0 && o->err == 0 && print_write(o->fd, o->buf, o->n) != 0)
        o->err = errno ? errno : EIO;
    o->n = 0;
}

static void out_printf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(struct out *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int len = print_vformat(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    size_t n = (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1;
    if (o->n + n > sizeof(o->buf))
        out_flush(o);
    memcpy(o->buf + o->n, line, n);
    o->n += n;
}

/* ---- The report ------------------------------------------------------ */

struct leak_group {
    uint32_t stack;
    uint32_t indirect;
    uint64_t count, bytes;
};

/* Scratch memory of one report: from os_reserve, unmapped at its end. */
struct scratch {
    void *p;
    size_t bytes;
};

static void *scratch_get(struct scratch *s, size_t bytes)
{
    s->bytes = bytes ? bytes : 1;
    s->p = os_reserve(s->bytes, 0, OS_STAT_OTHER);
    return s->p;
}

static void scratch_put(struct scratch *s)
{
    if (s->p)
        os_unmap(s->p, s->bytes, OS_STAT_OTHER);
    s->p = NULL;
}

struct leak_report {
    uint64_t unknown_count, unknown_bytes; /* leaked objects with no record */
    struct leak_group *group;
    size_t ngroup;
    uintptr_t *pc;          /* distinct frames, sorted */
    const char **name;      /* their function names, or NULL */
    size_t npc;
    char *names;            /* storage of the names */
    size_t names_used, names_cap;
};

/* leak_visit runs with the world stopped, for each unreachable object. */
static void leak_visit(void *obj, size_t size, void *arg)
{
    struct leak_report *r = arg;
    struct leak_obj *o = obj_find((uintptr_t)obj);
    if (o != NULL) {
        o->flags |= OBJ_LEAKED;
    } else {
        r->unknown_count++;
        r->unknown_bytes += size;
    }
}

/* leak_mark_indirect flags the leaked objects that a leaked object
 * points to. The world runs, but nothing can reach a leaked object to
 * change it, and with collection off nothing frees it behind our back;
 * heap_find_object is then exact for it. */
static void leak_mark_indirect(void)
{
    for (size_t i = 0; i < leak.obj_cap; i++) {
        struct leak_obj *o = &leak.obj[i];
        if (o->addr == 0 || !(o->flags & OBJ_LEAKED))
            continue;
        uintptr_t end = o->addr + (o->size & ~(uintptr_t)7);
        for (uintptr_t w = o->addr; w < end; w += sizeof(uintptr_t)) {
            uintptr_t v = *(const uintptr_t *)w, base, idx;
            if (heap_find_object(v, &base, &idx) == NULL || base == o->addr)
                continue;
            struct leak_obj *t = obj_find(base);
            if (t != NULL && (t->flags & OBJ_LEAKED))
                t->flags |= OBJ_INDIRECT;
        }
    }
}

/* group_before orders groups: direct before indirect, then more bytes,
 * more objects, lower stack id. */
static int group_before(const void *x, const void *y)
{
    const struct leak_group *a = x, *b = y;
    if (a->indirect != b->indirect)
        return a->indirect < b->indirect;
    if (a->bytes != b->bytes)
        return a->bytes > b->bytes;
    if (a->count != b->count)
        return a->count > b->count;
    return a->stack < b->stack;
}

/* leak_group_all fills r->group from the flagged objects. Lock held.
 * Groups are found through a hash of (stack, indirect) kept in the tail
 * of the same scratch block. Returns 0 or -1 (ENOMEM). */
static int leak_group_all(struct leak_report *r, struct scratch *mem)
{
    size_t nleaked = 0;
    for (size_t i = 0; i < leak.obj_cap; i++)
        nleaked += leak.obj[i].addr != 0 && (leak.obj[i].flags & OBJ_LEAKED);
    size_t cap = 16;
    while (cap < 2 * nleaked + 2)
        cap *= 2;
    if (scratch_get(mem, (nleaked + 1) * sizeof(struct leak_group) + cap * sizeof(uint32_t)) == NULL)
        return -1;
    r->group = mem->p;
    uint32_t *slot = (uint32_t *)(r->group + nleaked + 1); /* group index + 1, 0 = empty */
    for (size_t i = 0; i < leak.obj_cap; i++) {
        const struct leak_obj *o = &leak.obj[i];
        if (o->addr == 0 || !(o->flags & OBJ_LEAKED))
            continue;
        uint32_t ind = (o->flags & OBJ_INDIRECT) != 0;
        size_t j = (((uint64_t)o->stack * 2 + ind) * 0x9e3779b97f4a7c15u >> 32) & (cap - 1);
        for (;;) {
            if (slot[j] == 0) {
                r->group[r->ngroup] = (struct leak_group){ o->stack, ind, 0, 0 };
                slot[j] = (uint32_t)++r->ngroup;
            }
            struct leak_group *g = &r->group[slot[j] - 1];
            if (g->stack == o->stack && g->indirect == ind) {
                g->count++;
                g->bytes += o->size;
                break;
            }
            j = (j + 1) & (cap - 1);
        }
    }
    hsort(r->group, r->ngroup, sizeof r->group[0], group_before);
    return 0;
}

static void pc_sift(uintptr_t *a, size_t i, size_t n)
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && a[c + 1] > a[c])
            c++;
        if (a[i] >= a[c])
            return;
        uintptr_t t = a[i];
        a[i] = a[c];
        a[c] = t;
        i = c;
    }
}

static size_t pc_find(const struct leak_report *r, uintptr_t pc)
{
    size_t lo = 0, hi = r->npc;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->pc[mid] < pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void leak_name_one(uintptr_t addr, const char *name, void *arg)
{
    struct leak_report *r = arg;
    size_t i = pc_find(r, addr + 1);
    size_t len = strnlen(name, NAME_MAX_LEN);
    if (i >= r->npc || r->pc[i] != addr + 1 || r->names_used + len + 1 > r->names_cap)
        return;
    char *dst = r->names + r->names_used;
    memcpy(dst, name, len);
    dst[len] = '\0';
    r->names_used += len + 1;
    r->name[i] = dst;
}

/* leak_symbolize names the frames of every group. Lock held. Without
 * memory the frames stay unnamed. */
static void leak_symbolize(struct leak_report *r, struct scratch *mem)
{
    size_t max = 0;
    for (size_t g = 0; g < r->ngroup; g++)
        if (r->group[g].stack != 0)
            max += stack_at(r->group[g].stack)->n;
    r->names_cap = max * 48 + 4096;
    if (max == 0 || scratch_get(mem, max * (2 * sizeof(uintptr_t) + sizeof(char *)) + r->names_cap) == NULL)
        return;
    r->pc = mem->p;
    uintptr_t *query = r->pc + max;
    r->name = (const char **)(query + max);
    r->names = (char *)(r->name + max);
    size_t n = 0;
    for (size_t g = 0; g < r->ngroup; g++) {
        if (r->group[g].stack == 0)
            continue;
        const struct leak_stack *st = stack_at(r->group[g].stack);
        for (uint32_t f = 0; f < st->n; f++)
            r->pc[n++] = st->pc[f];
    }
    for (size_t i = n / 2; i-- > 0;)
        pc_sift(r->pc, i, n);
    for (size_t k = n; k-- > 1;) {
        uintptr_t t = r->pc[0];
        r->pc[0] = r->pc[k];
        r->pc[k] = t;
        pc_sift(r->pc, 0, k);
    }
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || r->pc[i] != r->pc[u - 1])
            r->pc[u++] = r->pc[i];
    r->npc = u;
    /* Return addresses: the call itself lies just before each. */
    for (size_t i = 0; i < u; i++)
        query[i] = r->pc[i] - 1;
    pprof_lookup_symbols(query, u, leak_name_one, r);
}

static void leak_print_frame(struct out *o, const struct leak_report *r, int i, uintptr_t pc)
{
    Dl_info info;
    const char *name = NULL;
    size_t k = r->npc ? pc_find(r, pc) : 0;
    if (k < r->npc && r->pc[k] == pc)
        name = r->name[k];
    out_printf(o, "    #%d %#lx", i, (unsigned long)pc);
    if (name != NULL)
        out_printf(o, " in %s", name);
    if (dladdr((void *)(pc - 1), &info) != 0 && info.dli_fname != NULL)
        out_printf(o, " (%s+%#lx)", info.dli_fname[0] ? info.dli_fname : "?",
                   (unsigned long)(pc - (uintptr_t)info.dli_fbase));
    out_printf(o, "\n");
}

static void leak_print(const struct leak_report *r)
{
    struct out o = { .fd = 2 };
    uint64_t count = r->unknown_count, bytes = r->unknown_bytes;
    for (size_t g = 0; g < r->ngroup; g++) {
        count += r->group[g].count;
        bytes += r->group[g].bytes;
    }
    if (count == 0)
        return;
    out_printf(&o, "\n=================================================================\n");
    out_printf(&o, "goheap: detected memory leaks (pid %d)\n", (int)getpid());
    for (size_t g = 0; g < r->ngroup; g++) {
        const struct leak_group *lg = &r->group[g];
        out_printf(&o, "\n%s leak of %llu byte(s) in %llu object(s) allocated from:\n",
                   lg->indirect ? "Indirect" : "Direct", (unsigned long long)lg->bytes,
                   (unsigned long long)lg->count);
        if (lg->stack == 0) {
            out_printf(&o, "    (stack not recorded)\n");
            continue;
        }
        const struct leak_stack *st = stack_at(lg->stack);
        for (uint32_t f = 0; f < st->n; f++)
            leak_print_frame(&o, r, (int)f, st->pc[f]);
    }
    if (r->unknown_count)
        out_printf(&o, "\nLeak of %llu byte(s) in %llu object(s) not allocated through the malloc family "
                   "in leak mode (no stack)\n",
                   (unsigned long long)r->unknown_bytes, (unsigned long long)r->unknown_count);
    out_printf(&o, "\nSUMMARY: goheap: %llu byte(s) leaked in %llu allocation(s).\n",
               (unsigned long long)bytes, (unsigned long long)count);
    out_flush(&o);
}

/* leak_print_stack prints a title line, then stack id's frames named as
 * in a report. Lock held. */
static void leak_print_stack(struct out *o, uint32_t id, const char *title)
{
    out_printf(o, "%s", title);
    if (id == 0) {
        out_printf(o, "    (stack not recorded)\n");
        return;
    }
    struct leak_report r = { 0 };
    struct leak_group g = { .stack = id };
    struct scratch mem = { 0 };
    r.group = &g;
    r.ngroup = 1;
    leak_symbolize(&r, &mem);
    const struct leak_stack *st = stack_at(id);
    for (uint32_t f = 0; f < st->n; f++)
        leak_print_frame(o, &r, (int)f, st->pc[f]);
    scratch_put(&mem);
}

void leak_explain(const void *p, const char *fn)
{
    options_init();
    uintptr_t a = (uintptr_t)p, base, idx;
    if (!leak.on || opts.invalidptr == 0 || (heap_find_object(a, &base, &idx) != NULL && base == a))
        return;
    struct out o = { .fd = 2 };
    char title[256];
    pthread_mutex_lock(&leak.lock);
    const struct leak_obj *live = heap_find_object(a, &base, &idx) != NULL ? obj_find(base) : NULL;
    if (live != NULL) {
        print_format(title, sizeof title, "goheap: %s(%p): inside the object of %lu byte(s) at %p allocated at:\n",
                     fn, p, (unsigned long)live->size, (void *)live->addr);
        leak_print_stack(&o, live->stack, title);
    } else if (leak.freed != NULL) {
        size_t n = leak.nfreed < LEAK_FREED_MAX ? leak.nfreed : LEAK_FREED_MAX;
        for (size_t k = 0; k < n; k++) {
            const struct leak_freed *f = &leak.freed[(leak.nfreed - 1 - k) % LEAK_FREED_MAX];
            if (a < f->addr || a >= f->addr + (f->size ? f->size : 1))
                continue;
            print_format(title, sizeof title, "goheap: %s(%p): the object of %lu byte(s) at %p was freed at:\n",
                         fn, p, (unsigned long)f->size, (void *)f->addr);
            leak_print_stack(&o, f->free_stack, title);
            print_format(title, sizeof title, "goheap: %s(%p): and allocated at:\n", fn, p);
            leak_print_stack(&o, f->alloc_stack, title);
            break;
        }
    }
    pthread_mutex_unlock(&leak.lock);
    out_flush(&o);
}

/* leak_write_profile writes the groups as a legacy heap profile (header
 * "@ heapprofile": every object counted, no scaling), then the memory map
 * that pprof needs to symbolize. Returns 0 or -1 with errno set. */
static int leak_write_profile(const struct leak_report *r, int fd)
{
    struct out o = { .fd = fd };
    uint64_t count = r->unknown_count, bytes = r->unknown_bytes;
    for (size_t g = 0; g < r->ngroup; g++) {
        count += r->group[g].count;
        bytes += r->group[g].bytes;
    }
    out_printf(&o, "heap profile: %llu: %llu [%llu: %llu] @ heapprofile\n", (unsigned long long)count,
               (unsigned long long)bytes, (unsigned long long)count, (unsigned long long)bytes);
    for (size_t g = 0; g < r->ngroup; g++) {
        const struct leak_group *lg = &r->group[g];
        unsigned long long n = lg->count, b = lg->bytes;
        out_printf(&o, "%llu: %llu [%llu: %llu] @", n, b, n, b);
        if (lg->stack != 0) {
            const struct leak_stack *st = stack_at(lg->stack);
            for (uint32_t f = 0; f < st->n; f++)
                out_printf(&o, " %#lx", (unsigned long)st->pc[f]);
        }
        out_printf(&o, "\n");
    }
    if (r->unknown_count)
        out_printf(&o, "%llu: %llu [%llu: %llu] @\n", (unsigned long long)r->unknown_count,
                   (unsigned long long)r->unknown_bytes, (unsigned long long)r->unknown_count,
                   (unsigned long long)r->unknown_bytes);
    out_printf(&o, "\nMAPPED_LIBRARIES:\n");
    out_flush(&o);
    int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps >= 0) {
        ssize_t n;
        while (o.err == 0 && (n = read(maps, o.buf, sizeof(o.buf))) != 0) {
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            o.n = (size_t)n;
            out_flush(&o);
        }
        close(maps);
    }
    if (o.err != 0) {
        errno = o.err;
        return -1;
    }
    return 0;
}

GH_API int64_t gh_report_leaks(int profile_fd)
{
    struct leak_report r;
    struct scratch groups = { 0 }, names = { 0 };
    int64_t result = -1;

    memset(&r, 0, sizeof(r));
    pthread_mutex_lock(&leak.lock);
    for (size_t i = 0; i < leak.obj_cap; i++)
        leak.obj[i].flags = 0;
    gc_find_unreachable(leak_visit, &r);
    if (leak.obj != NULL)
        leak_mark_indirect();
    if (leak_group_all(&r, &groups) != 0) {
        errno = ENOMEM;
        goto out;
    }
    leak_symbolize(&r, &names);
    leak_print(&r);
    result = (int64_t)r.unknown_bytes;
    for (size_t g = 0; g < r.ngroup; g++)
        result += (int64_t)r.group[g].bytes;
    if (profile_fd >= 0 && leak_write_profile(&r, profile_fd) != 0)
        result = -1;
out:
    scratch_put(&names);
    scratch_put(&groups);
    pthread_mutex_unlock(&leak.lock);
    return result;
}

/* ---- Leak mode ------------------------------------------------------- */

/* leak_at_exit reports on stderr and, with GHHEAPPROFILE=path, writes the
 * profile to path.leak. */
static void leak_at_exit(void)
{
    char path[sizeof(opts.heapprofile) + 8];
    int fd = -1;
    if (opts.heapprofile[0] != '\0') {
        print_format(path, sizeof(path), "%s.leak", opts.heapprofile);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            print_err("goheap: cannot write the leak profile %s (errno %d)\n", path, errno);
    }
    if (gh_report_leaks(fd) < 0 && fd >= 0)
        print_err("goheap: writing the leak profile %s failed (errno %d)\n", path, errno);
    if (fd >= 0)
        close(fd);
}

int leak_init(void)
{
    if (AO_load_acquire(&leak.init_state) == 2)
        return leak.on;
    if (!AO_compare_and_swap_full(&leak.init_state, 0, 1)) {
        while (AO_load_acquire(&leak.init_state) != 2)
            sched_yield();
        return leak.on;
    }
    options_init();
    leak.on = opts.gcleak != 0;
    if (leak.on) {
        gh_set_gc_percent(-1);
        atexit(leak_at_exit);
    }
    /* Pairs with the acquire loads above: leak.on is set. */
    AO_store_release(&leak.init_state, 2);
    return leak.on;
}

__attribute__((constructor)) static void leak_constructor(void)
{
    leak_init();
}
