/* hsort.c: heapsort, for the runtime's few sorts (leak groups, root
 * exclusions). The runtime may be the process's malloc, and glibc's qsort
 * may call malloc, so it cannot be used here.
 *
 * Locking: none; the caller owns the array. */
#include <stdint.h>
#include "hsort.h"

static void hsort_swap(unsigned char *a, unsigned char *b, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        unsigned char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

/* hsort_sift moves element i down the max-heap (in before's order) of the
 * first n elements until neither child is after it. */
static void hsort_sift(unsigned char *e, size_t i, size_t n, size_t size,
                       int (*before)(const void *, const void *))
{
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            return;
        if (c + 1 < n && before(e + c * size, e + (c + 1) * size))
            c++;
        if (!before(e + i * size, e + c * size))
            return;
        hsort_swap(e + i * size, e + c * size, size);
        i = c;
    }
}

void hsort(void *base, size_t n, size_t size, int (*before)(const void *, const void *))
{
    unsigned char *e = base;
    for (size_t i = n / 2; i-- > 0;)
        hsort_sift(e, i, n, size, before);
    for (size_t k = n; k-- > 1;) {
        hsort_swap(e, e + k * size, size);
        hsort_sift(e, 0, k, size, before);
    }
}
