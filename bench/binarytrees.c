/* binarytrees.c: the Computer Language Benchmarks Game's binary-trees on a
 * garbage-collected C heap: goheap or bdwgc, chosen at build time (see
 * gcalloc.h). The Go build of the same algorithm is go/binarytrees/main.go.
 *
 * Usage: binarytrees [depth]   (default 21)
 *
 * With max = max(depth, 6): build, check and drop one stretch tree of depth
 * max + 1; build a long-lived tree of depth max; then for d = 4, 6, ...,
 * max build, check and drop 2^(max - d + 4) trees of depth d, bottom-up
 * (children before their parent); finally check the long-lived tree. A
 * tree's check is its node count. The output is the Benchmarks Game's,
 * byte for byte.
 *
 * This is the single-threaded variant: one thread allocates (the
 * collector may still use helper threads of its own). Every check is also
 * compared with the closed form 2^(d+1) - 1 per tree; on a mismatch the
 * program says so on stderr and exits 1. */
#include "gcalloc.h"

#include <stdio.h>
#include <stdlib.h>

enum { MIN_DEPTH = 4, DEFAULT_DEPTH = 21 };

struct node {
    struct node *left;
    struct node *right;
};

static struct node *tree_make(int depth)
{
    struct node *n;

    if (depth <= 0)
        return gcalloc(sizeof *n);
    struct node *left = tree_make(depth - 1);
    struct node *right = tree_make(depth - 1);
    n = gcalloc(sizeof *n);
    n->left = left;
    n->right = right;
    return n;
}

static long tree_check(const struct node *n)
{
    if (n->left == NULL)
        return 1;
    return 1 + tree_check(n->left) + tree_check(n->right);
}

static void expect(long got, long want, const char *what, int depth)
{
    if (got != want) {
        fprintf(stderr, "binarytrees: %s of depth %d: check %ld, want %ld\n", what, depth, got,
                want);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    int depth = DEFAULT_DEPTH;

    if (argc > 1) {
        char *end;
        long v = strtol(argv[1], &end, 10);
        if (*argv[1] == '\0' || *end != '\0' || v < 0 || v > 30) {
            fprintf(stderr, "usage: binarytrees [depth 0..30]\n");
            return 2;
        }
        depth = (int)v;
    }
    GCALLOC_INIT();

    int max_depth = depth > MIN_DEPTH + 2 ? depth : MIN_DEPTH + 2;
    int stretch_depth = max_depth + 1;

    long check = tree_check(tree_make(stretch_depth));
    expect(check, (2L << stretch_depth) - 1, "stretch tree", stretch_depth);
    printf("stretch tree of depth %d\t check: %ld\n", stretch_depth, check);

    struct node *long_lived = tree_make(max_depth);

    for (int d = MIN_DEPTH; d <= max_depth; d += 2) {
        long iterations = 1L << (max_depth - d + MIN_DEPTH);
        check = 0;
        for (long i = 0; i < iterations; i++)
            check += tree_check(tree_make(d));
        expect(check, iterations * ((2L << d) - 1), "short-lived trees", d);
        printf("%ld\t trees of depth %d\t check: %ld\n", iterations, d, check);
    }

    check = tree_check(long_lived);
    expect(check, (2L << max_depth) - 1, "long lived tree", max_depth);
    printf("long lived tree of depth %d\t check: %ld\n", max_depth, check);
    return 0;
}
