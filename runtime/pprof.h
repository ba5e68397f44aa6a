/* pprof.h: heap-profile writers (pprof.c; Go: runtime/pprof's
 * writeHeapInternal, protomem.go, proto.go and protobuf.go).
 *
 * Two formats, both read by `go tool pprof`:
 *   debug = 0  gzipped profile.proto: sample types alloc_objects/count,
 *              alloc_space/bytes, inuse_objects/count, inuse_space/bytes,
 *              period space/bytes = MemProfileRate, values unsampled,
 *              a numeric "bytes" label per sample, one mapping per
 *              executable line of /proc/self/maps (main binary first, GNU
 *              build-id from the file), locations at call PCs with
 *              function names and file:line read from the binaries (so
 *              `go tool pprof -list FUNC` shows source lines without the
 *              binary at hand), and drop_frames naming goheap's entry
 *              points.
 *   debug = 1  Go's legacy text: header, records sorted by in-use bytes
 *              with "#" lines (function+offset and file:line), the
 *              "# runtime.MemStats" block, MaxRSS, then MAPPED_LIBRARIES:
 *              and /proc/self/maps so that pprof can symbolize PIE code.
 *
 * The writers allocate nothing from the heap (their memory comes from
 * os_reserve and is unmapped before they return), so they never show in a
 * profile and may run from an exit handler or from mprof_alloc's hook. */
#ifndef GH_PPROF_H
#define GH_PPROF_H

#include <stddef.h>
#include <stdint.h>

/* pprof_write_heap writes the heap profile to fd in the format selected by
 * debug (0 proto, otherwise text). With allocs != 0 the proto profile's
 * default sample type is alloc_space (Go's "allocs" profile). Returns 0,
 * or -1 with errno set (ENOMEM, or the failing write's errno). */
int pprof_write_heap(int fd, int debug, int allocs);

/* pprof_lookup_symbols names the function that contains each of
 * addrs[0..n) (any order, repeats allowed), from the symbol tables of the
 * loaded objects' files, and calls fn(addr, name, arg) for each address
 * it could name, in the order given; name lives only during the call.
 * Used by /debug/pprof/symbol. Like the writers it takes its memory from
 * os_reserve. Returns 0, or -1 with errno = ENOMEM (then fn was not
 * called). */
int pprof_lookup_symbols(const uintptr_t *addrs, size_t n,
                         void (*fn)(uintptr_t addr, const char *name, void *arg), void *arg);

/* pprof_init acts on GHHEAPPROFILE=path: registers an exit handler that
 * writes a proto profile to path, and with GHHEAPPROFILE_INTERVAL=N also
 * writes path.0001.heap, path.0002.heap, ... each time the estimated bytes
 * allocated (the unsampled sum of all samples, checked from mprof_alloc's
 * sample hook) pass another multiple of N. Idempotent; runs by itself as a
 * constructor when the library is loaded. Failures to write are reported
 * once per file on stderr. */
void pprof_init(void);

/* pprof_format_float formats v as Go's %v of a float64 does (shortest
 * digits that read back as v; exponent form, as in 1.234e-05 or
 * 1.234567e+06, when the decimal exponent is below -4 or at least 6),
 * writing at most n-1 characters and a NUL. Returns the length. */
size_t pprof_format_float(char *buf, size_t n, double v);

#endif
