/* threads.h: the collector's view of threads (threads.c; Go: the stop-the-
 * world half of proc.go and the stack half of markroot in mgcmark.go).
 *
 * Every thread whose stack may hold the only pointer to a heap object must
 * be registered. Registration is automatic for threads made with
 * pthread_create once goheap is loaded (threads.c defines pthread_create
 * and wraps the real one), for the thread that first initialises goheap,
 * and for every thread that allocates (the allocator calls
 * threads_register_self when it makes the thread's cache). Other threads
 * call gh_register_thread.
 *
 * Stopping the world uses two signals, as bdwgc does on Linux:
 *   SIGPWR   suspends: the handler publishes the thread's stack pointer and
 *            registers, acknowledges, and waits for the restart;
 *   SIGXCPU  restarts it.
 * A program must not block these signals in registered threads (a stop
 * then waits for ever, printing a warning after ten seconds), nor install
 * its own handlers for them. Interrupted sleeps (nanosleep, poll with a
 * timeout, ...) may return early with EINTR; other system calls restart
 * (SA_RESTART).
 *
 * After fork the child's registry holds only the thread that forked, with
 * the world running, even if that thread had stopped it in the parent. */
#ifndef GH_THREADS_H
#define GH_THREADS_H

#include <stdint.h>

/* threads_init installs the signal handlers, the fork handlers and the
 * thread-exit hook, then registers the calling thread. Idempotent and
 * cheap after the first call; safe before libc's malloc is usable (it
 * allocates nothing from malloc). A recursive call from inside the first
 * one returns at once. */
void threads_init(void);

/* threads_register_self registers the calling thread: it records the
 * thread's stack bounds (from /proc/self/maps, read without allocating)
 * and adds it to the registry. Cheap when already registered (a
 * thread-local test). Returns 0 on success, -1 if the thread is exiting
 * (its exit hook has already run, so it is never registered again) or is
 * inside goheap's own initialisation. Blocks while the world is stopped. */
int threads_register_self(void);

/* threads_unregister_self removes the calling thread from the registry;
 * its stack is no longer scanned. Does nothing if it is not registered.
 * Must not be called by the thread that has stopped the world. Runs
 * automatically when a registered thread exits (return from its start
 * routine, pthread_exit or cancellation). Blocks while the world is
 * stopped. */
void threads_unregister_self(void);

/* threads_stop_world stops every registered thread except the caller, each
 * inside the suspend handler with its registers saved, and returns when all
 * have acknowledged. Threads blocked in system calls are stopped too. Stops
 * are serialised by the world lock; the registry lock stays held until
 * threads_start_world, so no thread can register, unregister or exit while
 * the world is stopped (such a thread waits, stopped). Not reentrant: the
 * caller must call threads_start_world before stopping again. Unregistered
 * threads keep running. */
void threads_stop_world(void);

/* threads_start_world restarts the threads that threads_stop_world
 * stopped and returns once every one has left the suspend handler, so that
 * a following stop cannot be confused with this restart. Caller must have
 * stopped the world. Returns the time (os_nanotime) at which the last
 * thread was released: the end of the pause, whatever the scheduler then
 * takes to run the threads again. */
int64_t threads_start_world(void);

/* threads_world_stopped_by_me reports whether the calling thread currently
 * has the world stopped (for assertions in other modules). */
int threads_world_stopped_by_me(void);

/* threads_each_stack calls fn(lo, hi, arg) for every range the collector
 * must scan for the registered threads (world stopped by the caller):
 *   - each stopped thread's stack, [published sp - 128-byte red zone,
 *     stack base); a thread stopped while on an alternate signal stack
 *     reports that stack from its sp and its whole normal stack;
 *   - each stopped thread's saved general registers (kept in the registry,
 *     not on the stack);
 *   - the caller's own stack from its current sp, with its callee-saved
 *     registers spilled into this function's frame, if it is registered;
 *   - the start argument of each thread that pthread_create has made but
 *     that has not yet begun to run its start routine.
 * A thread's stack range reaches up to the top of glibc's stack block, so
 * its static TLS and thread-specific data are scanned too. Ranges are
 * word-aligned; lo < hi. */
void threads_each_stack(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);

/* threads_stack_bytes is the number of stack bytes (the first, third and
 * alternate-stack ranges above) reported by the last threads_each_stack:
 * the pacer's stackScan. */
uint64_t threads_stack_bytes(void);

/* threads_count is the number of registered threads (including the caller
 * if it is registered). Not counted: threads pthread_create has made that
 * have not yet registered themselves. */
int threads_count(void);

#endif
