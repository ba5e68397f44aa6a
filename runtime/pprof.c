/* pprof.c: the heap-profile writers (Go: runtime/pprof's writeHeapInternal,
 * protomem.go, proto.go, protobuf.go) and GHHEAPPROFILE. See pprof.h for
 * the two formats; the record data comes from mprof_snapshot_take.
 *
 * Memory: nothing here touches the user's heap. A writer takes all its
 * memory from an arena of os_reserve chunks and from growable buffers,
 * also from os_reserve, and unmaps everything before returning; zlib gets
 * allocator hooks that do the same. So a writer may run at exit, inside
 * mprof_alloc's sample hook, or while the heap is busy, and never shows in
 * a profile.
 *
 * Symbols. Both formats carry symbols read from the binaries themselves:
 * the loaded objects (dl_iterate_phdr) are read with pread; function names
 * come from .symtab (or .dynsym), file:line from .debug_line (DWARF 2-5,
 * uncompressed, 32- and 64-bit units; inlined calls are not expanded, the
 * outer function is named with the inlined code's line, which is what
 * `go tool pprof` itself reports for C code). The proto format carries
 * them as Function and Line records, and a mapping whose addresses all
 * resolved gets has_functions, so pprof does not symbolize it again. Why
 * not leave symbolization to pprof: `go tool pprof` reads C binaries with
 * Go's debug/dwarf only, which cannot place code in gcc's .text.startup or
 * .cold sections (main, split-off cold paths) and names nothing in
 * libraries without DWARF; the symbol table does both. The text format
 * has no place for symbols but its "#" lines, which pprof ignores: it
 * symbolizes from MAPPED_LIBRARIES and the binaries. The same lookup,
 * names only, answers /debug/pprof/symbol (pprof_lookup_symbols).
 *
 * Locking: none of its own. The writers take the profile lock only inside
 * mprof_snapshot_take; GHHEAPPROFILE's state is a few atomics. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include "goheap.h"
#include "mprof.h"
#include "options.h"
#include "os.h"
#include "pprof.h"
#include "print.h"

#define ARENA_CHUNK (1 << 20)

/* Frames that pprof removes from proto samples (with their callees):
 * goheap's entry points, should a stack still hold one. */
#define DROP_FRAMES "gh_.*|(malloc|calloc|realloc|reallocarray|aligned_alloc|" \
                    "posix_memalign|memalign|valloc|pvalloc)(\\..*)?|operator new.*"

/* ---- Memory ----------------------------------------------------------- */

struct chunk {
    struct chunk *next;
    size_t size;
    size_t used;
};

/* A bump allocator over os_reserve chunks, released all at once. */
struct arena {
    struct chunk *head;
};

static size_t round_page(size_t n)
{
    return (n + os_page_size() - 1) & ~(os_page_size() - 1);
}

/* arena_alloc returns n zeroed bytes, 16-aligned, or NULL. */
static void *arena_alloc(struct arena *a, size_t n)
{
    const size_t hdr = (sizeof(struct chunk) + 15) & ~(size_t)15;
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = round_page(hdr + n);
        if (size < ARENA_CHUNK)
            size = ARENA_CHUNK;
        c = os_reserve(size, os_page_size(), OS_STAT_OTHER);
        if (!c)
            return NULL;
        c->size = size;
        c->used = hdr;
        c->next = a->head;
        a->head = c;
    }
    void *p = (char *)c + c->used;
    c->used += n;
    return p;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void arena_release(struct arena *a)
{
    while (a->head) {
        struct chunk *c = a->head;
        a->head = c->next;
        os_unmap(c, c->size, OS_STAT_OTHER);
    }
}

/* A growable byte buffer; oom latches the first failure. */
struct mbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
};

static int mbuf_grow(struct mbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->n + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 64 << 10;
    while (cap < b->n + extra)
        cap *= 2;
    uint8_t *p = os_reserve(cap, os_page_size(), OS_STAT_OTHER);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    if (b->p) {
        memcpy(p, b->p, b->n);
        os_unmap(b->p, b->cap, OS_STAT_OTHER);
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void mbuf_put(struct mbuf *b, const void *d, size_t n)
{
    if (mbuf_grow(b, n) == 0) {
        memcpy(b->p + b->n, d, n);
        b->n += n;
    }
}

static void mbuf_free(struct mbuf *b)
{
    if (b->p)
        os_unmap(b->p, b->cap, OS_STAT_OTHER);
    memset(b, 0, sizeof *b);
}

/* ---- Output ----------------------------------------------------------- */

struct out {
    int fd;
    int err;                /* errno of the first failed write, or 0 */
    size_t n;
    char buf[16 << 10];
};

static void out_flush(struct out *o)
{
    if (o->n && !o->err && print_write(o->fd, o->buf, o->n) != 0)
        o->err = errno ? errno : EIO;
    o->n = 0;
}

static void out_put(struct out *o, const void *s, size_t n)
{
    const char *p = s;
    while (n) {
        if (o->n == sizeof o->buf)
            out_flush(o);
        size_t k = sizeof o->buf - o->n;
        if (k > n)
            k = n;
        memcpy(o->buf + o->n, p, k);
        o->n += k;
        p += k;
        n -= k;
    }
}

static void out_str(struct out *o, const char *s)
{
    out_put(o, s, strlen(s));
}

static __attribute__((format(printf, 2, 3))) void out_printf(struct out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int len = print_vformat(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (len > 0)
        out_put(o, tmp, (size_t)len < sizeof tmp ? (size_t)len : sizeof tmp - 1);
}

/* ---- Sorting ---------------------------------------------------------- */

/* sort_shell sorts n elements of size bytes (at most 64) in place, with
 * Knuth's gaps. qsort is avoided: glibc's may call malloc. */
static void sort_shell(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    char *a = base, tmp[64];
    size_t h = 1;
    while (h < n / 3)
        h = 3 * h + 1;
    for (; h >= 1; h /= 3)
        for (size_t i = h; i < n; i++) {
            memcpy(tmp, a + i * size, size);
            size_t j = i;
            for (; j >= h && cmp(a + (j - h) * size, tmp) > 0; j -= h)
                memcpy(a + j * size, a + (j - h) * size, size);
            memcpy(a + j * size, tmp, size);
        }
}

/* ---- Go's %v for float64 ---------------------------------------------- */

/* An exact decimal: digits d[0..nd) with the point after dp digits. */
struct decimal {
    char d[800];
    int nd, dp;
};

static void dec_set(struct decimal *x, uint64_t v)
{
    char tmp[24];
    int n = 0;
    while (v) {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    }
    x->nd = x->dp = n;
    for (int i = 0; i < n; i++)
        x->d[i] = tmp[n - 1 - i];
    while (x->nd > 0 && x->d[x->nd - 1] == '0')
        x->nd--;
}

static void dec_double(struct decimal *x)
{
    int carry = 0;
    for (int i = x->nd - 1; i >= 0; i--) {
        int v = (x->d[i] - '0') * 2 + carry;
        x->d[i] = (char)('0' + v % 10);
        carry = v / 10;
    }
    if (carry) {
        memmove(x->d + 1, x->d, (size_t)x->nd);
        x->d[0] = '1';
        x->nd++;
        x->dp++;
    }
    while (x->nd > 0 && x->d[x->nd - 1] == '0')
        x->nd--;
}

static void dec_halve(struct decimal *x)
{
    int rem = 0, w = 0;
    for (int r = 0; r < x->nd || rem; r++) {
        int v = rem * 10 + (r < x->nd ? x->d[r] - '0' : 0);
        rem = v % 2;
        if (w == 0 && v / 2 == 0) {
            x->dp--; /* leading zero */
            continue;
        }
        x->d[w++] = (char)('0' + v / 2);
    }
    x->nd = w;
    while (x->nd > 0 && x->d[x->nd - 1] == '0')
        x->nd--;
}

/* dec_of sets x = m * 2^e exactly. */
static void dec_of(struct decimal *x, uint64_t m, int e)
{
    dec_set(x, m);
    for (; e > 0; e--)
        dec_double(x);
    for (; e < 0; e++)
        dec_halve(x);
}

static int dec_cmp(const struct decimal *a, const struct decimal *b)
{
    if (a->dp != b->dp)
        return a->dp < b->dp ? -1 : 1;
    for (int i = 0; i < a->nd || i < b->nd; i++) {
        char x = i < a->nd ? a->d[i] : '0', y = i < b->nd ? b->d[i] : '0';
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

/* dec_round rounds x to n significant digits, halves to even. */
static void dec_round(struct decimal *x, int n)
{
    if (x->nd <= n)
        return;
    int up = x->d[n] > '5';
    if (x->d[n] == '5') {
        up = (x->d[n - 1] - '0') % 2;
        for (int i = n + 1; i < x->nd; i++)
            if (x->d[i] != '0')
                up = 1;
    }
    x->nd = n;
    if (up) {
        int i = n - 1;
        while (i >= 0 && x->d[i] == '9')
            i--;
        if (i < 0) {
            x->d[0] = '1';
            x->nd = 1;
            x->dp++;
        } else {
            x->d[i]++;
            x->nd = i + 1;
        }
    }
    while (x->nd > 0 && x->d[x->nd - 1] == '0')
        x->nd--;
}

size_t pprof_format_float(char *buf, size_t n, double v)
{
    char out[64];
    size_t k = 0;
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int neg = (int)(bits >> 63), bexp = (int)((bits >> 52) & 0x7ff);
    uint64_t frac = bits & ((1ull << 52) - 1);
    if (bexp == 0x7ff) {
        const char *s = frac ? "NaN" : neg ? "-Inf" : "+Inf";
        return (size_t)print_format(buf, n, "%s", s);
    }
    if (neg)
        out[k++] = '-';
    if (bexp == 0 && frac == 0) {
        out[k++] = '0';
        out[k] = 0;
        return (size_t)print_format(buf, n, "%s", out);
    }
    /* v = m * 2^e; its neighbours' midpoints bound the digits that read
     * back as v (inclusive when m is even: ties round to even). */
    uint64_t m = bexp ? frac | (1ull << 52) : frac;
    int e = (bexp ? bexp : 1) - 1075;
    static struct decimal val, lo, hi, cand;
    dec_of(&val, m, e);
    dec_of(&hi, 2 * m + 1, e - 1);
    if (frac == 0 && bexp > 1)
        dec_of(&lo, 4 * m - 1, e - 2);
    else
        dec_of(&lo, 2 * m - 1, e - 1);
    int inclusive = (m % 2) == 0;
    for (int digits = 1; digits <= 17; digits++) {
        cand = val;
        dec_round(&cand, digits);
        int cl = dec_cmp(&lo, &cand), ch = dec_cmp(&cand, &hi);
        if ((cl < 0 || (inclusive && cl == 0)) && (ch < 0 || (inclusive && ch == 0)))
            break;
    }
    int exp = cand.dp - 1;
    if (exp < -4 || exp >= 6) {
        out[k++] = cand.d[0];
        if (cand.nd > 1) {
            out[k++] = '.';
            for (int i = 1; i < cand.nd; i++)
                out[k++] = cand.d[i];
        }
        out[k] = 0;
        return (size_t)print_format(buf, n, "%se%c%02d", out, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    if (cand.dp <= 0) {
        out[k++] = '0';
        out[k++] = '.';
        for (int i = 0; i < -cand.dp; i++)
            out[k++] = '0';
        for (int i = 0; i < cand.nd; i++)
            out[k++] = cand.d[i];
    } else {
        for (int i = 0; i < cand.dp; i++)
            out[k++] = i < cand.nd ? cand.d[i] : '0';
        if (cand.nd > cand.dp) {
            out[k++] = '.';
            for (int i = cand.dp; i < cand.nd; i++)
                out[k++] = cand.d[i];
        }
    }
    out[k] = 0;
    return (size_t)print_format(buf, n, "%s", out);
}

/* ---- /proc/self/maps and build IDs ------------------------------------ */

/* read_file reads all of path into b (NUL-terminated). Returns 0 or -1. */
static int read_file(const char *path, struct mbuf *b)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        if (mbuf_grow(b, 4097) != 0)
            break;
        ssize_t r = read(fd, b->p + b->n, 4096);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        b->n += (size_t)r;
    }
    close(fd);
    if (b->oom)
        return -1;
    b->p[b->n] = 0;
    return 0;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* elf_build_id returns the GNU build ID of the ELF file at path as lower-
 * case hex (from its PT_NOTE segments), or "" if it has none. */
static const char *elf_build_id(struct arena *a, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "";
    const char *id = "";
    Elf64_Ehdr eh;
    if (pread_full(fd, &eh, sizeof eh, 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr))
        goto out;
    for (unsigned i = 0; i < eh.e_phnum && !*id; i++) {
        Elf64_Phdr ph;
        if (pread_full(fd, &ph, sizeof ph, eh.e_phoff + (uint64_t)i * sizeof ph) != 0)
            break;
        if (ph.p_type != PT_NOTE || ph.p_filesz > (64 << 10))
            continue;
        uint8_t *notes = arena_alloc(a, ph.p_filesz);
        if (!notes || pread_full(fd, notes, ph.p_filesz, ph.p_offset) != 0)
            continue;
        for (size_t off = 0; off + sizeof(Elf64_Nhdr) <= ph.p_filesz;) {
            const Elf64_Nhdr *nh = (const Elf64_Nhdr *)(notes + off);
            size_t name = off + sizeof *nh, desc = name + ((nh->n_namesz + 3) & ~3u);
            size_t next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > ph.p_filesz)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(notes + name, "GNU", 4) == 0) {
                char *hex = arena_alloc(a, 2 * nh->n_descsz + 1);
                if (hex) {
                    for (size_t j = 0; j < nh->n_descsz; j++)
                        print_format(hex + 2 * j, 3, "%02x", notes[desc + j]);
                    id = hex;
                }
                break;
            }
            off = next;
        }
    }
out:
    close(fd);
    return id;
}

/* One executable line of /proc/self/maps (Go: memMap). */
struct mapping {
    uint64_t lo, hi, off;
    const char *file;
    const char *build_id;
};

struct maps {
    struct mbuf raw;            /* /proc/self/maps as read */
    struct mapping *m;
    size_t n;
};

/* maps_read reads /proc/self/maps and keeps its executable lines as Go's
 * parseProcSelfMaps does: " (deleted)" trimmed, unnamed inode-0 lines
 * skipped. Returns 0, or -1 if the file cannot be read. */
static int maps_read(struct arena *a, struct maps *mp)
{
    if (read_file("/proc/self/maps", &mp->raw) != 0)
        return -1;
    size_t lines = 1;
    for (size_t i = 0; i < mp->raw.n; i++)
        lines += mp->raw.p[i] == '\n';
    mp->m = arena_alloc(a, lines * sizeof *mp->m);
    if (!mp->m)
        return -1;
    const char *s = (const char *)mp->raw.p, *end = s + mp->raw.n;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        if (!eol)
            eol = end;
        const char *f[6];
        size_t fl[6];
        const char *q = s;
        int nf = 0;
        for (; nf < 5 && q < eol; nf++) {
            f[nf] = q;
            while (q < eol && *q != ' ')
                q++;
            fl[nf] = (size_t)(q - f[nf]);
            while (q < eol && *q == ' ')
                q++;
        }
        f[5] = q;
        fl[5] = (size_t)(eol - q);
        if (fl[5] >= 10 && memcmp(q + fl[5] - 10, " (deleted)", 10) == 0)
            fl[5] -= 10;
        char *dash;
        uint64_t lo = 0, hi = 0, off = 0;
        if (nf == 5 && fl[1] >= 4 && f[1][2] == 'x') {
            lo = strtoull(f[0], &dash, 16);
            if (*dash == '-')
                hi = strtoull(dash + 1, NULL, 16);
            off = strtoull(f[2], NULL, 16);
        }
        int unnamed = fl[5] == 0 && fl[4] == 1 && f[4][0] == '0';
        if (hi > lo && fl[5] > 0 && !unnamed) {
            struct mapping *m = &mp->m[mp->n];
            m->lo = lo;
            m->hi = hi;
            m->off = off;
            m->file = arena_strndup(a, f[5], fl[5]);
            if (!m->file)
                return -1;
            m->build_id = m->file[0] == '/' ? elf_build_id(a, m->file) : "";
            mp->n++;
        }
        s = eol + 1;
    }
    return 0;
}

static size_t maps_find(const struct maps *mp, uint64_t addr)
{
    for (size_t i = 0; i < mp->n; i++)
        if (addr >= mp->m[i].lo && addr < mp->m[i].hi)
            return i + 1;
    return 0;
}

/* ---- Symbols: ELF symbol tables and .debug_line ----------------------- */

/* A loaded object and, once read, its symbols and line table. */
struct module {
    uintptr_t bias;             /* load bias (dlpi_addr) */
    uintptr_t lo, hi;           /* its executable segments, run time */
    const char *path;
    int loaded;                 /* 1 read, -1 unreadable, 0 not tried */
    const Elf64_Sym *sym;
    size_t nsym;
    const char *str;
    size_t nstr;
    const uint8_t *line;        /* .debug_line */
    size_t nline;
    const char *line_str;       /* .debug_line_str */
    size_t nline_str;
    const char *dstr;           /* .debug_str */
    size_t ndstr;
};

/* What is known about one call PC. */
struct pcinfo {
    uintptr_t pc;
    const char *func;           /* NULL: unknown */
    uintptr_t off;              /* pc - function entry */
    const char *file;           /* NULL: unknown */
    int line;
};

struct modlist {
    struct arena *a;
    struct module *m;
    size_t n, cap;
};

static int modlist_add(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct modlist *ml = arg;
    if (ml->n == ml->cap)
        return 1;
    struct module *m = &ml->m[ml->n];
    memset(m, 0, sizeof *m);
    m->bias = (uintptr_t)info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = m->bias + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (!m->hi || lo < m->lo)
            m->lo = lo;
        if (hi > m->hi)
            m->hi = hi;
    }
    const char *name = info->dlpi_name;
    if (!m->hi)
        return 0;
    if (ml->n == 0 && (!name || !*name))
        name = "/proc/self/exe";
    m->path = name && name[0] == '/' ? arena_strndup(ml->a, name, strlen(name)) : NULL;
    m->loaded = m->path ? 0 : -1;
    ml->n++;
    return 0;
}

/* elf_section reads a section into the arena (NUL-terminated); NULL if
 * it is empty, compressed or unreadable. */
static const void *elf_section(struct arena *a, int fd, const Elf64_Shdr *sh, size_t *len)
{
    if (sh->sh_type == SHT_NOBITS || (sh->sh_flags & SHF_COMPRESSED) || sh->sh_size == 0)
        return NULL;
    char *p = arena_alloc(a, sh->sh_size + 1);
    if (!p || pread_full(fd, p, sh->sh_size, sh->sh_offset) != 0)
        return NULL;
    *len = sh->sh_size;
    return p;
}

static void module_load(struct arena *a, struct module *m)
{
    m->loaded = -1;
    int fd = open(m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    Elf64_Ehdr eh;
    Elf64_Shdr *sh;
    size_t nshstr = 0;
    const char *shstr;
    if (pread_full(fd, &eh, sizeof eh, 0) != 0 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
        goto out;
    sh = arena_alloc(a, (size_t)eh.e_shnum * sizeof *sh);
    if (!sh || pread_full(fd, sh, (size_t)eh.e_shnum * sizeof *sh, eh.e_shoff) != 0)
        goto out;
    shstr = elf_section(a, fd, &sh[eh.e_shstrndx], &nshstr);
    if (!shstr)
        goto out;
    int symtab = -1, dynsym = -1;
    for (int i = 0; i < eh.e_shnum; i++) {
        const char *name = sh[i].sh_name < nshstr ? shstr + sh[i].sh_name : "";
        if (sh[i].sh_type == SHT_SYMTAB)
            symtab = i;
        else if (sh[i].sh_type == SHT_DYNSYM)
            dynsym = i;
        else if (strcmp(name, ".debug_line") == 0)
            m->line = elf_section(a, fd, &sh[i], &m->nline);
        else if (strcmp(name, ".debug_line_str") == 0)
            m->line_str = elf_section(a, fd, &sh[i], &m->nline_str);
        else if (strcmp(name, ".debug_str") == 0)
            m->dstr = elf_section(a, fd, &sh[i], &m->ndstr);
    }
    int s = symtab >= 0 ? symtab : dynsym;
    if (s >= 0 && sh[s].sh_link < eh.e_shnum) {
        size_t nsymb = 0;
        m->sym = elf_section(a, fd, &sh[s], &nsymb);
        m->nsym = nsymb / sizeof(Elf64_Sym);
        m->str = elf_section(a, fd, &sh[sh[s].sh_link], &m->nstr);
        if (!m->str)
            m->nsym = 0;
    }
    m->loaded = 1;
out:
    close(fd);
}

/* module_symbol finds the function containing file address addr. */
static void module_symbol(const struct module *m, uintptr_t addr, struct pcinfo *pi)
{
    const Elf64_Sym *best = NULL;
    for (size_t i = 0; i < m->nsym; i++) {
        const Elf64_Sym *s = &m->sym[i];
        int type = ELF64_ST_TYPE(s->st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s->st_shndx == SHN_UNDEF)
            continue;
        if (addr >= s->st_value && addr < s->st_value + s->st_size &&
            (!best || s->st_value > best->st_value) && s->st_name < m->nstr)
            best = s;
    }
    if (best) {
        pi->func = m->str + best->st_name;
        pi->off = addr - best->st_value;
    }
}

/* DWARF constants used by the line-table reader (DWARF 5, section 7). */
enum {
    DW_LNS_copy = 1, DW_LNS_advance_pc = 2, DW_LNS_advance_line = 3, DW_LNS_set_file = 4,
    DW_LNS_const_add_pc = 8, DW_LNS_fixed_advance_pc = 9,
    DW_LNE_end_sequence = 1, DW_LNE_set_address = 2,
    DW_LNCT_path = 1, DW_LNCT_directory_index = 2,
    DW_FORM_data2 = 0x05, DW_FORM_data4 = 0x06, DW_FORM_data8 = 0x07, DW_FORM_string = 0x08,
    DW_FORM_block = 0x09, DW_FORM_data1 = 0x0b, DW_FORM_strp = 0x0e, DW_FORM_udata = 0x0f,
    DW_FORM_data16 = 0x1e, DW_FORM_line_strp = 0x1f,
};

/* A cursor over .debug_line bytes; reads past the end yield zeros and set
 * bad. */
struct rd {
    const uint8_t *p, *end;
    int bad;
};

static uint64_t rd_u(struct rd *r, int n)
{
    if (r->end - r->p < n) {
        r->bad = 1;
        r->p = r->end;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

static uint64_t rd_uleb(struct rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = 1;
    return v;
}

static int64_t rd_sleb(struct rd *r)
{
    int64_t v = 0;
    int shift = 0;
    uint8_t b = 0;
    while (r->p < r->end) {
        b = *r->p++;
        if (shift < 64)
            v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    if (shift < 64 && (b & 0x40))
        v |= -((int64_t)1 << shift);
    return v;
}

static const char *rd_cstr(struct rd *r)
{
    const char *s = (const char *)r->p;
    const uint8_t *z = memchr(r->p, 0, (size_t)(r->end - r->p));
    if (!z) {
        r->bad = 1;
        r->p = r->end;
        return "";
    }
    r->p = z + 1;
    return s;
}

/* A line-table unit's directories and files. */
struct lt_unit {
    int version;
    const char **dir;
    size_t ndir;
    const char **file;
    uint64_t *file_dir;
    size_t nfile;
};

/* rd_form reads one attribute of a DWARF 5 entry format; strings come back
 * in *s, numbers in the return value. */
static uint64_t rd_form(struct rd *r, const struct module *m, uint64_t form, int off64, const char **s)
{
    uint64_t v;
    *s = NULL;
    switch (form) {
    case DW_FORM_string: *s = rd_cstr(r); return 0;
    case DW_FORM_line_strp:
    case DW_FORM_strp:
        v = rd_u(r, off64 ? 8 : 4);
        if (form == DW_FORM_line_strp && v < m->nline_str)
            *s = m->line_str + v;
        else if (form == DW_FORM_strp && v < m->ndstr)
            *s = m->dstr + v;
        return 0;
    case DW_FORM_udata: return rd_uleb(r);
    case DW_FORM_data1: return rd_u(r, 1);
    case DW_FORM_data2: return rd_u(r, 2);
    case DW_FORM_data4: return rd_u(r, 4);
    case DW_FORM_data8: return rd_u(r, 8);
    case DW_FORM_data16: rd_u(r, 8); rd_u(r, 8); return 0;
    case DW_FORM_block:
        v = rd_uleb(r);
        if ((uint64_t)(r->end - r->p) < v)
            r->bad = 1;
        else
            r->p += v;
        return 0;
    default: r->bad = 1; return 0;
    }
}

/* lt_entries reads a DWARF 5 directory or file table. */
static int lt_entries(struct arena *a, struct rd *r, const struct module *m, int off64,
                      const char ***names, uint64_t **dirs, size_t *count)
{
    uint64_t fmt[16][2];
    unsigned nfmt = (unsigned)rd_u(r, 1);
    if (nfmt > 16)
        return -1;
    for (unsigned i = 0; i < nfmt; i++) {
        fmt[i][0] = rd_uleb(r);
        fmt[i][1] = rd_uleb(r);
    }
    uint64_t n = rd_uleb(r);
    if (r->bad || n > (uint64_t)(r->end - r->p))
        return -1;
    *names = arena_alloc(a, (n + 1) * sizeof **names);
    if (dirs)
        *dirs = arena_alloc(a, (n + 1) * sizeof **dirs);
    if (!*names || (dirs && !*dirs))
        return -1;
    for (uint64_t i = 0; i < n; i++)
        for (unsigned k = 0; k < nfmt; k++) {
            const char *s;
            uint64_t v = rd_form(r, m, fmt[k][1], off64, &s);
            if (fmt[k][0] == DW_LNCT_path)
                (*names)[i] = s ? s : "";
            else if (fmt[k][0] == DW_LNCT_directory_index && dirs)
                (*dirs)[i] = v;
        }
    *count = (size_t)n;
    return r->bad ? -1 : 0;
}

/* path_join returns "a/b" (either may be empty), or NULL without memory. */
static const char *path_join(struct arena *a, const char *x, const char *y)
{
    if (!x[0] || y[0] == '/')
        return y;
    size_t xl = strlen(x), yl = strlen(y);
    char *p = arena_alloc(a, xl + yl + 2);
    if (p) {
        memcpy(p, x, xl);
        p[xl] = '/';
        memcpy(p + xl + 1, y, yl);
    }
    return p;
}

/* lt_path returns the path of file fi of unit u. In DWARF 5, directory 0
 * is the compilation directory and the others may be relative to it;
 * before DWARF 5 that directory is not in the table, so such paths stay
 * relative. */
static const char *lt_path(struct arena *a, const struct lt_unit *u, size_t fi)
{
    const char *name = u->file[fi];
    uint64_t di = u->file_dir[fi];
    const char *dir = di < u->ndir ? u->dir[di] : "";
    if (name[0] == '/')
        return name;
    if (u->version >= 5 && di != 0 && dir[0] != '/' && u->ndir > 0) {
        dir = path_join(a, u->dir[0], dir);
        if (!dir)
            return NULL;
    }
    return path_join(a, dir, name);
}

/* pcs_assign gives the pcs in [lo, hi) (file addresses, sorted, biased by
 * bias) the file and line of a line-table row. */
static void pcs_assign(struct arena *a, struct pcinfo *pcs, size_t n, uintptr_t bias, uint64_t lo, uint64_t hi,
                       const struct lt_unit *u, uint64_t file, uint64_t line)
{
    if (hi <= lo)
        return;
    size_t l = 0, h = n;
    while (l < h) {
        size_t mid = (l + h) / 2;
        if (pcs[mid].pc - bias < lo)
            l = mid + 1;
        else
            h = mid;
    }
    for (; l < n && pcs[l].pc - bias < hi; l++) {
        if (pcs[l].file)
            continue;
        size_t fi = u->version >= 5 ? file : file - 1;
        if (fi >= u->nfile)
            return;
        pcs[l].file = lt_path(a, u, fi);
        if (!pcs[l].file)
            return;
        pcs[l].line = (int)line;
    }
}

/* module_lines runs every line program of m and sets file:line of the
 * module's pcs (sorted by address). */
static void module_lines(struct arena *a, const struct module *m, struct pcinfo *pcs, size_t n)
{
    struct rd all = { m->line, m->line + m->nline, 0 };
    while (all.p < all.end && !all.bad) {
        uint64_t len = rd_u(&all, 4);
        int off64 = len == 0xffffffffu;
        if (off64)
            len = rd_u(&all, 8);
        if (all.bad || len > (uint64_t)(all.end - all.p))
            return;
        struct rd r = { all.p, all.p + len, 0 };
        all.p += len;
        struct lt_unit u;
        memset(&u, 0, sizeof u);
        u.version = (int)rd_u(&r, 2);
        if (u.version < 2 || u.version > 5)
            continue;
        if (u.version == 5)
            rd_u(&r, 2); /* address_size, segment_selector_size */
        uint64_t hlen = rd_u(&r, off64 ? 8 : 4);
        if (r.bad || hlen > (uint64_t)(r.end - r.p))
            continue;
        const uint8_t *prog = r.p + hlen;
        unsigned min_inst = (unsigned)rd_u(&r, 1);
        if (u.version >= 4)
            rd_u(&r, 1); /* maximum_operations_per_instruction */
        rd_u(&r, 1); /* default_is_stmt */
        int line_base = (int8_t)rd_u(&r, 1);
        unsigned line_range = (unsigned)rd_u(&r, 1), opcode_base = (unsigned)rd_u(&r, 1);
        uint8_t std_len[256];
        for (unsigned i = 1; i < opcode_base; i++)
            std_len[i] = (uint8_t)rd_u(&r, 1);
        if (line_range == 0 || opcode_base == 0)
            continue;
        if (u.version >= 5) {
            if (lt_entries(a, &r, m, off64, &u.dir, NULL, &u.ndir) != 0 ||
                lt_entries(a, &r, m, off64, &u.file, &u.file_dir, &u.nfile) != 0)
                continue;
        } else {
            size_t nd = 0, nf = 0;
            struct rd c = r;
            while (*rd_cstr(&c))
                nd++;
            while (*rd_cstr(&c)) {
                rd_uleb(&c);
                rd_uleb(&c);
                rd_uleb(&c);
                nf++;
            }
            if (c.bad)
                continue;
            u.dir = arena_alloc(a, (nd + 1) * sizeof *u.dir);
            u.file = arena_alloc(a, (nf + 1) * sizeof *u.file);
            u.file_dir = arena_alloc(a, (nf + 1) * sizeof *u.file_dir);
            if (!u.dir || !u.file || !u.file_dir)
                return;
            /* DWARF < 5 numbers directories from 1 (0 = compilation dir). */
            u.dir[0] = "";
            for (u.ndir = 1; u.ndir <= nd; u.ndir++)
                u.dir[u.ndir] = rd_cstr(&r);
            rd_cstr(&r);
            for (; u.nfile < nf; u.nfile++) {
                u.file[u.nfile] = rd_cstr(&r);
                u.file_dir[u.nfile] = rd_uleb(&r);
                rd_uleb(&r);
                rd_uleb(&r);
            }
        }
        r.p = prog;
        /* The state machine; each row closes the range since the last. */
        uint64_t addr = 0, file = 1, line = 1, prev_addr = 0, prev_file = 1, prev_line = 1;
        int have_prev = 0;
        while (r.p < r.end && !r.bad) {
            unsigned op = (unsigned)rd_u(&r, 1);
            int emit = 0, end_seq = 0;
            if (op >= opcode_base) {
                unsigned adj = op - opcode_base;
                addr += (uint64_t)(adj / line_range) * min_inst;
                line += (uint64_t)(int64_t)(line_base + (int)(adj % line_range));
                emit = 1;
            } else if (op == 0) {
                uint64_t elen = rd_uleb(&r);
                const uint8_t *next = r.p + elen;
                if (elen == 0 || elen > (uint64_t)(r.end - r.p))
                    break;
                unsigned sub = (unsigned)rd_u(&r, 1);
                if (sub == DW_LNE_end_sequence)
                    emit = end_seq = 1;
                else if (sub == DW_LNE_set_address)
                    addr = rd_u(&r, (int)(elen - 1 > 8 ? 8 : elen - 1));
                r.p = next;
            } else {
                switch (op) {
                case DW_LNS_copy: emit = 1; break;
                case DW_LNS_advance_pc: addr += rd_uleb(&r) * min_inst; break;
                case DW_LNS_advance_line: line += (uint64_t)rd_sleb(&r); break;
                case DW_LNS_set_file: file = rd_uleb(&r); break;
                case DW_LNS_const_add_pc: addr += (uint64_t)((255 - opcode_base) / line_range) * min_inst; break;
                case DW_LNS_fixed_advance_pc: addr += rd_u(&r, 2); break;
                default:
                    for (unsigned i = 0; i < std_len[op]; i++)
                        rd_uleb(&r);
                }
            }
            if (!emit)
                continue;
            if (have_prev)
                pcs_assign(a, pcs, n, m->bias, prev_addr, addr, &u, prev_file, prev_line);
            have_prev = !end_seq;
            prev_addr = addr;
            prev_file = file;
            prev_line = line;
            if (end_seq) {
                addr = 0;
                file = 1;
                line = 1;
            }
        }
    }
}

/* The call PCs of a snapshot, sorted, with what is known about each. */
struct symtab {
    struct pcinfo *pc;
    size_t n;
};

static int pcinfo_cmp(const void *x, const void *y)
{
    uintptr_t a = ((const struct pcinfo *)x)->pc, b = ((const struct pcinfo *)y)->pc;
    return a < b ? -1 : a > b;
}

/* symbolize_pcs looks up each of st->pc[0..st->n) (sorted, distinct) in
 * the loaded objects' files: the function always, file:line too when
 * lines is set. Returns 0 or -1 (no memory). */
static int symbolize_pcs(struct arena *a, struct symtab *st, int lines)
{
    struct modlist ml = { a, NULL, 0, 512 };
    ml.m = arena_alloc(a, ml.cap * sizeof *ml.m);
    if (!ml.m)
        return -1;
    dl_iterate_phdr(modlist_add, &ml);
    for (size_t k = 0; k < ml.n; k++) {
        struct module *m = &ml.m[k];
        size_t lo = 0;
        while (lo < st->n && st->pc[lo].pc < m->lo)
            lo++;
        size_t hi = lo;
        while (hi < st->n && st->pc[hi].pc < m->hi)
            hi++;
        if (hi == lo || m->loaded < 0)
            continue;
        module_load(a, m);
        if (m->loaded < 0)
            continue;
        for (size_t i = lo; i < hi; i++)
            module_symbol(m, st->pc[i].pc - m->bias, &st->pc[i]);
        if (lines && m->line)
            module_lines(a, m, st->pc + lo, hi - lo);
    }
    return 0;
}

/* symtab_sort sorts st->pc[0..n) and drops repeats, setting st->n. */
static void symtab_sort(struct symtab *st, size_t n)
{
    sort_shell(st->pc, n, sizeof *st->pc, pcinfo_cmp);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || st->pc[u - 1].pc != st->pc[i].pc)
            st->pc[u++] = st->pc[i];
    st->n = u;
}

/* symbolize collects every call PC (return address - 1) of s and looks
 * each up in the loaded objects' files. Returns 0 or -1 (no memory). */
static int symbolize(struct arena *a, const struct mprof_snapshot *s, struct symtab *st)
{
    size_t total = 0;
    for (size_t i = 0; i < s->n; i++)
        total += (size_t)s->rec[i].nstk;
    st->pc = arena_alloc(a, (total + 1) * sizeof *st->pc);
    if (!st->pc)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        for (int j = 0; j < s->rec[i].nstk; j++)
            st->pc[n++].pc = s->rec[i].stk[j] - 1;
    symtab_sort(st, n);
    return symbolize_pcs(a, st, 1);
}

static const struct pcinfo *symtab_find(const struct symtab *st, uintptr_t pc)
{
    size_t l = 0, h = st->n;
    while (l < h) {
        size_t mid = (l + h) / 2;
        if (st->pc[mid].pc < pc)
            l = mid + 1;
        else
            h = mid;
    }
    return l < st->n && st->pc[l].pc == pc ? &st->pc[l] : NULL;
}

int pprof_lookup_symbols(const uintptr_t *addrs, size_t n,
                         void (*fn)(uintptr_t addr, const char *name, void *arg), void *arg)
{
    struct arena a = { NULL };
    struct symtab st;
    st.pc = arena_alloc(&a, (n + 1) * sizeof *st.pc);
    if (!st.pc) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        st.pc[i].pc = addrs[i];
    symtab_sort(&st, n);
    int rc = symbolize_pcs(&a, &st, 0);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct pcinfo *pi = symtab_find(&st, addrs[i]);
        if (pi && pi->func)
            fn(addrs[i], pi->func, arg);
    }
    arena_release(&a);
    if (rc != 0)
        errno = ENOMEM;
    return rc;
}

/* ---- Legacy text format ----------------------------------------------- */

/* One tab-terminated cell (the last of a line is not terminated): text s
 * followed by a short tail ("+0x1f", ":42"). */
struct cell {
    const char *s;
    size_t n;
    char tail[32];
    size_t tn;
};

struct tline {
    int ncell;
    struct cell c[4];
};

static void cell_set(struct cell *c, const char *s, const char *tail)
{
    c->s = s;
    c->n = strlen(s);
    c->tn = (size_t)print_format(c->tail, sizeof c->tail, "%s", tail);
}

/* tab_emit writes one line, padding each terminated cell j with tabs to
 * widths[j] rounded up to a tab stop (8), as Go's text/tabwriter does
 * with minwidth 1, tabwidth 8, padding 1 and padchar '\t'. */
static void tab_emit(struct out *o, const struct tline *l, const size_t *widths)
{
    for (int j = 0; j < l->ncell; j++) {
        const struct cell *c = &l->c[j];
        out_put(o, c->s, c->n);
        out_put(o, c->tail, c->tn);
        if (j == l->ncell - 1)
            break;
        size_t w = c->n + c->tn, cellw = (widths[j] + 7) / 8 * 8;
        for (size_t tabs = (cellw - w + 7) / 8; tabs > 0; tabs--)
            out_put(o, "\t", 1);
    }
    out_put(o, "\n", 1);
}

/* tab_format lays out lines [l0, l1) from column col on: consecutive lines
 * that have a terminated cell in column col form a block whose width is
 * its widest cell plus one; blocks nest column by column. */
static void tab_format(struct out *o, const struct tline *l, int l0, int l1, size_t *widths, int col)
{
    int i = l0;
    while (i < l1) {
        if (l[i].ncell - 1 <= col) {
            tab_emit(o, &l[i], widths);
            i++;
            continue;
        }
        int start = i;
        size_t w = 1;
        for (; i < l1 && l[i].ncell - 1 > col; i++)
            if (l[i].c[col].n + l[i].c[col].tn + 1 > w)
                w = l[i].c[col].n + l[i].c[col].tn + 1;
        widths[col] = w;
        tab_format(o, l, start, i, widths, col + 1);
    }
}

static int64_t inuse_bytes(const struct mprof_record *r)
{
    return r->alloc_bytes - r->free_bytes;
}

static int inuse_cmp(const void *x, const void *y)
{
    int64_t a = inuse_bytes(*(const struct mprof_record *const *)x);
    int64_t b = inuse_bytes(*(const struct mprof_record *const *)y);
    return a > b ? -1 : a < b;
}

static void write_record_frames(struct out *o, const struct symtab *st, const struct mprof_record *r)
{
    struct tline lines[MPROF_MAX_STACK];
    char pcs[MPROF_MAX_STACK][24];
    size_t widths[4];
    for (int i = 0; i < r->nstk; i++) {
        uintptr_t pc = r->stk[i] - 1;
        const struct pcinfo *pi = symtab_find(st, pc);
        struct tline *l = &lines[i];
        print_format(pcs[i], sizeof pcs[i], "%#lx", (unsigned long)pc);
        cell_set(&l->c[0], "#", "");
        cell_set(&l->c[1], pcs[i], "");
        l->ncell = 2;
        if (pi && pi->func) {
            char tail[32];
            print_format(tail, sizeof tail, "+%#lx", (unsigned long)pi->off);
            cell_set(&l->c[2], pi->func, tail);
            print_format(tail, sizeof tail, ":%d", pi->file ? pi->line : 0);
            cell_set(&l->c[3], pi->file ? pi->file : "?", tail);
            l->ncell = 4;
        }
    }
    tab_format(o, lines, 0, r->nstk, widths, 0);
    out_put(o, "\n", 1);
}

static void write_memstats(struct out *o, const gh_mem_stats *s)
{
    out_printf(o, "\n# runtime.MemStats\n");
    out_printf(o, "# Alloc = %llu\n", (unsigned long long)s->alloc);
    out_printf(o, "# TotalAlloc = %llu\n", (unsigned long long)s->total_alloc);
    out_printf(o, "# Sys = %llu\n", (unsigned long long)s->sys);
    out_printf(o, "# Lookups = %llu\n", (unsigned long long)s->lookups);
    out_printf(o, "# Mallocs = %llu\n", (unsigned long long)s->mallocs);
    out_printf(o, "# Frees = %llu\n", (unsigned long long)s->frees);
    out_printf(o, "# HeapAlloc = %llu\n", (unsigned long long)s->heap_alloc);
    out_printf(o, "# HeapSys = %llu\n", (unsigned long long)s->heap_sys);
    out_printf(o, "# HeapIdle = %llu\n", (unsigned long long)s->heap_idle);
    out_printf(o, "# HeapInuse = %llu\n", (unsigned long long)s->heap_inuse);
    out_printf(o, "# HeapReleased = %llu\n", (unsigned long long)s->heap_released);
    out_printf(o, "# HeapObjects = %llu\n", (unsigned long long)s->heap_objects);
    out_printf(o, "# Stack = %llu / %llu\n", (unsigned long long)s->stack_inuse, (unsigned long long)s->stack_sys);
    out_printf(o, "# MSpan = %llu / %llu\n", (unsigned long long)s->mspan_inuse, (unsigned long long)s->mspan_sys);
    out_printf(o, "# MCache = %llu / %llu\n", (unsigned long long)s->mcache_inuse, (unsigned long long)s->mcache_sys);
    out_printf(o, "# BuckHashSys = %llu\n", (unsigned long long)s->buck_hash_sys);
    out_printf(o, "# GCSys = %llu\n", (unsigned long long)s->gc_sys);
    out_printf(o, "# OtherSys = %llu\n", (unsigned long long)s->other_sys);
    out_printf(o, "# NextGC = %llu\n", (unsigned long long)s->next_gc);
    out_printf(o, "# LastGC = %llu\n", (unsigned long long)s->last_gc);
    const uint64_t *arr[2] = { s->pause_ns, s->pause_end };
    for (int k = 0; k < 2; k++) {
        out_str(o, k ? "# PauseEnd = [" : "# PauseNs = [");
        for (int i = 0; i < 256; i++)
            out_printf(o, i ? " %llu" : "%llu", (unsigned long long)arr[k][i]);
        out_str(o, "]\n");
    }
    out_printf(o, "# NumGC = %u\n", s->num_gc);
    out_printf(o, "# NumForcedGC = %u\n", s->num_forced_gc);
    char f[40];
    pprof_format_float(f, sizeof f, s->gc_cpu_fraction);
    out_printf(o, "# GCCPUFraction = %s\n", f);
    out_printf(o, "# DebugGC = %s\n", s->debug_gc ? "true" : "false");
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        out_printf(o, "# MaxRSS = %llu\n", (unsigned long long)ru.ru_maxrss * 1024);
}

static int write_text(struct out *o, struct arena *a)
{
    gh_mem_stats *ms = arena_alloc(a, sizeof *ms);
    if (!ms)
        return -1;
    /* First, so that the writer's own work does not show in them. */
    gh_read_mem_stats(ms);
    struct mprof_snapshot s;
    if (mprof_snapshot_take(&s) != 0)
        return -1;
    int rc = -1;
    struct symtab st;
    struct maps mp;
    memset(&mp, 0, sizeof mp);
    const struct mprof_record **order = arena_alloc(a, (s.n + 1) * sizeof *order);
    if (!order || symbolize(a, &s, &st) != 0)
        goto out;
    struct mprof_record total;
    memset(&total, 0, sizeof total);
    for (size_t i = 0; i < s.n; i++) {
        order[i] = &s.rec[i];
        total.alloc_objects += s.rec[i].alloc_objects;
        total.alloc_bytes += s.rec[i].alloc_bytes;
        total.free_objects += s.rec[i].free_objects;
        total.free_bytes += s.rec[i].free_bytes;
    }
    sort_shell(order, s.n, sizeof *order, inuse_cmp);
    /* heap/<2*rate>: the old C++ pprof's convention, which pprof expects. */
    out_printf(o, "heap profile: %lld: %lld [%lld: %lld] @ heap/%llu\n",
               (long long)(total.alloc_objects - total.free_objects), (long long)inuse_bytes(&total),
               (long long)total.alloc_objects, (long long)total.alloc_bytes,
               (unsigned long long)(2 * AO_load(&mprof_rate)));
    for (size_t i = 0; i < s.n; i++) {
        const struct mprof_record *r = order[i];
        out_printf(o, "%lld: %lld [%lld: %lld] @", (long long)(r->alloc_objects - r->free_objects),
                   (long long)inuse_bytes(r), (long long)r->alloc_objects, (long long)r->alloc_bytes);
        for (int j = 0; j < r->nstk; j++)
            out_printf(o, " %#lx", (unsigned long)r->stk[j]);
        out_put(o, "\n", 1);
        write_record_frames(o, &st, r);
    }
    write_memstats(o, ms);
    /* pprof maps the addresses of PIE code and libraries through this. */
    out_str(o, "\nMAPPED_LIBRARIES:\n");
    if (read_file("/proc/self/maps", &mp.raw) == 0)
        out_put(o, mp.raw.p, mp.raw.n);
    rc = 0;
out:
    mbuf_free(&mp.raw);
    mprof_snapshot_release(&s);
    return rc;
}

/* ---- profile.proto ---------------------------------------------------- */

enum {
    PB_VARINT = 0,
    PB_BYTES = 2,
    /* Profile */
    P_SAMPLE_TYPE = 1, P_SAMPLE = 2, P_MAPPING = 3, P_LOCATION = 4, P_FUNCTION = 5, P_STRING_TABLE = 6,
    P_DROP_FRAMES = 7, P_TIME_NANOS = 9, P_PERIOD_TYPE = 11, P_PERIOD = 12,
    P_DEFAULT_SAMPLE_TYPE = 14,
    /* ValueType, Sample, Label, Mapping, Location, Line, Function */
    VT_TYPE = 1, VT_UNIT = 2,
    S_LOCATION_ID = 1, S_VALUE = 2, S_LABEL = 3,
    L_KEY = 1, L_NUM = 3,
    M_ID = 1, M_START = 2, M_LIMIT = 3, M_OFFSET = 4, M_FILENAME = 5, M_BUILD_ID = 6,
    M_HAS_FUNCTIONS = 7,
    LOC_ID = 1, LOC_MAPPING_ID = 2, LOC_ADDRESS = 3, LOC_LINE = 4,
    LN_FUNCTION_ID = 1, LN_LINE = 2,
    F_ID = 1, F_NAME = 2, F_SYSTEM_NAME = 3, F_FILENAME = 4,
};

static void pb_varint(struct mbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    mbuf_put(b, tmp, n);
}

/* pb_int writes a varint field, omitting zero as Go's int64Opt does. */
static void pb_int(struct mbuf *b, unsigned field, uint64_t v)
{
    if (v == 0)
        return;
    pb_varint(b, (uint64_t)field << 3 | PB_VARINT);
    pb_varint(b, v);
}

static void pb_bytes(struct mbuf *b, unsigned field, const void *d, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | PB_BYTES);
    pb_varint(b, n);
    mbuf_put(b, d, n);
}

/* pb_packed writes a packed repeated varint field. */
static void pb_packed(struct mbuf *b, struct mbuf *tmp, unsigned field, const uint64_t *v, size_t n)
{
    tmp->n = 0;
    for (size_t i = 0; i < n; i++)
        pb_varint(tmp, v[i]);
    pb_bytes(b, field, tmp->p, tmp->n);
}

/* The string table (index 0 is ""), with a hash index for lookups. */
struct strings {
    const char **s;             /* room for nslot / 2 */
    size_t n;
    uint32_t *slot;             /* index + 1, or 0 */
    size_t nslot;
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

/* str_index returns the index of s, adding it if new; 0 ("") when out of
 * memory, which the caller notices through pbuild.oom. */
static uint64_t str_index(struct arena *a, struct strings *t, const char *s, int *oom)
{
    if (t->n * 2 >= t->nslot) {
        size_t nslot = t->nslot ? 2 * t->nslot : 256;
        uint32_t *slot = arena_alloc(a, nslot * sizeof *slot);
        const char **ns = arena_alloc(a, nslot / 2 * sizeof *ns);
        if (!slot || !ns) {
            *oom = 1;
            return 0;
        }
        if (t->n)
            memcpy(ns, t->s, t->n * sizeof *ns);
        for (size_t i = 0; i < t->n; i++) {
            size_t j = str_hash(ns[i]) & (nslot - 1);
            while (slot[j])
                j = (j + 1) & (nslot - 1);
            slot[j] = (uint32_t)i + 1;
        }
        t->s = ns;
        t->slot = slot;
        t->nslot = nslot;
    }
    size_t j = str_hash(s) & (t->nslot - 1);
    for (; t->slot[j]; j = (j + 1) & (t->nslot - 1))
        if (strcmp(t->s[t->slot[j] - 1], s) == 0)
            return t->slot[j] - 1;
    t->s[t->n] = s;
    t->slot[j] = (uint32_t)++t->n;
    return t->n - 1;
}

/* The proto being built: the profile body, scratch space for nested
 * messages, strings, and the location and function tables. */
struct pbuild {
    struct arena *a;
    int oom;
    struct mbuf body, msg, pack;
    struct strings str;
    uint64_t *loc_addr;         /* by location id - 1 */
    uint64_t *hash_addr;        /* open addressing: address -> location id */
    uint64_t *hash_id;
    size_t nloc, hcap;
    uint64_t *fn_key;           /* name index << 32 | file index, by id - 1 */
    uint64_t *fn_hash;          /* open addressing: key -> function id */
    size_t nfn;
};

static uint64_t pb_str(struct pbuild *b, const char *s)
{
    return str_index(b->a, &b->str, s, &b->oom);
}

static void pb_value_type(struct pbuild *b, unsigned field, const char *type, const char *unit)
{
    b->msg.n = 0;
    pb_int(&b->msg, VT_TYPE, pb_str(b, type));
    pb_int(&b->msg, VT_UNIT, pb_str(b, unit));
    pb_bytes(&b->body, field, b->msg.p, b->msg.n);
}

static size_t mix(uint64_t v, size_t cap)
{
    return (size_t)((v * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

/* loc_id returns the location id of a call PC, adding it on first use. */
static uint64_t loc_id(struct pbuild *b, uint64_t addr)
{
    size_t i = mix(addr, b->hcap);
    for (; b->hash_id[i]; i = (i + 1) & (b->hcap - 1))
        if (b->hash_addr[i] == addr)
            return b->hash_id[i];
    b->hash_addr[i] = addr;
    b->hash_id[i] = ++b->nloc;
    b->loc_addr[b->nloc - 1] = addr;
    return b->nloc;
}

/* fn_id returns the function id of (name, file), adding it on first use.
 * There are at most as many functions as locations. */
static uint64_t fn_id(struct pbuild *b, const char *name, const char *file)
{
    uint64_t key = pb_str(b, name) << 32 | pb_str(b, file);
    size_t i = mix(key, b->hcap);
    for (; b->fn_hash[i]; i = (i + 1) & (b->hcap - 1))
        if (b->fn_key[b->fn_hash[i] - 1] == key)
            return b->fn_hash[i];
    b->fn_key[b->nfn] = key;
    b->fn_hash[i] = ++b->nfn;
    return b->nfn;
}

static int build_proto(struct pbuild *b, const struct mprof_snapshot *s, const struct symtab *st,
                       const struct maps *mp, int allocs)
{
    int64_t rate = (int64_t)AO_load(&mprof_rate);
    size_t total = 0;
    for (size_t i = 0; i < s->n; i++)
        total += (size_t)s->rec[i].nstk;
    b->hcap = 64;
    while (b->hcap < 2 * total)
        b->hcap *= 2;
    b->loc_addr = arena_alloc(b->a, (total + 1) * sizeof *b->loc_addr);
    b->fn_key = arena_alloc(b->a, (total + 1) * sizeof *b->fn_key);
    b->hash_addr = arena_alloc(b->a, b->hcap * sizeof *b->hash_addr);
    b->hash_id = arena_alloc(b->a, b->hcap * sizeof *b->hash_id);
    b->fn_hash = arena_alloc(b->a, b->hcap * sizeof *b->fn_hash);
    /* Per mapping: 1 some address resolved, 2 some did not. */
    uint8_t *seen = arena_alloc(b->a, mp->n + 1);
    if (!b->loc_addr || !b->fn_key || !b->hash_addr || !b->hash_id || !b->fn_hash || !seen)
        return -1;
    pb_str(b, "");
    pb_value_type(b, P_PERIOD_TYPE, "space", "bytes");
    pb_int(&b->body, P_PERIOD, (uint64_t)rate);
    pb_value_type(b, P_SAMPLE_TYPE, "alloc_objects", "count");
    pb_value_type(b, P_SAMPLE_TYPE, "alloc_space", "bytes");
    pb_value_type(b, P_SAMPLE_TYPE, "inuse_objects", "count");
    pb_value_type(b, P_SAMPLE_TYPE, "inuse_space", "bytes");
    if (allocs)
        pb_int(&b->body, P_DEFAULT_SAMPLE_TYPE, pb_str(b, "alloc_space"));
    uint64_t bytes_key = pb_str(b, "bytes");
    for (size_t i = 0; i < s->n; i++) {
        const struct mprof_record *r = &s->rec[i];
        uint64_t locs[MPROF_MAX_STACK];
        int64_t v[4];
        for (int j = 0; j < r->nstk; j++)
            locs[j] = loc_id(b, r->stk[j] - 1);
        mprof_unsample(r->alloc_objects, r->alloc_bytes, rate, &v[0], &v[1]);
        mprof_unsample(r->alloc_objects - r->free_objects, inuse_bytes(r), rate, &v[2], &v[3]);
        b->msg.n = 0;
        pb_packed(&b->msg, &b->pack, S_LOCATION_ID, locs, (size_t)r->nstk);
        pb_packed(&b->msg, &b->pack, S_VALUE, (const uint64_t *)v, 4);
        if (r->alloc_objects > 0 && r->alloc_bytes / r->alloc_objects != 0) {
            b->pack.n = 0;
            pb_int(&b->pack, L_KEY, bytes_key);
            pb_int(&b->pack, L_NUM, (uint64_t)(r->alloc_bytes / r->alloc_objects));
            pb_bytes(&b->msg, S_LABEL, b->pack.p, b->pack.n);
        }
        pb_bytes(&b->body, P_SAMPLE, b->msg.p, b->msg.n);
    }
    for (size_t i = 0; i < b->nloc; i++) {
        uint64_t addr = b->loc_addr[i];
        size_t mid = maps_find(mp, addr);
        const struct pcinfo *pi = symtab_find(st, (uintptr_t)addr);
        seen[mid] |= pi && pi->func ? 1 : 2;
        b->msg.n = 0;
        pb_int(&b->msg, LOC_ID, i + 1);
        pb_int(&b->msg, LOC_MAPPING_ID, mid);
        pb_int(&b->msg, LOC_ADDRESS, addr);
        if (pi && pi->func) {
            b->pack.n = 0;
            pb_int(&b->pack, LN_FUNCTION_ID, fn_id(b, pi->func, pi->file ? pi->file : ""));
            pb_int(&b->pack, LN_LINE, pi->file ? (uint64_t)pi->line : 0);
            pb_bytes(&b->msg, LOC_LINE, b->pack.p, b->pack.n);
        }
        pb_bytes(&b->body, P_LOCATION, b->msg.p, b->msg.n);
    }
    for (size_t i = 0; i < b->nfn; i++) {
        b->msg.n = 0;
        pb_int(&b->msg, F_ID, i + 1);
        pb_int(&b->msg, F_NAME, b->fn_key[i] >> 32);
        pb_int(&b->msg, F_SYSTEM_NAME, b->fn_key[i] >> 32);
        pb_int(&b->msg, F_FILENAME, b->fn_key[i] & 0xffffffffu);
        pb_bytes(&b->body, P_FUNCTION, b->msg.p, b->msg.n);
    }
    for (size_t i = 0; i < mp->n; i++) {
        const struct mapping *m = &mp->m[i];
        b->msg.n = 0;
        pb_int(&b->msg, M_ID, i + 1);
        pb_int(&b->msg, M_START, m->lo);
        pb_int(&b->msg, M_LIMIT, m->hi);
        pb_int(&b->msg, M_OFFSET, m->off);
        pb_int(&b->msg, M_FILENAME, pb_str(b, m->file));
        pb_int(&b->msg, M_BUILD_ID, pb_str(b, m->build_id));
        /* As Go: has_functions when every address in it was resolved;
         * pprof then leaves the mapping alone. */
        pb_int(&b->msg, M_HAS_FUNCTIONS, seen[i + 1] == 1);
        pb_bytes(&b->body, P_MAPPING, b->msg.p, b->msg.n);
    }
    pb_int(&b->body, P_DROP_FRAMES, pb_str(b, DROP_FRAMES));
    pb_int(&b->body, P_TIME_NANOS, (uint64_t)os_walltime());
    for (size_t i = 0; i < b->str.n; i++)
        pb_bytes(&b->body, P_STRING_TABLE, b->str.s[i], strlen(b->str.s[i]));
    return b->oom || b->body.oom || b->msg.oom || b->pack.oom ? -1 : 0;
}

/* zlib's memory comes from os_reserve; each block records its size. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    size_t n = (size_t)items * size + 16;
    char *p = os_reserve(n, os_page_size(), OS_STAT_OTHER);
    if (!p)
        return Z_NULL;
    memcpy(p, &n, sizeof n);
    return p + 16;
}

static void z_free(voidpf opaque, voidpf q)
{
    (void)opaque;
    size_t n;
    char *p = (char *)q - 16;
    memcpy(&n, p, sizeof n);
    os_unmap(p, n, OS_STAT_OTHER);
}

/* gzip_out compresses data (gzip framing, level 1 as Go's BestSpeed). */
static int gzip_out(struct out *o, const uint8_t *data, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    z.zalloc = z_alloc;
    z.zfree = z_free;
    if (deflateInit2(&z, 1, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)n;
    int r;
    do {
        uint8_t buf[16 << 10];
        z.next_out = buf;
        z.avail_out = sizeof buf;
        r = deflate(&z, Z_FINISH);
        out_put(o, buf, sizeof buf - z.avail_out);
    } while (r == Z_OK);
    deflateEnd(&z);
    return r == Z_STREAM_END ? 0 : -1;
}

static int write_proto(struct out *o, struct arena *a, int allocs)
{
    struct mprof_snapshot s;
    if (mprof_snapshot_take(&s) != 0)
        return -1;
    struct maps mp;
    struct pbuild b;
    struct symtab st;
    memset(&mp, 0, sizeof mp);
    memset(&b, 0, sizeof b);
    b.a = a;
    int rc = -1;
    /* Without /proc/self/maps the locations simply have no mapping. */
    maps_read(a, &mp);
    if (symbolize(a, &s, &st) == 0 && build_proto(&b, &s, &st, &mp, allocs) == 0 &&
        gzip_out(o, b.body.p, b.body.n) == 0)
        rc = 0;
    mbuf_free(&b.body);
    mbuf_free(&b.msg);
    mbuf_free(&b.pack);
    mbuf_free(&mp.raw);
    mprof_snapshot_release(&s);
    return rc;
}

/* ---- Entry points ----------------------------------------------------- */

int pprof_write_heap(int fd, int debug, int allocs)
{
    struct arena a = { NULL };
    struct out *o = arena_alloc(&a, sizeof *o);
    if (!o) {
        errno = ENOMEM;
        return -1;
    }
    o->fd = fd;
    int rc = debug ? write_text(o, &a) : write_proto(o, &a, allocs);
    out_flush(o);
    int err = o->err ? o->err : rc != 0 ? ENOMEM : 0;
    arena_release(&a);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

GH_API int gh_write_heap_profile(int fd, int debug)
{
    return pprof_write_heap(fd, debug, 0);
}

/* ---- GHHEAPPROFILE ---------------------------------------------------- */

static struct {
    volatile AO_t inited;
    volatile AO_t next_dump;    /* estimated bytes at which to write next */
    volatile AO_t seq;          /* last interval file number */
} hp;

/* hp_write writes a proto profile to path, reporting a failure. */
static void hp_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || pprof_write_heap(fd, 0, 0) != 0)
        print_err("goheap: cannot write heap profile %s (errno %d)\n", path, errno);
    if (fd >= 0)
        close(fd);
}

static void hp_at_exit(void)
{
    hp_write(opts.heapprofile);
}

/* hp_sample is mprof_alloc's hook: one thread wins each crossing of a
 * multiple of the interval and writes the next numbered file. */
static void hp_sample(uint64_t est)
{
    AO_t next = AO_load(&hp.next_dump);
    if (est < next)
        return;
    uint64_t interval = (uint64_t)opts.heapprofile_interval;
    AO_t to = (AO_t)((est / interval + 1) * interval);
    if (!AO_compare_and_swap_full(&hp.next_dump, next, to))
        return;
    char path[sizeof opts.heapprofile + 16];
    print_format(path, sizeof path, "%s.%04u.heap", opts.heapprofile,
                 (unsigned)AO_fetch_and_add1(&hp.seq) + 1);
    hp_write(path);
}

void pprof_init(void)
{
    if (AO_load_acquire(&hp.inited) || !AO_compare_and_swap_full(&hp.inited, 0, 1))
        return;
    options_init();
    if (!opts.heapprofile[0])
        return;
    atexit(hp_at_exit);
    if (opts.heapprofile_interval > 0) {
        AO_store(&hp.next_dump, (AO_t)opts.heapprofile_interval);
        mprof_set_sample_hook(hp_sample);
    }
}

__attribute__((constructor)) static void pprof_ctor(void)
{
    pprof_init();
}
