/* trace.h: the text of GODEBUG=gctrace=1 and scavtrace=1 lines (trace.c).
 * gc.c and scavenge.c measure and fill the records below; trace.c only
 * formats them, so that tests can format synthetic records and compare the
 * result with lines printed by Go. */
#ifndef GH_TRACE_H
#define GH_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* One finished collection cycle, filled by gc.c at mark termination. */
struct gc_cycle {
    uint32_t num;           /* NumGC after this cycle (first cycle prints "gc 1") */
    int64_t start_ns;       /* cycle start (tSweepTerm) minus process start, ns */
    int64_t clock_ns[3];    /* wall: STW sweep termination, concurrent mark, STW mark termination */
    int64_t cpu_stw_start_ns, cpu_assist_ns, cpu_background_ns, cpu_idle_ns, cpu_stw_end_ns;
    uint64_t heap_start, heap_end, heap_marked, heap_goal;   /* bytes */
    int procs;              /* P: threads working for the collector */
    int forced;             /* started by gh_gc() */
    double cpu_fraction;    /* cumulative GC CPU fraction (GCCPUFraction) */
};

/* One scavenger report, filled by scavenge.c once per cycle (after the
 * sweep finishes) and by gh_free_os_memory. */
struct scav_cycle {
    uint64_t released;      /* bytes returned to the OS since the last report */
    uint64_t heap_released; /* HeapReleased: bytes returned and not reused */
    uint64_t heap_inuse;    /* HeapInuse: bytes in in-use spans */
    uint64_t heap_free;     /* free heap bytes still backed by memory */
    int forced;             /* reported by gh_free_os_memory */
    int controller_reset;   /* the scavenger's rate controller was reset */
};

/* TRACE_LINE_MAX bounds the length of any line formatted here. */
#define TRACE_LINE_MAX 512

/* trace_format_gc writes the gctrace line of c, newline included, in Go's
 * three-phase layout:
 *   gc 21 @8.389s 0%: 0.069+4.0+0.16 ms clock, 1.6+2.8/14/10+4.0 ms cpu,
 *   87->88->45 MB, 89 MB goal, 24 P
 * (one line), followed by " (forced)" for forced cycles. Like snprintf it
 * writes at most n-1 characters and a NUL, and returns the length the whole
 * line has. It cannot fail. */
int trace_format_gc(char *buf, size_t n, const struct gc_cycle *c);

/* trace_format_scav writes Go 1.19's scavtrace line, newline included:
 *   scav <W> KiB work, <T> KiB total, <U>% util
 * followed by " (forced)" or else " [controller reset]" when flagged.
 * U is heap_inuse*100/(heap_inuse+heap_free), and 0 when both are zero.
 * Same contract as trace_format_gc. */
int trace_format_scav(char *buf, size_t n, const struct scav_cycle *s);

/* trace_format_ms writes ns as milliseconds the way Go's fmtNSAsMS does:
 * from 10 ms up, whole milliseconds ("12"); below, two significant digits,
 * truncated, with at most three decimals ("0.069", "0.16", "4.0"); and "0"
 * below 1 us. Same contract as trace_format_gc (no newline). */
int trace_format_ms(char *buf, size_t n, uint64_t ns);

#endif
