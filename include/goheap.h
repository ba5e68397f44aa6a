/* goheap.h: the Go runtime's garbage-collected heap, for C programs.
 *
 * goheap gives a C program Go's allocator (size classes, spans, per-thread
 * caches), a conservative tracing collector paced by GOGC, Go's gctrace
 * lines, runtime.MemStats and heap profiles that `go tool pprof` reads.
 *
 * Every function here is safe to call from any thread. The library starts
 * itself on first use; nothing needs to be called first. Threads created
 * with pthread_create after the library is loaded are registered with the
 * collector automatically.
 *
 * Environment variables are documented at the end of this file. */
#ifndef GOHEAP_H
#define GOHEAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GH_VERSION_MAJOR 0
#define GH_VERSION_MINOR 1
#define GH_VERSION_PATCH 0

#define GH_API __attribute__((visibility("default")))
#define GH_MALLOC_ATTR __attribute__((malloc, warn_unused_result))
#define GH_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
#define GH_ALLOC_SIZE2(n, m) __attribute__((alloc_size(n, m)))

/* ---- Allocation ------------------------------------------------------- */

/* gh_malloc returns size bytes of zeroed memory that the collector scans
 * for pointers: whatever it points to stays alive while it is reachable.
 * Objects up to 32 KiB come from Go's size classes; larger ones get pages
 * of their own. gh_malloc(0) returns a unique pointer that may be freed.
 * Alignment is at least 8 bytes, and a power-of-two size up to 8 KiB is
 * aligned to its size. On failure (size too large, no memory) it returns
 * NULL with errno = ENOMEM. */
GH_API void *gh_malloc(size_t size) GH_MALLOC_ATTR GH_ALLOC_SIZE(1);

/* gh_malloc_atomic is gh_malloc for memory that never holds pointers
 * (strings, numbers, buffers): the collector keeps the object alive while
 * it is reachable but never scans it. Its contents are unspecified (not
 * zeroed). Failure as gh_malloc. */
GH_API void *gh_malloc_atomic(size_t size) GH_MALLOC_ATTR GH_ALLOC_SIZE(1);

/* gh_calloc returns zeroed, scanned memory for n objects of size bytes.
 * If n * size overflows it returns NULL with errno = ENOMEM. */
GH_API void *gh_calloc(size_t n, size_t size) GH_MALLOC_ATTR GH_ALLOC_SIZE2(1, 2);

/* gh_realloc resizes p to size bytes, keeping the contents up to the
 * smaller of the two sizes; memory past the old size is zeroed when p is
 * scanned. It grows in place when the object's size class (or page run)
 * already has room. gh_realloc(NULL, n) is gh_malloc(n); gh_realloc(p, 0)
 * frees p and returns a new zero-size object. The result keeps p's kind
 * (scanned or atomic). p must be the base of a live object, otherwise see
 * gh_free. On failure it returns NULL with errno = ENOMEM and p is left
 * untouched. */
GH_API void *gh_realloc(void *p, size_t size) GH_ALLOC_SIZE(2) __attribute__((warn_unused_result));

/* gh_free makes the object at p reusable at once. gh_free(NULL) does
 * nothing. Freeing is optional: the collector reclaims unreachable objects.
 * If p is not the base of a live goheap object (a foreign pointer, an
 * interior pointer, a double free) gh_free prints "goheap: ..." naming the
 * address and the error, then aborts; with GODEBUG=invalidptr=0 it prints
 * nothing and ignores the call. */
GH_API void gh_free(void *p);

/* gh_aligned_alloc returns scanned, zeroed memory of size bytes aligned to
 * alignment, which must be a power of two (else NULL with errno = EINVAL).
 * Any size is accepted (C17 semantics). Free it with gh_free. */
GH_API void *gh_aligned_alloc(size_t alignment, size_t size) GH_MALLOC_ATTR GH_ALLOC_SIZE(2);

/* gh_posix_memalign stores in *out an object as gh_aligned_alloc would and
 * returns 0, or returns EINVAL (alignment not a power of two multiple of
 * sizeof(void *)) or ENOMEM, leaving *out untouched. */
GH_API int gh_posix_memalign(void **out, size_t alignment, size_t size);

/* gh_usable_size returns the number of bytes usable at p (its size class
 * or page run size): at least what was asked for. gh_usable_size(NULL) is
 * 0. A pointer that is not the base of a live object is treated as by
 * gh_free (report and abort, or 0 with GODEBUG=invalidptr=0). */
GH_API size_t gh_usable_size(const void *p);

/* ---- Collector control ------------------------------------------------ */

/* gh_gc runs a full blocking collection, as Go's runtime.GC: when it
 * returns, the cycle it started has finished marking and sweeping, and the
 * heap profile describes the heap as of this collection. */
GH_API void gh_gc(void);

/* gh_set_gc_percent sets GOGC (the heap may grow by percent/100 of the live
 * heap before the next collection) and returns the previous setting. A
 * negative value turns automatic collection off (returned as -1). */
GH_API int gh_set_gc_percent(int percent);

/* gh_set_memory_limit sets the soft memory limit in bytes (Go's
 * debug.SetMemoryLimit) and returns the previous one. A negative value
 * only queries. INT64_MAX means no limit. */
GH_API int64_t gh_set_memory_limit(int64_t limit);

/* gh_free_os_memory forces a collection and returns as much free memory to
 * the operating system as possible (Go's debug.FreeOSMemory). */
GH_API void gh_free_os_memory(void);

/* ---- Roots and threads ------------------------------------------------ */

/* gh_add_roots makes [lo, hi) a root range: every aligned word in it that
 * points into a goheap object keeps that object alive. The range must stay
 * mapped until gh_remove_roots is called with the same bounds. Returns 0,
 * or -1 with errno = ENOMEM when the root table is full. */
GH_API int gh_add_roots(void *lo, void *hi);

/* gh_remove_roots removes every root range that lies within [lo, hi). */
GH_API void gh_remove_roots(void *lo, void *hi);

/* gh_register_thread registers the calling thread (made by something other
 * than pthread_create, or before goheap was loaded) so that its stack and
 * registers are scanned. Calling it again is harmless. Returns 0 or -1. */
GH_API int gh_register_thread(void);

/* gh_unregister_thread undoes gh_register_thread; call it before the
 * thread's stack goes away. Pointers held only by that thread are then no
 * longer seen. */
GH_API void gh_unregister_thread(void);

/* ---- Finalizers ------------------------------------------------------- */

typedef void (*gh_finalizer_fn)(void *obj, void *arg);

/* gh_set_finalizer arranges, with Go's runtime.SetFinalizer semantics, for
 * fn(obj, arg) to run once on goheap's finalizer thread after obj becomes
 * unreachable. obj must be the base of a live object. The object (and
 * everything it references) is kept for one more cycle so that fn can use
 * it; it is reclaimed in a later cycle unless fn made it reachable again.
 * fn == NULL removes the finalizer. Returns 0, or -1 with errno = EINVAL
 * when obj is not the base of a goheap object. */
GH_API int gh_set_finalizer(void *obj, gh_finalizer_fn fn, void *arg);

/* gh_keep_alive marks p as reachable up to the point of the call, as Go's
 * runtime.KeepAlive: use it so that a finalizer cannot run while the
 * caller still works with something p owns. */
GH_API void gh_keep_alive(const void *p);

/* ---- Statistics ------------------------------------------------------- */

typedef struct gh_size_stats {
    uint32_t size;    /* Size: the largest object size in this class */
    uint64_t mallocs; /* Mallocs: objects allocated in this class */
    uint64_t frees;   /* Frees: objects freed in this class */
} gh_size_stats;

/* gh_mem_stats is Go's runtime.MemStats, field for field, in snake_case.
 * All byte counts are bytes; see go doc runtime.MemStats for the meanings. */
typedef struct gh_mem_stats {
    uint64_t alloc;          /* Alloc: bytes of allocated heap objects (= heap_alloc) */
    uint64_t total_alloc;    /* TotalAlloc: cumulative bytes allocated */
    uint64_t sys;            /* Sys: all memory obtained from the OS (sum of *_sys) */
    uint64_t lookups;        /* Lookups: always 0 */
    uint64_t mallocs;        /* Mallocs: cumulative objects allocated */
    uint64_t frees;          /* Frees: cumulative objects freed */
    uint64_t heap_alloc;     /* HeapAlloc: bytes in allocated objects, incl. unswept garbage */
    uint64_t heap_sys;       /* HeapSys: heap address space obtained (in use, idle, released) */
    uint64_t heap_idle;      /* HeapIdle: bytes in free page runs */
    uint64_t heap_inuse;     /* HeapInuse: bytes in in-use spans */
    uint64_t heap_released;  /* HeapReleased: idle bytes returned to the OS */
    uint64_t heap_objects;   /* HeapObjects: mallocs - frees */
    uint64_t stack_inuse;    /* StackInuse: bytes of stacks goheap manages (0: C threads own theirs) */
    uint64_t stack_sys;      /* StackSys: stack memory obtained by goheap */
    uint64_t mspan_inuse;    /* MSpanInuse: bytes of span structures in use */
    uint64_t mspan_sys;      /* MSpanSys: bytes mapped for span structures */
    uint64_t mcache_inuse;   /* MCacheInuse: bytes of thread caches in use */
    uint64_t mcache_sys;     /* MCacheSys: bytes mapped for thread caches */
    uint64_t buck_hash_sys;  /* BuckHashSys: profiling bucket memory */
    uint64_t gc_sys;         /* GCSys: collector metadata (bitmaps, arena maps, mark stacks) */
    uint64_t other_sys;      /* OtherSys: other runtime memory */
    uint64_t next_gc;        /* NextGC: the heap goal of the next cycle */
    uint64_t last_gc;        /* LastGC: end of the last collection, ns since 1970 */
    uint64_t pause_total_ns; /* PauseTotalNs: total stop-the-world pause */
    uint64_t pause_ns[256];  /* PauseNs: recent pauses, newest at [(num_gc+255)%256] */
    uint64_t pause_end[256]; /* PauseEnd: end times of those pauses, ns since 1970 */
    uint32_t num_gc;         /* NumGC: completed cycles */
    uint32_t num_forced_gc;  /* NumForcedGC: cycles started by gh_gc */
    double gc_cpu_fraction;  /* GCCPUFraction: share of CPU used by the collector */
    int enable_gc;           /* EnableGC: always true */
    int debug_gc;            /* DebugGC: always false */
    gh_size_stats by_size[61]; /* BySize: per size class 0..60 */
} gh_mem_stats;

/* gh_read_mem_stats fills *m with a consistent snapshot taken with the
 * world stopped, as Go's runtime.ReadMemStats. */
GH_API void gh_read_mem_stats(gh_mem_stats *m);

/* gh_heap_inuse_peak returns the highest heap_inuse (bytes in in-use
 * spans) seen since start or since the last reset; with reset != 0 it
 * then resets the mark to the current heap_inuse. Updated on every span
 * allocation, so no peak is missed; costs no stop. */
GH_API uint64_t gh_heap_inuse_peak(int reset);

/* ---- Profiling -------------------------------------------------------- */

/* gh_set_mem_profile_rate sets MemProfileRate (on average one sampled
 * allocation per rate bytes; 1 records every allocation, 0 turns profiling
 * off) and returns the previous value. Set it once, early. */
GH_API int gh_set_mem_profile_rate(int rate);

/* gh_write_heap_profile writes the heap profile to fd: debug = 0 writes a
 * gzipped profile.proto (go tool pprof's native format), debug = 1 Go's
 * legacy text format. In-use figures describe the heap as of the last
 * completed collection, allocation figures are cumulative, as in Go.
 * Returns 0, or -1 with errno set when writing failed. */
GH_API int gh_write_heap_profile(int fd, int debug);

/* ---- Leak checking ---------------------------------------------------- */

/* gh_report_leaks marks the heap from every root with the world stopped
 * (nothing is freed) and reports on stderr, in LeakSanitizer's style, the
 * objects that are unreachable and were never freed: grouped by
 * allocation stack, direct leaks (no other leaked object points to them)
 * before indirect ones, biggest first; nothing is printed when there is
 * no leak. With profile_fd >= 0 the same groups are also written there as
 * a heap profile in Go's legacy text format ("objects" and "space" sample
 * types), which `go tool pprof` reads. Allocation stacks are known for
 * objects allocated through the malloc family of libgoheap-malloc while
 * GODEBUG=gcleak=report is on; other leaks are counted under no stack. In
 * the default mode, garbage that the next collection would have freed is
 * reported too. Returns the number of bytes leaked (as asked for), or -1
 * with errno set (ENOMEM, or the error of writing the profile). */
GH_API int64_t gh_report_leaks(int profile_fd);

/* ---- Environment ------------------------------------------------------ *
 * Read once, at the first call into goheap. A malformed value is reported
 * once on stderr ("goheap: ...") and the default is used.
 *
 * GOGC=N|off          collection target percentage (default 100); off
 *                     disables automatic collection.
 * GOMEMLIMIT=N[B|KiB|MiB|GiB|TiB]|off
 *                     soft memory limit (default off).
 * GCTRACE=1           same as GODEBUG=gctrace=1.
 * GODEBUG=k=v,...     Go's runtime knobs; unknown keys are ignored:
 *   gctrace=1|2       one line per collection on stderr, Go's format.
 *   gccheckmark=1     verify after each cycle that marking missed nothing.
 *   gcstoptheworld=1  collect with the world stopped throughout.
 *   gcprocs=N         marker processes per concurrent cycle (default: a
 *                     quarter of the CPUs, rounded, at least 1).
 *   invalidptr=0      ignore invalid gh_free/gh_realloc pointers instead of
 *                     aborting (default 1).
 *   gcleak=report     leak checking: no automatic collection (as GOGC=off),
 *                     the malloc shim records every allocation's stack,
 *                     and at exit gh_report_leaks(-1) runs, writing the
 *                     profile to $GHHEAPPROFILE.leak when GHHEAPPROFILE is
 *                     set. The exit status is not changed.
 *   memprofilerate=N  MemProfileRate at start-up (default 524288).
 *   scavtrace=1       one scavenger line per cycle on stderr.
 * GHHEAPPROFILE=path  write a heap profile to path at exit.
 * GHHEAPPROFILE_INTERVAL=bytes
 *                     also write one every N bytes allocated.
 * GHPPROF_ADDR=host:port
 *                     serve /debug/pprof/ over HTTP (loopback by default).
 *
 * The malloc family (libgoheap-malloc: LD_PRELOAD=libgoheap-malloc.so, or
 * link with -lgoheap-malloc) runs any C or C++ program on goheap, in one
 * of three modes:
 *   default           free is honoured, and the collector also reclaims
 *                     what the program leaked. The roots are then every
 *                     private mapping of the process (re-read from
 *                     /proc/self/maps at each cycle) besides goheap's own:
 *                     data and bss, stacks, anonymous mmaps, other
 *                     allocators' arenas, TLS, stacks of threads made
 *                     by clone(2). A pointer the collector cannot see
 *                     still lets its object be freed: one kept only in a
 *                     shared mapping, a file, the kernel (epoll_event
 *                     data, aio, io_uring user data), the registers of a
 *                     thread made by clone(2) (such a thread is not
 *                     stopped either, so it must not move pointers while
 *                     a cycle runs), an unaligned word (packed structs),
 *                     or one hidden by arithmetic (XOR lists, tags in the
 *                     high bits, a pointer below the object's start).
 *                     GOGC=off turns collection off.
 *   GODEBUG=gcleak=report
 *                     the leak checker (see gcleak above).
 *   GOGC=off          a plain allocator with statistics: free alone
 *                     recycles memory; gctrace, MemStats and profiles work.
 * malloc, realloc and memalign return scanned memory that is not zeroed
 * (as glibc's is not; calloc zeroes); realloc(p, 0) frees p and returns NULL, and memalign and aligned_alloc
 * round a non-power-of-two alignment up, as glibc does. The family is
 * not async-signal-safe, as glibc's is not: do not call it from a signal
 * handler that may interrupt it. fork() is safe (atfork handlers take
 * every allocator lock). Invalid frees abort as gh_free does; under
 * GODEBUG=gcleak=report the report first gives the stacks that allocated
 * (and freed) the object. The collector stops threads with SIGPWR: a
 * handler the program installs for it with sigaction, signal or
 * bsd_signal is kept aside (reported back as installed) and never
 * called.
 */

#ifdef __cplusplus
}
#endif

#endif /* GOHEAP_H */
