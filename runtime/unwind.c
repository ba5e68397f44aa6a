/* unwind.c: keeping libunwind out of the way of fork().
 *
 * libunwind takes mutexes of its own while it walks a stack (its caches of
 * unwind tables). A fork() while another thread holds one leaves the child
 * a mutex that nobody will release, and the child's first sampled
 * allocation would hang in it. So every capture (unwind.h) counts itself
 * in unwind_inflight around its call, and a fork first raises
 * unwind_forking and waits for the count to drain; captures that start
 * meanwhile return no frames rather than wait, so a capture can never be
 * blocked by a thread that is forking (which may hold allocator locks by
 * then). The allocation they belong to is still counted, under an empty
 * stack.
 *
 * Locking: none; two atomics, full barriers on both sides (the capture
 * increments then reads the flag, the fork sets the flag then reads the
 * count, so at least one of them sees the other). */
#include <sched.h>
#include "unwind.h"

volatile AO_t unwind_inflight, unwind_forking;

void unwind_fork_prepare(void)
{
    AO_store_full(&unwind_forking, 1);
    while (AO_load_full(&unwind_inflight) != 0)
        sched_yield();
}

void unwind_fork_done(void)
{
    AO_store_full(&unwind_forking, 0);
}
