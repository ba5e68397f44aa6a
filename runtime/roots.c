/* roots.c: the global roots (Go: the data/bss jobs of markroot in
 * mgcmark.go): writable segments of loaded objects and user root ranges.
 * roots.h describes the prepare / stop / scan protocol and why it exists.
 *
 * The segment list. roots_prepare records, for each object that
 * dl_iterate_phdr reports, its identity (load bias l_addr and the l_name
 * pointer, which together pick out one link map) and its writable pieces;
 * an object with nothing to scan still gets a record with lo == hi == 0, so
 * that roots_each knows it was seen. Records live in chunks from
 * os_meta_alloc that are reused by every prepare and never freed.
 * Invariant: the records of one object are consecutive, objects are in
 * dl_iterate_phdr's order, which is the order of the loader's link-map
 * chain, and either all of an object's pieces are recorded or none.
 *
 * Checking the list with the world stopped. The loader's debugger
 * interface (struct r_debug, found through the executable's DT_DEBUG
 * entry) gives the chain of link maps and a state: RT_CONSISTENT, or
 * RT_ADD / RT_DELETE while some thread is changing the chain. Debuggers
 * read it without locks from a stopped process, and so does roots_each:
 * an object still in the chain while the state is consistent is mapped
 * exactly as recorded; any other recorded object (unloaded, or in the
 * middle of a change, or in a namespace the chain does not show) is
 * reported only where /proc/self/maps shows it readable and writable.
 * glibc's dlclose unmaps an object before unlinking it, hence the state
 * test.
 *
 * User roots: a fixed table of ROOTS_USER_MAX ranges. Writers (gh_add_roots,
 * gh_remove_roots) serialise on roots.user_lock; roots_each reads the table
 * without it, because a stopped thread may hold it. Every state a writer
 * can be stopped in is therefore safe to read: entries are published by the
 * count, and an entry being overwritten first becomes empty (hi = 0).
 *
 * Private memory (roots_set_private, for the malloc shim): a program that
 * was never written for a collector may keep the only pointer to an object
 * anywhere it can write, so roots_each then also reports every private
 * mapping listed in /proc/self/maps at that moment (read with the world
 * stopped, so each cycle sees the current mappings) that is readable and
 * writable, or anonymous and made read-only, minus a sorted exclusion
 * list: goheap's own mappings (taken by roots_prepare, because os.c can
 * only list them with the world running), goheap's own data and bss,
 * whatever roots_each has reported already, and the thread stacks, each
 * standing for its whole mapping below its top, since below a stopped
 * thread's stack pointer the stack is dead. Of what remains, only pages
 * that /proc/self/pagemap shows present or swapped out are scanned: the
 * others were never written (roots_report_touched). File mappings are probed for
 * pages past the end of a file that shrank (process_vm_readv fails where
 * a load would raise SIGBUS). Shared mappings are not scanned. Invariant:
 * an exclusion is either memory goheap maps (as of roots_prepare; see
 * roots_prepare_private for the one window), or memory that this same
 * roots_each or threads_each_stack reports; so leaving it out hides no
 * root.
 *
 * Locking: prep_lock (roots_prepare only) is taken after gc.lock and
 * before the loader's lock, with no allocator lock held; user_lock is a
 * leaf. Under either, only os.c's own locks are taken (os_meta_alloc,
 * and for the private-memory list os_reserve and os_each_mapping).
 * roots_each takes none. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "goheap.h"
#include "roots.h"
#include "hsort.h"
#include "threads.h"
#include "atomic.h"
#include "os.h"
#include "os_map.h"
#include "print.h"

#define ROOTS_CHUNK_RECORDS 255
#define ROOTS_USER_MAX 8192
#define ROOTS_CHAIN_MAX (1 << 20)   /* bound on a chain walk: a torn chain must not loop */
#define ROOTS_SELF_MAX 8            /* writable segments of goheap's own object */
#define ROOTS_EXCL_SLACK 256        /* exclusions beyond the estimate made at prepare */
#define WORD ((uintptr_t)sizeof(void *))

struct roots_record {
    uintptr_t lo, hi;        /* a writable piece, or 0, 0 for "nothing to scan" */
    uintptr_t addr;          /* the object's l_addr */
    const char *name;        /* the object's l_name (compared as a pointer) */
};

struct roots_chunk {
    struct roots_chunk *next;
    struct roots_record rec[ROOTS_CHUNK_RECORDS];
};

struct roots_user {
    volatile AO_t lo, hi;
};

/* A range the private-memory scan leaves out. A stack range stands for
 * its whole mapping below hi: below a stopped thread's stack pointer the
 * stack is dead. */
struct roots_excl {
    uintptr_t lo, hi;
    int stack;
};

static struct {
    pthread_mutex_t prep_lock;    /* serialises roots_prepare */
    struct roots_chunk *chunks;   /* prep_lock: all chunks ever allocated */
    size_t nrec;                  /* prep_lock to write: records taken */
    struct r_debug *r_debug;      /* prep_lock to write: the loader's, or NULL */
    uint64_t globals_bytes;       /* world stopped: last roots_each */
    uintptr_t self[ROOTS_SELF_MAX][2]; /* prep_lock to write: goheap's own writable segments */
    int nself;                    /* prep_lock to write */

    volatile AO_t private_on;     /* roots_set_private */
    struct roots_excl *excl;      /* prep_lock to map; first nowned from prepare, rest world stopped */
    size_t excl_cap;              /* prep_lock: entries mapped */
    size_t nowned;                /* prep_lock: goheap's mappings at prepare */
    size_t nexcl;                 /* world stopped: entries in use */

    pthread_mutex_t user_lock;    /* serialises writers of the user table */
    struct roots_user *user;      /* user_lock: ROOTS_USER_MAX entries, or NULL */
    volatile AO_t nuser;          /* user_lock to write: entries in use */
    pthread_once_t once;
} roots = {
    .prep_lock = PTHREAD_MUTEX_INITIALIZER,
    .user_lock = PTHREAD_MUTEX_INITIALIZER,
    .once = PTHREAD_ONCE_INIT,
};

/* ---- /proc/self/maps ------------------------------------------------- */

/* One line of /proc/self/maps. */
struct roots_map {
    uintptr_t lo, hi;
    int prot;       /* PROT_READ | PROT_WRITE | PROT_EXEC */
    int shared;     /* 's' in the permissions: MAP_SHARED */
    int file;       /* a nonzero inode: backed by a file */
    int named;      /* a path or a pseudo-name such as [stack] or [vvar] */
};

/* roots_maps_parse calls fn for each line of /proc/self/maps until fn
 * returns nonzero; roots_maps_each's contract (no allocation, no lock, not
 * a cancellation point). */
static int roots_maps_parse(int (*fn)(const struct roots_map *m, void *arg), void *arg)
{
    enum { F_LO, F_HI, F_PERM, F_OFFSET, F_DEV, F_INODE, F_PATH } field = F_LO;
    struct roots_map m = { 0 };
    int perm = 0, stop = 0, rc = 0, cancel_state;
    char buf[1024];

    /* open and read are cancellation points; this must not be one (it runs
     * while a new thread registers, and with the world stopped). */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pthread_setcancelstate(cancel_state, NULL);
        return -1;
    }
    while (!stop) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -1 : 0;
            break;
        }
        for (ssize_t i = 0; i < n && !stop; i++) {
            char c = buf[i];
            if (c == '\n') {
                stop = fn(&m, arg);
                memset(&m, 0, sizeof(m));
                field = F_LO;
                perm = 0;
                continue;
            }
            switch (field) {
            case F_LO:
            case F_HI:
                if (c == '-' || c == ' ') {
                    field = field == F_LO ? F_HI : F_PERM;
                } else {
                    unsigned d = c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
                    if (field == F_LO)
                        m.lo = m.lo << 4 | d;
                    else
                        m.hi = m.hi << 4 | d;
                }
                break;
            case F_PERM:
                if (c == ' ')
                    field = F_OFFSET;
                else if (perm == 0 && c == 'r')
                    m.prot |= PROT_READ;
                else if (perm == 1 && c == 'w')
                    m.prot |= PROT_WRITE;
                else if (perm == 2 && c == 'x')
                    m.prot |= PROT_EXEC;
                else if (perm == 3 && c == 's')
                    m.shared = 1;
                perm++;
                break;
            case F_OFFSET:
            case F_DEV:
                if (c == ' ')
                    field = field == F_OFFSET ? F_DEV : F_INODE;
                break;
            case F_INODE:
                if (c == ' ')
                    field = F_PATH;
                else if (c != '0')
                    m.file = 1;
                break;
            case F_PATH:
                if (c != ' ')
                    m.named = 1;
                break;
            }
        }
    }
    close(fd);
    pthread_setcancelstate(cancel_state, NULL);
    return rc;
}

struct roots_maps_plain {
    int (*fn)(uintptr_t lo, uintptr_t hi, int prot, void *arg);
    void *arg;
};

static int roots_maps_plain(const struct roots_map *m, void *arg)
{
    struct roots_maps_plain *p = arg;
    return p->fn(m->lo, m->hi, m->prot, p->arg);
}

int roots_maps_each(int (*fn)(uintptr_t lo, uintptr_t hi, int prot, void *arg), void *arg)
{
    struct roots_maps_plain p = { fn, arg };
    return roots_maps_parse(roots_maps_plain, &p);
}

/* ---- Taking the segment list (world running) ------------------------- */

/* roots_record_at returns record i, allocating its chunk if needed, or
 * NULL when no memory is left. prep_lock held. */
static struct roots_record *roots_record_at(size_t i)
{
    struct roots_chunk **link = &roots.chunks;
    for (size_t c = i / ROOTS_CHUNK_RECORDS; ; c--) {
        if (*link == NULL) {
            *link = os_meta_alloc(sizeof(struct roots_chunk), OS_STAT_GC);
            if (*link == NULL)
                return NULL;
        }
        if (c == 0)
            return &(*link)->rec[i % ROOTS_CHUNK_RECORDS];
        link = &(*link)->next;
    }
}

struct roots_prep {
    size_t object_start;   /* first record of the object being added */
    int first;             /* the next object is the executable */
    int full;              /* the table could not grow: record nothing more */
};

static int roots_push(struct roots_prep *p, const struct dl_phdr_info *info,
                      uintptr_t lo, uintptr_t hi)
{
    struct roots_record *r = roots_record_at(roots.nrec);
    if (r == NULL) {
        roots.nrec = p->object_start;   /* all of the object or none */
        p->full = 1;
        return -1;
    }
    r->lo = lo;
    r->hi = hi;
    r->addr = info->dlpi_addr;
    r->name = info->dlpi_name;
    roots.nrec++;
    return 0;
}

/* roots_contains_code reports whether one of the object's segments holds
 * goheap's code. */
static int roots_contains_code(const struct dl_phdr_info *info)
{
    uintptr_t code = (uintptr_t)&roots_prepare;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && code >= lo && code < lo + ph->p_memsz)
            return 1;
    }
    return 0;
}

/* roots_note_self records goheap's own writable segments, which the
 * private-memory scan must leave out as the segment scan does. */
static void roots_note_self(const struct dl_phdr_info *info)
{
    roots.nself = 0;
    for (int i = 0; i < info->dlpi_phnum && roots.nself < ROOTS_SELF_MAX; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        roots.self[roots.nself][0] = lo;
        roots.self[roots.nself][1] = lo + ph->p_memsz;
        roots.nself++;
    }
}

static int roots_phdr_object(struct dl_phdr_info *info, size_t size, void *data)
{
    struct roots_prep *p = data;
    uintptr_t relro_lo = 0, relro_hi = 0;
    int is_exe = p->first;
    (void)size;

    p->first = 0;
    if (p->full)
        return 0;
    p->object_start = roots.nrec;
    if (!is_exe && roots_contains_code(info)) {
        roots_note_self(info);
        return roots_push(p, info, 0, 0) != 0;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO) {
            relro_lo = info->dlpi_addr + ph->p_vaddr;
            relro_hi = relro_lo + ph->p_memsz;
        }
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W) || ph->p_memsz == 0)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        uintptr_t hi = lo + ph->p_memsz;
        if (relro_hi <= lo || relro_lo >= hi) {
            if (roots_push(p, info, lo, hi) != 0)
                return 1;
            continue;
        }
        if (lo < relro_lo && roots_push(p, info, lo, relro_lo) != 0)
            return 1;
        if (relro_hi < hi && roots_push(p, info, relro_hi, hi) != 0)
            return 1;
    }
    if (roots.nrec == p->object_start)
        return roots_push(p, info, 0, 0) != 0;
    return 0;
}

/* roots_find_r_debug returns the loader's struct r_debug through the
 * executable's DT_DEBUG entry (as a debugger finds it), or &_r_debug. */
static struct r_debug *roots_find_r_debug(void)
{
    const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    size_t phnum = getauxval(AT_PHNUM);
    uintptr_t bias = 0;
    const ElfW(Dyn) *dyn = NULL;

    for (size_t i = 0; phdr != NULL && i < phnum; i++) {
        if (phdr[i].p_type == PT_PHDR)
            bias = (uintptr_t)phdr - phdr[i].p_vaddr;
    }
    for (size_t i = 0; phdr != NULL && i < phnum; i++) {
        if (phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(bias + phdr[i].p_vaddr);
    }
    for (; dyn != NULL && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_DEBUG && dyn->d_un.d_ptr != 0)
            return (struct r_debug *)dyn->d_un.d_ptr;
    }
    return &_r_debug;
}

static void roots_fork_prepare(void)
{
    pthread_mutex_lock(&roots.prep_lock);
    pthread_mutex_lock(&roots.user_lock);
}

static void roots_fork_release(void)
{
    pthread_mutex_unlock(&roots.user_lock);
    pthread_mutex_unlock(&roots.prep_lock);
}

static void roots_once(void)
{
    pthread_atfork(roots_fork_prepare, roots_fork_release, roots_fork_release);
}

/* ---- Private memory: what to leave out (world running) ---------------- */

struct roots_owned {
    size_t n;       /* ranges seen */
    int fill;       /* store them into roots.excl too */
};

static void roots_owned_range(uintptr_t lo, uintptr_t hi, void *arg)
{
    struct roots_owned *o = arg;
    if (o->fill && o->n < roots.excl_cap)
        roots.excl[o->n] = (struct roots_excl){ lo, hi, 0 };
    o->n++;
}

/* roots_excl_reserve makes room for want exclusions. prep_lock held.
 * Returns 0, or -1 when no memory could be mapped. */
static int roots_excl_reserve(size_t want)
{
    if (want <= roots.excl_cap)
        return 0;
    size_t cap = roots.excl_cap ? roots.excl_cap : 1024;
    while (cap < want)
        cap *= 2;
    struct roots_excl *e = os_reserve(cap * sizeof(*e), 0, OS_STAT_GC);
    if (e == NULL)
        return -1;
    if (roots.excl != NULL)
        os_unmap(roots.excl, roots.excl_cap * sizeof(*e), OS_STAT_GC);
    roots.excl = e;
    roots.excl_cap = cap;
    return 0;
}

/* roots_prepare_private takes the list of goheap's own mappings (which
 * os.c can only give with the world running, under its lock) into the
 * head of roots.excl, with room after it for what roots_each adds.
 * prep_lock held. Mappings goheap makes between now and the stop are
 * scanned as if they were the program's: that keeps more alive for one
 * cycle, never less. A range goheap unmaps in that window (a profile
 * writer's scratch memory) stays excluded, so memory the program mapped
 * at the same address within the same window would not be scanned: the
 * one hole, closed only by a list of goheap's mappings that can be read
 * with the world stopped. If no memory can be had the list stays empty,
 * and then goheap's own memory is scanned too: wasteful, still safe. */
static void roots_prepare_private(void)
{
    /* Room for what roots_each adds: segment pieces, user roots, stacks. */
    size_t extra = 2 * roots.nrec + AO_load(&roots.nuser) + 4 * (size_t)threads_count() +
                   ROOTS_SELF_MAX + ROOTS_EXCL_SLACK;
    for (int tries = 0; tries < 4; tries++) {
        struct roots_owned count = { 0, 0 };
        os_each_mapping(roots_owned_range, &count);
        if (roots_excl_reserve(2 * count.n + extra) != 0)
            break;
        /* The reservation above may itself be a new mapping: fill, and
         * start over if the list outgrew the room meanwhile. */
        struct roots_owned fill = { 0, 1 };
        os_each_mapping(roots_owned_range, &fill);
        if (fill.n + extra <= roots.excl_cap) {
            roots.nowned = fill.n;
            return;
        }
    }
    roots.nowned = 0;
}

void roots_prepare(void)
{
    struct roots_prep p = { .first = 1 };

    pthread_once(&roots.once, roots_once);
    pthread_mutex_lock(&roots.prep_lock);
    if (roots.r_debug == NULL)
        roots.r_debug = roots_find_r_debug();
    roots.nrec = 0;
    dl_iterate_phdr(roots_phdr_object, &p);
    if (AO_load(&roots.private_on))
        roots_prepare_private();
    pthread_mutex_unlock(&roots.prep_lock);
}

void roots_set_private(int on)
{
    AO_store(&roots.private_on, on != 0);
}

int roots_private(void)
{
    return (int)AO_load(&roots.private_on);
}

/* ---- Scanning (world stopped) ---------------------------------------- */

struct roots_scan {
    void (*fn)(uintptr_t lo, uintptr_t hi, void *arg);
    void *arg;
    uint64_t bytes;
    uintptr_t lo, hi;      /* the segment being checked against the maps */
    int exclude;           /* also note what is reported in roots.excl */
    size_t cursor;         /* private scan: first exclusion not yet passed */
    int pagemap;           /* private scan: /proc/self/pagemap, or -1 */
};

/* roots_exclude adds [lo, hi) to the exclusions, if there is room; a
 * range that does not fit is scanned twice, which is harmless. */
static void roots_exclude(uintptr_t lo, uintptr_t hi, int stack)
{
    if (roots.nexcl < roots.excl_cap)
        roots.excl[roots.nexcl++] = (struct roots_excl){ lo, hi, stack };
}

static void roots_report(struct roots_scan *s, uintptr_t lo, uintptr_t hi)
{
    lo = (lo + WORD - 1) & ~(WORD - 1);
    hi &= ~(WORD - 1);
    if (lo >= hi)
        return;
    s->fn(lo, hi, s->arg);
    s->bytes += hi - lo;
    if (s->exclude)
        roots_exclude(lo, hi, 0);
}

static int roots_report_mapped(uintptr_t lo, uintptr_t hi, int prot, void *arg)
{
    struct roots_scan *s = arg;
    if (lo >= s->hi)
        return 1;
    if ((prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE) && hi > s->lo)
        roots_report(s, lo < s->lo ? s->lo : lo, hi > s->hi ? s->hi : hi);
    return 0;
}

/* roots_chain_find returns the link map for (addr, name) at or after *from,
 * advancing *from past it, or NULL leaving *from alone. */
static struct link_map *roots_chain_find(struct link_map **from, uintptr_t addr, const char *name)
{
    int n = 0;
    for (struct link_map *l = *from; l != NULL && n < ROOTS_CHAIN_MAX; l = l->l_next, n++) {
        if (l->l_addr == addr && l->l_name == name) {
            *from = l->l_next;
            return l;
        }
    }
    return NULL;
}

/* ---- Private memory: the scan (world stopped) ----------------------- */

static void roots_exclude_stack(uintptr_t lo, uintptr_t hi, void *arg)
{
    (void)arg;
    roots_exclude(lo, hi, 1);
}

static int roots_excl_before(const void *a, const void *b)
{
    return ((const struct roots_excl *)a)->lo < ((const struct roots_excl *)b)->lo;
}

/* roots_readable reports whether the byte at addr can be read, without
 * touching it: process_vm_readv fails with EFAULT where a load would raise
 * SIGSEGV or SIGBUS. Where the call is not allowed (seccomp) the answer is
 * yes. */
static int roots_readable(uintptr_t addr)
{
    char c;
    struct iovec local = { &c, 1 }, remote = { (void *)addr, 1 };
    if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == 1)
        return 1;
    return errno != EFAULT;
}

/* roots_readable_end returns the end of the readable prefix of the file
 * mapping [lo, hi): pages past the end of a file that shrank after it was
 * mapped raise SIGBUS. */
static uintptr_t roots_readable_end(uintptr_t lo, uintptr_t hi)
{
    uintptr_t page = os_page_size();
    if (roots_readable(hi - 1))
        return hi;
    /* Pages [lo, a) are readable and [b, hi) are not, a file being cut
     * only at its end: search for the boundary. */
    uintptr_t a = lo, b = hi - page;
    while (a < b) {
        uintptr_t mid = a + ((b - a) / page / 2) * page;
        if (roots_readable(mid))
            a = mid + page;
        else
            b = mid;
    }
    return a;
}

/* roots_report_touched reports the pages of [lo, hi) that hold data: those
 * /proc/self/pagemap shows present or swapped out. A private page that is
 * neither was never written (or was given back with MADV_DONTNEED) and
 * reads as zeros, or as the unmodified file: no pointer to the heap can
 * be there. Skipping them spares the scan a page fault per untouched page
 * of every big, sparse mapping (reserved arenas, other allocators' heaps),
 * and keeps them untouched. Without the pagemap, everything is reported. */
static void roots_report_touched(struct roots_scan *s, uintptr_t lo, uintptr_t hi)
{
    uint64_t ent[512];
    uintptr_t page = os_page_size(), run = 0;
    int in_run = 0;
    if (s->pagemap < 0) {
        roots_report(s, lo, hi);
        return;
    }
    for (uintptr_t pg = lo & ~(page - 1); pg < hi;) {
        size_t want = (size_t)((hi - pg + page - 1) / page);
        if (want > sizeof ent / sizeof ent[0])
            want = sizeof ent / sizeof ent[0];
        ssize_t got = pread(s->pagemap, ent, want * sizeof ent[0], (off_t)(pg / page * sizeof ent[0]));
        if (got < (ssize_t)sizeof ent[0]) {
            /* Unreadable: report the rest whole. */
            roots_report(s, in_run ? run : (pg > lo ? pg : lo), hi);
            return;
        }
        size_t n = (size_t)got / sizeof ent[0];
        for (size_t i = 0; i < n; i++, pg += page) {
            int touched = (ent[i] >> 62) != 0; /* bit 63 present, bit 62 swapped */
            if (touched && !in_run) {
                run = pg > lo ? pg : lo;
                in_run = 1;
            } else if (!touched && in_run) {
                roots_report(s, run, pg);
                in_run = 0;
            }
        }
    }
    if (in_run)
        roots_report(s, run, hi);
}

static int roots_private_mapping(const struct roots_map *m, void *arg)
{
    struct roots_scan *s = arg;
    uintptr_t lo = m->lo, hi = m->hi;

    /* Private memory the program can read and could have written: every
     * writable private mapping, and anonymous ones made read-only later.
     * Pseudo-mappings such as [vvar] are named and read-only. */
    if (!(m->prot & PROT_READ) || m->shared || lo >= hi)
        return 0;
    if (!(m->prot & PROT_WRITE) && (m->file || m->named))
        return 0;
    if (m->file)
        hi = roots_readable_end(lo, hi);
    while (s->cursor < roots.nexcl && roots.excl[s->cursor].hi <= lo)
        s->cursor++;
    uintptr_t cur = lo;
    for (size_t i = s->cursor; i < roots.nexcl && roots.excl[i].lo < hi; i++) {
        const struct roots_excl *e = &roots.excl[i];
        if (e->hi <= lo)
            continue;
        uintptr_t elo = e->stack || e->lo < lo ? lo : e->lo;
        if (elo > cur)
            roots_report_touched(s, cur, elo);
        if (e->hi > cur)
            cur = e->hi < hi ? e->hi : hi;
    }
    if (cur < hi)
        roots_report_touched(s, cur, hi);
    return 0;
}

/* roots_scan_private reports the private memory of the process that no
 * other root covers (see roots_set_private). */
static void roots_scan_private(struct roots_scan *s)
{
    threads_each_stack(roots_exclude_stack, NULL);
    for (int i = 0; i < roots.nself; i++)
        roots_exclude(roots.self[i][0], roots.self[i][1], 0);
    hsort(roots.excl, roots.nexcl, sizeof roots.excl[0], roots_excl_before);
    s->exclude = 0;
    s->cursor = 0;
    s->pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    roots_maps_parse(roots_private_mapping, s);
    if (s->pagemap >= 0)
        close(s->pagemap);
}

int roots_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg)
{
    int private_on = (int)AO_load(&roots.private_on) && roots.excl != NULL;
    struct roots_scan s = { .fn = fn, .arg = arg, .exclude = private_on };
    struct r_debug *r = roots.r_debug;
    volatile int *state = r ? (volatile int *)&r->r_state : NULL;
    int consistent = state != NULL && *state == RT_CONSISTENT;
    struct link_map *cursor = r ? r->r_map : NULL;
    int matched = 0, chain = 0;
    struct roots_chunk *c = roots.chunks;
    const char *prev_name = NULL;
    uintptr_t prev_addr = 0;
    int found = 0;

    gh_assert(threads_world_stopped_by_me());
    roots.nexcl = roots.nowned;
    for (size_t i = 0; i < roots.nrec; i++) {
        if (i > 0 && i % ROOTS_CHUNK_RECORDS == 0)
            c = c->next;
        struct roots_record *rec = &c->rec[i % ROOTS_CHUNK_RECORDS];
        if (i == 0 || rec->addr != prev_addr || rec->name != prev_name) {
            found = roots_chain_find(&cursor, rec->addr, rec->name) != NULL;
            matched += found;
            prev_addr = rec->addr;
            prev_name = rec->name;
        }
        if (rec->lo >= rec->hi)
            continue;
        if (found && consistent) {
            roots_report(&s, rec->lo, rec->hi);
        } else {
            s.lo = rec->lo;
            s.hi = rec->hi;
            roots_maps_each(roots_report_mapped, &s);
        }
    }
    for (struct link_map *l = r ? r->r_map : NULL; l != NULL && chain < ROOTS_CHAIN_MAX;
         l = l->l_next)
        chain++;
    roots.globals_bytes = s.bytes;

    size_t n = AO_load_acquire(&roots.nuser);
    for (size_t i = 0; i < n; i++)
        roots_report(&s, AO_load(&roots.user[i].lo), AO_load(&roots.user[i].hi));
    if (private_on)
        roots_scan_private(&s);
    return chain > matched ? chain - matched : 0;
}

uint64_t roots_globals_bytes(void)
{
    return roots.globals_bytes;
}

/* ---- User roots ------------------------------------------------------ */

int roots_add(uintptr_t lo, uintptr_t hi)
{
    int rc = 0;
    if (lo >= hi)
        return 0;
    pthread_once(&roots.once, roots_once);
    pthread_mutex_lock(&roots.user_lock);
    if (roots.user == NULL)
        roots.user = os_meta_alloc(ROOTS_USER_MAX * sizeof(struct roots_user), OS_STAT_GC);
    size_t n = AO_load(&roots.nuser);
    if (roots.user == NULL || n == ROOTS_USER_MAX) {
        rc = -1;
    } else {
        AO_store(&roots.user[n].lo, lo);
        AO_store(&roots.user[n].hi, hi);
        /* Pairs with roots_each's load: the entry is complete when counted. */
        AO_store_release(&roots.nuser, n + 1);
    }
    pthread_mutex_unlock(&roots.user_lock);
    if (rc != 0)
        errno = ENOMEM;
    return rc;
}

void roots_remove(uintptr_t lo, uintptr_t hi)
{
    pthread_mutex_lock(&roots.user_lock);
    size_t n = AO_load(&roots.nuser);
    for (size_t i = 0; i < n;) {
        struct roots_user *u = &roots.user[i];
        if (AO_load(&u->lo) < lo || AO_load(&u->hi) > hi) {
            i++;
            continue;
        }
        /* Move the last entry here. A scan that stops us half-way sees
         * this entry empty, then a copy of the last one, never a mix. */
        struct roots_user *last = &roots.user[n - 1];
        if (u != last) {
            AO_store(&u->hi, 0);
            AO_store(&u->lo, AO_load(&last->lo));
            AO_store(&u->hi, AO_load(&last->hi));
        }
        n--;
        AO_store_release(&roots.nuser, n);
    }
    pthread_mutex_unlock(&roots.user_lock);
}

GH_API int gh_add_roots(void *lo, void *hi)
{
    return roots_add((uintptr_t)lo, (uintptr_t)hi);
}

GH_API void gh_remove_roots(void *lo, void *hi)
{
    roots_remove((uintptr_t)lo, (uintptr_t)hi);
}
