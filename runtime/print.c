/* print.c: allocation-free formatting and output to fd 2 (Go: print.go,
 * and throw in panic.go).
 *
 * print_vformat is a small snprintf for the conversions listed in print.h.
 * It keeps no state outside its arguments, takes no lock and never
 * allocates, so it is async-signal-safe and works before libc is up.
 *
 * Output: every message is formatted into a 4 KiB stack buffer and leaves
 * with one write(2) under the print lock, so lines from different threads
 * never interleave.
 *
 * Locking: the print lock is a spin lock whose word holds the kernel thread
 * id of its holder (0 = free). A signal handler that prints while its own
 * thread holds the lock sees its id there and writes without the lock
 * rather than deadlocking. A fork child inherits the word but not the
 * holder; a waiter that finds the holder gone from the process takes the
 * lock over. The print lock is a leaf: nothing is called under it except
 * write(2). */
#define _GNU_SOURCE
#include "print.h"
#include "atomic.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

enum { PRINT_BUF = 4096 };

/* ---- Formatting ----------------------------------------------------- */

/* An output sink: keeps the first cap-1 characters, counts all of them. */
struct sink {
    char *buf;
    size_t cap;
    size_t len;
};

static void sink_put(struct sink *s, char c)
{
    if (s->len + 1 < s->cap)
        s->buf[s->len] = c;
    s->len++;
}

static void sink_repeat(struct sink *s, char c, long n)
{
    for (; n > 0; n--)
        sink_put(s, c);
}

static void sink_mem(struct sink *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sink_put(s, p[i]);
}

enum {
    F_MINUS = 1,   /* '-': left-justify */
    F_ZERO = 2,    /* '0': pad numbers with zeros */
    F_SPACE = 4,   /* ' ': space before a non-negative signed number */
    F_PLUS = 8,    /* '+': sign before a non-negative signed number */
    F_ALT = 16,    /* '#': 0x prefix, or a leading 0 for octal */
};

struct spec {
    int flags;
    long width;    /* 0 = none */
    long prec;     /* -1 = none */
};

/* print_pad_text writes n characters of p padded to the field width. */
static void print_pad_text(struct sink *s, const struct spec *sp, const char *p, size_t n)
{
    long pad = sp->width > (long)n ? sp->width - (long)n : 0;
    if (!(sp->flags & F_MINUS))
        sink_repeat(s, ' ', pad);
    sink_mem(s, p, n);
    if (sp->flags & F_MINUS)
        sink_repeat(s, ' ', pad);
}

/* print_number writes the magnitude v in base with an optional sign, the
 * '#' prefix, the precision's leading zeros and the field padding, the
 * way C's printf does. */
static void print_number(struct sink *s, const struct spec *sp, uintmax_t v, int neg,
                         int is_signed, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[3 * sizeof(uintmax_t)];
    int nd = 0;
    for (uintmax_t x = v; x != 0; x /= base)
        tmp[nd++] = digits[x % base];
    long prec = sp->prec;
    if (prec < 0)
        prec = 1;   /* at least one digit, unless an explicit 0 and v == 0 */
    if (base == 8 && (sp->flags & F_ALT) && prec <= nd)
        prec = nd + 1;   /* '#' with octal: the first digit is a 0 */

    char sign = 0;
    if (neg)
        sign = '-';
    else if (is_signed && (sp->flags & F_PLUS))
        sign = '+';
    else if (is_signed && (sp->flags & F_SPACE))
        sign = ' ';
    const char *prefix = "";
    if (base == 16 && (sp->flags & F_ALT) && v != 0)
        prefix = upper ? "0X" : "0x";
    long plen = prefix[0] ? 2 : 0;
    long zeros = prec > nd ? prec - nd : 0;
    long body = (sign ? 1 : 0) + plen + zeros + nd;
    long pad = sp->width > body ? sp->width - body : 0;

    if ((sp->flags & F_ZERO) && !(sp->flags & F_MINUS) && sp->prec < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!(sp->flags & F_MINUS))
        sink_repeat(s, ' ', pad);
    if (sign)
        sink_put(s, sign);
    sink_mem(s, prefix, (size_t)plen);
    sink_repeat(s, '0', zeros);
    while (nd > 0)
        sink_put(s, tmp[--nd]);
    if (sp->flags & F_MINUS)
        sink_repeat(s, ' ', pad);
}

/* print_parse_num reads a decimal field, saturating instead of overflowing
 * (a field that large produces output longer than INT_MAX anyway). */
static long print_parse_num(const char **fmt)
{
    long n = 0;
    while (**fmt >= '0' && **fmt <= '9') {
        if (n <= (LONG_MAX - 9) / 10)
            n = n * 10 + (**fmt - '0');
        else
            n = LONG_MAX;
        (*fmt)++;
    }
    return n;
}

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

int print_vformat(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct sink s = { buf, n, 0 };
    while (*fmt) {
        if (*fmt != '%') {
            sink_put(&s, *fmt++);
            continue;
        }
        const char *start = fmt++;
        struct spec sp = { 0, 0, -1 };
        for (;; fmt++) {
            if (*fmt == '-') sp.flags |= F_MINUS;
            else if (*fmt == '0') sp.flags |= F_ZERO;
            else if (*fmt == ' ') sp.flags |= F_SPACE;
            else if (*fmt == '+') sp.flags |= F_PLUS;
            else if (*fmt == '#') sp.flags |= F_ALT;
            else break;
        }
        if (*fmt == '*') {
            int w = va_arg(ap, int);
            fmt++;
            if (w < 0) {
                sp.flags |= F_MINUS;
                sp.width = -(long)w;
            } else {
                sp.width = w;
            }
        } else {
            sp.width = print_parse_num(&fmt);
        }
        if (*fmt == '.') {
            fmt++;
            if (*fmt == '*') {
                int p = va_arg(ap, int);
                fmt++;
                sp.prec = p < 0 ? -1 : p;
            } else {
                sp.prec = print_parse_num(&fmt);
            }
        }
        enum length len = LEN_NONE;
        switch (*fmt) {
        case 'h':
            fmt++;
            len = LEN_H;
            if (*fmt == 'h') { fmt++; len = LEN_HH; }
            break;
        case 'l':
            fmt++;
            len = LEN_L;
            if (*fmt == 'l') { fmt++; len = LEN_LL; }
            break;
        case 'z': fmt++; len = LEN_Z; break;
        case 'j': fmt++; len = LEN_J; break;
        case 't': fmt++; len = LEN_T; break;
        }

        char conv = *fmt;
        if (conv == '\0') {
            /* A truncated specification is copied as it stands. */
            sink_mem(&s, start, (size_t)(fmt - start));
            break;
        }
        fmt++;
        switch (conv) {
        case '%':
            sink_put(&s, '%');
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            print_pad_text(&s, &sp, &c, 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (str == NULL)
                str = "(null)";
            size_t sl = 0;
            while ((sp.prec < 0 || (long)sl < sp.prec) && str[sl] != '\0')
                sl++;
            print_pad_text(&s, &sp, str, sl);
            break;
        }
        case 'd':
        case 'i': {
            intmax_t v;
            switch (len) {
            case LEN_HH: v = (signed char)va_arg(ap, int); break;
            case LEN_H: v = (short)va_arg(ap, int); break;
            case LEN_L: v = va_arg(ap, long); break;
            case LEN_LL: v = va_arg(ap, long long); break;
            case LEN_Z: v = va_arg(ap, ssize_t); break;
            case LEN_J: v = va_arg(ap, intmax_t); break;
            case LEN_T: v = va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, int); break;
            }
            /* Negate in unsigned arithmetic so that INTMAX_MIN works. */
            uintmax_t mag = v < 0 ? (uintmax_t)0 - (uintmax_t)v : (uintmax_t)v;
            print_number(&s, &sp, mag, v < 0, 1, 10, 0);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uintmax_t v;
            switch (len) {
            case LEN_HH: v = (unsigned char)va_arg(ap, unsigned); break;
            case LEN_H: v = (unsigned short)va_arg(ap, unsigned); break;
            case LEN_L: v = va_arg(ap, unsigned long); break;
            case LEN_LL: v = va_arg(ap, unsigned long long); break;
            case LEN_Z: v = va_arg(ap, size_t); break;
            case LEN_J: v = va_arg(ap, uintmax_t); break;
            case LEN_T: v = (uintmax_t)va_arg(ap, ptrdiff_t); break;
            default: v = va_arg(ap, unsigned); break;
            }
            unsigned base = conv == 'u' ? 10 : conv == 'o' ? 8 : 16;
            print_number(&s, &sp, v, 0, 0, base, conv == 'X');
            break;
        }
        case 'p': {
            void *p = va_arg(ap, void *);
            if (p == NULL) {
                print_pad_text(&s, &sp, "(nil)", 5);
            } else {
                sp.flags |= F_ALT;
                print_number(&s, &sp, (uintptr_t)p, 0, 0, 16, 0);
            }
            break;
        }
        default:
            /* Unsupported conversion: copied as it stands, consuming no
             * argument, so that the mistake shows in the output. */
            sink_mem(&s, start, (size_t)(fmt - start));
            break;
        }
    }
    if (n > 0)
        buf[s.len < n ? s.len : n - 1] = '\0';
    return s.len > INT_MAX ? -1 : (int)s.len;
}

int print_format(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = print_vformat(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- Output --------------------------------------------------------- */

int print_write(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Kernel thread id of the print lock's holder; 0 when free. */
static volatile AO_t print_owner;

/* print_lock takes the print lock for thread me. Returns 1 if it took the
 * lock, 0 if me already holds it (a signal handler interrupted a print on
 * this thread): then the caller writes without it. */
static int print_lock(pid_t me)
{
    /* Only this thread ever stores its own id, so a relaxed load suffices
     * to recognise re-entry. */
    if (AO_load(&print_owner) == (AO_t)me)
        return 0;
    for (unsigned spins = 1;; spins++) {
        /* acquire: pairs with the release store in print_unlock. */
        if (AO_compare_and_swap_acquire(&print_owner, 0, (AO_t)me))
            return 1;
        if (spins % 64 == 0) {
            AO_t holder = AO_load(&print_owner);
            /* A holder that is not a thread of this process is the parent
             * side of a fork: the lock will never be released here. */
            if (holder != 0 && tgkill(getpid(), (pid_t)holder, 0) != 0 && errno == ESRCH &&
                AO_compare_and_swap_acquire(&print_owner, holder, (AO_t)me))
                return 1;
            sched_yield();
        }
    }
}

static void print_unlock(void)
{
    AO_store_release(&print_owner, 0);
}

/* print_emit writes one formatted message with a single write under the
 * print lock. Errors are ignored: there is nowhere left to report them. */
static void print_emit(const char *buf, size_t n)
{
    int saved = errno;
    int locked = print_lock(gettid());
    print_write(2, buf, n);
    if (locked)
        print_unlock();
    errno = saved;
}

/* print_message formats prefix, then fmt, into buf (PRINT_BUF bytes) and
 * returns the length kept. When the text is cut, its last character
 * becomes a newline so that the next message starts on a line of its own;
 * with newline set, a newline is appended in any case. */
static size_t print_message(char *buf, const char *prefix, int newline, const char *fmt, va_list ap)
{
    size_t room = PRINT_BUF - (newline ? 1 : 0);
    int p = print_format(buf, room, "%s", prefix);
    size_t used = p < 0 ? 0 : (size_t)p;
    if (used > room - 1)
        used = room - 1;
    int m = print_vformat(buf + used, room - used, fmt, ap);
    size_t want = used + (m < 0 ? 0 : (size_t)m);
    size_t len = want < room - 1 ? want : room - 1;
    if (newline)
        buf[len++] = '\n';
    else if (want > len)
        buf[len - 1] = '\n';
    return len;
}

static void print_vline(const char *prefix, int newline, const char *fmt, va_list ap)
{
    char buf[PRINT_BUF];
    print_emit(buf, print_message(buf, prefix, newline, fmt, ap));
}

static void print_line(const char *prefix, int newline, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void print_line(const char *prefix, int newline, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_vline(prefix, newline, fmt, ap);
    va_end(ap);
}

void print_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_vline("", 0, fmt, ap);
    va_end(ap);
}

void print_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_vline("goheap: fatal error: ", 1, fmt, ap);
    va_end(ap);
    abort();
}

void print_internal_error(const char *file, int line, const char *expr)
{
    print_line("goheap: internal error: ", 1, "%s:%d: %s", file, line, expr);
    abort();
}
