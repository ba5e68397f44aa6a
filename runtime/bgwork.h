/* bgwork.h: a runtime thread that sleeps until it is woken and then does
 * one round of work. See bgwork.c. */
#ifndef GH_BGWORK_H
#define GH_BGWORK_H

#include <pthread.h>
#include "atomic.h"

struct bgwork {
    void (*round)(void);          /* fixed: one round of the work */
    pthread_mutex_t lock;         /* a leaf; its user may guard a little more with it */
    pthread_cond_t cond;
    int wake;                     /* lock: a round was asked for */
    volatile AO_t started;        /* the thread: 0 none, 1 starting, 2 running */
};

#define BGWORK_INIT(fn) \
    { .round = (fn), .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER }

/* bgwork_start starts w's thread if it is not running (from a thread of
 * the program: see gc_spawn). If it cannot be made, w stays without one:
 * wake-ups are then dropped, and the work is left to its other doers. */
void bgwork_start(struct bgwork *w);
/* bgwork_wake asks w's thread for a round; a no-op without a thread. */
void bgwork_wake(struct bgwork *w);
/* bgwork_fork_child forgets w's thread in a fork child (which has only
 * the forking thread); the next bgwork_start makes a new one. */
void bgwork_fork_child(struct bgwork *w);

#endif
