/* early_main.c: uses the objects libpreload_early.so allocated in its
 * constructor, possibly before goheap started (see early.c). */
#include <malloc.h>
#include <pthread.h>
#include <string.h>

#include "check.h"

extern char *early_block, *early_string, *early_from_thread;
extern pthread_t early_thread;

int main(void)
{
    CHECK(pthread_join(early_thread, NULL) == 0);
    CHECK(early_block != NULL && early_block[0] == 'e' && early_block[4999] == 'e');
    CHECK(malloc_usable_size(early_block) >= 5000);
    CHECK(early_string != NULL && strcmp(early_string, "allocated before goheap started") == 0);
    CHECK(early_from_thread != NULL && early_from_thread[299] == 't');
    char *grown = realloc(early_block, 100000);
    CHECK(grown != NULL && grown[4999] == 'e');
    free(grown);
    free(early_string);
    free(early_from_thread);
    /* After all that, the heap still works. */
    for (int i = 0; i < 10000; i++)
        free(malloc((size_t)i % 3000 + 1));
    return check_exit("early");
}
