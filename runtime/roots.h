/* roots.h: the global roots (roots.c; Go: the data/bss half of markroot in
 * mgcmark.go): the writable data and bss of every loaded object, and the
 * ranges the program registered with gh_add_roots. Thread stacks are
 * threads.h's.
 *
 * Protocol for one scan, because the loader's list can only be read safely
 * with the world running:
 *   roots_prepare();        world running, no allocator lock needed
 *   threads_stop_world();
 *   roots_each(fn, arg);    world stopped
 *   threads_start_world();
 * roots_prepare lists the loaded objects with dl_iterate_phdr. Calling
 * dl_iterate_phdr with the world stopped could deadlock: a stopped thread
 * may hold the loader's lock (inside dlopen, dlclose, or dl_iterate_phdr
 * itself, which every unwinder calls). roots_each then checks the list it
 * was given against the loader's debugger interface (r_debug), which needs
 * no lock: objects unloaded since roots_prepare are skipped, and while the
 * loader is in the middle of a change, segments are reported only where
 * /proc/self/maps shows them mapped and writable. Objects loaded since
 * roots_prepare are not reported; roots_each returns their number so that
 * the caller can restart the world and try again. The caller serialises
 * these sequences (the collector holds gc.lock): a roots_prepare running
 * while another thread's roots_each reads the list would change it
 * underneath. */
#ifndef GH_ROOTS_H
#define GH_ROOTS_H

#include <stdint.h>

/* roots_prepare takes the list of writable segments to scan: every
 * PT_LOAD segment with PF_W of every object dl_iterate_phdr reports (the
 * caller's link-map namespace), minus its PT_GNU_RELRO part (read-only
 * after relocation), skipping goheap's own shared object when goheap is
 * one (found as the object whose segments contain goheap's code; when
 * goheap is linked into the executable, nothing is skipped). World
 * running. Never fails: if its table cannot grow, the objects that do not
 * fit are reported by roots_each as missed. Serialised by the roots lock. */
void roots_prepare(void);

/* roots_each calls fn(lo, hi, arg) for the segments taken by the last
 * roots_prepare that are still loaded, then for each user root range
 * (world stopped; reads no lock, so a thread stopped inside gh_add_roots
 * cannot block it). Ranges are word-aligned with lo < hi. Returns the
 * number of loaded objects that appeared after roots_prepare and were not
 * reported (0 normally). */
int roots_each(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);

/* roots_globals_bytes is the number of data and bss bytes (not user roots)
 * reported by the last roots_each: the pacer's globalsScan. */
uint64_t roots_globals_bytes(void);

/* roots_add adds [lo, hi) to the user roots: O(1), under the roots lock.
 * An empty range (lo >= hi) is accepted and ignored. Returns 0, or -1 with
 * errno = ENOMEM when the table (8192 ranges) is full or cannot be
 * allocated. gh_add_roots is this. */
int roots_add(uintptr_t lo, uintptr_t hi);

/* roots_remove removes every user root range lying within [lo, hi): O(n),
 * under the roots lock. gh_remove_roots is this. */
void roots_remove(uintptr_t lo, uintptr_t hi);

/* roots_set_private turns the private-memory scan on (nonzero) or off.
 * While it is on, roots_prepare also lists goheap's own mappings, and
 * roots_each, after the segments and the user roots, reports every part
 * of a private mapping of /proc/self/maps (re-read at each call) that is
 * readable and either writable or anonymous, except goheap's own memory
 * (mappings and data/bss), what roots_each has already reported, and the
 * thread stacks that threads_each_stack covers (from the stopped stack
 * pointer up; the rest of each stack mapping is dead). Those are the
 * roots of a program that does not know about the collector: anonymous
 * mmaps, other allocators' arenas, stacks of threads made by clone or
 * before goheap was loaded, TLS blocks, the brk heap. Shared mappings
 * are not scanned. The malloc shim turns it on; off by default. */
void roots_set_private(int on);

/* roots_private tells whether the private-memory scan is on. */
int roots_private(void);

/* roots_maps_each calls fn(lo, hi, prot, arg) for each line of
 * /proc/self/maps, in address order, with prot a mask of PROT_READ,
 * PROT_WRITE and PROT_EXEC, until fn returns nonzero. Allocates nothing,
 * takes no lock and is not a cancellation point, so it is usable in a new
 * thread before it registers and with the world stopped. Returns 0, or -1
 * if the file cannot be read. */
int roots_maps_each(int (*fn)(uintptr_t lo, uintptr_t hi, int prot, void *arg), void *arg);

#endif
