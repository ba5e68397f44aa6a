/* early.c: a shared library whose constructor allocates (and starts a
 * thread that allocates) before goheap has set itself up: when goheap is
 * linked into the executable (libgoheap-malloc.a), the constructors of
 * the executable's libraries run before the executable's own. The main
 * program (early_main.c) later frees, reallocates and measures these
 * objects. */
#include <pthread.h>
#include <string.h>

#include "check.h"

char *early_block;      /* malloc'd in the constructor */
char *early_string;     /* strdup'd there */
char *early_from_thread;
pthread_t early_thread;

static void *early_body(void *arg)
{
    (void)arg;
    early_from_thread = malloc(300);
    memset(early_from_thread, 't', 300);
    for (int i = 0; i < 1000; i++)
        free(malloc((size_t)i + 1));
    return NULL;
}

__attribute__((constructor)) static void early_init(void)
{
    early_block = malloc(5000);
    memset(early_block, 'e', 5000);
    early_string = strdup("allocated before goheap started");
    pthread_create(&early_thread, NULL, early_body, NULL);
}
