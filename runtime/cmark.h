/* cmark.h: the concurrent marker (cmark.c): a process forked from the
 * stopped world marks the copy-on-write snapshot of the heap while the
 * program runs, and sends its marks back through a pipe. gc.c drives it;
 * cmark.c's top comment explains why a process. */
#ifndef GH_CMARK_H
#define GH_CMARK_H

#include <stdint.h>

/* What the marker measured. */
struct cmark_result {
    uint64_t marked;     /* bytes of objects it marked reachable */
    uint64_t scanned;    /* bytes it scanned: globals, stacks and heap */
    uint64_t globals;    /* bytes of global roots scanned */
    uint64_t stacks;     /* bytes of thread stacks scanned */
    int64_t cpu_ns;      /* CPU time of the marker processes */
};

/* cmark_start forks the marker from the stopped world: the caller has
 * stopped every registered thread, holds every allocator lock, has set
 * gc_marking() and prepared the roots (roots_prepare). The marker forks
 * workers - 1 helpers (at least one process marks, at most
 * CMARK_MAX_WORKERS); process i of n calls mark_roots(i, n), which must
 * mark its share of the roots and drain, such that the n shares together
 * cover every root, and leave the bytes of globals and stacks (all of
 * them, not its share) in gc.globals_bytes and gc.stack_bytes. The marker
 * then marks every slot that was free in the snapshot and every slot of
 * the spans that busy caches own, and sends the result. Returns 0, or -1
 * with nothing started (no pipe or no process: the caller then marks
 * with the world stopped). */
#define CMARK_MAX_WORKERS 64
int cmark_start(void (*mark_roots)(unsigned part, unsigned parts), unsigned workers);

/* cmark_go lets the marker started by cmark_start begin, once the world
 * runs again (so that the restart does not compete with it). */
void cmark_go(void);

/* cmark_wait blocks until the marker has finished marking (or died), or
 * timeout_ms (-1: no timeout) has passed; world running. Returns 1 when
 * the marker is done, 0 on timeout. */
int cmark_wait(int timeout_ms);

/* cmark_private_bytes returns the memory only the marker holds (its
 * Private_Dirty in /proc): its own bitmaps and grey stack, and the old
 * copy of every page the program has written since the snapshot. 0 if it
 * cannot be read. Call between cmark_wait saying done and cmark_finish,
 * while the marker waits to send its marks. */
uint64_t cmark_private_bytes(void);

/* cmark_finish receives the marker's marks and ORs them into the heap's
 * mark bits (world running: marks only ever grow while a cycle marks),
 * then reaps the process and fills *r. Returns 0, or -1 if the marker
 * failed: its marks may then be incomplete and the caller must mark again
 * with the world stopped. */
int cmark_finish(struct cmark_result *r);

/* GODEBUG=gccheckmark=1 for a concurrent cycle (cmark.c explains why not
 * checkmark.c's re-mark): cmark_check_begin, world stopped before
 * cmark_start, records the snapshot and what mark_roots reaches in it;
 * cmark_check_end, world stopped at mark termination, aborts with a report
 * if a slot reachable at the snapshot or allocated since is unmarked. */
void cmark_check_begin(void (*mark_roots)(void));
void cmark_check_end(void);

/* cmark_fork_child forgets, in a fork child of the program, a marker that
 * belongs to the parent (it closes the pipe). */
void cmark_fork_child(void);

#endif
