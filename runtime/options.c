/* options.c: every environment knob, in one table (Go: dbgvars and
 * parsedebugvars in runtime1.go, readGOGC and readGOMEMLIMIT in
 * mgcpacer.go). The table gives each knob's name, where it comes from (an
 * environment variable or a GODEBUG key), its value syntax, its default
 * and one line of documentation; options_parse is driven by it alone.
 *
 * The environment is read from environ itself, with no getenv and no
 * allocation, so that parsing works at the first malloc of a preloaded
 * program. When a variable appears twice in environ the first one counts,
 * as with getenv.
 *
 * Rules: an empty variable means "unset" (the default). A malformed value
 * is reported on stderr and the value in force is kept (the default, or
 * for GODEBUG gctrace the value of GCTRACE); the report names the value
 * used. GODEBUG items are applied left to right, so a later item overrides
 * an earlier one and GODEBUG overrides GCTRACE. Unknown GODEBUG keys and
 * items without '=' are ignored: other programs share the variable.
 *
 * Report-once: each options_parse call reports each knob at most once,
 * however often GODEBUG repeats it. options_init parses once per process,
 * so in practice every malformed setting is reported exactly once.
 *
 * Locking: options_init runs the parse in its first caller; concurrent
 * callers spin until init_state says it is done. opts is read-only after. */
#include "options.h"
#include "atomic.h"
#include "print.h"

#include <sched.h>
#include <stddef.h>
#include <string.h>

extern char **environ;

struct options opts;

enum opt_source { SRC_ENV, SRC_GODEBUG };

enum opt_type {
    T_INT,        /* int: decimal with an optional sign */
    T_GOGC,       /* int percent, or "off"; negative means off (-1) */
    T_LIMIT,      /* int64 bytes, Go's GOMEMLIMIT syntax; "off" = INT64_MAX */
    T_INTERVAL,   /* int64 bytes, GOMEMLIMIT syntax; "off" = 0 (none) */
    T_LEAK,       /* int: "report" = 1, "off" or "0" = 0 */
    T_STRING,     /* char array, copied whole or not at all */
};

struct opt_desc {
    const char *name;       /* variable, or GODEBUG key */
    enum opt_source src;
    enum opt_type type;
    int64_t def;            /* default (strings default to "") */
    size_t off;             /* offset in struct options */
    size_t size;            /* T_STRING: array size */
    const char *doc;
};

#define INT_KNOB(name, src, type, def, field, doc) \
    { name, src, type, def, offsetof(struct options, field), 0, doc }
#define STR_KNOB(name, field, doc)                                   \
    { name, SRC_ENV, T_STRING, 0, offsetof(struct options, field), \
      sizeof(((struct options *)0)->field), doc }

/* Environment variables come before GODEBUG keys: GODEBUG is applied last
 * so that its gctrace overrides GCTRACE. */
static const struct opt_desc opt_table[] = {
    INT_KNOB("GOGC", SRC_ENV, T_GOGC, 100, gogc,
             "heap growth, in percent of the live heap, that starts a collection; off disables"),
    INT_KNOB("GOMEMLIMIT", SRC_ENV, T_LIMIT, INT64_MAX, memory_limit,
             "soft limit on mapped memory: N, NB, NKiB, NMiB, NGiB or NTiB; off = none"),
    INT_KNOB("GCTRACE", SRC_ENV, T_INT, 0, gctrace,
             "same as GODEBUG=gctrace=N; GODEBUG wins when both are set"),
    STR_KNOB("GHHEAPPROFILE", heapprofile,
             "path of a heap profile written at exit"),
    INT_KNOB("GHHEAPPROFILE_INTERVAL", SRC_ENV, T_INTERVAL, 0, heapprofile_interval,
             "also write the heap profile every N bytes allocated; off or 0 = never"),
    STR_KNOB("GHPPROF_ADDR", pprof_addr,
             "host:port on which to serve /debug/pprof/"),
    INT_KNOB("gctrace", SRC_GODEBUG, T_INT, 0, gctrace,
             "1 or 2: one line per collection on stderr, in Go's format"),
    INT_KNOB("gccheckmark", SRC_GODEBUG, T_INT, 0, gccheckmark,
             "1: re-mark the heap with the world stopped and check nothing was missed"),
    INT_KNOB("gcstoptheworld", SRC_GODEBUG, T_INT, 0, gcstoptheworld,
             "1: mark with the world stopped; 2: sweep with it stopped too"),
    INT_KNOB("invalidptr", SRC_GODEBUG, T_INT, 1, invalidptr,
             "0: ignore invalid gh_free/gh_realloc pointers instead of aborting"),
    INT_KNOB("memprofilerate", SRC_GODEBUG, T_INT, 524288, memprofilerate,
             "average bytes allocated between heap profile samples; 0 disables"),
    INT_KNOB("scavtrace", SRC_GODEBUG, T_INT, 0, scavtrace,
             "1: one scavenger summary line per collection"),
    INT_KNOB("gcpacertrace", SRC_GODEBUG, T_INT, 0, gcpacertrace,
             "1: print the pacer's internal state"),
    INT_KNOB("clobberfree", SRC_GODEBUG, T_INT, 0, clobberfree,
             "1: overwrite freed objects with 0xdeadbeef"),
    INT_KNOB("gcprocs", SRC_GODEBUG, T_INT, 0, gcprocs,
             "number of mark workers; 0 chooses from the CPU count"),
    INT_KNOB("gcleak", SRC_GODEBUG, T_LEAK, 0, gcleak,
             "report: print the leak report"),
};

enum { OPT_COUNT = sizeof opt_table / sizeof opt_table[0] };
_Static_assert(OPT_COUNT <= 32, "options_parse tracks reports in a 32-bit mask");

/* ---- Value syntax --------------------------------------------------- */

/* opt_parse_int parses s[0:n) as a decimal integer with an optional sign
 * in [min, max]. Returns 0, or -1 if malformed or out of range. */
static int opt_parse_int(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n)
        return -1;
    /* Accumulate the magnitude, bounded by max or by -min. */
    uint64_t limit = neg ? (uint64_t)0 - (uint64_t)min : (uint64_t)max;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > limit / 10 || (v == limit / 10 && d > limit % 10))
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)((uint64_t)0 - v) : (int64_t)v;
    return 0;
}

static int opt_equal(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* opt_parse_bytes parses s[0:n) in GOMEMLIMIT syntax: a decimal number of
 * bytes with an optional suffix B, KiB, MiB, GiB or TiB (case-sensitive),
 * at most INT64_MAX in all; "off" is INT64_MAX. */
static int opt_parse_bytes(const char *s, size_t n, int64_t *out)
{
    static const struct { const char *suffix; int shift; } units[] = {
        { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 }, { "B", 0 },
    };
    if (opt_equal(s, n, "off")) {
        *out = INT64_MAX;
        return 0;
    }
    int shift = 0;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t sl = strlen(units[u].suffix);
        if (n > sl && memcmp(s + n - sl, units[u].suffix, sl) == 0) {
            n -= sl;
            shift = units[u].shift;
            break;
        }
    }
    if (n == 0 || s[0] < '0' || s[0] > '9')
        return -1;   /* no sign: a limit is never negative */
    int64_t v;
    if (opt_parse_int(s, n, 0, INT64_MAX >> shift, &v) != 0)
        return -1;
    *out = v << shift;
    return 0;
}

int options_parse_bytes(const char *s, int64_t *out)
{
    return opt_parse_bytes(s, strlen(s), out);
}

/* ---- Applying a value ----------------------------------------------- */

static int64_t opt_get(const struct options *o, const struct opt_desc *d)
{
    const char *field = (const char *)o + d->off;
    if (d->type == T_LIMIT || d->type == T_INTERVAL)
        return *(const int64_t *)(const void *)field;
    return *(const int *)(const void *)field;
}

static void opt_set(struct options *o, const struct opt_desc *d, int64_t v)
{
    char *field = (char *)o + d->off;
    if (d->type == T_LIMIT || d->type == T_INTERVAL)
        *(int64_t *)(void *)field = v;
    else
        *(int *)(void *)field = (int)v;
}

/* opt_convert parses s[0:n) by d's syntax. Returns 0 and the value, or -1. */
static int opt_convert(const struct opt_desc *d, const char *s, size_t n, int64_t *v)
{
    switch (d->type) {
    case T_INT:
        return opt_parse_int(s, n, INT32_MIN, INT32_MAX, v);
    case T_GOGC:
        if (opt_equal(s, n, "off")) {
            *v = -1;
            return 0;
        }
        if (opt_parse_int(s, n, INT32_MIN, INT32_MAX, v) != 0)
            return -1;
        if (*v < 0)
            *v = -1;
        return 0;
    case T_LIMIT:
        return opt_parse_bytes(s, n, v);
    case T_INTERVAL:
        if (opt_equal(s, n, "off")) {
            *v = 0;
            return 0;
        }
        return opt_parse_bytes(s, n, v);
    case T_LEAK:
        if (opt_equal(s, n, "report")) {
            *v = 1;
            return 0;
        }
        if (opt_equal(s, n, "off") || opt_equal(s, n, "0")) {
            *v = 0;
            return 0;
        }
        return -1;
    case T_STRING:
        break;
    }
    return -1;
}

/* opt_report describes a malformed value and the value kept instead. */
static void opt_report(const struct options *o, const struct opt_desc *d, const char *s, size_t n)
{
    static const char *const expected[] = {
        [T_INT] = "a number",
        [T_GOGC] = "a number or \"off\"",
        [T_LIMIT] = "a byte count (like 512MiB) or \"off\"",
        [T_INTERVAL] = "a byte count (like 512MiB) or \"off\"",
        [T_LEAK] = "\"report\", \"off\" or \"0\"",
    };
    const char *where = d->src == SRC_GODEBUG ? "GODEBUG " : "";
    int64_t v = opt_get(o, d);
    char kept[24];
    if ((d->type == T_GOGC && v < 0) || (d->type == T_LIMIT && v == INT64_MAX) ||
        (d->type == T_LEAK && v == 0))
        print_format(kept, sizeof kept, "off");
    else if (d->type == T_LEAK)
        print_format(kept, sizeof kept, "report");
    else
        print_format(kept, sizeof kept, "%lld", (long long)v);
    /* Values are bounded so that the report stays one readable line. */
    print_err("goheap: %s%s=\"%.*s\" is not %s; using %s\n", where, d->name,
              n > 200 ? 200 : (int)n, s, expected[d->type], kept);
}

/* opt_apply sets knob d from the text s[0:n), or reports it (at most once
 * per knob per parse: bit i of *reported). */
static void opt_apply(struct options *o, int i, const char *s, size_t n, uint32_t *reported)
{
    const struct opt_desc *d = &opt_table[i];
    uint32_t bit = (uint32_t)1 << i;
    if (d->type == T_STRING) {
        char *field = (char *)o + d->off;
        if (n < d->size) {
            memcpy(field, s, n);
            field[n] = '\0';
        } else if (!(*reported & bit)) {
            *reported |= bit;
            print_err("goheap: %s is longer than %zu bytes; ignored\n", d->name, d->size - 1);
        }
        return;
    }
    int64_t v;
    if (opt_convert(d, s, n, &v) == 0) {
        opt_set(o, d, v);
    } else if (!(*reported & bit)) {
        *reported |= bit;
        opt_report(o, d, s, n);
    }
}

/* opt_lookup returns the value of the first NAME= in envp, or NULL. */
static const char *opt_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp != NULL && *envp != NULL; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

/* opt_godebug applies the GODEBUG list s: "key=value,key=value". */
static void opt_godebug(struct options *o, const char *s, uint32_t *reported)
{
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        if (end == NULL)
            end = s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(end - s));
        if (eq != NULL) {
            for (int i = 0; i < OPT_COUNT; i++) {
                if (opt_table[i].src == SRC_GODEBUG && opt_equal(s, (size_t)(eq - s), opt_table[i].name))
                    opt_apply(o, i, eq + 1, (size_t)(end - eq - 1), reported);
            }
        }
        s = *end == ',' ? end + 1 : end;
    }
}

void options_parse(struct options *o, char *const *envp)
{
    uint32_t reported = 0;
    memset(o, 0, sizeof *o);
    for (int i = 0; i < OPT_COUNT; i++)
        if (opt_table[i].type != T_STRING)
            opt_set(o, &opt_table[i], opt_table[i].def);
    for (int i = 0; i < OPT_COUNT; i++) {
        if (opt_table[i].src != SRC_ENV)
            continue;
        const char *v = opt_lookup(envp, opt_table[i].name);
        if (v != NULL && *v != '\0')
            opt_apply(o, i, v, strlen(v), &reported);
    }
    const char *godebug = opt_lookup(envp, "GODEBUG");
    if (godebug != NULL)
        opt_godebug(o, godebug, &reported);
}

/* 0: not parsed; 1: a thread is parsing; 2: opts is ready. */
static volatile AO_t init_state;

void options_init(void)
{
    /* acquire: pairs with the release store below, so opts is complete. */
    if (AO_load_acquire(&init_state) == 2)
        return;
    if (AO_compare_and_swap_full(&init_state, 0, 1)) {
        options_parse(&opts, environ);
        AO_store_release(&init_state, 2);
        return;
    }
    while (AO_load_acquire(&init_state) != 2)
        sched_yield();
}
