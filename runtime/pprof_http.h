/* pprof_http.h: /debug/pprof/ over HTTP (pprof_http.c; Go: net/http/pprof
 * and the bits of net/http it needs).
 *
 * GHPPROF_ADDR=host:port starts, when the library is loaded, one server
 * thread answering:
 *   /debug/pprof/           HTML index
 *   /debug/pprof/heap       heap profile: debug=0 (default) gzipped proto,
 *                           debug=N>0 legacy text; gc=N>0 runs gh_gc first
 *   /debug/pprof/allocs     the same data, default sample alloc_space
 *                           (gc is ignored, as in Go)
 *   /debug/pprof/symbol     GET (addresses in the query) or POST (in the
 *                           body), "0x..." joined by '+': "num_symbols: 1"
 *                           then "0x<addr> <function>" per named address
 *   /debug/pprof/memstats   gh_read_mem_stats as JSON, every field, named
 *                           as in gh_mem_stats
 *   /debug/pprof/cmdline    the command line, arguments separated by NUL
 * The public functions below the server are its pieces, exposed so that
 * tests can drive them directly. */
#ifndef GH_PPROF_HTTP_H
#define GH_PPROF_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Limits on what a client may send: the request line and headers, and a
 * POST body (Content-Length; chunked bodies are refused). */
#define PPROF_HTTP_MAX_HEAD (8 << 10)
#define PPROF_HTTP_MAX_BODY (1 << 20)

/* pprof_http_init starts the server named by opts.pprof_addr, if any, and
 * reports on stderr when it cannot. Runs as a constructor; idempotent. */
void pprof_http_init(void);

/* pprof_http_start listens on addr (see pprof_http_parse_addr) and starts
 * the server thread. Returns the port it listens on (useful with port 0),
 * or -1 with errno: EINVAL for a malformed address, EBUSY when a server
 * already runs in this process, or the failing call's errno. */
int pprof_http_start(const char *addr);

/* pprof_http_parse_addr parses "host:port" into *ss and *len without name
 * lookups (which would allocate): host is a numeric IPv4 address, an IPv6
 * address in brackets, "localhost" or empty; the last two, the safe
 * default, mean 127.0.0.1. So the server binds loopback unless another
 * address is named explicitly. port is decimal, 0 to 65535 (0: the kernel
 * picks one). Returns 0, or -1 when s is malformed. */
int pprof_http_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* The parts of a request head that the server uses. The pointers point
 * into the buffer given to pprof_http_parse_request. */
struct pprof_http_request {
    const char *method;
    size_t method_len;
    const char *path;           /* as sent, before percent-decoding */
    size_t path_len;
    const char *query;          /* after '?', or NULL */
    size_t query_len;
    size_t head_len;            /* bytes up to and including the blank line */
    int64_t content_length;     /* -1: none given */
    int expect_continue;        /* "Expect: 100-continue" was sent */
};

/* pprof_http_parse_request parses the request head at the start of
 * buf[0..n). Returns 1 when the head is complete and valid; 0 when
 * every byte so far could begin a valid head but it is not complete yet;
 * otherwise minus the HTTP status to answer with: -400 (malformed: a
 * bad method token, a target not starting with '/', control bytes, a
 * bad header line or Content-Length), -413 (Content-Length above
 * PPROF_HTTP_MAX_BODY), -431 (no end of head within PPROF_HTTP_MAX_HEAD
 * bytes), -501 (Transfer-Encoding), -505 (not HTTP/1.0 or 1.1). Binary
 * junk is refused from its first bytes. Bare LF line ends are accepted. */
int pprof_http_parse_request(const char *buf, size_t n, struct pprof_http_request *r);

/* pprof_http_query_value looks key up in the query string q[0..n) as Go's
 * FormValue does: pairs split at '&', '+' and %XX decoded, the first
 * occurrence wins. Copies the decoded value (NUL-terminated) to val and
 * returns 1; returns 0 when key is absent, or when its value is badly
 * escaped or does not fit in size bytes. */
int pprof_http_query_value(const char *q, size_t n, const char *key, char *val, size_t size);

/* pprof_http_parse_addrs reads the symbol handler's input s[0..n):
 * numbers joined by '+', each parsed as Go's strconv.ParseUint with base
 * 0 (0x hex, 0o or leading 0 octal, 0b binary, else decimal). Numbers
 * that are zero or do not parse are skipped, as Go skips them. Stores at
 * most max of them in out (out may be NULL with max 0) and returns how
 * many there are in all. */
size_t pprof_http_parse_addrs(const char *s, size_t n, uintptr_t *out, size_t max);

#endif
