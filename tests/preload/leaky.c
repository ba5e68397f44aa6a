/* leaky.c: a program with known leaks, for GODEBUG=gcleak=report.
 *   leak_blocks   3 blocks of 1000 bytes, dropped: direct leaks
 *   make_chain    a list of 5 nodes of 64 bytes whose head is dropped:
 *                 the head is a direct leak, the 4 others indirect
 *   keep_list     a list kept in a global: reachable, not a leak
 *   churn         objects freed again: not leaks
 * Total: 3320 bytes in 8 allocations. Before exiting it asks goheap for a
 * report itself (gh_report_leaks, when goheap is malloc here) and prints
 * the byte count it returned, "reported=N", on stdout. */
#include <string.h>

#include "check.h"

struct node {
    struct node *next;
    char pad[56];
};

struct node *kept; /* not static: the store must stay */

static __attribute__((noinline)) struct node *make_chain(int n)
{
    struct node *head = NULL;
    for (int i = 0; i < n; i++) {
        struct node *x = malloc(sizeof(*x));
        memset(x->pad, i, sizeof(x->pad));
        x->next = head;
        head = x;
    }
    sink(head);
    return head;
}

static __attribute__((noinline)) void leak_blocks(int n)
{
    for (int i = 0; i < n; i++) {
        char *b = malloc(1000);
        memset(b, 'x', 1000);
        sink(b);
    }
}

static __attribute__((noinline)) void churn(void)
{
    for (int i = 0; i < 1000; i++) {
        char *s = strdup("temporary");
        sink(s);
        free(s);
    }
}

/* scrub overwrites the dead stack below main, where copies of the
 * dropped pointers may linger. */
static __attribute__((noinline)) void scrub(void)
{
    volatile char junk[16 << 10];
    memset((char *)junk, 0, sizeof(junk));
}

int main(void)
{
    kept = make_chain(10);
    leak_blocks(3);
    sink(make_chain(5));
    churn();
    scrub();
    long long reported = gh_report_leaks ? (long long)gh_report_leaks(-1) : -1;
    printf("reported=%lld\n", reported);
    return 0;
}
