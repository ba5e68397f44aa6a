/* scavenge.h: returning free heap pages to the OS (scavenge.c; Go:
 * mgcscavenge.go). gh_free_os_memory is the API's forced version. */
#ifndef GH_SCAVENGE_H
#define GH_SCAVENGE_H

/* scavenge_start starts the scavenger thread if it is not running (from
 * a thread of the program, as sweep_start). scavenge_wake asks it to
 * bring retained heap memory back toward its goal; called when a cycle's
 * sweep is done. World running, no allocator lock held. */
void scavenge_start(void);
void scavenge_wake(void);

/* scavenge_fork_child forgets the scavenger thread in a fork child. */
void scavenge_fork_child(void);

#endif
