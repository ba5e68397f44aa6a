/* mprof.h: heap-profile sampling, stack buckets and profile cycles
 * (mprof.c; Go: runtime/mprof.go and the sampling half of malloc.go).
 *
 * How the heap uses it. Each thread cache keeps a byte countdown drawn by
 * mprof_next_sample; every allocation subtracts its rounded size, and when
 * the countdown runs out the slow path calls mprof_alloc and draws again
 * (rate 1 samples every allocation, rate 0 none). Frees of sampled objects,
 * explicit or by the sweeper, call mprof_free. The collector calls
 * mprof_next_cycle at mark termination, mprof_flush after restarting the
 * world and, for gh_gc, mprof_post_sweep once its sweep is done. The
 * profile writers (pprof.c) read the result with mprof_snapshot_take.
 *
 * Why three future slots: an allocation is known at once, but its free is
 * only discovered when the sweeper gets to it. Counting both immediately
 * would bias the profile toward allocations, so each bucket keeps a
 * published "active" record plus future[3], and the global cycle C (bumped
 * at mark termination) decides where events go:
 *   allocation during cycle C      -> future[(C+2) % 3]
 *   free found during cycle C      -> future[(C+1) % 3]
 *   mprof_flush (after C began)    folds future[C % 3] into active
 *   mprof_post_sweep               also folds future[(C+1) % 3]
 * So the published profile shows the heap as of the last completed mark
 * termination (after gh_gc: as of that collection), never newer data. */
#ifndef GH_MPROF_H
#define GH_MPROF_H

#include <stddef.h>
#include <stdint.h>
#include "atomic.h"

/* Frames kept per sample (Go's maxStack). */
#define MPROF_MAX_STACK 32

/* MemProfileRate in bytes: on average one sample per mprof_rate bytes
 * allocated; 1 samples everything, 0 nothing. Starts at 524288 and is set
 * from opts.memprofilerate by mprof_init, or by gh_set_mem_profile_rate.
 * Read it with AO_load; tools assume it is set once, early. */
extern volatile AO_t mprof_rate;

/* mprof_init copies opts.memprofilerate into mprof_rate unless
 * gh_set_mem_profile_rate was called first. Call after options_init;
 * idempotent. */
void mprof_init(void);

/* mprof_next_sample returns how many bytes to allocate before the next
 * sample: an exponential draw with mean mprof_rate (Go's fastexprand: q
 * uniform in [1, 2^26], int(-ln(q / 2^26) * rate) + 1, rate capped at
 * 0x7000000). Rate 1 returns 0 (sample every allocation), rate 0 returns
 * INT64_MAX. *rng is the caller's per-thread xorshift state; 0 means
 * unseeded and is seeded here. Never fails, takes no lock. */
int64_t mprof_next_sample(uint64_t *rng);

/* mprof_alloc records that p was just allocated with rounded size `size`
 * and its sample countdown expired: it captures the caller's stack (up to
 * MPROF_MAX_STACK return addresses, with goheap's own frames up to and
 * including the gh_* or malloc-family entry point dropped), adds
 * {1 object, size bytes} to the bucket of (stack, size) and remembers
 * p -> bucket for mprof_free. Call it with no heap lock held. A nested call
 * on the same thread (libunwind may call malloc) is skipped. If bucket
 * memory cannot be obtained the sample is dropped. Returns 1 if the
 * sample was recorded (the heap then counts it on the span), else 0. */
int mprof_alloc(void *p, size_t size);

/* mprof_free: p (rounded size `size`) is being freed, explicitly or by the
 * sweeper. If p was sampled its bucket gets {1 free, size bytes} and p is
 * forgotten; otherwise it returns quickly without taking a lock. Safe from
 * any thread, including the sweeper while the world is stopped; not from
 * a signal handler. Returns 1 if p was a sampled object, else 0. */
int mprof_free(void *p, size_t size);

/* mprof_lock / mprof_unlock take and release the profile lock (a spin
 * lock, a leaf in lock.h's order) for the collector, which holds it from
 * before stopping the world until after restarting it, so that no stopped
 * thread can hold it. While lock_held_all is set on the calling thread,
 * the other mprof_* functions run without locking. */
void mprof_lock(void);
void mprof_unlock(void);

/* mprof_next_cycle: at mark termination, world stopped: C++. */
void mprof_next_cycle(void);

/* mprof_flush: after the world restarts, fold future[C%3] into the
 * published profile. A second call in the same cycle does nothing. */
void mprof_flush(void);

/* mprof_post_sweep: after gh_gc has finished sweeping, also fold
 * future[(C+1)%3], so the profile describes the heap as of that GC. */
void mprof_post_sweep(void);

/* One bucket as Go's runtime.MemProfileRecord: raw sample sums (not
 * scaled by the rate), bytes are rounded object sizes. */
struct mprof_record {
    int64_t alloc_objects;
    int64_t alloc_bytes;
    int64_t free_objects;
    int64_t free_bytes;
    int nstk;                            /* frames in stk */
    uintptr_t stk[MPROF_MAX_STACK];      /* return addresses, innermost first */
};

/* A copy of every bucket, taken under the profile lock and read without
 * it. rec and bytes belong to the snapshot (memory from os_reserve). */
struct mprof_snapshot {
    struct mprof_record *rec;
    size_t n;
    size_t bytes;
};

/* mprof_snapshot_take copies the published profile with Go's MemProfile
 * rules and inuseZero = true (every bucket, even fully freed ones): it
 * first folds future[C%3] (in case the caller runs between next_cycle and
 * flush), and if no bucket has published data yet (no GC so far) it folds
 * all three future slots, so programs that never collect still get a
 * profile. Returns 0, or -1 with errno = ENOMEM. */
int mprof_snapshot_take(struct mprof_snapshot *s);

/* mprof_snapshot_release unmaps a snapshot's memory. */
void mprof_snapshot_release(struct mprof_snapshot *s);

/* mprof_set_sample_hook installs fn (NULL removes it). mprof_alloc calls
 * it after every recorded sample, outside the profile lock, with sampling
 * disabled on the calling thread, passing the estimated bytes allocated so
 * far (each sample unsampled as the profile writers do). pprof.c uses it
 * for GHHEAPPROFILE_INTERVAL. */
void mprof_set_sample_hook(void (*fn)(uint64_t est_bytes));

/* mprof_unsample scales a raw (count, bytes) pair by the sampling rate as
 * Go's pprof writers do: with avg = bytes/count, scale = 1/(1 - e^(-avg/
 * rate)), results are truncated count*scale and bytes*scale. count or
 * bytes 0 gives 0, 0; rate <= 1 leaves them unchanged. */
void mprof_unsample(int64_t count, int64_t bytes, int64_t rate, int64_t *ucount, int64_t *ubytes);

#endif
