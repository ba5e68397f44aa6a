/* trace.c: formats gctrace and scavtrace lines (Go: the printing code in
 * gcMarkTermination, fmtNSAsMS and itoaDiv in mgc.go; printScavTrace in
 * mgcscavenge.go). It formats and nothing else: gc.c and scavenge.c take
 * the measurements, fill a struct gc_cycle or struct scav_cycle, and write
 * the text with print_err, so that the line stays one write(2).
 *
 * Invariant: numbers are printed exactly as Go prints them. Times are
 * truncated, never rounded; heap sizes are bytes >> 20 (MiB, truncated).
 * Locking: none; every function works only on its arguments.
 * Hot path: none; one call per collection cycle. */
#include <limits.h>
#include "print.h"
#include "trace.h"

/* Room for the longest decimal trace_decimal writes: 20 digits of a
 * uint64_t, a decimal point and a NUL. */
#define DECIMAL_MAX 24

/* trace_decimal writes val / 10^dec with exactly dec decimals into buf and
 * returns the start of the text: (5, 3) gives "0.005", (8389, 3) gives
 * "8.389", (12, 0) gives "12". This is Go's itoaDiv for the values Go
 * passes to it. */
static const char *trace_decimal(char buf[DECIMAL_MAX], uint64_t val, int dec)
{
    char *p = buf + DECIMAL_MAX - 1;

    *p = '\0';
    for (int i = 0; i < dec; i++) {
        *--p = (char)('0' + val % 10);
        val /= 10;
    }
    if (dec > 0)
        *--p = '.';
    do {
        *--p = (char)('0' + val % 10);
        val /= 10;
    } while (val != 0);
    return p;
}

/* trace_ms is fmtNSAsMS: whole milliseconds from 10 ms up; below that the
 * microsecond count cut to two significant digits, shown with at most
 * three decimals; "0" below one microsecond. */
static const char *trace_ms(char buf[DECIMAL_MAX], uint64_t ns)
{
    if (ns >= 10000000)
        return trace_decimal(buf, ns / 1000000, 0);
    uint64_t us = ns / 1000;
    if (us == 0)
        return trace_decimal(buf, 0, 0);
    int dec = 3;
    while (us >= 100) {
        us /= 10;
        dec--;
    }
    return trace_decimal(buf, us, dec);
}

/* trace_duration turns a measured duration into Go's unsigned input. Only
 * a clock fault can make a duration negative; it prints as 0 rather than
 * as the 2^64-wrapped number Go would show. */
static uint64_t trace_duration(int64_t ns)
{
    return ns > 0 ? (uint64_t)ns : 0;
}

/* trace_percent is Go's int(fraction * 100): truncated toward zero, so
 * 0.57 gives 56 exactly as in Go. Values outside [0, INT_MAX] (NaN
 * included), which a correct caller never passes, are clamped. */
static int trace_percent(double fraction)
{
    double u = fraction * 100;

    if (!(u >= 0))
        return 0;
    if (u >= (double)INT_MAX)
        return INT_MAX;
    return (int)u;
}

int trace_format_ms(char *buf, size_t n, uint64_t ns)
{
    char tmp[DECIMAL_MAX];

    return print_format(buf, n, "%s", trace_ms(tmp, ns));
}

int trace_format_gc(char *buf, size_t n, const struct gc_cycle *c)
{
    char at[DECIMAL_MAX], clock[3][DECIMAL_MAX], cpu[5][DECIMAL_MAX];
    const int64_t cpu_ns[5] = {
        c->cpu_stw_start_ns, c->cpu_assist_ns, c->cpu_background_ns,
        c->cpu_idle_ns, c->cpu_stw_end_ns,
    };
    const char *cs[3], *us[5];

    for (int i = 0; i < 3; i++)
        cs[i] = trace_ms(clock[i], trace_duration(c->clock_ns[i]));
    for (int i = 0; i < 5; i++)
        us[i] = trace_ms(cpu[i], trace_duration(cpu_ns[i]));
    /* @S: whole milliseconds since start, shown as seconds. */
    const char *s = trace_decimal(at, trace_duration(c->start_ns) / 1000000, 3);

    return print_format(buf, n,
                        "gc %u @%ss %d%%: %s+%s+%s ms clock, %s+%s/%s/%s+%s ms cpu, "
                        "%llu->%llu->%llu MB, %llu MB goal, %d P%s\n",
                        (unsigned)c->num, s, trace_percent(c->cpu_fraction),
                        cs[0], cs[1], cs[2], us[0], us[1], us[2], us[3], us[4],
                        (unsigned long long)(c->heap_start >> 20),
                        (unsigned long long)(c->heap_end >> 20),
                        (unsigned long long)(c->heap_marked >> 20),
                        (unsigned long long)(c->heap_goal >> 20),
                        c->procs, c->forced ? " (forced)" : "");
}

int trace_format_scav(char *buf, size_t n, const struct scav_cycle *s)
{
    uint64_t retained = s->heap_inuse + s->heap_free;
    uint64_t util = retained != 0 ? s->heap_inuse * 100 / retained : 0;
    const char *suffix = "";

    if (s->forced)
        suffix = " (forced)";
    else if (s->controller_reset)
        suffix = " [controller reset]";
    return print_format(buf, n, "scav %llu KiB work, %llu KiB total, %llu%% util%s\n",
                        (unsigned long long)(s->released >> 10),
                        (unsigned long long)(s->heap_released >> 10),
                        (unsigned long long)util, suffix);
}
