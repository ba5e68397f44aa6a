/* gc.h: the collector's cycle driver (gc.c; Go: mgc.go). */
#ifndef GH_GC_H
#define GH_GC_H

#include <stdint.h>
#include <stddef.h>
#include "atomic.h"

/* Nonzero while a cycle is marking, from its first stop of the world to
 * its last (set and cleared with every allocator lock held): new spans
 * start black, caches mark the free slots of spans they take, frees mark,
 * and sweeping keeps marks (sweep.c). */
extern volatile AO_t gc_phase_marking;
static inline int gc_marking(void) { return (int)AO_load(&gc_phase_marking); }

/* The heap size at which the next cycle starts (pacer's trigger). */
extern volatile AO_t gc_trigger_bytes;

/* gc_init starts the collector's state from the options (lazily, once). */
void gc_init(void);

/* gc_maybe_start starts a cycle if heap_live, plus the bytes about to be
 * allocated, reaches the trigger (so one large allocation cannot carry the
 * heap far past the goal): the collector thread runs it, the caller waits
 * (briefly) for its mark to begin; with GODEBUG=gcstoptheworld=1 the
 * caller runs it at once. While a cycle marks, the caller assists: it
 * waits in proportion to how far the heap has run ahead of the marker.
 * Called by allocation slow paths with no allocator lock held. */
void gc_maybe_start(uintptr_t bytes);

/* gc_spawn starts a detached thread of the runtime's own running fn;
 * returns 0 or -1. fn must call gc_thread_enter first. Only threads of the
 * program call it: pthread_create allocates (the new thread's TLS vector,
 * through the malloc shim), and a runtime thread that allocates has a
 * cache it never hands back. */
int gc_spawn(void *(*fn)(void *), void *arg);

/* gc_thread_enter makes the calling thread a runtime thread: it leaves the
 * registry (its stack holds no roots and it is never stopped; it only
 * ever waits for allocator locks, which the collector holds while the
 * world is stopped) and blocks every signal, so that the program's
 * handlers never run on it. With idle set it also runs at the lowest
 * priority (nice 19): background sweeping and scavenging should take as
 * little time from the program as they can, and what they leave undone
 * is done by allocation and by the next cycle's start. */
void gc_thread_enter(int idle);

/* gc_lock_allocator takes every allocator lock in lock.h's order (the
 * cache list, the central lists, the page heap, finalizers, profiler);
 * gc_unlock_allocator drops them. For the stop of the world and for fork
 * handlers (here and in shim.c). */
void gc_lock_allocator(void);
void gc_unlock_allocator(void);

/* gc_find_unreachable marks the heap from the roots with the world
 * stopped and calls visit(obj, size, arg) for every allocated object the
 * mark did not reach, with the world still stopped (visit must not
 * allocate, lock or block). Nothing is freed: the leak checker's walk. */
void gc_find_unreachable(void (*visit)(void *obj, size_t size, void *arg), void *arg);

#endif
