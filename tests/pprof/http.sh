#!/bin/sh
# http.sh: talks to the /debug/pprof/ server inside a running C program
# (tests/pprof/httpserve.c, started with GHPPROF_ADDR on a port the kernel
# picks) with the real `go tool pprof`, curl and python3.
#
# usage: tests/pprof/http.sh HTTPSERVE OUTDIR
#
# Checks: `go tool pprof -top http://.../debug/pprof/heap` names the C
# allocation functions with their true shares (+/- TOL points); the index;
# /memstats is JSON with exactly the fields of gh_mem_stats in
# include/goheap.h and Go's identities; /symbol by GET and POST names the
# program's functions at the addresses it printed; heap?debug=1 is Go's
# text with its trailers; allocs is gzip; /cmdline; garbage (a 100 KiB
# header, binary junk, a client that sends nothing) is refused or dropped
# while others are served; the server allocated nothing from the heap;
# the program exits cleanly. GO names the go command (default: go).
set -eu

prog=$1
out=$2
GO=${GO:-go}
TOL=${TOL:-5}
here=$(dirname "$0")

fail() {
    echo "  FAIL    pprof-http: $*" >&2
    [ -s "$out/stderr" ] && sed 's/^/          /' "$out/stderr" >&2
    exit 1
}

rm -rf "$out"
mkdir -p "$out"
mkfifo "$out/stdin"
GHPPROF_ADDR=127.0.0.1:0 GODEBUG=memprofilerate=1 "$prog" < "$out/stdin" > "$out/truth" 2> "$out/stderr" &
pid=$!
# Holding the fifo open keeps the program running; closing it ends it.
exec 3> "$out/stdin"
trap 'exec 3>&-; kill $pid 2> /dev/null || true' EXIT

tries=0
until grep -q '^ready=1' "$out/truth" 2> /dev/null && grep -q 'on port' "$out/stderr"; do
    tries=$((tries + 1))
    [ $tries -lt 100 ] || fail "the program did not start its server"
    kill -0 $pid 2> /dev/null || fail "the program exited early"
    sleep 0.1
done
port=$(sed -n 's/^goheap: serving \/debug\/pprof\/ on port \([0-9]*\)$/\1/p' "$out/stderr")
[ -n "$port" ] || fail "no port in: $(cat "$out/stderr")"
base=http://127.0.0.1:$port/debug/pprof
# key=value lines: inuse_big, inuse_small, addr_big, addr_small.
. "$out/truth"

get() {
    curl -sS --max-time 30 -o "$out/$1" -w '%{http_code}' "$2" > "$out/$1.code" 2> "$out/$1.err" ||
        fail "curl $2: $(cat "$out/$1.err")"
    [ "$(cat "$out/$1.code")" = 200 ] || fail "$2 answered $(cat "$out/$1.code")"
}

get memstats.before "$base/memstats"

# The real reader, straight from the running program.
PPROF_TMPDIR=$out "$GO" tool pprof -top "$base/heap" > "$out/top" 2> "$out/top.err" ||
    fail "go tool pprof -top $base/heap: $(cat "$out/top.err")"
share() {
    awk -v f="$2" '$NF == f { sub("%", "", $2); print $2; found = 1; exit }
        END { if (!found) print "missing" }' "$1"
}
expect() {
    awk -v g="$2" -v w="$3" -v t="$TOL" 'BEGIN { exit !(g != "missing" && g - w <= t && w - g <= t) }' ||
        fail "$1: $2% (want $3% +/- $TOL)"
}
live=$((inuse_big + inuse_small))
pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", 100 * a / b }'
}
expect "go tool pprof -top serve_alloc_big" "$(share "$out/top" serve_alloc_big)" "$(pct $inuse_big $live)"
expect "go tool pprof -top serve_alloc_small" "$(share "$out/top" serve_alloc_small)" "$(pct $inuse_small $live)"

get index "$base/"
grep -q "<a href='heap?debug=1'>heap</a>" "$out/index" && grep -q "<a href='allocs?debug=1'>allocs</a>" "$out/index" ||
    fail "the index does not link heap and allocs"

get heap.txt "$base/heap?debug=1"
head -n 1 "$out/heap.txt" | grep -Eq '^heap profile: [0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @ heap/2$' ||
    fail "heap?debug=1 header: $(head -n 1 "$out/heap.txt")"
grep -q '	serve_alloc_big+0x' "$out/heap.txt" && grep -q '^# runtime.MemStats$' "$out/heap.txt" &&
    grep -q '^MAPPED_LIBRARIES:$' "$out/heap.txt" || fail "heap?debug=1 lacks frames or trailers"
# With every allocation sampled, a server allocation would be a record.
if grep -Eq 'pprof_http|server_|conn_|serve_request|hbuf_' "$out/heap.txt"; then
    fail "the server's own frames are in the heap profile"
fi

get allocs "$base/allocs"
[ "$(od -An -tx1 -N2 "$out/allocs" | tr -d ' ')" = 1f8b ] || fail "allocs is not gzip"

curl -sS --max-time 30 "$base/symbol?$addr_big+$addr_small+0x1" > "$out/symbol.get" ||
    fail "GET symbol failed"
curl -sS --max-time 30 --data "$addr_small+$addr_big" "$base/symbol" > "$out/symbol.post" ||
    fail "POST symbol failed"
printf 'num_symbols: 1\n%s serve_alloc_big\n%s serve_alloc_small\n' "$addr_big" "$addr_small" > "$out/symbol.want"
cmp -s "$out/symbol.get" "$out/symbol.want" || fail "GET symbol: $(cat "$out/symbol.get")"
printf 'num_symbols: 1\n%s serve_alloc_small\n%s serve_alloc_big\n' "$addr_small" "$addr_big" > "$out/symbol.want"
cmp -s "$out/symbol.post" "$out/symbol.want" || fail "POST symbol: $(cat "$out/symbol.post")"

get cmdline "$base/cmdline"
[ "$(cat "$out/cmdline")" = "$prog" ] || fail "cmdline: $(cat "$out/cmdline")"

# Garbage, and a silent client, while others are served.
python3 - "$port" > "$out/garbage" 2>&1 <<'EOF' || fail "garbage requests: $(cat "$out/garbage")"
import socket, sys, time

port = int(sys.argv[1])

def talk(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(data)
    except OSError:
        pass  # the server may refuse before reading it all
    got = b""
    while True:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            break
        if not d:
            break
        got += d
    s.close()
    return got

silent = socket.create_connection(("127.0.0.1", port), timeout=30)
checks = [
    (b"GET /debug/pprof/ HTTP/1.1\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n", b"HTTP/1.1 431 "),
    (bytes(range(256)) * 8, b"HTTP/1.1 400 "),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", b"HTTP/1.1 400 "),
    (b"GET /debug/pprof/cmdline HTTP/1.0\r\n\r\n", b"HTTP/1.1 200 OK\r\n"),
]
for req, want in checks:
    got = talk(req)
    # A refusal may also be a plain close; a valid request must succeed.
    if not got.startswith(want) and not (got == b"" and b"200" not in want):
        sys.exit("%r... answered %r" % (req[:20], got[:40]))
# The silent client was never served and is dropped in the end.
if silent.recv(1) != b"":
    sys.exit("the silent client got data")
EOF

get memstats.after "$base/memstats"
python3 - "$here/../../include/goheap.h" "$out/memstats.before" "$out/memstats.after" <<'EOF' > "$out/memstats.check" 2>&1 ||
import json, re, sys

header, before, after = sys.argv[1:]
src = open(header).read()
body = re.search(r"typedef struct gh_mem_stats \{(.*?)\} gh_mem_stats;", src, re.S).group(1)
fields = re.findall(r"^\s*\w+ (\w+)(?:\[\d+\])?;", body, re.M)
b = json.load(open(before))
a = json.load(open(after))
if list(a) != fields:
    sys.exit("JSON fields %s != gh_mem_stats fields %s" % (list(a), fields))
if len(a["pause_ns"]) != 256 or len(a["pause_end"]) != 256 or len(a["by_size"]) != 61:
    sys.exit("array lengths")
sys_sum = sum(a[k] for k in fields if k.endswith("_sys") and k != "sys")
if a["sys"] != sys_sum:
    sys.exit("sys %d != sum of *_sys %d" % (a["sys"], sys_sum))
if a["mallocs"] - a["frees"] != a["heap_objects"]:
    sys.exit("mallocs - frees != heap_objects")
if a["by_size"][1]["size"] != 8 or a["by_size"][60]["size"] != 18432:
    sys.exit("by_size sizes")
if a["enable_gc"] is not True or a["debug_gc"] is not False:
    sys.exit("enable_gc/debug_gc")
if a["num_gc"] < 1 or a["pause_ns"][(a["num_gc"] + 255) % 256] == 0:
    sys.exit("no pause recorded for the last cycle")
# Nothing the server did allocated from the heap.
for k in ("mallocs", "total_alloc"):
    if a[k] != b[k]:
        sys.exit("%s moved from %d to %d while only the server ran" % (k, b[k], a[k]))
EOF
    fail "memstats: $(cat "$out/memstats.check")"

exec 3>&-
trap - EXIT
wait $pid || fail "the program exited with status $?"
echo "  PASS    pprof-http: go tool pprof over HTTP, index, memstats, symbol, garbage refused, no heap use"
