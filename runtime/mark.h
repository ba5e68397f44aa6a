/* mark.h: conservative marking (mark.c; Go: mgcmark.go, mgcwork.go). */
#ifndef GH_MARK_H
#define GH_MARK_H

#include <stdint.h>
#include <stddef.h>

/* mark_begin prepares an empty grey stack and zeroed counters. */
void mark_begin(void);

/* mark_range scans [lo, hi) conservatively: every 8-byte aligned word that
 * points into an allocated object (base or interior) marks that object
 * and, unless it is noscan, queues it for scanning. */
void mark_range(uintptr_t lo, uintptr_t hi);

/* mark_contents queues [lo, hi) for scanning without marking anything
 * (the contents of finalizable objects); unlike other pushes it never
 * drops the range on overflow. */
void mark_contents(uintptr_t lo, uintptr_t hi);

/* mark_object marks the object at base p (if it is one) and queues it. */
void mark_object(uintptr_t p);

/* mark_drain scans until the grey stack is empty, recovering from a grey
 * stack overflow by rescanning marked objects (bdwgc's approach). */
void mark_drain(void);

/* Bytes marked (heap_marked) and bytes scanned since mark_begin. */
uint64_t mark_bytes_marked(void);
uint64_t mark_bytes_scanned(void);

/* mark_set_stack_limit caps the grey stack at n entries (tests use it to
 * force overflows); 0 restores the default. */
void mark_set_stack_limit(size_t n);

#endif
