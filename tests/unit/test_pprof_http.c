/* test_pprof_http.c: the /debug/pprof/ server (runtime/pprof_http.c).
 *
 * The parsers are driven directly: request heads (complete, every
 * prefix of one, and each kind of malformed input with the status it must
 * get), query strings as Go's FormValue reads them, symbol queries as
 * strconv.ParseUint(s, 0, 64) reads them, and GHPPROF_ADDR. Then one
 * server runs in this process on a kernel-chosen loopback port and a
 * small client checks the answers that the script tests/pprof/http.sh
 * cannot see from outside: names of this file's functions from
 * /debug/pprof/symbol by GET, POST and POST with "Expect: 100-continue",
 * gc=1 on heap (and not on allocs), HEAD, redirects, limits, that a
 * silent client does not hold up others, and that serving allocates
 * nothing from the heap. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "goheap.h"
#include "pprof_http.h"

/* ---- Request heads ---------------------------------------------------- */

static int parse(const char *s, struct pprof_http_request *r)
{
    return pprof_http_parse_request(s, strlen(s), r);
}

static void request_head_is_parsed(void **state)
{
    (void)state;
    static const char req[] = "GET /debug/pprof/heap?debug=1&gc=1 HTTP/1.1\r\nHost: x\r\n"
                              "content-LENGTH:  12 \r\nExpect: 100-Continue\r\n\r\nbody";
    struct pprof_http_request r;
    assert_int_equal(parse(req, &r), 1);
    assert_int_equal(r.method_len, 3);
    assert_memory_equal(r.method, "GET", 3);
    assert_int_equal(r.path_len, strlen("/debug/pprof/heap"));
    assert_memory_equal(r.path, "/debug/pprof/heap", r.path_len);
    assert_int_equal(r.query_len, strlen("debug=1&gc=1"));
    assert_memory_equal(r.query, "debug=1&gc=1", r.query_len);
    assert_int_equal(r.head_len, strlen(req) - 4);
    assert_int_equal(r.content_length, 12);
    assert_true(r.expect_continue);

    /* Bare LF, HTTP/1.0, no query, no headers. */
    assert_int_equal(parse("POST /debug/pprof/symbol HTTP/1.0\n\n", &r), 1);
    assert_null(r.query);
    assert_int_equal(r.content_length, -1);
    assert_false(r.expect_continue);
    assert_int_equal(r.head_len, strlen("POST /debug/pprof/symbol HTTP/1.0\n\n"));
}

static void every_prefix_of_a_head_asks_for_more(void **state)
{
    (void)state;
    static const char req[] = "GET /debug/pprof/?a=b HTTP/1.1\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n";
    struct pprof_http_request r;
    for (size_t n = 0; n < strlen(req); n++)
        assert_int_equal(pprof_http_parse_request(req, n, &r), 0);
    assert_int_equal(pprof_http_parse_request(req, strlen(req), &r), 1);
}

static void malformed_heads_get_their_status(void **state)
{
    (void)state;
    static const struct {
        const char *req;
        int want;
    } cases[] = {
        { "\x16\x03\x01", -400 },                       /* a TLS hello: refused at once */
        { "get / HTTP/1.1\r\n\r\n", -400 },             /* methods are upper case */
        { "ABCDEFGHIJKLMNOPQ", -400 },                  /* a method too long to be one */
        { " / HTTP/1.1\r\n\r\n", -400 },
        { "GET debug HTTP/1.1\r\n\r\n", -400 },         /* not origin form */
        { "GET /a\x01 HTTP/1.1\r\n\r\n", -400 },
        { "GET / HTTX/1.1\r\n\r\n", -400 },
        { "GET / HTTP/1.1 x\r\n\r\n", -400 },
        { "GET / HTTP/2.0\r\n\r\n", -505 },
        { "GET / HTTP/1.2\r\n\r\n", -505 },
        { "GET / HTTP/1.1\r\nno colon\r\n\r\n", -400 },
        { "GET / HTTP/1.1\r\nHost : x\r\n\r\n", -400 }, /* space before the colon */
        { "GET / HTTP/1.1\r\n folded\r\n\r\n", -400 },
        { "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", -400 },
        { "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", -400 },
        { "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", -400 },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400 },
        { "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", -413 },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", -501 },
    };
    struct pprof_http_request r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = parse(cases[i].req, &r);
        if (got != cases[i].want)
            fail_msg("case %zu: got %d, want %d", i, got, cases[i].want);
    }
    /* The same Content-Length twice is fine; the largest body allowed is. */
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", &r), 1);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n", &r), 1);
}

static void head_that_fills_the_buffer_is_too_large(void **state)
{
    (void)state;
    static char req[PPROF_HTTP_MAX_HEAD + 100];
    struct pprof_http_request r;
    int n = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX: ");
    memset(req + n, 'a', sizeof req - (size_t)n);
    assert_int_equal(pprof_http_parse_request(req, PPROF_HTTP_MAX_HEAD - 1, &r), 0);
    assert_int_equal(pprof_http_parse_request(req, PPROF_HTTP_MAX_HEAD, &r), -431);
    assert_int_equal(pprof_http_parse_request(req, sizeof req, &r), -431);
    /* Also when the request line alone never ends. */
    memset(req, 'a', sizeof req);
    memcpy(req, "GET /", 5);
    assert_int_equal(pprof_http_parse_request(req, PPROF_HTTP_MAX_HEAD, &r), -431);
}

/* ---- Query strings, symbol queries, addresses ------------------------- */

static int qv(const char *q, const char *key, char *val, size_t size)
{
    return pprof_http_query_value(q, strlen(q), key, val, size);
}

static void query_values_read_as_go_formvalue(void **state)
{
    (void)state;
    char v[16];
    assert_true(qv("debug=1&gc=2", "gc", v, sizeof v));
    assert_string_equal(v, "2");
    assert_true(qv("debug=1&debug=2", "debug", v, sizeof v));
    assert_string_equal(v, "1");
    assert_true(qv("a=%31+%32&%64ebug=x+y", "debug", v, sizeof v));
    assert_string_equal(v, "x y");
    assert_true(qv("debug", "debug", v, sizeof v));
    assert_string_equal(v, "");
    /* Pairs that are badly escaped or hold a ';' are skipped. */
    assert_true(qv("debug=%zz&debug=3", "debug", v, sizeof v));
    assert_string_equal(v, "3");
    assert_true(qv("debug=1;x&debug=4", "debug", v, sizeof v));
    assert_string_equal(v, "4");
    assert_false(qv("debugx=1&xdebug=2&", "debug", v, sizeof v));
    assert_false(qv("", "debug", v, sizeof v));
    assert_false(pprof_http_query_value(NULL, 0, "debug", v, sizeof v));
    assert_false(qv("debug=0123456789abcdefXYZ", "debug", v, sizeof v)); /* no room */
}

static void symbol_queries_read_as_go_parseuint(void **state)
{
    (void)state;
    static const char q[] = "0x10+0X20+017+0b11+0o17+42+junk+0+0x+0x1ffffffffffffffff+18446744073709551615+";
    uintptr_t out[16];
    memset(out, 0, sizeof out);
    assert_int_equal(pprof_http_parse_addrs(q, strlen(q), NULL, 0), 7);
    assert_int_equal(pprof_http_parse_addrs(q, strlen(q), out, 16), 7);
    static const uintptr_t want[] = { 16, 32, 15, 3, 15, 42, UINTPTR_MAX };
    assert_memory_equal(out, want, sizeof want);
    /* Only max are stored, all are counted. */
    memset(out, 0, sizeof out);
    assert_int_equal(pprof_http_parse_addrs(q, strlen(q), out, 2), 7);
    assert_int_equal(out[1], 32);
    assert_int_equal(out[2], 0);
    assert_int_equal(pprof_http_parse_addrs("", 0, out, 16), 0);
    assert_int_equal(pprof_http_parse_addrs(NULL, 0, out, 16), 0);
}

static void addresses_default_to_loopback(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    static const struct {
        const char *s;
        uint32_t ip;
        int port;
    } v4[] = {
        { "127.0.0.1:6060", INADDR_LOOPBACK, 6060 },
        { ":6060", INADDR_LOOPBACK, 6060 },
        { "localhost:0", INADDR_LOOPBACK, 0 },
        { "127.1.2.3:65535", 0x7f010203, 65535 },
        { "0.0.0.0:1", INADDR_ANY, 1 },          /* named explicitly: allowed */
        { "10.1.2.3:80", 0x0a010203, 80 },
    };
    for (size_t i = 0; i < sizeof v4 / sizeof v4[0]; i++) {
        assert_int_equal(pprof_http_parse_addr(v4[i].s, &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_INET);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_int_equal(ntohl(in->sin_addr.s_addr), v4[i].ip);
        assert_int_equal(ntohs(in->sin_port), v4[i].port);
    }
    assert_int_equal(pprof_http_parse_addr("[::1]:80", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port), 80);
    static const char *const bad[] = {
        "example.com:80", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "1.2.3.4:8x",
        "1.2.3.4:123456", "[::1:80", "::1:80", "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (pprof_http_parse_addr(bad[i], &ss, &len) != -1)
            fail_msg("\"%s\" was accepted", bad[i]);
}

/* ---- A server in this process ----------------------------------------- */

static int port;

static int start_server(void **state)
{
    (void)state;
    port = pprof_http_start("127.0.0.1:0");
    return port > 0 ? 0 : -1;
}

/* dial connects to the server, with a generous receive timeout that only
 * turns a hang into a failure. */
static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = { .tv_sec = 30 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        assert_true(w > 0);
        p = (const char *)p + w;
        n -= (size_t)w;
    }
}

/* recv_all reads until the server closes; returns the length (the
 * response is NUL-terminated in buf, truncated to cap - 1). */
static size_t recv_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        char tmp[4096];
        ssize_t r = recv(fd, tmp, sizeof tmp, 0);
        if (r < 0 && errno == EINTR)
            continue;
        assert_true(r >= 0);
        if (r == 0)
            break;
        size_t k = (size_t)r < cap - 1 - n ? (size_t)r : cap - 1 - n;
        memcpy(buf + n, tmp, k);
        n += k;
    }
    buf[n] = '\0';
    return n;
}

static char resp[1 << 20];

/* http sends req on a new connection and returns the response's status;
 * resp holds the whole response, body points to its body. */
static int http(const char *req, const char **body)
{
    int fd = dial();
    send_all(fd, req, strlen(req));
    recv_all(fd, resp, sizeof resp);
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d ", &status) != 1)
        fail_msg("not an HTTP response: %.60s", resp);
    const char *b = strstr(resp, "\r\n\r\n");
    assert_non_null(b);
    if (body)
        *body = b + 4;
    return status;
}

/* Functions that /debug/pprof/symbol must name, a few instructions long
 * so that an address inside one (not at its start) can be asked for. */
static volatile int sink;
__attribute__((noipa)) void http_symbol_target_one(void)
{
    for (int i = 0; i < 4; i++)
        sink += i;
}
__attribute__((noipa)) void http_symbol_target_two(void)
{
    for (int i = 0; i < 4; i++)
        sink -= i;
}

static void symbol_names_this_programs_functions(void **state)
{
    (void)state;
    uintptr_t a = (uintptr_t)http_symbol_target_one, b = (uintptr_t)http_symbol_target_two + 1;
    char req[512], want[256];
    const char *body;
    snprintf(want, sizeof want, "num_symbols: 1\n%#lx http_symbol_target_one\n%#lx http_symbol_target_two\n",
             (unsigned long)a, (unsigned long)b);

    snprintf(req, sizeof req, "GET /debug/pprof/symbol?%#lx+%#lx+0x1+junk HTTP/1.1\r\n\r\n",
             (unsigned long)a, (unsigned long)b);
    assert_int_equal(http(req, &body), 200);
    assert_string_equal(body, want);

    char data[128];
    int n = snprintf(data, sizeof data, "%#lx+%#lx", (unsigned long)a, (unsigned long)b);
    snprintf(req, sizeof req, "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s", n, data);
    assert_int_equal(http(req, &body), 200);
    assert_string_equal(body, want);

    /* No addresses: just the header line pprof checks for. */
    assert_int_equal(http("GET /debug/pprof/symbol HTTP/1.1\r\n\r\n", &body), 200);
    assert_string_equal(body, "num_symbols: 1\n");
}

static void post_body_in_pieces_and_with_expect_continue(void **state)
{
    (void)state;
    uintptr_t a = (uintptr_t)http_symbol_target_one;
    char data[64], head[256], want[128];
    int n = snprintf(data, sizeof data, "%#lx", (unsigned long)a);
    snprintf(want, sizeof want, "num_symbols: 1\n%#lx http_symbol_target_one\n", (unsigned long)a);
    snprintf(head, sizeof head,
             "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", n);
    int fd = dial();
    send_all(fd, head, strlen(head));
    char cont[64];
    static const char want_cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t got = 0;
    while (got < sizeof want_cont - 1) {
        ssize_t r = recv(fd, cont + got, sizeof want_cont - 1 - got, 0);
        assert_true(r > 0);
        got += (size_t)r;
    }
    assert_memory_equal(cont, want_cont, sizeof want_cont - 1);
    /* The body in two pieces. */
    send_all(fd, data, 3);
    usleep(20000);
    send_all(fd, data + 3, (size_t)n - 3);
    recv_all(fd, resp, sizeof resp);
    close(fd);
    assert_non_null(strstr(resp, "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(strstr(resp, "\r\n\r\n") + 4, want);
}

static void heap_gc_param_collects_and_allocs_ignores_it(void **state)
{
    (void)state;
    gh_mem_stats m0, m1, m2;
    const char *body;
    gh_read_mem_stats(&m0);
    assert_int_equal(http("GET /debug/pprof/allocs?gc=1 HTTP/1.1\r\n\r\n", &body), 200);
    gh_read_mem_stats(&m1);
    assert_int_equal(m1.num_gc, m0.num_gc);
    assert_non_null(strstr(resp, "Content-Disposition: attachment; filename=\"allocs\"\r\n"));
    assert_int_equal((unsigned char)body[0], 0x1f); /* gzip */
    assert_int_equal((unsigned char)body[1], 0x8b);
    assert_int_equal(http("GET /debug/pprof/heap?gc=1&debug=1 HTTP/1.1\r\n\r\n", &body), 200);
    gh_read_mem_stats(&m2);
    assert_int_equal(m2.num_gc, m1.num_gc + 1);
    assert_int_equal(m2.num_forced_gc, m1.num_forced_gc + 1);
    assert_non_null(strstr(resp, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_true(strncmp(body, "heap profile: ", 14) == 0);
    assert_non_null(strstr(body, "\n# runtime.MemStats\n"));
    assert_non_null(strstr(body, "\nMAPPED_LIBRARIES:\n"));
}

static void routes_methods_and_limits(void **state)
{
    (void)state;
    const char *body;
    assert_int_equal(http("GET /debug/pprof HTTP/1.1\r\n\r\n", NULL), 301);
    assert_non_null(strstr(resp, "\r\nLocation: /debug/pprof/\r\n"));
    assert_int_equal(http("GET /debug/pprof?debug=1 HTTP/1.1\r\n\r\n", NULL), 301);
    assert_non_null(strstr(resp, "\r\nLocation: /debug/pprof/?debug=1\r\n"));
    assert_int_equal(http("GET /debug/pprof/goroutine HTTP/1.1\r\n\r\n", &body), 404);
    assert_string_equal(body, "Unknown profile\n");
    assert_non_null(strstr(resp, "\r\nX-Go-Pprof: 1\r\n"));
    assert_int_equal(http("GET /elsewhere HTTP/1.1\r\n\r\n", NULL), 404);
    assert_int_equal(http("GET /debug/pprof/%zz HTTP/1.1\r\n\r\n", NULL), 400);
    assert_int_equal(http("GET /debug/pprof/heap?seconds=5 HTTP/1.1\r\n\r\n", NULL), 400);
    assert_int_equal(http("PUT /debug/pprof/ HTTP/1.1\r\n\r\n", NULL), 405);
    assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD, POST\r\n"));
    assert_int_equal(http("POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n", NULL), 413);
    assert_int_equal(http("GET / HTTP/3.0\r\n\r\n", NULL), 505);
    /* Escaped names route as Go's mux does, on the decoded path. */
    assert_int_equal(http("GET /debug/pprof/%63mdline HTTP/1.1\r\n\r\n", &body), 200);
    assert_non_null(strstr(body, "test_pprof_http"));

    /* HEAD: the headers of the GET, no body. */
    assert_int_equal(http("HEAD /debug/pprof/cmdline HTTP/1.1\r\n\r\n", &body), 200);
    assert_string_equal(body, "");
    unsigned long len = 0;
    assert_int_equal(sscanf(strstr(resp, "Content-Length: "), "Content-Length: %lu", &len), 1);
    assert_true(len > 0);

    /* Junk is answered at once, before any line end. */
    int fd = dial();
    send_all(fd, "\x16\x03\x01\x02", 4);
    recv_all(fd, resp, sizeof resp);
    close(fd);
    assert_true(strncmp(resp, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
}

static void silent_client_does_not_hold_up_others(void **state)
{
    (void)state;
    int silent = dial();
    int half = dial();
    send_all(half, "GET /debug/pp", 13);
    const char *body;
    assert_int_equal(http("GET /debug/pprof/memstats HTTP/1.1\r\n\r\n", &body), 200);
    assert_true(strncmp(body, "{\n\"alloc\": ", 11) == 0);
    /* Both are dropped by the server once their time is up: recv sees the
     * end of the stream (the 30 s receive timeout would fail it). */
    char c;
    assert_int_equal(recv(silent, &c, 1, 0), 0);
    assert_int_equal(recv(half, &c, 1, 0), 0);
    close(silent);
    close(half);
}

static void serving_allocates_nothing_from_the_heap(void **state)
{
    (void)state;
    static const char *const reqs[] = {
        "GET /debug/pprof/ HTTP/1.1\r\n\r\n",
        "GET /debug/pprof/heap HTTP/1.1\r\n\r\n",
        "GET /debug/pprof/heap?debug=1 HTTP/1.1\r\n\r\n",
        "GET /debug/pprof/allocs HTTP/1.1\r\n\r\n",
        "GET /debug/pprof/memstats HTTP/1.1\r\n\r\n",
        "GET /debug/pprof/cmdline HTTP/1.1\r\n\r\n",
        "GET /debug/pprof/symbol?0x1000+0x2000 HTTP/1.1\r\n\r\n",
        "POST /debug/pprof/symbol HTTP/1.1\r\nContent-Length: 6\r\n\r\n0x1000",
    };
    /* Allocate something first, so the profile has records to write. */
    void *volatile keep = gh_malloc(100);
    gh_mem_stats m0, m1;
    gh_read_mem_stats(&m0);
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
        assert_int_equal(http(reqs[i], NULL), 200);
    gh_read_mem_stats(&m1);
    assert_int_equal(m1.mallocs, m0.mallocs);
    assert_int_equal(m1.total_alloc, m0.total_alloc);
    gh_free(keep);
}

static void only_one_server_per_process(void **state)
{
    (void)state;
    errno = 0;
    assert_int_equal(pprof_http_start("127.0.0.1:0"), -1);
    assert_int_equal(errno, EBUSY);
    errno = 0;
    assert_int_equal(pprof_http_start("nowhere:1"), -1);
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
    const struct CMUnitTest parsers[] = {
        cmocka_unit_test(request_head_is_parsed),
        cmocka_unit_test(every_prefix_of_a_head_asks_for_more),
        cmocka_unit_test(malformed_heads_get_their_status),
        cmocka_unit_test(head_that_fills_the_buffer_is_too_large),
        cmocka_unit_test(query_values_read_as_go_formvalue),
        cmocka_unit_test(symbol_queries_read_as_go_parseuint),
        cmocka_unit_test(addresses_default_to_loopback),
    };
    const struct CMUnitTest server[] = {
        cmocka_unit_test(symbol_names_this_programs_functions),
        cmocka_unit_test(post_body_in_pieces_and_with_expect_continue),
        cmocka_unit_test(heap_gc_param_collects_and_allocs_ignores_it),
        cmocka_unit_test(routes_methods_and_limits),
        cmocka_unit_test(silent_client_does_not_hold_up_others),
        cmocka_unit_test(serving_allocates_nothing_from_the_heap),
        cmocka_unit_test(only_one_server_per_process),
    };
    int failed = cmocka_run_group_tests_name("parsers", parsers, NULL, NULL);
    return failed | cmocka_run_group_tests_name("server", server, start_server, NULL);
}
