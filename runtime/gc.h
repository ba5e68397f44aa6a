/* gc.h: the collector's cycle driver (gc.c; Go: mgc.go). */
#ifndef GH_GC_H
#define GH_GC_H

#include <stdint.h>
#include <stddef.h>
#include "atomic.h"

/* Nonzero while a cycle is marking: new spans start black, frees mark. */
extern volatile AO_t gc_phase_marking;
static inline int gc_marking(void) { return (int)AO_load(&gc_phase_marking); }

/* The heap size at which the next cycle starts (pacer's trigger). */
extern volatile AO_t gc_trigger_bytes;

/* gc_init starts the collector's state from the options (lazily, once). */
void gc_init(void);

/* gc_maybe_start runs a cycle if heap_live, plus the bytes about to be
 * allocated, reaches the trigger (so one large allocation cannot carry the
 * heap far past the goal). Called by allocation slow paths with no
 * allocator lock held. */
void gc_maybe_start(uintptr_t bytes);

/* gc_find_unreachable marks the heap from the roots with the world
 * stopped and calls visit(obj, size, arg) for every allocated object the
 * mark did not reach, with the world still stopped (visit must not
 * allocate, lock or block). Nothing is freed: the leak checker's walk. */
void gc_find_unreachable(void (*visit)(void *obj, size_t size, void *arg), void *arg);

#endif
