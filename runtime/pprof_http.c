/* pprof_http.c: the /debug/pprof/ HTTP server (Go: net/http/pprof, served
 * by net/http). pprof_http.h lists what it answers; the profiles come from
 * pprof.c, the numbers from gh_read_mem_stats.
 *
 * Shape. One thread, started when the library is loaded if GHPPROF_ADDR
 * is set, runs a poll loop over the listening socket and up to CONN_MAX
 * connections, all non-blocking. A connection goes
 *   READ    until its request head (and a POST body) has arrived,
 *   WRITE   while its response goes out,
 *   LINGER  after shutdown(SHUT_WR), discarding input until the client
 *           closes, so that an early error answer (431 to a huge header)
 *           is not destroyed by a reset,
 * and is closed when it finishes or misses its deadline: READ_TIMEOUT_NS
 * from accept for the whole request, WRITE_TIMEOUT_NS for the whole
 * response, LINGER_NS. So a silent, slow or garbage-sending client holds
 * one slot for a bounded time and never delays the others; junk is
 * refused from its first bytes (pprof_http_parse_request). Building a
 * response (a profile, a gh_gc for ?gc=1) runs on this thread between
 * polls; only the sending is interleaved. Every connection closes after
 * one response (Connection: close).
 *
 * Memory. Nothing here uses the heap, so the server never shows in a heap
 * profile and never disturbs the numbers it reports: the connection table
 * and POST bodies come from os_reserve (not roots, so request bytes
 * cannot keep objects alive), and each response body is written to a
 * memfd (pprof_write_heap writes to a descriptor), then sent from it,
 * which also gives every response a Content-Length.
 *
 * Signals. The thread blocks every asynchronous signal except goheap's
 * stop signal (threads.h), so that a program that handles
 * SIGTERM or SIGINT with sigwait in a thread of its own still gets them.
 *
 * Locking: none; the connection table belongs to the server thread, and
 * srv_started lets only one server start per process. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "goheap.h"
#include "atomic.h"
#include "mprof.h"
#include "options.h"
#include "os.h"
#include "pprof.h"
#include "pprof_http.h"
#include "print.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
#define CONN_MAX 16
#define READ_TIMEOUT_NS (5 * NS_PER_S)
#define WRITE_TIMEOUT_NS (10 * NS_PER_S)
#define LINGER_NS (1 * NS_PER_S)
/* After accept fails for lack of descriptors, wait this long before
 * trying again rather than spin on a listening socket that stays ready. */
#define ACCEPT_PAUSE_NS (100 * NS_PER_MS)
#define METHOD_MAX 16
#define PATH_MAX_DECODED 256

enum conn_state { CONN_FREE, CONN_READ, CONN_WRITE, CONN_LINGER };

struct conn {
    enum conn_state state;
    int fd;
    int64_t deadline;               /* os_nanotime at which it is closed */
    /* Request. */
    size_t n;                       /* bytes in head */
    int head_done;
    struct pprof_http_request req;  /* points into head */
    char *body;                     /* os_reserve'd, body_map bytes */
    size_t body_len, body_map;
    /* Response: out (status line, headers, maybe a short body), then
     * body_size bytes of body_fd unless send_body is clear (HEAD). */
    char out[1024];
    size_t out_len, out_off;
    int body_fd;
    int send_body;
    uint64_t body_size, body_off;
    char head[PPROF_HTTP_MAX_HEAD];
};

struct server {
    int lfd;
    int64_t accept_pause_until;
    struct conn conn[CONN_MAX];
};

static struct server *srv;
static volatile AO_t srv_started;

/* ---- Parsing ------------------------------------------------------------ */

static int lower(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* token_char: RFC 9110 tchar, what a header name is made of. */
static int token_char(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch != 0 && memchr("!#$%&'*+-.^_`|~", ch, 15) != NULL;
}

/* name_is: s[0..n) equals the lower-case word w, ignoring case. */
static int name_is(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n && w[i]; i++)
        if (lower((unsigned char)s[i]) != w[i])
            return 0;
    return i == n && w[i] == '\0';
}

/* head_more: the head is incomplete so far; refuse it once it has filled
 * the buffer. */
static int head_more(size_t n)
{
    return n >= PPROF_HTTP_MAX_HEAD ? -431 : 0;
}

/* header_field checks one header line [s, s+n) (no line end) and records
 * what the server uses. Returns 0 or minus a status. */
static int header_field(const char *s, size_t n, struct pprof_http_request *r)
{
    size_t i = 0;
    while (i < n && token_char((unsigned char)s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ':')
        return -400;
    size_t name_len = i++;
    for (size_t k = i; k < n; k++) {
        unsigned char ch = (unsigned char)s[k];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return -400;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (n > i && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    const char *v = s + i;
    size_t vn = n - i;
    if (name_is(s, name_len, "content-length")) {
        if (vn == 0)
            return -400;
        int64_t len = 0;
        for (size_t k = 0; k < vn; k++) {
            if (v[k] < '0' || v[k] > '9')
                return -400;
            len = len * 10 + (v[k] - '0');
            if (len > PPROF_HTTP_MAX_BODY)
                return -413;
        }
        if (r->content_length >= 0 && r->content_length != len)
            return -400;
        r->content_length = len;
    } else if (name_is(s, name_len, "transfer-encoding")) {
        return -501;
    } else if (name_is(s, name_len, "expect")) {
        r->expect_continue = name_is(v, vn, "100-continue");
    }
    return 0;
}

int pprof_http_parse_request(const char *buf, size_t n, struct pprof_http_request *r)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    if (n > PPROF_HTTP_MAX_HEAD)
        n = PPROF_HTTP_MAX_HEAD;

    /* Method: upper-case letters, then one space. */
    size_t i = 0;
    while (i < n && buf[i] != ' ') {
        if (buf[i] < 'A' || buf[i] > 'Z' || i == METHOD_MAX)
            return -400;
        i++;
    }
    if (i == n)
        return head_more(n);
    if (i == 0)
        return -400;
    r->method = buf;
    r->method_len = i++;

    /* Target, origin form: "/path[?query]", visible ASCII. */
    if (i < n && buf[i] != '/')
        return -400;
    size_t t0 = i;
    while (i < n && buf[i] != ' ') {
        unsigned char ch = (unsigned char)buf[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return -400;
        if (ch == '?' && !r->query)
            r->query = buf + i + 1;
        i++;
    }
    if (i == n)
        return head_more(n);
    if (i == t0)
        return -400;
    r->path = buf + t0;
    r->path_len = (size_t)((r->query ? r->query - 1 : buf + i) - r->path);
    r->query_len = r->query ? (size_t)(buf + i - r->query) : 0;
    i++;

    /* Version: HTTP/1.0 or HTTP/1.1. */
    static const char proto[] = "HTTP/";
    for (size_t k = 0; k < 5; k++, i++) {
        if (i == n)
            return head_more(n);
        if (buf[i] != proto[k])
            return -400;
    }
    char ver[3];
    for (size_t k = 0; k < 3; k++, i++) {
        if (i == n)
            return head_more(n);
        ver[k] = buf[i];
    }
    if (ver[0] < '0' || ver[0] > '9' || ver[1] != '.' || ver[2] < '0' || ver[2] > '9')
        return -400;
    if (ver[0] != '1' || ver[2] > '1')
        return -505;

    /* The rest of the request line, then header lines up to a blank one. */
    int first = 1;
    for (;;) {
        const char *nl = memchr(buf + i, '\n', n - i);
        if (!nl)
            return head_more(n);
        size_t end = (size_t)(nl - buf), len = end - i;
        if (len > 0 && buf[end - 1] == '\r')
            len--;
        if (first) {
            if (len != 0)
                return -400;
            first = 0;
        } else if (len == 0) {
            r->head_len = end + 1;
            return 1;
        } else {
            int st = header_field(buf + i, len, r);
            if (st < 0)
                return st;
        }
        i = end + 1;
    }
}

static int hex_digit(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = lower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* unescape decodes %XX (and '+' as a space when plus is set) from
 * s[0..n) into out, NUL-terminated. Returns the length, or -1 for a bad
 * escape, an escaped NUL or no room. */
static long unescape(const char *s, size_t n, int plus, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            int h = i + 2 < n ? hex_digit((unsigned char)s[i + 1]) : -1;
            int l = i + 2 < n ? hex_digit((unsigned char)s[i + 2]) : -1;
            if (h < 0 || l < 0 || (h | l) == 0)
                return -1;
            ch = h << 4 | l;
            i += 2;
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (o + 1 >= size)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return (long)o;
}

int pprof_http_query_value(const char *q, size_t n, const char *key, char *val, size_t size)
{
    size_t i = 0;
    while (q && i <= n) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        const char *pair = q + i;
        size_t len = end - i;
        const char *eq = memchr(pair, '=', len);
        size_t klen = eq ? (size_t)(eq - pair) : len;
        char k[64];
        /* Go skips pairs with a ';' and pairs that do not unescape. */
        if (len > 0 && !memchr(pair, ';', len) && unescape(pair, klen, 1, k, sizeof k) >= 0 &&
            strcmp(k, key) == 0) {
            const char *v = eq ? eq + 1 : pair + len;
            if (unescape(v, (size_t)(pair + len - v), 1, val, size) >= 0)
                return 1;
        }
        if (!amp)
            break;
        i = end + 1;
    }
    return 0;
}

/* query_int is Go's strconv.Atoi(r.FormValue(key)) with the error
 * dropped: 0 unless the value is an optionally signed decimal number.
 * Only the sign matters to the callers, so large values saturate. */
static int query_int(const struct pprof_http_request *r, const char *key)
{
    char v[32];
    if (!pprof_http_query_value(r->query, r->query_len, key, v, sizeof v))
        return 0;
    const char *p = v;
    int neg = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    if (!*p)
        return 0;
    int x = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        x = x > (INT_MAX - 9) / 10 ? INT_MAX : x * 10 + (*p - '0');
    }
    return neg ? -x : x;
}

/* parse_uint is strconv.ParseUint(s, 0, 64) without underscores: returns
 * 0 for anything it would reject (and for zero itself). */
static uint64_t parse_uint(const char *s, size_t n)
{
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && s[0] == '0') {
        int p = lower((unsigned char)s[1]);
        base = p == 'x' ? 16 : p == 'b' ? 2 : 8;
        i = p == 'x' || p == 'b' || p == 'o' ? 2 : 1;
    }
    if (i == n)
        return 0;
    uint64_t x = 0;
    for (; i < n; i++) {
        int d = hex_digit((unsigned char)s[i]);
        if (d < 0 || (unsigned)d >= base || x > (UINT64_MAX - (unsigned)d) / base)
            return 0;
        x = x * base + (unsigned)d;
    }
    return x;
}

size_t pprof_http_parse_addrs(const char *s, size_t n, uintptr_t *out, size_t max)
{
    size_t count = 0, i = 0;
    while (s && i <= n) {
        const char *plus = memchr(s + i, '+', n - i);
        size_t end = plus ? (size_t)(plus - s) : n;
        uint64_t pc = parse_uint(s + i, end - i);
        if (pc != 0) {
            if (count < max)
                out[count] = (uintptr_t)pc;
            count++;
        }
        if (!plus)
            break;
        i = end + 1;
    }
    return count;
}

int pprof_http_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    size_t hn = (size_t)(colon - s);
    char host[64];
    int v6 = 0;
    if (hn >= 2 && s[0] == '[' && s[hn - 1] == ']') {
        s++;
        hn -= 2;
        v6 = 1;
    }
    if (hn >= sizeof host)
        return -1;
    memcpy(host, s, hn);
    host[hn] = '\0';
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5)
        return -1;
    unsigned port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        port = port * 10 + (unsigned)(*p - '0');
    }
    if (port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return -1;
        *len = sizeof *a;
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (hn == 0 || strcmp(host, "localhost") == 0)
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    *len = sizeof *a;
    return 0;
}

/* ---- Response bodies ---------------------------------------------------- */

/* A buffered writer to a response's memfd; err latches the first error. */
struct hbuf {
    int fd;
    int err;
    size_t n;
    char b[4096];
};

static void hbuf_flush(struct hbuf *h)
{
    if (h->n && !h->err && print_write(h->fd, h->b, h->n) != 0)
        h->err = errno ? errno : EIO;
    h->n = 0;
}

static void hbuf_put(struct hbuf *h, const void *d, size_t n)
{
    const char *p = d;
    while (n) {
        if (h->n == sizeof h->b)
            hbuf_flush(h);
        size_t k = sizeof h->b - h->n < n ? sizeof h->b - h->n : n;
        memcpy(h->b + h->n, p, k);
        h->n += k;
        p += k;
        n -= k;
    }
}

static void hbuf_str(struct hbuf *h, const char *s)
{
    hbuf_put(h, s, strlen(s));
}

static __attribute__((format(printf, 2, 3))) void hbuf_printf(struct hbuf *h, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int len = print_vformat(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (len > 0)
        hbuf_put(h, tmp, (size_t)len < sizeof tmp ? (size_t)len : sizeof tmp - 1);
}

/* body_open returns a new, empty response body (a memfd), or -1. */
static int body_open(void)
{
    return memfd_create("goheap-pprof", MFD_CLOEXEC);
}

/* The gh_mem_stats fields that are plain uint64_t, in declaration order
 * up to the pause arrays. */
#define U64_FIELD(f) { #f, offsetof(gh_mem_stats, f) }
static const struct {
    const char *name;
    size_t off;
} memstats_u64[] = {
    U64_FIELD(alloc), U64_FIELD(total_alloc), U64_FIELD(sys), U64_FIELD(lookups),
    U64_FIELD(mallocs), U64_FIELD(frees), U64_FIELD(heap_alloc), U64_FIELD(heap_sys),
    U64_FIELD(heap_idle), U64_FIELD(heap_inuse), U64_FIELD(heap_released), U64_FIELD(heap_objects),
    U64_FIELD(stack_inuse), U64_FIELD(stack_sys), U64_FIELD(mspan_inuse), U64_FIELD(mspan_sys),
    U64_FIELD(mcache_inuse), U64_FIELD(mcache_sys), U64_FIELD(buck_hash_sys), U64_FIELD(gc_sys),
    U64_FIELD(other_sys), U64_FIELD(next_gc), U64_FIELD(last_gc), U64_FIELD(pause_total_ns),
};

static void json_u64_array(struct hbuf *h, const char *name, const uint64_t *v, size_t n)
{
    hbuf_printf(h, ",\n\"%s\": [", name);
    for (size_t i = 0; i < n; i++)
        hbuf_printf(h, i ? ",%llu" : "%llu", (unsigned long long)v[i]);
    hbuf_str(h, "]");
}

/* write_memstats writes *m as one JSON object, every field of
 * gh_mem_stats under its C name, in declaration order. */
static void write_memstats(struct hbuf *h, const gh_mem_stats *m)
{
    for (size_t i = 0; i < sizeof memstats_u64 / sizeof memstats_u64[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)m + memstats_u64[i].off, sizeof v);
        hbuf_printf(h, "%s\"%s\": %llu", i ? ",\n" : "{\n", memstats_u64[i].name, (unsigned long long)v);
    }
    json_u64_array(h, "pause_ns", m->pause_ns, 256);
    json_u64_array(h, "pause_end", m->pause_end, 256);
    char f[40];
    pprof_format_float(f, sizeof f, m->gc_cpu_fraction);
    hbuf_printf(h, ",\n\"num_gc\": %u,\n\"num_forced_gc\": %u,\n\"gc_cpu_fraction\": %s", m->num_gc,
                m->num_forced_gc, f);
    hbuf_printf(h, ",\n\"enable_gc\": %s,\n\"debug_gc\": %s,\n\"by_size\": [", m->enable_gc ? "true" : "false",
                m->debug_gc ? "true" : "false");
    for (size_t i = 0; i < sizeof m->by_size / sizeof m->by_size[0]; i++)
        hbuf_printf(h, "%s{\"size\": %u, \"mallocs\": %llu, \"frees\": %llu}", i ? ",\n  " : "\n  ",
                    m->by_size[i].size, (unsigned long long)m->by_size[i].mallocs,
                    (unsigned long long)m->by_size[i].frees);
    hbuf_str(h, "]\n}\n");
}

static const struct {
    const char *name;
    const char *desc;
} index_entries[] = {
    { "allocs", "A sampling of all past memory allocations" },
    { "cmdline", "The command line invocation of the current program" },
    { "heap", "A sampling of memory allocations of live objects. You can specify the gc GET "
              "parameter to run GC before taking the heap sample." },
    { "memstats", "gh_read_mem_stats (Go's runtime.MemStats) as JSON" },
    { "symbol", "Function names of program addresses, as go tool pprof asks for them" },
};

static void write_index(struct hbuf *h)
{
    struct mprof_snapshot s;
    size_t records = 0;
    if (mprof_snapshot_take(&s) == 0) {
        records = s.n;
        mprof_snapshot_release(&s);
    }
    hbuf_str(h, "<html>\n<head>\n<title>/debug/pprof/</title>\n<style>\n.profile-name{\n"
                "\tdisplay:inline-block;\n\twidth:6rem;\n}\n</style>\n</head>\n<body>\n"
                "/debug/pprof/<br>\n<br>\nTypes of profiles available:\n<table>\n"
                "<thead><td>Count</td><td>Profile</td></thead>\n");
    for (size_t i = 0; i < sizeof index_entries / sizeof index_entries[0]; i++) {
        const char *name = index_entries[i].name;
        int profile = strcmp(name, "heap") == 0 || strcmp(name, "allocs") == 0;
        hbuf_printf(h, "<tr><td>%zu</td><td><a href='%s?debug=1'>%s</a></td></tr>\n",
                    profile ? records : 0, name, name);
    }
    hbuf_str(h, "</table>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n");
    for (size_t i = 0; i < sizeof index_entries / sizeof index_entries[0]; i++) {
        hbuf_printf(h, "<li><div class=profile-name>%s: </div> ", index_entries[i].name);
        hbuf_str(h, index_entries[i].desc);
        hbuf_str(h, "</li>\n");
    }
    hbuf_str(h, "</ul>\n</p>\n</body>\n</html>");
}

static void symbol_line(uintptr_t addr, const char *name, void *arg)
{
    struct hbuf *h = arg;
    hbuf_printf(h, "%#lx ", (unsigned long)addr);
    hbuf_str(h, name);
    hbuf_str(h, "\n");
}

/* write_symbols answers pprof's symbol query s[0..n). */
static void write_symbols(struct hbuf *h, const char *s, size_t n)
{
    hbuf_str(h, "num_symbols: 1\n");
    size_t count = pprof_http_parse_addrs(s, n, NULL, 0);
    if (count == 0)
        return;
    size_t bytes = (count * sizeof(uintptr_t) + os_page_size() - 1) & ~(os_page_size() - 1);
    uintptr_t *addrs = os_reserve(bytes, os_page_size(), OS_STAT_OTHER);
    if (!addrs) {
        h->err = ENOMEM;
        return;
    }
    pprof_http_parse_addrs(s, n, addrs, count);
    if (pprof_lookup_symbols(addrs, count, symbol_line, h) != 0)
        h->err = ENOMEM;
    os_unmap(addrs, bytes, OS_STAT_OTHER);
}

/* write_cmdline copies /proc/self/cmdline, whose arguments each end in a
 * NUL, as Go's strings.Join(os.Args, "\x00"): without the last NUL. */
static void write_cmdline(struct hbuf *h)
{
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        h->err = errno;
        return;
    }
    char buf[4096];
    int held = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            h->err = errno;
        if (r <= 0)
            break;
        if (held)
            hbuf_put(h, "", 1);
        held = buf[r - 1] == '\0';
        hbuf_put(h, buf, (size_t)r - (size_t)held);
    }
    close(fd);
}

/* ---- Connections -------------------------------------------------------- */

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 301: return "Moved Permanently";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Request Entity Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Internal Server Error";
    }
}

static void conn_close(struct conn *c)
{
    close(c->fd);
    if (c->body_fd >= 0)
        close(c->body_fd);
    if (c->body)
        os_unmap(c->body, c->body_map, OS_STAT_OTHER);
    c->body = NULL;
    c->body_fd = -1;
    c->state = CONN_FREE;
}

static int method_is(const struct conn *c, const char *m)
{
    return c->head_done && c->req.method_len == strlen(m) && memcmp(c->req.method, m, c->req.method_len) == 0;
}

/* conn_reply queues a response: status line, the common headers, extra
 * (complete header lines or ""), then either body_fd's contents or, when
 * body_fd < 0, the short text. A HEAD request gets the headers alone. */
static void conn_reply(struct conn *c, int status, const char *type, const char *extra, int body_fd,
                       const char *text)
{
    uint64_t size = text ? strlen(text) : 0;
    if (body_fd >= 0) {
        off_t end = lseek(body_fd, 0, SEEK_END);
        size = end > 0 ? (uint64_t)end : 0;
    }
    int head_only = method_is(c, "HEAD");
    int len = print_format(c->out, sizeof c->out,
                           "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sX-Content-Type-Options: nosniff\r\n"
                           "Content-Length: %llu\r\nConnection: close\r\n\r\n%s",
                           status, status_text(status), type, extra, (unsigned long long)size,
                           text && !head_only ? text : "");
    /* Every caller's text and headers are short and bounded. */
    gh_assert(len > 0 && (size_t)len < sizeof c->out);
    c->out_len = len > 0 && (size_t)len < sizeof c->out ? (size_t)len : sizeof c->out - 1;
    c->out_off = 0;
    c->body_fd = body_fd;
    c->body_size = size;
    c->body_off = 0;
    c->send_body = body_fd >= 0 && !head_only;
    c->state = CONN_WRITE;
    c->deadline = os_nanotime() + WRITE_TIMEOUT_NS;
}

/* conn_error answers as Go's serveError does: text/plain, X-Go-Pprof: 1,
 * the message and a newline (the status text when msg is NULL). */
static void conn_error(struct conn *c, int status, const char *msg)
{
    char text[128];
    print_format(text, sizeof text, "%s\n", msg ? msg : status_text(status));
    conn_reply(c, status, "text/plain; charset=utf-8", "X-Go-Pprof: 1\r\n", -1, text);
}

/* conn_reply_body finishes h and queues it as a 200 response, or a 500
 * when it could not be written. */
static void conn_reply_body(struct conn *c, struct hbuf *h, const char *type)
{
    hbuf_flush(h);
    if (h->err) {
        close(h->fd);
        conn_error(c, 500, "cannot build the response");
        return;
    }
    conn_reply(c, 200, type, "", h->fd, NULL);
}

static void serve_heap(struct conn *c, int allocs)
{
    char v[32];
    if (pprof_http_query_value(c->req.query, c->req.query_len, "seconds", v, sizeof v) && v[0]) {
        conn_error(c, 400, "\"seconds\" parameter is not supported by goheap");
        return;
    }
    int debug = query_int(&c->req, "debug");
    if (!allocs && query_int(&c->req, "gc") > 0)
        gh_gc();
    int fd = body_open();
    if (fd < 0 || pprof_write_heap(fd, debug, allocs) != 0) {
        if (fd >= 0)
            close(fd);
        conn_error(c, 500, "cannot write the profile");
        return;
    }
    if (debug)
        conn_reply(c, 200, "text/plain; charset=utf-8", "", fd, NULL);
    else
        conn_reply(c, 200, "application/octet-stream",
                   allocs ? "Content-Disposition: attachment; filename=\"allocs\"\r\n"
                          : "Content-Disposition: attachment; filename=\"heap\"\r\n",
                   fd, NULL);
}

/* serve_request routes a complete request. */
static void serve_request(struct conn *c)
{
    if (!method_is(c, "GET") && !method_is(c, "HEAD") && !method_is(c, "POST")) {
        char text[64];
        print_format(text, sizeof text, "%s\n", status_text(405));
        conn_reply(c, 405, "text/plain; charset=utf-8", "Allow: GET, HEAD, POST\r\n", -1, text);
        return;
    }
    char path[PATH_MAX_DECODED];
    if (unescape(c->req.path, c->req.path_len, 0, path, sizeof path) < 0) {
        /* Too long to be one of ours, or badly escaped. */
        if (c->req.path_len >= sizeof path)
            conn_error(c, 404, "404 page not found");
        else
            conn_error(c, 400, NULL);
        return;
    }
    static const char prefix[] = "/debug/pprof/";
    if (strcmp(path, "/debug/pprof") == 0) {
        char loc[128];
        if (c->req.query_len < sizeof loc - 32) {
            print_format(loc, sizeof loc, "Location: /debug/pprof/%s%.*s\r\n", c->req.query ? "?" : "",
                         (int)c->req.query_len, c->req.query ? c->req.query : "");
            conn_reply(c, 301, "text/html; charset=utf-8", loc, -1, "");
        } else {
            conn_error(c, 404, "404 page not found");
        }
        return;
    }
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) {
        conn_error(c, 404, "404 page not found");
        return;
    }
    const char *name = path + sizeof prefix - 1;
    if (strcmp(name, "heap") == 0 || strcmp(name, "allocs") == 0) {
        serve_heap(c, name[0] == 'a');
        return;
    }
    const char *type = "text/plain; charset=utf-8";
    if (strcmp(name, "") == 0)
        type = "text/html; charset=utf-8";
    else if (strcmp(name, "memstats") == 0)
        type = "application/json";
    else if (strcmp(name, "symbol") != 0 && strcmp(name, "cmdline") != 0) {
        conn_error(c, 404, "Unknown profile");
        return;
    }
    struct hbuf h;
    h.fd = body_open();
    h.err = h.fd < 0 ? errno : 0;
    h.n = 0;
    if (h.fd < 0) {
        conn_error(c, 500, "cannot build the response");
        return;
    }
    if (name[0] == '\0') {
        write_index(&h);
    } else if (name[0] == 'm') {
        gh_mem_stats m;
        gh_read_mem_stats(&m);
        write_memstats(&h, &m);
    } else if (name[0] == 's') {
        if (method_is(c, "POST"))
            write_symbols(&h, c->body, c->body_len);
        else
            write_symbols(&h, c->req.query, c->req.query_len);
    } else {
        write_cmdline(&h);
    }
    conn_reply_body(c, &h, type);
}

/* conn_linger moves c to its last state: output shut, input drained. */
static void conn_linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    if (c->body_fd >= 0)
        close(c->body_fd);
    c->body_fd = -1;
    c->state = CONN_LINGER;
    c->deadline = os_nanotime() + LINGER_NS;
}

/* conn_send sends what it can of n bytes at p without blocking: returns
 * the bytes sent, 0 when the socket is full, or -1 after closing c on an
 * error. */
static ssize_t conn_send(struct conn *c, const char *p, size_t n)
{
    for (;;) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0)
            return w;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR) {
            conn_close(c);
            return -1;
        }
    }
}

static void conn_write(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = conn_send(c, c->out + c->out_off, c->out_len - c->out_off);
        if (w <= 0)
            return;
        c->out_off += (size_t)w;
    }
    while (c->send_body && c->body_off < c->body_size) {
        char buf[16 << 10];
        uint64_t left = c->body_size - c->body_off;
        ssize_t r = pread(c->body_fd, buf, left < sizeof buf ? (size_t)left : sizeof buf, (off_t)c->body_off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            conn_close(c);
            return;
        }
        ssize_t w = conn_send(c, buf, (size_t)r);
        if (w <= 0)
            return;
        c->body_off += (uint64_t)w;
    }
    conn_linger(c);
}

/* conn_got_head sets up the body of a request whose head is complete.
 * Returns 0, or -1 when c has been answered with an error. */
static int conn_got_head(struct conn *c)
{
    c->head_done = 1;
    if (c->req.content_length <= 0)
        return 0;
    size_t want = (size_t)c->req.content_length;
    c->body_map = (want + os_page_size() - 1) & ~(os_page_size() - 1);
    c->body = os_reserve(c->body_map, os_page_size(), OS_STAT_OTHER);
    if (!c->body) {
        conn_error(c, 500, "out of memory");
        return -1;
    }
    size_t extra = c->n - c->req.head_len;
    c->body_len = extra < want ? extra : want;
    memcpy(c->body, c->head + c->req.head_len, c->body_len);
    if (c->req.expect_continue && c->body_len < want) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        /* Best effort: a client that misses it sends the body anyway. */
        if (send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            c->req.expect_continue = 0;
    }
    return 0;
}

static void conn_read(struct conn *c)
{
    for (;;) {
        size_t want = c->req.content_length > 0 ? (size_t)c->req.content_length : 0;
        if (c->head_done && c->body_len == want) {
            serve_request(c);
            return;
        }
        char *dst = c->head_done ? c->body + c->body_len : c->head + c->n;
        size_t room = c->head_done ? want - c->body_len : sizeof c->head - c->n;
        ssize_t r = recv(c->fd, dst, room, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            /* The client went away (or half-closed) before a whole
             * request: nobody to answer. */
            conn_close(c);
            return;
        }
        if (c->head_done) {
            c->body_len += (size_t)r;
            continue;
        }
        c->n += (size_t)r;
        int st = pprof_http_parse_request(c->head, c->n, &c->req);
        if (st < 0) {
            conn_error(c, -st, NULL);
            return;
        }
        if (st == 1 && conn_got_head(c) != 0)
            return;
    }
}

static void conn_drain(struct conn *c)
{
    char buf[4096];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        conn_close(c);
        return;
    }
}

static void conn_step(struct conn *c)
{
    switch (c->state) {
    case CONN_READ:
        conn_read(c);
        break;
    case CONN_WRITE:
        conn_write(c);
        break;
    case CONN_LINGER:
        conn_drain(c);
        break;
    case CONN_FREE:
        break;
    }
    /* A response queued while reading can often go out at once. */
    if (c->state == CONN_WRITE)
        conn_write(c);
}

/* server_accept takes pending connections while there are free slots. */
static void server_accept(int64_t now)
{
    for (int i = 0; i < CONN_MAX; i++) {
        struct conn *c = &srv->conn[i];
        if (c->state != CONN_FREE)
            continue;
        int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                srv->accept_pause_until = now + ACCEPT_PAUSE_NS;
            return;
        }
        c->fd = fd;
        c->state = CONN_READ;
        c->deadline = now + READ_TIMEOUT_NS;
        c->n = 0;
        c->head_done = 0;
        memset(&c->req, 0, sizeof c->req);
        c->req.content_length = -1;
        c->body = NULL;
        c->body_len = c->body_map = 0;
        c->body_fd = -1;
        conn_step(c);
    }
}

/* server_poll waits for the next event or deadline and handles it. */
static void server_poll(void)
{
    struct pollfd pfd[CONN_MAX + 1];
    struct conn *who[CONN_MAX + 1];
    int n = 0, free_slots = 0;
    int64_t now = os_nanotime(), wake = INT64_MAX;
    for (int i = 0; i < CONN_MAX; i++) {
        struct conn *c = &srv->conn[i];
        if (c->state == CONN_FREE) {
            free_slots++;
            continue;
        }
        pfd[n].fd = c->fd;
        pfd[n].events = c->state == CONN_WRITE ? POLLOUT : POLLIN;
        who[n++] = c;
        if (c->deadline < wake)
            wake = c->deadline;
    }
    int listening = free_slots > 0 && now >= srv->accept_pause_until;
    if (listening) {
        pfd[n].fd = srv->lfd;
        pfd[n].events = POLLIN;
        who[n++] = NULL;
    } else if (free_slots > 0 && srv->accept_pause_until < wake) {
        wake = srv->accept_pause_until;
    }
    int timeout = -1;
    if (wake != INT64_MAX)
        timeout = wake <= now ? 0 : (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS);
    /* EINTR (a stop of the world, for one) just goes round again. */
    if (poll(pfd, (nfds_t)n, timeout) < 0)
        return;
    now = os_nanotime();
    for (int i = 0; i < n; i++) {
        struct conn *c = who[i];
        if (c == NULL) {
            if (pfd[i].revents)
                server_accept(now);
            continue;
        }
        if (pfd[i].revents)
            conn_step(c);
        if (c->state != CONN_FREE && os_nanotime() >= c->deadline)
            conn_close(c);
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "goheap-pprof");
    for (;;)
        server_poll();
    return NULL;
}

int pprof_http_start(const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (pprof_http_parse_addr(addr, &ss, &len) != 0) {
        errno = EINVAL;
        return -1;
    }
    if (!AO_compare_and_swap_full(&srv_started, 0, 1)) {
        errno = EBUSY;
        return -1;
    }
    size_t bytes = (sizeof *srv + os_page_size() - 1) & ~(os_page_size() - 1);
    struct server *s = os_reserve(bytes, os_page_size(), OS_STAT_OTHER);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, err = 0;
    pthread_t tid;
    pthread_attr_t attr;
    sigset_t all, old;
    if (!s || fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        err = errno ? errno : ENOMEM;
        goto fail;
    }
    s->lfd = fd;
    for (int i = 0; i < CONN_MAX; i++)
        s->conn[i].body_fd = -1;
    srv = s;
    /* The thread starts with every asynchronous signal blocked but the
     * collector's own (see the top of this file). */
    static const int keep[] = { SIGPWR, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };
    sigfillset(&all);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        sigdelset(&all, keep[i]);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&tid, &attr, server_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (err == 0)
        return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    srv = NULL;
fail:
    if (fd >= 0)
        close(fd);
    if (s)
        os_unmap(s, bytes, OS_STAT_OTHER);
    AO_store_release(&srv_started, 0);
    errno = err;
    return -1;
}

void pprof_http_init(void)
{
    static volatile AO_t inited;
    if (!AO_compare_and_swap_full(&inited, 0, 1))
        return;
    options_init();
    const char *addr = opts.pprof_addr;
    if (!addr[0])
        return;
    struct sockaddr_storage ss;
    socklen_t len;
    if (pprof_http_parse_addr(addr, &ss, &len) != 0) {
        print_err("goheap: GHPPROF_ADDR=\"%s\" is not host:port with a numeric IP address or "
                  "localhost; not serving /debug/pprof/\n", addr);
        return;
    }
    int port = pprof_http_start(addr);
    if (port < 0)
        print_err("goheap: GHPPROF_ADDR=\"%s\": cannot serve /debug/pprof/ (errno %d)\n", addr, errno);
    else if (((struct sockaddr_in *)&ss)->sin_port == 0)
        /* Port 0 (same place in both families): the kernel chose one, and
         * this is the only way to learn which. */
        print_err("goheap: serving /debug/pprof/ on port %d\n", port);
}

__attribute__((constructor)) static void pprof_http_ctor(void)
{
    pprof_http_init();
}
