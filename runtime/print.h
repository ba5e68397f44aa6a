/* print.h: allocation-free output (print.c). No stdio anywhere in runtime/:
 * stdio may call malloc, and under LD_PRELOAD malloc is goheap.
 *
 * Formats understood by print_format and friends: %% %c %s %d %i %u %x %X
 * %p %o with the length modifiers hh h l ll z j t, flags '-' '0' ' ' '+'
 * '#', a field width and a precision (digits or '*'); %.Ns bounds strings.
 * Floating point is not supported (callers format it themselves). */
#ifndef GH_PRINT_H
#define GH_PRINT_H

#include <stdarg.h>
#include <stddef.h>

/* print_vformat/print_format write at most n-1 characters and a NUL to
 * buf, and return the length the full output would have had (snprintf). */
int print_vformat(char *buf, size_t n, const char *fmt, va_list ap);
int print_format(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* print_write writes all of buf to fd, retrying on EINTR and short writes.
 * Returns 0, or -1 with errno set. */
int print_write(int fd, const void *buf, size_t n);

/* print_err formats one message and writes it to fd 2 with a single
 * write, under the print lock, so lines from threads never interleave.
 * The caller supplies any "goheap: " prefix and the newline. Output longer
 * than 4 KiB is truncated. */
void print_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* print_fatal prints "goheap: fatal error: <msg>\n" and aborts. */
void print_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn, cold));

/* print_internal_error reports a broken internal invariant as
 * "goheap: internal error: file:line: expr" and aborts (used by gh_assert). */
void print_internal_error(const char *file, int line, const char *expr) __attribute__((noreturn, cold));

/* Debug level fixed at build time (make DEBUG=1|2). Code tests it with a
 * plain if, so that debug code always compiles. */
#ifndef GH_DEBUG
#define GH_DEBUG 0
#endif
static const int gh_debug = GH_DEBUG;

/* gh_assert checks an invariant in DEBUG>=1 builds; free in release. */
#define gh_assert(e) \
    do { if (gh_debug >= 1 && !(e)) print_internal_error(__FILE__, __LINE__, #e); } while (0)
/* gh_check checks always: for conditions that depend on user input. */
#define gh_check(e) \
    do { if (!(e)) print_internal_error(__FILE__, __LINE__, #e); } while (0)

#endif
