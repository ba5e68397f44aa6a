/* stress_deep.c: deep and large structures.
 *
 *   stress_deep LIST_NODES TREE_NODES
 *
 * A singly linked list of LIST_NODES nodes, reachable only through its
 * head in a global, survives gh_gc() intact and is freed once the head is
 * dropped; a balanced binary tree of TREE_NODES nodes survives gh_gc()
 * intact (and is freed once dropped); a wide array of a million pointers,
 * a large object the collector scans in pieces, keeps every node it
 * points to. The nodes carry their index or subtree size in a word with
 * bit 63 set, which is never a pointer. Exits non-zero with a message on
 * the first failure. The grey stack's overflow path is tested with a tiny
 * stack in tests/unit/test_mark.c, since its limit is internal. */
// test-args: 1000000 10000000
// stress-args: 1000000 10000000
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goheap.h"

#define TAG ((uint64_t)1 << 63)
#define WIDE 1000000

struct node {
    struct node *next;
    uint64_t val;
};

struct tnode {
    struct tnode *left, *right;
};

static struct node *volatile list_head;
static struct tnode *volatile tree_root;
static struct node **volatile wide;
static gh_mem_stats ms;

static void die(const char *what)
{
    fprintf(stderr, "stress_deep: FAIL: %s\n", what);
    exit(1);
}

static __attribute__((noinline)) void clear_stack(void)
{
    volatile char buf[64 * 1024];
    memset((char *)buf, 0, sizeof(buf));
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static uint64_t heap_objects(void)
{
    gh_read_mem_stats(&ms);
    return ms.heap_objects;
}

/* The list: head is the last node made, holding index n - 1. */
static __attribute__((noinline)) void list_make(uint64_t n)
{
    struct node *h = NULL;
    for (uint64_t i = 0; i < n; i++) {
        struct node *x = gh_malloc(sizeof(*x));
        if (x == NULL)
            die("out of memory building the list");
        x->next = h;
        x->val = TAG | i;
        h = x;
    }
    list_head = h;
}

static void list_check(uint64_t n)
{
    uint64_t i = n;
    for (const struct node *x = list_head; x != NULL; x = x->next) {
        if (i == 0 || x->val != (TAG | (i - 1))) {
            fprintf(stderr, "stress_deep: FAIL: list node %p holds %#llx, want index %llu\n", (const void *)x,
                    (unsigned long long)x->val, (unsigned long long)(i - 1));
            exit(1);
        }
        i--;
    }
    if (i != 0)
        die("the list is shorter than it was built");
}

/* The tree: a node of 16 bytes (two pointers), so that ten million fit in
 * 160 MB; the shape is fixed by the count, and tree_check recomputes it. */
static struct tnode *tree_make(uint64_t n)
{
    if (n == 0)
        return NULL;
    struct tnode *t = gh_malloc(sizeof(*t));
    if (t == NULL)
        die("out of memory building the tree");
    uint64_t left = (n - 1) / 2;
    t->left = tree_make(left);
    t->right = tree_make(n - 1 - left);
    return t;
}

/* tree_check returns whether the subtree at t has exactly the shape
 * tree_make gives n nodes. A freed and reused node comes back zeroed (or
 * as part of another structure), which breaks the shape. */
static int tree_check(const struct tnode *t, uint64_t n)
{
    if (n == 0)
        return t == NULL;
    if (t == NULL)
        return 0;
    uint64_t left = (n - 1) / 2;
    return tree_check(t->left, left) && tree_check(t->right, n - 1 - left);
}

static __attribute__((noinline)) void tree_build(uint64_t n)
{
    tree_root = tree_make(n);
}

static __attribute__((noinline)) void wide_make(void)
{
    struct node **w = gh_malloc(WIDE * sizeof(*w));
    if (w == NULL)
        die("out of memory building the wide array");
    for (uint64_t i = 0; i < WIDE; i++) {
        w[i] = gh_malloc(sizeof(struct node));
        if (w[i] == NULL)
            die("out of memory filling the wide array");
        w[i]->val = TAG | i;
    }
    wide = w;
}

static void wide_check(void)
{
    for (uint64_t i = 0; i < WIDE; i++)
        if (wide[i]->val != (TAG | i))
            die("a node referenced only from the wide array was lost");
}

/* collect_until_below collects (a few rounds, clearing stale stack
 * copies) until heap_objects is at most limit. */
static int collect_until_below(uint64_t limit)
{
    for (int i = 0; i < 5; i++) {
        clear_stack();
        gh_gc();
        if (heap_objects() <= limit)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: stress_deep LIST_NODES TREE_NODES\n");
        return 2;
    }
    uint64_t list_n = strtoull(argv[1], NULL, 0), tree_n = strtoull(argv[2], NULL, 0);

    gh_set_gc_percent(100);
    gh_gc();
    uint64_t base = heap_objects();

    list_make(list_n);
    gh_gc();
    list_check(list_n);
    gh_gc();
    list_check(list_n);
    list_head = NULL;
    /* A stale copy of one node's address would keep the rest of the list
     * behind it, so the bound allows none but a handful of nodes. */
    if (!collect_until_below(base + 16))
        die("the dropped list was not freed");
    printf("list of %llu nodes: survived gh_gc intact, freed when dropped\n", (unsigned long long)list_n);

    tree_build(tree_n);
    gh_gc();
    if (!tree_check(tree_root, tree_n))
        die("the tree lost nodes across gh_gc");
    gh_gc();
    if (!tree_check(tree_root, tree_n))
        die("the tree lost nodes across a second gh_gc");
    tree_root = NULL;
    if (!collect_until_below(base + tree_n / 100))
        die("the dropped tree was not freed");
    printf("tree of %llu nodes: survived gh_gc intact, freed when dropped\n", (unsigned long long)tree_n);

    wide_make();
    gh_gc();
    wide_check();
    wide = NULL;
    if (!collect_until_below(base + 16))
        die("the dropped wide array was not freed");
    printf("array of %d pointers: kept every node, freed when dropped\n", WIDE);
    return 0;
}
