/* hsort.h: an in-place sort for the runtime. See hsort.c. */
#ifndef GH_HSORT_H
#define GH_HSORT_H

#include <stddef.h>

/* hsort sorts the n elements of size bytes at base so that no element is
 * before(...) an element ahead of it: ascending in before's order.
 * Allocates nothing, does not recurse, O(n log n); not stable. */
void hsort(void *base, size_t n, size_t size, int (*before)(const void *a, const void *b));

#endif
