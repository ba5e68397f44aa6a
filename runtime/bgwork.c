/* bgwork.c: the runtime's background threads (the sweeper, sweep.c, and
 * the scavenger, scavenge.c): each sleeps on its condition variable until
 * woken, then runs one round with no lock held. Wake-ups that come during
 * a round are folded into one more round. The threads run at the lowest
 * priority and are never stopped (gc_thread_enter).
 *
 * Locking: w->lock guards w->wake; it is a leaf. */
#include "bgwork.h"
#include "gc.h"

static void *bgwork_main(void *arg)
{
    struct bgwork *w = arg;
    gc_thread_enter(1);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->wake)
            pthread_cond_wait(&w->cond, &w->lock);
        w->wake = 0;
        pthread_mutex_unlock(&w->lock);
        w->round();
        pthread_mutex_lock(&w->lock);
    }
    return NULL;
}

void bgwork_start(struct bgwork *w)
{
    if (AO_load_acquire(&w->started) != 0 || !AO_compare_and_swap_full(&w->started, 0, 1))
        return;
    AO_store_release(&w->started, gc_spawn(bgwork_main, w) == 0 ? 2 : 0);
}

void bgwork_wake(struct bgwork *w)
{
    if (AO_load_acquire(&w->started) != 2)
        return;
    pthread_mutex_lock(&w->lock);
    w->wake = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void bgwork_fork_child(struct bgwork *w)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->wake = 0;
    AO_store(&w->started, 0);
}
