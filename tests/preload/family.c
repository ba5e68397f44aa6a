/* family.c: the C allocation family behaves as glibc documents it, on
 * goheap: sizes, contents, alignment, the zero and overflow cases, memory
 * from every aligned allocator freed and reallocated, out of memory. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"

/* Sizes the compiler cannot see, so that it neither warns about them nor
 * folds the calls away. */
static volatile size_t half_max = SIZE_MAX / 2, all_max = SIZE_MAX;

static int aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

static void malloc_free_calloc(void)
{
    for (size_t n = 0; n < 70000; n = n * 3 / 2 + 1) {
        unsigned char *p = malloc(n);
        CHECK(p != NULL);
        CHECK(malloc_usable_size(p) >= n);
        CHECK(aligned(p, n >= 16 ? 16 : 8));
        memset(p, 0xab, n);
        free(p);
        unsigned char *z = calloc(n, 1);
        CHECK(z != NULL);
        for (size_t i = 0; i < n; i++)
            if (z[i] != 0) {
                CHECK(z[i] == 0);
                break;
            }
        free(z);
    }
    free(NULL);
    errno = 0;
    CHECK(calloc(half_max, 4) == NULL && errno == ENOMEM);
}

static void realloc_keeps_contents(void)
{
    unsigned char *p = realloc(NULL, 10);
    CHECK(p != NULL);
    for (int i = 0; i < 10; i++)
        p[i] = (unsigned char)i;
    for (size_t n = 11; n < 300000; n = n * 2 + 3) {
        p = realloc(p, n);
        CHECK(p != NULL);
        for (int i = 0; i < 10; i++)
            CHECK(p[i] == i);
    }
    p = realloc(p, 5);
    CHECK(p != NULL && p[4] == 4);
    /* glibc: realloc(p, 0) frees p and returns NULL. */
    CHECK(realloc(p, 0) == NULL);
    errno = 0;
    void *q = malloc(8);
    void *r = reallocarray(q, half_max, 3);
    CHECK(r == NULL && errno == ENOMEM);
    /* q is still valid after the failure (gcc cannot know that). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuse-after-free"
    r = reallocarray(q, 100, 8);
#pragma GCC diagnostic pop
    CHECK(r != NULL && malloc_usable_size(r) >= 800);
    free(r);
}

static void aligned_allocators(void)
{
    long page = sysconf(_SC_PAGESIZE);
    for (size_t a = 8; a <= 65536; a *= 2) {
        for (size_t n = 1; n < 20000; n = n * 5 + 3) {
            void *p = memalign(a, n);
            CHECK(p != NULL && aligned(p, a));
            memset(p, 1, n);
            /* Memory from every aligned allocator can be reallocated and
             * freed like any other. */
            p = realloc(p, n + 100);
            CHECK(p != NULL);
            free(p);
            p = aligned_alloc(a, n);
            CHECK(p != NULL && aligned(p, a));
            free(p);
            void *q = NULL;
            CHECK(posix_memalign(&q, a, n) == 0 && q != NULL && aligned(q, a));
            free(q);
        }
    }
    /* glibc's memalign rounds an alignment that is not a power of two up. */
    void *p = memalign(48, 100);
    CHECK(p != NULL && aligned(p, 64));
    free(p);
    void *q = (void *)1;
    CHECK(posix_memalign(&q, 24, 10) == EINVAL && q == (void *)1);
    CHECK(posix_memalign(&q, 4, 10) == EINVAL);
    p = valloc(100);
    CHECK(p != NULL && aligned(p, (size_t)page));
    free(p);
    p = pvalloc(1);
    CHECK(p != NULL && aligned(p, (size_t)page) && malloc_usable_size(p) >= (size_t)page);
    free(p);
}

static void out_of_memory_returns_null(void)
{
    errno = 0;
    CHECK(malloc(half_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(all_max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(realloc(NULL, half_max / 2) == NULL && errno == ENOMEM);
    void *p = NULL;
    CHECK(posix_memalign(&p, 64, half_max) == ENOMEM && p == NULL);

    /* Under an address-space limit, large requests fail cleanly and the
     * heap keeps working. */
    struct rlimit old, lim;
    if (getrlimit(RLIMIT_AS, &old) != 0)
        return;
    lim = old;
    lim.rlim_cur = (rlim_t)2 << 30;
    if (setrlimit(RLIMIT_AS, &lim) != 0)
        return;
    void *big[64];
    int n = 0, failed = 0;
    for (; n < 64; n++) {
        errno = 0;
        big[n] = malloc((size_t)256 << 20);
        if (big[n] == NULL) {
            CHECK(errno == ENOMEM);
            failed = 1;
            break;
        }
    }
    CHECK(failed);
    for (int i = 0; i < n; i++)
        free(big[i]);
    setrlimit(RLIMIT_AS, &old);
    char *s = malloc(100);
    CHECK(s != NULL);
    free(s);
}

int main(void)
{
    malloc_free_calloc();
    realloc_keeps_contents();
    aligned_allocators();
    out_of_memory_returns_null();
    if (!on_goheap())
        fprintf(stderr, "family: note: malloc is not goheap's in this run\n");
    return check_exit("family");
}
