#!/bin/sh
# run.sh: reads the heap profiles of tests/pprof/heapshare.c with the real
# `go tool pprof` and checks what it reports against the known answer.
#
# usage: tests/pprof/run.sh HEAPSHARE OUTDIR
#
# For both formats (gzipped profile.proto and legacy text) it checks, each
# within +/- TOL percentage points of the truth that heapshare prints:
#   -top -inuse_space                the 80/20 split of live bytes
#   -top -alloc_space                allocation shares, garbage included
#   -top -sample_index=inuse_objects the 50/50 split of live objects
# and that -list alloc_big_share shows its source line with bytes, that
# -traces never shows goheap's own frames, that -svg draws a graph (when
# graphviz is installed), and that GHHEAPPROFILE/GHHEAPPROFILE_INTERVAL
# left readable profiles. GO names the go command (default: go).
set -eu

prog=$1
out=$2
GO=${GO:-go}
TOL=${TOL:-5}

fail() {
    echo "  FAIL    pprof: $*" >&2
    exit 1
}

rm -rf "$out"
mkdir -p "$out"
GHHEAPPROFILE="$out/exit.heap" GHHEAPPROFILE_INTERVAL=4MiB "$prog" "$out" > "$out/truth" ||
    fail "$prog exited with status $?"
# key=value lines: inuse_big, inuse_small, alloc_*, objects_*.
. "$out/truth"

# pct A B: A as a percentage of B.
pct() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", 100 * a / b }'
}

# share LISTING FUNC: FUNC's flat% in a `pprof -top` listing, or "missing".
share() {
    awk -v f="$2" '$NF == f { sub("%", "", $2); print $2; found = 1; exit }
        END { if (!found) print "missing" }' "$1"
}

# expect WHAT GOT WANT: GOT within TOL points of WANT.
expect() {
    awk -v g="$2" -v w="$3" -v t="$TOL" 'BEGIN { exit !(g != "missing" && g - w <= t && w - g <= t) }' ||
        fail "$1: $2% (want $3% +/- $TOL)"
}

# pprof OUTPUT ARGS...: runs go tool pprof, keeping its output in a file.
pprof() {
    o=$1
    shift
    "$GO" tool pprof "$@" > "$o" 2> "$o.stderr" || fail "go tool pprof $* failed: $(cat "$o.stderr")"
}

live=$((inuse_big + inuse_small))
allocated=$((alloc_big + alloc_small + alloc_garbage))
objects=$((objects_big + objects_small))

for p in heap.pb.gz heap.txt exit.heap; do
    f="$out/$p"
    [ -s "$f" ] || fail "$p was not written"

    pprof "$f.inuse" -top -inuse_space "$prog" "$f"
    expect "$p inuse_space alloc_big_share" "$(share "$f.inuse" alloc_big_share)" "$(pct $inuse_big $live)"
    expect "$p inuse_space alloc_small_share" "$(share "$f.inuse" alloc_small_share)" "$(pct $inuse_small $live)"

    pprof "$f.alloc" -top -alloc_space "$prog" "$f"
    expect "$p alloc_space alloc_big_share" "$(share "$f.alloc" alloc_big_share)" "$(pct $alloc_big $allocated)"
    expect "$p alloc_space alloc_small_share" "$(share "$f.alloc" alloc_small_share)" "$(pct $alloc_small $allocated)"
    expect "$p alloc_space alloc_temp_garbage" "$(share "$f.alloc" alloc_temp_garbage)" "$(pct $alloc_garbage $allocated)"

    pprof "$f.objects" -top -sample_index=inuse_objects "$prog" "$f"
    expect "$p inuse_objects alloc_big_share" "$(share "$f.objects" alloc_big_share)" "$(pct $objects_big $objects)"
    expect "$p inuse_objects alloc_small_share" "$(share "$f.objects" alloc_small_share)" "$(pct $objects_small $objects)"

    # The source line that allocates, with a value in the flat column.
    pprof "$f.list" -list alloc_big_share "$prog" "$f"
    grep -q "ROUTINE =* alloc_big_share in .*heapshare.c" "$f.list" ||
        fail "$p: -list alloc_big_share shows no routine"
    awk '/gh_malloc\(BIG_SIZE\)/ && $1 != "." { found = 1 } END { exit !found }' "$f.list" ||
        fail "$p: -list alloc_big_share shows no bytes on the gh_malloc(BIG_SIZE) line"

    # goheap's own frames never appear: stacks start at the caller.
    pprof "$f.traces" -traces "$prog" "$f"
    if grep -E 'gh_malloc|mprof_|malloc_(finish|small|large|refill)|cache_refill' "$f.traces" > "$f.leak"; then
        fail "$p: goheap frames in the stacks: $(head -n 3 "$f.leak")"
    fi
done

if command -v dot > /dev/null 2>&1; then
    pprof "$out/heap.svg" -svg "$prog" "$out/heap.pb.gz"
    grep -q '<svg' "$out/heap.svg" && grep -q alloc_big_share "$out/heap.svg" ||
        fail "-svg did not draw alloc_big_share"
fi

# GHHEAPPROFILE_INTERVAL: numbered profiles every 4 MiB allocated.
set -- "$out"/exit.heap.*.heap
[ -s "$out/exit.heap.0001.heap" ] || fail "GHHEAPPROFILE_INTERVAL wrote no $out/exit.heap.0001.heap"
[ $# -ge 4 ] || fail "GHHEAPPROFILE_INTERVAL wrote $# profiles for $((allocated >> 20)) MiB (want at least 4)"
pprof "$out/interval.top" -top "$prog" "$1"
grep -q alloc_ "$out/interval.top" || fail "$1 shows none of heapshare's functions"

echo "  PASS    pprof: go tool pprof reads both formats; shares within $TOL points"
