/* test_pprof.c: the heap-profile writers (runtime/pprof.c).
 *
 * Profiles are written to a memfd and read back: the proto one is
 * gunzipped and decoded by the small decoder below, the text one is
 * parsed line by line. Samples are made with mprof_alloc from
 * helpers at a known source line, and published with the collector's
 * cycle calls, so their values are known exactly. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "goheap.h"
#include "mprof.h"
#include "pprof.h"

#define RATE 524288

static _Alignas(16) char fake[64][16];

/* Each helper records one sample at the line it is defined on. noipa
 * keeps gcc from inlining, cloning or folding identical helpers, the empty
 * asm from turning the call into a tail call (no helper frame). */
#define HELPER(name)                                                          \
    static const int name##_line __attribute__((unused)) = __LINE__;          \
    static __attribute__((noipa)) void name(void *p, size_t size) { mprof_alloc(p, size); __asm__ volatile(""); }
HELPER(alloc_for_proto)
HELPER(alloc_half_freed)
HELPER(alloc_for_text)
HELPER(alloc_big_record)
HELPER(alloc_small_record)

static void publish(void)
{
    mprof_next_cycle();
    mprof_flush();
    mprof_post_sweep();
}

/* ---- Reading a profile back ------------------------------------------- */

struct bytes {
    uint8_t *p;
    size_t n;
};

static struct bytes write_profile(int debug, int allocs)
{
    int fd = memfd_create("profile", 0);
    assert_true(fd >= 0);
    assert_int_equal(pprof_write_heap(fd, debug, allocs), 0);
    struct bytes b = { NULL, 0 };
    b.n = (size_t)lseek(fd, 0, SEEK_END);
    b.p = malloc(b.n + 1);
    assert_non_null(b.p);
    assert_int_equal(pread(fd, b.p, b.n, 0), (ssize_t)b.n);
    b.p[b.n] = 0;
    close(fd);
    return b;
}

static struct bytes gunzip(struct bytes in)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 31), Z_OK);
    size_t cap = 1 << 20;
    struct bytes out = { malloc(cap), 0 };
    z.next_in = in.p;
    z.avail_in = (uInt)in.n;
    int r;
    do {
        if (out.n == cap)
            out.p = realloc(out.p, cap *= 2);
        z.next_out = out.p + out.n;
        z.avail_out = (uInt)(cap - out.n);
        r = inflate(&z, Z_NO_FLUSH);
        out.n = cap - z.avail_out;
    } while (r == Z_OK);
    assert_int_equal(r, Z_STREAM_END);
    inflateEnd(&z);
    return out;
}

/* ---- A tiny profile.proto decoder ------------------------------------- */

struct rd {
    const uint8_t *p, *end;
};

static uint64_t rd_varint(struct rd *r)
{
    uint64_t v = 0;
    for (int shift = 0; r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    fail_msg("truncated varint");
    return 0;
}

/* rd_field reads one field: its number, and either a varint (*v) or a
 * length-delimited body (*sub). Returns 0 at the end. */
static int rd_field(struct rd *r, unsigned *num, uint64_t *v, struct rd *sub)
{
    if (r->p >= r->end)
        return 0;
    uint64_t key = rd_varint(r);
    *num = (unsigned)(key >> 3);
    switch (key & 7) {
    case 0:
        *v = rd_varint(r);
        sub->p = sub->end = NULL;
        return 1;
    case 2: {
        uint64_t n = rd_varint(r);
        assert_true(n <= (uint64_t)(r->end - r->p));
        sub->p = r->p;
        sub->end = r->p + n;
        r->p += n;
        return 1;
    }
    default:
        fail_msg("unexpected wire type %u", (unsigned)(key & 7));
        return 0;
    }
}

/* rd_repeated appends a repeated varint field, packed or not. */
static void rd_repeated(uint64_t v, const struct rd *sub, uint64_t *out, int *n, int max)
{
    if (sub->p) {
        struct rd pk = *sub;
        while (pk.p < pk.end) {
            assert_true(*n < max);
            out[(*n)++] = rd_varint(&pk);
        }
    } else {
        assert_true(*n < max);
        out[(*n)++] = v;
    }
}

struct sample {
    int nloc, nval;
    uint64_t loc[64], val[8];
    uint64_t label_key, label_num;
};
struct pmap {
    uint64_t id, start, limit, off, file, build, has_functions;
};
struct ploc {
    uint64_t id, mapping, addr;
    int nline;
    uint64_t fn[4], line[4];
};
struct pfn {
    uint64_t id, name, sysname, file;
};

struct prof {
    int ntypes;
    uint64_t type[8], unit[8];
    uint64_t period_type, period_unit, period, time_nanos, drop_frames, default_type;
    int nsample, nmap, nloc, nfn, nstr;
    struct sample sample[2048];
    struct pmap map[256];
    struct ploc loc[4096];
    struct pfn fn[4096];
    const char *str[16384];
};

static void value_type(struct rd r, uint64_t *type, uint64_t *unit)
{
    unsigned f;
    uint64_t v;
    struct rd sub;
    while (rd_field(&r, &f, &v, &sub))
        if (f == 1)
            *type = v;
        else if (f == 2)
            *unit = v;
}

static struct prof *decode(struct bytes raw)
{
    static struct prof pr;
    memset(&pr, 0, sizeof pr);
    struct rd r = { raw.p, raw.p + raw.n }, sub, s2;
    unsigned f, g;
    uint64_t v, w;
    while (rd_field(&r, &f, &v, &sub)) {
        switch (f) {
        case 1:
            assert_true(pr.ntypes < 8);
            value_type(sub, &pr.type[pr.ntypes], &pr.unit[pr.ntypes]);
            pr.ntypes++;
            break;
        case 2: {
            assert_true(pr.nsample < 2048);
            struct sample *s = &pr.sample[pr.nsample++];
            while (rd_field(&sub, &g, &w, &s2))
                if (g == 1)
                    rd_repeated(w, &s2, s->loc, &s->nloc, 64);
                else if (g == 2)
                    rd_repeated(w, &s2, s->val, &s->nval, 8);
                else if (g == 3) {
                    unsigned h;
                    uint64_t x;
                    struct rd s3;
                    while (rd_field(&s2, &h, &x, &s3))
                        if (h == 1)
                            s->label_key = x;
                        else if (h == 3)
                            s->label_num = x;
                }
            break;
        }
        case 3: {
            assert_true(pr.nmap < 256);
            struct pmap *m = &pr.map[pr.nmap++];
            uint64_t *fields[] = { NULL, &m->id, &m->start, &m->limit, &m->off, &m->file, &m->build, &m->has_functions };
            while (rd_field(&sub, &g, &w, &s2))
                if (g >= 1 && g <= 7)
                    *fields[g] = w;
            break;
        }
        case 4: {
            assert_true(pr.nloc < 4096);
            struct ploc *l = &pr.loc[pr.nloc++];
            while (rd_field(&sub, &g, &w, &s2))
                if (g == 1)
                    l->id = w;
                else if (g == 2)
                    l->mapping = w;
                else if (g == 3)
                    l->addr = w;
                else if (g == 4) {
                    unsigned h;
                    uint64_t x;
                    struct rd s3;
                    assert_true(l->nline < 4);
                    while (rd_field(&s2, &h, &x, &s3))
                        if (h == 1)
                            l->fn[l->nline] = x;
                        else if (h == 2)
                            l->line[l->nline] = x;
                    l->nline++;
                }
            break;
        }
        case 5: {
            assert_true(pr.nfn < 4096);
            struct pfn *fn = &pr.fn[pr.nfn++];
            uint64_t *fields[] = { NULL, &fn->id, &fn->name, &fn->sysname, &fn->file };
            while (rd_field(&sub, &g, &w, &s2))
                if (g >= 1 && g <= 4)
                    *fields[g] = w;
            break;
        }
        case 6: {
            assert_true(pr.nstr < 16384);
            char *s = malloc((size_t)(sub.end - sub.p) + 1);
            memcpy(s, sub.p, (size_t)(sub.end - sub.p));
            s[sub.end - sub.p] = 0;
            pr.str[pr.nstr++] = s;
            break;
        }
        case 7: pr.drop_frames = v; break;
        case 9: pr.time_nanos = v; break;
        case 11: value_type(sub, &pr.period_type, &pr.period_unit); break;
        case 12: pr.period = v; break;
        case 14: pr.default_type = v; break;
        default: break;
        }
    }
    return &pr;
}

static const char *str_of(const struct prof *pr, uint64_t i)
{
    assert_true(i < (uint64_t)pr->nstr);
    return pr->str[i];
}

static const struct ploc *loc_by_id(const struct prof *pr, uint64_t id)
{
    for (int i = 0; i < pr->nloc; i++)
        if (pr->loc[i].id == id)
            return &pr->loc[i];
    fail_msg("no location %llu", (unsigned long long)id);
    return NULL;
}

static const struct pfn *fn_by_id(const struct prof *pr, uint64_t id)
{
    for (int i = 0; i < pr->nfn; i++)
        if (pr->fn[i].id == id)
            return &pr->fn[i];
    fail_msg("no function %llu", (unsigned long long)id);
    return NULL;
}

/* sample_of finds the sample whose innermost frame is in function name. */
static const struct sample *sample_of(const struct prof *pr, const char *name)
{
    for (int i = 0; i < pr->nsample; i++) {
        const struct sample *s = &pr->sample[i];
        if (s->nloc == 0)
            continue;
        const struct ploc *l = loc_by_id(pr, s->loc[0]);
        if (l->nline > 0 && strcmp(str_of(pr, fn_by_id(pr, l->fn[0])->name), name) == 0)
            return s;
    }
    return NULL;
}

static uintptr_t func_start(uintptr_t pc)
{
    unw_proc_info_t pi;
    if (unw_get_proc_info_by_ip(unw_local_addr_space, (unw_word_t)pc, &pi, NULL) != 0)
        return 0;
    return (uintptr_t)pi.start_ip;
}

/* innermost_pc returns the return address recorded for fn's samples. */
static uintptr_t innermost_pc(void *fn)
{
    struct mprof_snapshot s;
    uintptr_t pc = 0;
    assert_int_equal(mprof_snapshot_take(&s), 0);
    for (size_t i = 0; i < s.n && !pc; i++)
        if (s.rec[i].nstk > 0 && func_start(s.rec[i].stk[0] - 1) == (uintptr_t)fn)
            pc = s.rec[i].stk[0];
    mprof_snapshot_release(&s);
    assert_true(pc != 0);
    return pc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The build ID of the main program, read from its notes in memory. */
static int note_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    char *hex = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const uint8_t *desc = p + sizeof *nh + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && memcmp(p + sizeof *nh, "GNU", 4) == 0)
                for (unsigned j = 0; j < nh->n_descsz; j++)
                    sprintf(hex + 2 * j, "%02x", desc[j]);
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 1; /* the main program comes first */
}

/* ---- Proto ------------------------------------------------------------ */

static void proto_has_go_heap_header(void **state)
{
    (void)state;
    struct bytes gz = write_profile(0, 0);
    assert_true(gz.n > 18);
    assert_int_equal(gz.p[0], 0x1f);
    assert_int_equal(gz.p[1], 0x8b);
    assert_int_equal(gz.p[2], 8); /* deflate */
    struct bytes raw = gunzip(gz);
    struct prof *pr = decode(raw);
    static const char *const types[4][2] = {
        { "alloc_objects", "count" }, { "alloc_space", "bytes" },
        { "inuse_objects", "count" }, { "inuse_space", "bytes" },
    };
    assert_string_equal(str_of(pr, 0), "");
    assert_int_equal(pr->ntypes, 4);
    for (int i = 0; i < 4; i++) {
        assert_string_equal(str_of(pr, pr->type[i]), types[i][0]);
        assert_string_equal(str_of(pr, pr->unit[i]), types[i][1]);
    }
    assert_string_equal(str_of(pr, pr->period_type), "space");
    assert_string_equal(str_of(pr, pr->period_unit), "bytes");
    assert_int_equal(pr->period, RATE);
    assert_int_equal(pr->default_type, 0);
    assert_true(pr->time_nanos > 1600000000ull * 1000000000ull);
    assert_non_null(strstr(str_of(pr, pr->drop_frames), "gh_.*"));
    free(gz.p);
    free(raw.p);

    /* The "allocs" flavour only changes the default sample type. */
    gz = write_profile(0, 1);
    raw = gunzip(gz);
    pr = decode(raw);
    assert_string_equal(str_of(pr, pr->default_type), "alloc_space");
    free(gz.p);
    free(raw.p);
}

static void proto_values_are_unsampled(void **state)
{
    (void)state;
    alloc_for_proto(fake[0], 1024);
    for (volatile int i = 0; i < 2; i++)
        alloc_half_freed(fake[1 + i], 1024);
    publish();
    mprof_free(fake[2], 1024);
    publish();
    struct bytes gz = write_profile(0, 0), raw = gunzip(gz);
    struct prof *pr = decode(raw);
    /* One 1024-byte sample at rate 524288 stands for 1/(1-e^-(1/512))
     * = 512.5 objects: 512 objects, 524800 bytes. */
    const struct sample *s = sample_of(pr, "alloc_for_proto");
    assert_non_null(s);
    assert_int_equal(s->nval, 4);
    assert_int_equal(s->val[0], 512);
    assert_int_equal(s->val[1], 524800);
    assert_int_equal(s->val[2], 512);
    assert_int_equal(s->val[3], 524800);
    assert_string_equal(str_of(pr, s->label_key), "bytes");
    assert_int_equal(s->label_num, 1024);
    /* Two allocated, one freed: the pairs are unsampled separately. */
    s = sample_of(pr, "alloc_half_freed");
    assert_non_null(s);
    assert_int_equal(s->val[0], 1025);
    assert_int_equal(s->val[1], 1049600);
    assert_int_equal(s->val[2], 512);
    assert_int_equal(s->val[3], 524800);
    free(gz.p);
    free(raw.p);
}

static void proto_locations_and_mappings(void **state)
{
    (void)state;
    struct bytes gz = write_profile(0, 0), raw = gunzip(gz);
    struct prof *pr = decode(raw);
    const struct sample *s = sample_of(pr, "alloc_for_proto");
    assert_non_null(s);
    /* The location is the call PC: the recorded return address - 1. */
    const struct ploc *l = loc_by_id(pr, s->loc[0]);
    assert_int_equal(l->addr, innermost_pc(alloc_for_proto) - 1);
    const struct pfn *fn = fn_by_id(pr, l->fn[0]);
    assert_string_equal(str_of(pr, fn->sysname), "alloc_for_proto");
    assert_true(ends_with(str_of(pr, fn->file), "tests/unit/test_pprof.c"));
    assert_int_equal(l->line[0], alloc_for_proto_line);
    /* The main program's mapping comes first and holds the location. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = 0;
    assert_true(pr->nmap > 0);
    assert_int_equal(pr->map[0].id, 1);
    assert_string_equal(str_of(pr, pr->map[0].file), exe);
    assert_int_equal(l->mapping, 1);
    assert_true(l->addr >= pr->map[0].start && l->addr < pr->map[0].limit);
    char id[129] = "";
    dl_iterate_phdr(note_build_id, id);
    assert_true(strlen(id) >= 16);
    assert_string_equal(str_of(pr, pr->map[0].build), id);
    /* Ids are 1..n; a mapping that claims functions has them everywhere. */
    for (int i = 0; i < pr->nmap; i++)
        assert_int_equal(pr->map[i].id, (uint64_t)i + 1);
    for (int i = 0; i < pr->nloc; i++) {
        assert_int_equal(pr->loc[i].id, (uint64_t)i + 1);
        assert_true(pr->loc[i].mapping <= (uint64_t)pr->nmap);
        if (pr->loc[i].mapping && pr->map[pr->loc[i].mapping - 1].has_functions)
            assert_true(pr->loc[i].nline > 0);
    }
    assert_true(pr->map[0].has_functions);
    free(gz.p);
    free(raw.p);
}

/* ---- Text ------------------------------------------------------------- */

/* A text profile split into lines (the buffer is modified). */
struct text {
    struct bytes b;
    char *line[65536];
    int n;
};

static struct text *read_text(void)
{
    static struct text t;
    t.b = write_profile(1, 0);
    t.n = 0;
    for (char *p = (char *)t.b.p; *p && t.n < 65536;) {
        char *eol = strchr(p, '\n');
        t.line[t.n++] = p;
        if (!eol)
            break;
        *eol = 0;
        p = eol + 1;
    }
    return &t;
}

static int record_line(const char *s, long long v[4])
{
    int used = 0;
    return sscanf(s, "%lld: %lld [%lld: %lld] @%n", &v[0], &v[1], &v[2], &v[3], &used) == 4 && used > 0;
}

/* assert_sorted checks that the records are in decreasing in-use bytes
 * and returns how many there are. */
static int assert_sorted(const struct text *t)
{
    long long prev = INT64_MAX, v[4];
    int records = 0;
    for (int i = 1; i < t->n; i++)
        if (record_line(t->line[i], v)) {
            assert_true(v[1] <= prev);
            prev = v[1];
            records++;
        }
    return records;
}

static void text_header_records_and_trailer(void **state)
{
    (void)state;
    alloc_for_text(fake[10], 1024);
    publish();
    struct text *t = read_text();
    long long h[4], sum[4] = { 0 }, rate = 0;
    assert_int_equal(sscanf(t->line[0], "heap profile: %lld: %lld [%lld: %lld] @ heap/%lld",
                            &h[0], &h[1], &h[2], &h[3], &rate), 5);
    assert_int_equal(rate, 2 * RATE);
    uintptr_t ret = innermost_pc(alloc_for_text);
    char want[64], frame[128];
    snprintf(want, sizeof want, "1: 1024 [1: 1024] @ %#lx ", (unsigned long)ret);
    snprintf(frame, sizeof frame, "#\t%#lx\talloc_for_text+0x", (unsigned long)(ret - 1));
    int found = 0, i;
    assert_true(assert_sorted(t) > 0);
    for (i = 1; i < t->n && strncmp(t->line[i], "# runtime.MemStats", 18) != 0; i++) {
        long long v[4];
        if (!record_line(t->line[i], v))
            continue;
        for (int k = 0; k < 4; k++)
            sum[k] += v[k];
        if (strncmp(t->line[i], want, strlen(want)) == 0) {
            found = 1;
            assert_true(strncmp(t->line[i + 1], frame, strlen(frame)) == 0);
            char suffix[64];
            snprintf(suffix, sizeof suffix, "tests/unit/test_pprof.c:%d", alloc_for_text_line);
            assert_true(ends_with(t->line[i + 1], suffix));
        }
    }
    assert_true(found);
    for (int k = 0; k < 4; k++)
        assert_int_equal(sum[k], h[k]);
    /* The MemStats block, MaxRSS, then the mappings for pprof. */
    static const char *const trailer[] = {
        "# runtime.MemStats", "# Alloc = ", "# TotalAlloc = ", "# Sys = ", "# Lookups = ",
        "# Mallocs = ", "# Frees = ", "# HeapAlloc = ", "# HeapSys = ", "# HeapIdle = ",
        "# HeapInuse = ", "# HeapReleased = ", "# HeapObjects = ", "# Stack = ", "# MSpan = ",
        "# MCache = ", "# BuckHashSys = ", "# GCSys = ", "# OtherSys = ", "# NextGC = ",
        "# LastGC = ", "# PauseNs = [", "# PauseEnd = [", "# NumGC = ", "# NumForcedGC = ",
        "# GCCPUFraction = ", "# DebugGC = false", "# MaxRSS = ", "", "MAPPED_LIBRARIES:",
    };
    assert_string_equal(t->line[i - 1], "");
    for (size_t k = 0; k < sizeof trailer / sizeof trailer[0]; k++, i++) {
        assert_true(i < t->n);
        assert_true(strncmp(t->line[i], trailer[k], strlen(trailer[k])) == 0);
    }
    /* 256 pause values, space separated. */
    for (int k = 0; k < t->n; k++)
        if (strncmp(t->line[k], "# PauseNs = [", 13) == 0) {
            int spaces = 0;
            for (const char *c = t->line[k]; *c; c++)
                spaces += *c == ' ';
            assert_int_equal(spaces, 3 + 255);
        }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n] = 0;
    int mapped = 0;
    for (; i < t->n; i++)
        if (strstr(t->line[i], " r-xp ") && ends_with(t->line[i], exe))
            mapped = 1;
    assert_true(mapped);
    free(t->b.p);
}

/* display_col returns the screen column after s[0..len) with tab stops
 * every 8 columns. */
static int display_col(const char *s, size_t len)
{
    int col = 0;
    for (size_t i = 0; i < len; i++)
        col = s[i] == '\t' ? (col / 8 + 1) * 8 : col + 1;
    return col;
}

/* In each run of "#" lines with four cells, the third and fourth cells
 * start at the same column on every line, and each column is the widest
 * cell plus one, rounded up to a tab stop (Go's tabwriter with padding 1
 * and TAB padding). */
static void text_frame_lines_are_tab_aligned(void **state)
{
    (void)state;
    for (volatile int i = 0; i < 3; i++)
        alloc_big_record(fake[20 + i], 4096);
    alloc_small_record(fake[30], 16);
    publish();
    struct text *t = read_text();
    /* The small record is newer, so only sorting puts the big one first. */
    assert_true(assert_sorted(t) >= 2);
    int runs = 0;
    for (int i = 0; i < t->n;) {
        int j = i;
        while (j < t->n && t->line[j][0] == '#' && t->line[j][1] == '\t') {
            int tabs = 0;
            for (const char *c = t->line[j]; *c; c++)
                tabs += *c == '\t';
            if (tabs < 3)
                break;
            j++;
        }
        if (j - i < 2) {
            i = j > i ? j : i + 1;
            continue;
        }
        runs++;
        size_t w2 = 0;
        int c2 = -1, c3 = -1;
        for (int k = i; k < j; k++) {
            const char *l = t->line[k];
            const char *f = strchr(strchr(l, '\t') + 1, '\t');
            while (*f == '\t')
                f++;
            const char *e = strchr(f, '\t');
            const char *file = e;
            while (*file == '\t')
                file++;
            if ((size_t)(e - f) > w2)
                w2 = (size_t)(e - f);
            int col2 = display_col(l, (size_t)(f - l)), col3 = display_col(l, (size_t)(file - l));
            assert_true(c2 < 0 || col2 == c2);
            assert_true(c3 < 0 || col3 == c3);
            c2 = col2;
            c3 = col3;
        }
        assert_int_equal(c3 - c2, (int)((w2 + 1 + 7) / 8 * 8));
        i = j;
    }
    assert_true(runs > 0);
    free(t->b.p);
}

/* ---- Misc ------------------------------------------------------------- */

static void format_float_matches_go(void **state)
{
    (void)state;
    /* Expected strings printed by Go's fmt.Printf("%v"). */
    static const struct {
        double v;
        const char *go;
    } cases[] = {
        { 0, "0" },
        { 0.37474461237803175, "0.37474461237803175" },
        { 1.234e-05, "1.234e-05" },
        { 1234567, "1.234567e+06" },
        { 123456, "123456" },
        { 1e21, "1e+21" },
        { 1e20, "1e+20" },
        { 0.0001, "0.0001" },
        { 5e-324, "5e-324" },
        { 2.0 / 3, "0.6666666666666666" },
        { 1.7976931348623157e308, "1.7976931348623157e+308" },
        { 100, "100" },
        { 0.1, "0.1" },
        { 1e-07, "1e-07" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        size_t n = pprof_format_float(buf, sizeof buf, cases[i].v);
        assert_string_equal(buf, cases[i].go);
        assert_int_equal(n, strlen(cases[i].go));
    }
}

static void writers_do_not_allocate_from_the_heap(void **state)
{
    (void)state;
    gh_mem_stats before, after;
    gh_read_mem_stats(&before);
    for (int debug = 0; debug < 2; debug++)
        free(write_profile(debug, 0).p);
    gh_read_mem_stats(&after);
    assert_int_equal(after.mallocs, before.mallocs);
    assert_int_equal(after.total_alloc, before.total_alloc);
}

static void write_error_is_reported(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    for (int debug = 0; debug < 2; debug++) {
        errno = 0;
        assert_int_equal(gh_write_heap_profile(fds[1], debug), -1);
        assert_int_equal(errno, EPIPE);
        errno = 0;
        assert_int_equal(gh_write_heap_profile(-1, debug), -1);
        assert_int_equal(errno, EBADF);
    }
    close(fds[1]);
}

static int setup(void **state)
{
    (void)state;
    gh_set_mem_profile_rate(RATE);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(proto_has_go_heap_header),
        cmocka_unit_test(proto_values_are_unsampled),
        cmocka_unit_test(proto_locations_and_mappings),
        cmocka_unit_test(text_header_records_and_trailer),
        cmocka_unit_test(text_frame_lines_are_tab_aligned),
        cmocka_unit_test(format_float_matches_go),
        cmocka_unit_test(writers_do_not_allocate_from_the_heap),
        cmocka_unit_test(write_error_is_reported),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
