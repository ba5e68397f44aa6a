/* malloc_noz.h: what malloc.c offers the C allocation family (shim.c)
 * besides the public gh_* functions. (Not malloc.h: runtime/ is on the
 * include path, and that name belongs to the C library.) See malloc.c for
 * the allocator's overview. */
#ifndef GH_MALLOC_NOZ_H
#define GH_MALLOC_NOZ_H

#include <stddef.h>

/* malloc_noz, malloc_realloc_noz and malloc_aligned_noz are gh_malloc,
 * gh_realloc and gh_aligned_alloc without the zeroing: the memory is
 * scanned, but a reused slot (or the part an object grows by) keeps what
 * it held, as C's malloc, realloc and memalign allow. Stale words can
 * only keep garbage alive until the slot is written or freed; they never
 * make the collector free anything reachable. Failure and bad pointers as
 * the gh_* functions. */
void *malloc_noz(size_t size);
void *malloc_realloc_noz(void *p, size_t size);
void *malloc_aligned_noz(size_t align, size_t size);

#endif
