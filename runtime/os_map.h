/* os_map.h: the registry of every address range goheap has mapped (os.c).
 *
 * The root scanner treats anonymous mappings of the program as roots; it
 * asks here which of them are goheap's own (heap arenas, bitmaps, runtime
 * metadata) so that it never scans the heap as if it were a root. */
#ifndef GH_OS_MAP_H
#define GH_OS_MAP_H

#include <stdint.h>

/* os_owned reports whether addr lies in memory goheap has mapped and not
 * unmapped (1) or not (0). Thread-safe. */
int os_owned(uintptr_t addr);

/* os_each_mapping calls fn once per registered range [lo, hi), in address
 * order; adjacent ranges of the same kind are reported as one. fn runs
 * without any os.c lock held and may itself map or unmap memory; ranges
 * mapped or unmapped meanwhile may or may not be reported. */
void os_each_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void *arg), void *arg);

#endif
