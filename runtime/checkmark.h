/* checkmark.h: mark verification and heap verification (checkmark.c; Go:
 * mcheckmark.go). */
#ifndef GH_CHECKMARK_H
#define GH_CHECKMARK_H

/* checkmark_verify re-marks the heap from scratch with mark_roots (world
 * stopped, after a cycle's mark) and aborts with a report if it reaches an
 * object the cycle left unmarked. The cycle's marks are kept. */
void checkmark_verify(void (*mark_roots)(void));

/* checkmark_verify_heap checks the page heap, every span on a central list
 * and the spans' bitmaps (DEBUG=2 builds after each cycle; tests). */
void checkmark_verify_heap(void);

#endif
