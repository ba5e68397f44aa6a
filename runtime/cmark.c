/* cmark.c: the concurrent marker (Go: the background mark workers of
 * mgcmark.go; here a process). See gc.c for the cycle around it.
 *
 * Why a process. C code has no write barrier, so a marker running beside
 * the program must either see memory that does not change (a snapshot)
 * or learn of every store (dirty tracking). Dirty tracking with mprotect
 * and SIGSEGV (bdwgc's MPROTECT_VDB) faults on the first write to every
 * page, must be undone around every system call that writes into the
 * heap, still needs a stop-the-world rescan of everything dirtied, and
 * splits the heap into a mapping per page (bdwgc's incremental mode stops
 * with ENOMEM at vm.max_map_count on a 1 GiB heap here); the kernel's
 * soft-dirty bits are not available. fork() gives a snapshot for the
 * price of copying page tables: the child sees the heap as it was at the
 * stop, whatever the program does afterwards, so it can mark at leisure
 * with the ordinary marker (mark.c), and no store of the program needs a
 * barrier. Measured on this machine (2 cores, a VM): cloning a process
 * with 1 GiB of touched heap costs 25-95 ms with 4 KiB pages and 0.6 ms in
 * transparent huge pages, so arenas, span structs and mark bits live in
 * huge-page-aligned memory (heap.c). Every first write the program makes
 * to a snapshot page while the marker lives costs a copy-on-write fault
 * of about 2-5 us, and splits the huge page around it: back to 25 ms for
 * the next fork once the whole heap was written. So after each cycle the
 * collector thread has the split pieces collapsed again (heap_collapse,
 * MADV_COLLAPSE: about 0.3 ms of CPU per 2 MiB piece). Even in huge
 * pages the clone costs about 0.4-0.7 ms per GiB resident (a page-table
 * page is made for each 2 MiB mapping), so with 1 GiB live (1.7-2 GiB
 * resident at the trigger, GOGC=100) the stopped start takes 1-3 ms,
 * nearly all of it the clone, and the stopped end about 0.1-0.2 ms; on a
 * machine with more runnable threads than cores either may wait further
 * for a stopped thread to be scheduled into the handshake (threads.c).
 *
 * Parallel marking. A cycle marks with GODEBUG=gcprocs processes, by
 * default Go's dedicated workers: 25% of the procs, rounded, at least one
 * (one on two cores, where the program has the other). The first, once
 * the world runs again, maps empty shared memory over its copy of the
 * mark bitmaps and forks the others from itself, so all of them see the
 * same snapshot and set marks in the same bitmaps. Marks are set
 * atomically (mark.c), so whichever process marks an object first scans
 * it, and each process has its own grey stack. The roots are dealt out
 * in 64-byte blocks (gc.c: gc_mark_roots_part), so the graph is split at
 * its roots: a heap hanging off many roots divides well, one hanging off
 * a single root is marked by one process while the others end early.
 * There is no stealing of grey objects between processes: it would need
 * a shared queue and a termination protocol between processes, for a
 * gain only on machines with cores to spare. A helper that fails fails
 * the marker; the first process takes the share of a helper it could not
 * fork. With one process, its copy of the bitmaps is just zeroed. The
 * markers run at normal priority; they start only once the world runs
 * again (they wait on a pipe), so that the restart does not compete with
 * them for a processor.
 *
 * Snapshot-at-the-beginning. The marker marks everything reachable in
 * the snapshot. Whatever the program can reach later was reachable then
 * or was allocated since, and every slot allocated since is marked: the
 * marker marks every slot that was free (or freed by another thread and
 * not yet folded back) in the snapshot, central.c marks the free slots of
 * every span a cache takes while the cycle marks and files new large
 * objects marked, and spans made during the cycle start all marked. Every
 * slot of the current spans of busy caches is marked, as in a stop-the-
 * world cycle: a thread stopped inside the allocator may hold a slot whose
 * address is nowhere yet.
 *
 * The marks go back through a pipe. The marker starts from empty mark
 * bits of its own (it drops its copy of the bitmap chunks, which are
 * private memory) rather than from the program's, because the program
 * keeps setting bits while the marker runs (frees and allocations during
 * the cycle mark their slots) and the marker treats a marked object as
 * already scanned. When done (with its helpers) it writes every nonzero
 * 64 KiB block of the bitmaps, then the counters; the collector ORs the
 * blocks into the program's bitmaps while the program runs (marks only grow while a cycle
 * marks, see sweep.c), then reaps the process. No memory is shared with
 * the program, so a fork() by the program mid-cycle just inherits
 * private bitmaps.
 *
 * The marker is cloned without a signal at exit, so the program's wait()
 * never sees it (reaped with __WCLONE), with every signal blocked (it
 * never runs the program's handlers), with the program's descriptors
 * closed (the program's pipes see EOF when the program closes them), and
 * dies with its parent (PR_SET_PDEATHSIG). It runs on the collector
 * thread's copied stack, is single-threaded, and must not take a lock,
 * allocate, or use stdio: the locks it would see are held by the stopped
 * world it was copied from.
 *
 * Locking: cm is the collector thread's (gc.lock serialises cycles). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmark.h"
#include "cache.h"
#include "gcstate.h"
#include "heap.h"
#include "mark.h"
#include "os.h"
#include "print.h"

/* Bytes of mark bits per record. */
#define CMARK_BLOCK ((size_t)64 << 10)


enum { REC_MARKS = 1, REC_RESULT = 2 };

/* A record on the pipe: a header, then len bytes. */
struct cmark_rec {
    uint32_t kind;
    uint32_t chunk;   /* REC_MARKS: index of the bitmap chunk, oldest first */
    uint32_t off;     /* REC_MARKS: byte offset into the chunk */
    uint32_t len;     /* bytes that follow */
};

static struct {
    pid_t pid;              /* the marker, 0 when none */
    int fd;                 /* read end of its pipe, -1 when none */
    int go;                 /* write end of the pipe it waits on to start */
    pid_t parent;           /* our pid at the clone: the marker checks it */
    uint64_t **chunks;      /* bitmap chunks at the snapshot, oldest first */
    size_t nchunks, cap;
    uint64_t *buf;          /* CMARK_BLOCK bytes: receive buffer */
    void (*mark_roots)(unsigned part, unsigned parts);
    unsigned workers;       /* marker processes wanted */
} cm = { .fd = -1, .go = -1 };

/* What each marker process reports to the first, in memory they share. */
struct cmark_tally {
    uint64_t marked, scanned;
};

/* ---- The marker process ------------------------------------------------ */

static __attribute__((noreturn)) void cmark_exit(int code)
{
    syscall(SYS_exit_group, code);
    __builtin_unreachable();
}

/* cmark_write writes all of buf; on any error the marker gives up. */
static void cmark_write(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            cmark_exit(2);
        p += w;
        n -= (size_t)w;
    }
}

/* cmark_blacken_free marks every slot of s that was free in the snapshot
 * or freed by a thread that does not own s: the program may allocate
 * there while we mark. */
static void cmark_blacken_free(struct span *s, void *arg)
{
    (void)arg;
    for (unsigned w = 0; w < span_nwords(s); w++) {
        uint64_t free = ~s->alloc_bits[w] | (uint64_t)AO_load(&s->xfree_bits[w]);
        s->mark_bits[w] |= free & span_valid_mask(s, w);
    }
}

static int cmark_block_empty(const uint64_t *p)
{
    for (size_t i = 0; i < CMARK_BLOCK / sizeof(uint64_t); i++)
        if (p[i])
            return 0;
    return 1;
}

/* cmark_share_bitmaps puts empty bitmaps that every marker process
 * shares in place of the snapshot's: memory mapped shared before the
 * helpers are forked stays shared with them. Returns 0, or -1 if a chunk
 * could not be replaced (it may then be gone). */
static int cmark_share_bitmaps(void)
{
    for (size_t i = 0; i < cm.nchunks; i++)
        if (mmap(cm.chunks[i], HEAP_MARK_CHUNK, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
            return -1;
    return 0;
}

/* cmark_work marks share part of parts and reports in *t. */
static void cmark_work(unsigned part, unsigned parts, struct cmark_tally *t)
{
    mark_begin();
    cm.mark_roots(part, parts);
    t->marked = mark_bytes_marked();
    t->scanned = mark_bytes_scanned();
}

/* cmark_mark_all marks the snapshot with up to cm.workers processes and
 * sums their tallies into r: this process takes share 0, and any share
 * whose helper could not be forked, after its own. A helper that dies
 * makes the whole marker give up. */
static void cmark_mark_all(struct cmark_result *r)
{
    unsigned n = cm.workers;
    struct cmark_tally *tally = NULL;
    if (n > 1) {
        tally = mmap(NULL, CMARK_MAX_WORKERS * sizeof(*tally), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (tally == MAP_FAILED)
            n = 1;
    }
    if (n == 1) {
        /* Start from no marks at all (see the top of this file). */
        for (size_t i = 0; i < cm.nchunks; i++)
            os_release(cm.chunks[i], HEAP_MARK_CHUNK);
        struct cmark_tally t;
        cmark_work(0, 1, &t);
        r->marked = t.marked;
        r->scanned = t.scanned;
        return;
    }
    if (cmark_share_bitmaps() != 0)
        cmark_exit(1);
    pid_t self = getpid(), helper[CMARK_MAX_WORKERS];
    int forked[CMARK_MAX_WORKERS];
    for (unsigned i = 1; i < n; i++) {
        long pid = syscall(SYS_clone, 0L, NULL, NULL, NULL, NULL);
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != self)
                cmark_exit(1);
            cmark_work(i, n, &tally[i]);
            cmark_exit(0);
        }
        helper[i] = (pid_t)pid;
        forked[i] = pid > 0;
    }
    cmark_work(0, n, &tally[0]);
    for (unsigned i = 1; i < n; i++) {
        if (forked[i]) {
            int status;
            pid_t w;
            do
                w = wait4(helper[i], &status, __WCLONE, NULL);
            while (w < 0 && errno == EINTR);
            if (w != helper[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                cmark_exit(1);
        } else {
            cmark_work(i, n, &tally[i]);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        r->marked += tally[i].marked;
        r->scanned += tally[i].scanned;
    }
}

static __attribute__((noreturn)) void cmark_child(int wfd, int rfd, int gofd)
{
    char go;
    /* Wait for the world to run again: the restart must not compete with
     * us for a processor. */
    while (read(gofd, &go, 1) < 0 && errno == EINTR)
        ;
    close(gofd);
    close(rfd);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != cm.parent)
        cmark_exit(1); /* the program died before the line above */
    /* Hold none of the program's descriptors open. */
    if (wfd > 0)
        syscall(SYS_close_range, 0, (unsigned)wfd - 1, 0);
    syscall(SYS_close_range, (unsigned)wfd + 1, ~0u, 0);

    struct cmark_result r = { 0 };
    cmark_mark_all(&r);
    r.globals = gc.globals_bytes;
    r.stacks = gc.stack_bytes;
    heap_each_span(cmark_blacken_free, NULL);
    cache_blacken_busy();

    for (size_t i = 0; i < cm.nchunks; i++) {
        for (size_t off = 0; off < HEAP_MARK_CHUNK; off += CMARK_BLOCK) {
            const uint64_t *p = cm.chunks[i] + off / sizeof(uint64_t);
            if (cmark_block_empty(p))
                continue;
            struct cmark_rec h = { REC_MARKS, (uint32_t)i, (uint32_t)off, (uint32_t)CMARK_BLOCK };
            cmark_write(wfd, &h, sizeof(h));
            cmark_write(wfd, p, CMARK_BLOCK);
        }
    }
    struct timespec ts;
    struct rusage ru;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
        r.cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) /* the helpers */
        r.cpu_ns += ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
                    ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    struct cmark_rec h = { REC_RESULT, 0, 0, (uint32_t)sizeof(r) };
    cmark_write(wfd, &h, sizeof(h));
    cmark_write(wfd, &r, sizeof(r));
    cmark_exit(0);
}

/* ---- The collector's side ---------------------------------------------- */

static void cmark_count_chunk(uint64_t *base, size_t bytes, void *arg)
{
    (void)base;
    (void)bytes;
    ++*(size_t *)arg;
}

static void cmark_note_chunk(uint64_t *base, size_t bytes, void *arg)
{
    (void)bytes;
    (void)arg;
    if (cm.nchunks < cm.cap)
        cm.chunks[cm.nchunks++] = base;
}

/* cmark_snapshot_chunks lists the bitmap chunks (world stopped, heap lock
 * held, so none is being added). Returns 0, or -1 when out of memory. */
static int cmark_snapshot_chunks(void)
{
    size_t n = 0;
    heap_each_mark_chunk(cmark_count_chunk, &n);
    if (n > cm.cap) {
        size_t cap = n * 2;
        uint64_t **a = os_reserve(cap * sizeof(*a), os_page_size(), OS_STAT_GC);
        if (a == NULL)
            return -1;
        if (cm.chunks)
            os_unmap(cm.chunks, cm.cap * sizeof(*a), OS_STAT_GC);
        cm.chunks = a;
        cm.cap = cap;
    }
    cm.nchunks = 0;
    heap_each_mark_chunk(cmark_note_chunk, NULL);
    return 0;
}

int cmark_start(void (*mark_roots)(unsigned part, unsigned parts), unsigned workers)
{
    int fds[2], go[2];
    sigset_t all, old;

    if (cm.buf == NULL && (cm.buf = os_reserve(CMARK_BLOCK, os_page_size(), OS_STAT_GC)) == NULL)
        return -1;
    if (cmark_snapshot_chunks() != 0 || pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(go, O_CLOEXEC) != 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    cm.mark_roots = mark_roots;
    cm.workers = workers < 1 ? 1 : workers > CMARK_MAX_WORKERS ? CMARK_MAX_WORKERS : workers;
    cm.parent = getpid();
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* Flags 0: a copy of the process (as fork) that sends no signal when
     * it exits, so only a __WCLONE wait sees it. */
    long pid = syscall(SYS_clone, 0L, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        close(go[1]);
        cmark_child(fds[1], fds[0], go[0]);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(fds[1]);
    close(go[0]);
    if (pid < 0) {
        close(fds[0]);
        close(go[1]);
        return -1;
    }
    cm.pid = (pid_t)pid;
    cm.fd = fds[0];
    cm.go = go[1];
    return 0;
}

void cmark_go(void)
{
    char go = 1;
    while (write(cm.go, &go, 1) < 0 && errno == EINTR)
        ;
    close(cm.go);
    cm.go = -1;
}

int cmark_wait(int timeout_ms)
{
    struct pollfd p = { .fd = cm.fd, .events = POLLIN };
    int r;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    return r != 0;
}

uint64_t cmark_private_bytes(void)
{
    char path[64];
    if (cm.pid <= 0)
        return 0;
    print_format(path, sizeof(path), "/proc/%d/smaps_rollup", (int)cm.pid);
    return os_proc_number(path, "\nPrivate_Dirty:") << 10;
}

/* cmark_read reads exactly n bytes; -1 on error or early end. */
static int cmark_read(void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(cm.fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* cmark_or ORs n words of marks into dst. Other threads set bits in dst
 * meanwhile, hence the atomic OR, skipped where every bit is set. */
static void cmark_or(uint64_t *dst, const uint64_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v = src[i];
        if (v != 0 && (AO_load((volatile AO_t *)&dst[i]) & v) != v)
            AO_or((volatile AO_t *)&dst[i], (AO_t)v);
    }
}

int cmark_finish(struct cmark_result *r)
{
    int ok = 0;
    memset(r, 0, sizeof(*r));
    for (;;) {
        struct cmark_rec h;
        if (cmark_read(&h, sizeof(h)) != 0)
            break;
        if (h.kind == REC_MARKS && h.chunk < cm.nchunks && h.len <= CMARK_BLOCK &&
            h.len % sizeof(uint64_t) == 0 && h.off % sizeof(uint64_t) == 0 &&
            (size_t)h.off + h.len <= HEAP_MARK_CHUNK) {
            if (cmark_read(cm.buf, h.len) != 0)
                break;
            cmark_or(cm.chunks[h.chunk] + h.off / sizeof(uint64_t), cm.buf, h.len / sizeof(uint64_t));
        } else {
            if (h.kind == REC_RESULT && h.len == sizeof(*r) && cmark_read(r, sizeof(*r)) == 0)
                ok = 1;
            break;
        }
    }
    close(cm.fd);
    cm.fd = -1;
    int status;
    struct rusage ru;
    pid_t w;
    do
        w = wait4(cm.pid, &status, __WCLONE, &ru);
    while (w < 0 && errno == EINTR);
    /* Someone else may have reaped it (a wait with __WALL): then the
     * result record alone tells that it finished. */
    if (w == cm.pid) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            ok = 0;
        int64_t cpu = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
                      ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
        if (cpu > r->cpu_ns)
            r->cpu_ns = cpu;
    }
    cm.pid = 0;
    return ok ? 0 : -1;
}

/* ---- GODEBUG=gccheckmark=1 --------------------------------------------- *
 *
 * A mark made again with the world stopped at termination would judge the
 * heap as it is then, and a conservative scan of a thread's stack then may
 * find stale words (a new frame's uninitialised slots) holding objects
 * that were garbage at the snapshot: the cycle rightly left them
 * unmarked. So the check works from the snapshot instead: at the start,
 * with the world stopped, it records every span's allocated slots and
 * marks the heap itself from the same roots (the marks the cycle already
 * had are put back); at termination every slot allocated at the snapshot
 * and reachable then, and every slot allocated since, must be marked. */

struct cmark_check {
    struct span *s;
    uintptr_t base;
    unsigned spanclass;
    uint64_t alloc[SPAN_MAX_WORDS];   /* allocated at the snapshot */
    uint64_t reach[SPAN_MAX_WORDS];   /* reachable at the snapshot */
};

static struct {
    struct cmark_check *tab;
    uint32_t *index;                  /* open addressing by span address: tab index + 1 */
    size_t n, cap, bytes, index_cap;
} ck;

static size_t cmark_check_slot(const struct span *s)
{
    return (size_t)(((uintptr_t)s >> 4) * 0x9e3779b97f4a7c15ull) & (ck.index_cap - 1);
}

static struct cmark_check *cmark_check_find(const struct span *s)
{
    for (size_t i = cmark_check_slot(s); ck.index[i] != 0; i = (i + 1) & (ck.index_cap - 1))
        if (ck.tab[ck.index[i] - 1].s == s)
            return &ck.tab[ck.index[i] - 1];
    return NULL;
}

static void cmark_check_count(struct span *s, void *arg)
{
    (void)s;
    ++*(size_t *)arg;
}

/* cmark_check_record notes s and moves its marks aside (into reach). */
static void cmark_check_record(struct span *s, void *arg)
{
    (void)arg;
    if (ck.n >= ck.cap)
        return;
    struct cmark_check *c = &ck.tab[ck.n++];
    c->s = s;
    c->base = s->base;
    c->spanclass = s->spanclass;
    for (unsigned w = 0; w < SPAN_MAX_WORDS; w++) {
        c->alloc[w] = s->alloc_bits[w] & ~(uint64_t)AO_load(&s->xfree_bits[w]);
        c->reach[w] = AO_load((volatile AO_t *)&s->mark_bits[w]);
        AO_store((volatile AO_t *)&s->mark_bits[w], 0);
    }
    size_t i = cmark_check_slot(s);
    while (ck.index[i] != 0)
        i = (i + 1) & (ck.index_cap - 1);
    ck.index[i] = (uint32_t)ck.n;
}

void cmark_check_begin(void (*mark_roots)(void))
{
    size_t n = 0;
    heap_each_span(cmark_check_count, &n);
    if (ck.tab)
        os_unmap(ck.tab, ck.bytes, OS_STAT_GC);
    ck.cap = n;
    for (ck.index_cap = 64; ck.index_cap < 2 * n; ck.index_cap *= 2)
        ;
    ck.bytes = ck.cap * sizeof(*ck.tab) + ck.index_cap * sizeof(*ck.index);
    ck.tab = os_reserve(ck.bytes, os_page_size(), OS_STAT_GC);
    if (ck.tab == NULL)
        print_fatal("gccheckmark: no memory for the snapshot record");
    ck.index = (uint32_t *)(ck.tab + ck.cap);
    ck.n = 0;
    heap_each_span(cmark_check_record, NULL);
    mark_begin();
    mark_roots();
    for (size_t i = 0; i < ck.n; i++) {
        struct cmark_check *c = &ck.tab[i];
        for (unsigned w = 0; w < SPAN_MAX_WORDS; w++) {
            uint64_t had = c->reach[w];
            c->reach[w] = AO_load((volatile AO_t *)&c->s->mark_bits[w]);
            AO_store((volatile AO_t *)&c->s->mark_bits[w], had);
        }
    }
}

static void cmark_check_span(struct span *s, void *arg)
{
    (void)arg;
    struct cmark_check *c = cmark_check_find(s);
    if (c != NULL && (c->base != s->base || c->spanclass != s->spanclass))
        c = NULL; /* the struct was reused for another span */
    for (unsigned w = 0; w < span_nwords(s); w++) {
        uint64_t alloc = s->alloc_bits[w] & ~(uint64_t)AO_load(&s->xfree_bits[w]);
        uint64_t must = c ? (c->reach[w] & alloc) | (alloc & ~c->alloc[w]) : alloc;
        uint64_t missed = must & ~(uint64_t)AO_load((volatile AO_t *)&s->mark_bits[w]);
        if (missed == 0)
            continue;
        uintptr_t idx = w * 64 + (uintptr_t)__builtin_ctzll(missed);
        int fresh = c == NULL || !((c->alloc[w] >> (idx % 64)) & 1);
        print_err("goheap: gccheckmark: object %p (size %lu, span %p, class %u) %s but was not marked\n",
                  (void *)(s->base + idx * s->elemsize), (unsigned long)s->elemsize, (void *)s->base,
                  (unsigned)s->spanclass, fresh ? "was allocated while the cycle marked" : "was reachable at the snapshot");
        print_fatal("gccheckmark found an unmarked reachable object");
    }
}

void cmark_check_end(void)
{
    heap_each_span(cmark_check_span, NULL);
}

void cmark_fork_child(void)
{
    if (cm.fd >= 0)
        close(cm.fd);
    if (cm.go >= 0)
        close(cm.go);
    cm.fd = cm.go = -1;
    cm.pid = 0;
}
