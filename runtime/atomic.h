/* atomic.h: the only include of libatomic_ops. Every shared word that more
 * than one thread touches without a lock is an AO_t and is read and written
 * through these calls, each naming its ordering at the call site. */
#ifndef GH_ATOMIC_H
#define GH_ATOMIC_H

#include <atomic_ops.h>
#include <stdint.h>

/* Relaxed helpers for counters that only need atomicity, not ordering. */
static inline void atomic_add(volatile AO_t *p, AO_t v) { AO_fetch_and_add(p, v); }
static inline void atomic_sub(volatile AO_t *p, AO_t v) { AO_fetch_and_add(p, (AO_t)0 - v); }

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
