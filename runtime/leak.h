/* leak.h: the leak checker, GODEBUG=gcleak=report (leak.c).
 *
 * In leak mode the collector never runs by itself; the malloc shim
 * records the allocation stack of every object it hands out and forgets it
 * when the object is freed, and gh_report_leaks (and the exit handler)
 * marks the heap from every root with the world stopped and reports the
 * objects the mark did not reach, grouped by allocation stack. */
#ifndef GH_LEAK_H
#define GH_LEAK_H

#include <stddef.h>
#include <stdint.h>

/* leak_init reads opts.gcleak once; in leak mode it turns automatic
 * collection off (as GOGC=off) and registers the exit report. Returns 1
 * in leak mode, else 0. Idempotent; runs by itself as a constructor. */
int leak_init(void);

/* leak_record notes that p (size bytes asked for) was just allocated by a
 * malloc-family call whose return address is caller: it captures the
 * stack (libunwind) from that caller outward. A nested call on the same
 * thread (libunwind may allocate) records no stack. If table memory runs
 * out the object is simply not recorded (it is then reported under an
 * unknown stack). Thread-safe; takes the leak lock. */
void leak_record(void *p, size_t size, uintptr_t caller);

/* leak_forget drops p's record, if any (p is being freed or moved by a
 * malloc-family call whose return address is caller), keeping it with
 * the freeing stack in the ring of recently freed objects. Returns 1 if
 * p was a recorded live object, else 0 (then p is either an object the
 * shim did not hand out in leak mode, or a bad pointer). */
int leak_forget(void *p, uintptr_t caller);

/* leak_explain is called, in leak mode, just before goheap reports p as an
 * invalid argument of fn (free or realloc): it prints on stderr what the
 * tables know of the object p points into, "goheap: ADDR: ..." lines with
 * the stack that allocated it and, for a freed one, the stack that freed
 * it. Prints nothing outside leak mode or with GODEBUG=invalidptr=0. */
void leak_explain(const void *p, const char *fn);

/* leak_lock / leak_unlock take and release the leak lock, for the
 * shim's fork handlers (the lock comes before gc.lock in lock.h's order:
 * a report holds it while it collects). */
void leak_lock(void);
void leak_unlock(void);

#endif
