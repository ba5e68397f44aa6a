/* lock.h: allocator locks, and the collector's way past them.
 *
 * Lock order (take left before right; never the reverse):
 *   gc.lock  ->  caches.lock  ->  centrals[0..135].lock (ascending)  ->  heap.lock
 *   ->  mprof / finalizer / roots / threads locks (leaves)
 *
 * Before stopping the world the collector takes every allocator lock, so no
 * stopped thread can hold one, and sets lock_held_all; while it is set on
 * the collector's thread, lock_take and lock_drop do nothing, and the
 * allocator's own functions can be reused with the world stopped. */
#ifndef GH_LOCK_H
#define GH_LOCK_H

#include <pthread.h>

extern __thread int lock_held_all __attribute__((tls_model("initial-exec")));

static inline void lock_take(pthread_mutex_t *m)
{
    if (!lock_held_all)
        pthread_mutex_lock(m);
}

static inline void lock_drop(pthread_mutex_t *m)
{
    if (!lock_held_all)
        pthread_mutex_unlock(m);
}

#endif
