/* unwind.h: call-stack capture for the profiler and the leak checker,
 * safe across fork(). See unwind.c. */
#ifndef GH_UNWIND_H
#define GH_UNWIND_H

#include <libunwind.h>
#include "atomic.h"

extern volatile AO_t unwind_inflight, unwind_forking;

/* unwind_capture stores up to max return addresses of the calling
 * thread's stack into pcs, innermost first, and returns how many; 0 while
 * a fork is being prepared. Always inlined, so that it adds no frame:
 * pcs[0] lies in the function that calls it. */
static inline __attribute__((always_inline)) int unwind_capture(void **pcs, int max)
{
    int n = 0;
    AO_fetch_and_add1_full(&unwind_inflight);
    if (!AO_load_full(&unwind_forking))
        n = unw_backtrace(pcs, max);
    AO_fetch_and_sub1_full(&unwind_inflight);
    return n;
}

/* unwind_fork_prepare waits until no thread is inside libunwind and keeps
 * new captures out (they return 0) until unwind_fork_done. The collector's
 * fork handlers call them (gc.c). */
void unwind_fork_prepare(void);
void unwind_fork_done(void);

#endif
