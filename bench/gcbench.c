/* gcbench.c: the GCBench shape (Ellis, Kovac, Boehm) on a garbage-collected
 * C heap: goheap or bdwgc, chosen at build time (see gcalloc.h). The Go
 * build of the same algorithm is go/gcbench/main.go.
 *
 * The program first builds and drops a "stretch" tree of depth 18, so that
 * the heap has grown to its working size. It then allocates long-lived data
 * that stays reachable to the end: a complete binary tree of depth 16 and a
 * pointer-free array of 500,000 doubles. While those live, it builds many
 * short-lived complete binary trees for each depth 4, 6, ..., 16, once
 * top-down (a parent allocates its two children, then fills each in) and
 * once bottom-up (both subtrees are built before their parent). A depth d
 * gets 2 * nodes(18) / nodes(d) trees of each kind, where nodes(d) =
 * 2^(d+1) - 1, so every depth allocates about the same number of nodes
 * (about 2 * 2^(18-d) trees).
 *
 * Every node records its height. The stretch tree, the last tree of each
 * kind and depth, the long-lived tree and every element of the array are
 * checked at the end of their life; the output lists those checks and does
 * not depend on the allocator, so all builds print the same text. On a
 * failed check the program says what was wrong on stderr and exits 1. */
#include "gcalloc.h"

#include <stdio.h>
#include <stdlib.h>

enum {
    STRETCH_DEPTH = 18,
    LONG_LIVED_DEPTH = 16,
    ARRAY_LEN = 500000,
    MIN_DEPTH = 4,
    MAX_DEPTH = 16,
};

struct node {
    struct node *left;
    struct node *right;
    int height; /* levels below this node: 0 for a leaf */
    int pad;    /* keeps the node at GCBench's two pointers and two ints */
};

static struct node *node_new(int height)
{
    struct node *n = gcalloc(sizeof *n);
    n->height = height;
    return n;
}

/* tree_nodes returns the number of nodes in a complete tree of depth d. */
static long tree_nodes(int depth)
{
    return (2L << depth) - 1;
}

/* tree_populate gives n, which has no children yet, the subtrees of a
 * complete tree of the given depth, allocating each parent's children
 * before descending into them (top-down). */
static void tree_populate(struct node *n, int depth)
{
    if (depth <= 0)
        return;
    n->left = node_new(depth - 1);
    n->right = node_new(depth - 1);
    tree_populate(n->left, depth - 1);
    tree_populate(n->right, depth - 1);
}

/* tree_make builds a complete tree of the given depth bottom-up: the parent
 * is allocated after both of its subtrees. */
static struct node *tree_make(int depth)
{
    if (depth <= 0)
        return node_new(0);
    struct node *left = tree_make(depth - 1);
    struct node *right = tree_make(depth - 1);
    struct node *n = node_new(depth);
    n->left = left;
    n->right = right;
    return n;
}

/* tree_check returns the number of nodes under n, or -1 when n is not a
 * complete tree of the given depth with correct heights. */
static long tree_check(const struct node *n, int depth)
{
    if (n == NULL || n->height != depth)
        return -1;
    if (depth == 0)
        return n->left == NULL && n->right == NULL ? 1 : -1;
    long left = tree_check(n->left, depth - 1);
    long right = tree_check(n->right, depth - 1);
    return left < 0 || right < 0 ? -1 : 1 + left + right;
}

static long check_or_die(const struct node *n, int depth, const char *what)
{
    long got = tree_check(n, depth);
    if (got != tree_nodes(depth)) {
        fprintf(stderr, "gcbench: %s of depth %d is damaged (check %ld, want %ld)\n", what, depth,
                got, tree_nodes(depth));
        exit(1);
    }
    return got;
}

/* build_trees builds and drops the short-lived trees of one depth. */
static void build_trees(int depth)
{
    long iters = 2 * tree_nodes(STRETCH_DEPTH) / tree_nodes(depth);
    struct node *last = NULL;

    for (long i = 0; i < iters; i++) {
        last = node_new(depth);
        tree_populate(last, depth);
    }
    check_or_die(last, depth, "top-down tree");
    for (long i = 0; i < iters; i++)
        last = tree_make(depth);
    check_or_die(last, depth, "bottom-up tree");
    printf("depth %d: %ld trees top-down and %ld bottom-up, %ld nodes each\n", depth, iters, iters,
           tree_nodes(depth));
}

int main(void)
{
    GCALLOC_INIT();

    printf("stretch tree of depth %d: %ld nodes\n", STRETCH_DEPTH,
           check_or_die(tree_make(STRETCH_DEPTH), STRETCH_DEPTH, "stretch tree"));

    struct node *long_lived = node_new(LONG_LIVED_DEPTH);
    tree_populate(long_lived, LONG_LIVED_DEPTH);
    double *array = gcalloc_atomic(ARRAY_LEN * sizeof *array);
    for (long i = 0; i < ARRAY_LEN; i++)
        array[i] = 1.0 / (double)(i + 1);

    for (int depth = MIN_DEPTH; depth <= MAX_DEPTH; depth += 2)
        build_trees(depth);

    printf("long-lived tree of depth %d: %ld nodes\n", LONG_LIVED_DEPTH,
           check_or_die(long_lived, LONG_LIVED_DEPTH, "long-lived tree"));
    for (long i = 0; i < ARRAY_LEN; i++) {
        if (array[i] != 1.0 / (double)(i + 1)) {
            fprintf(stderr, "gcbench: long-lived array damaged at element %ld\n", i);
            return 1;
        }
    }
    printf("long-lived array: %d doubles intact\n", ARRAY_LEN);
    return 0;
}
