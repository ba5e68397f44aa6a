/* bad.c: misuse that goheap must catch. Run as `bad CASE`; it prints the
 * address it is about to misuse on stdout, then misuses it. run.sh checks
 * that goheap reports it on stderr ("goheap: ..." naming the address) and
 * aborts, and that with GODEBUG=invalidptr=0 the call is ignored and the
 * program goes on to exit 0. */
#include <string.h>
#include <sys/mman.h>

#include "check.h"

/* launder hides where p came from, so that gcc does not refuse to
 * compile the misuse this program exists for. */
static void *launder(void *p)
{
    __asm__("" : "+r"(p));
    return p;
}

static void announce(const void *p)
{
    printf("%p\n", p);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    char *p = malloc(100);
    memset(p, 1, 100);
    if (strcmp(c, "double-free") == 0) {
        char *again = launder(p);
        free(p);
        announce(again);
        free(again);
    } else if (strcmp(c, "foreign-free") == 0) {
        char *m = launder(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        announce(m + 64);
        free(m + 64);
    } else if (strcmp(c, "interior-free") == 0) {
        p = launder(p) + 16;
        announce(p);
        free(p);
    } else if (strcmp(c, "interior-realloc") == 0) {
        p = launder(p) + 8;
        announce(p);
        char *q = realloc(p, 200);
        /* Ignored (invalidptr=0): realloc fails and p stays valid. */
        CHECK(q == NULL);
    } else {
        fprintf(stderr, "usage: bad double-free|foreign-free|interior-free|interior-realloc\n");
        return 2;
    }
    return check_exit("bad");
}
