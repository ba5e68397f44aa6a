#!/bin/sh
# run-churn.sh: instructions per malloc+free pair under callgrind, for
# `make bench-churn-callgrind`.
#
# usage: sh bench/run-churn.sh GOHEAP_BUILD LIBC_BUILD
#
# Each allocator runs the single-thread 16 B churn (1000 live objects) of
# bench/churn.c twice under callgrind, with SHORT and then LONG timed steps.
# Start-up, the untimed warm-up and exit are the same in both runs, so
#   (Ir(LONG) - Ir(SHORT)) / (LONG - SHORT)
# is what one step costs: malloc, free, and the loop around them (touching
# the object, the ring, the checksum), which is the same for every
# allocator. Callgrind output goes next to LIBC_BUILD.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 GOHEAP_BUILD LIBC_BUILD" >&2
    exit 2
fi
gh=$1
libc=$2
out=$(dirname "$libc")
short=${CHURN_CALLGRIND_SHORT:-100000}
long=${CHURN_CALLGRIND_LONG:-300000}

command -v valgrind >/dev/null || { echo "$0: valgrind is not installed" >&2; exit 1; }

# instructions NAME BINARY PRELOAD ITERS: total Ir of one run.
instructions() {
    f="$out/churn-callgrind.$1.$4"
    if ! env -u LD_PRELOAD ${3:+LD_PRELOAD=$3} valgrind --tool=callgrind \
        --callgrind-out-file="$f.out" "$2" --run --alloc "$1" --threads 1 --sizes 16 \
        --live 1000 --iters "$4" >"$f.log" 2>&1; then
        cat "$f.log" >&2
        echo "$0: $1 failed under callgrind" >&2
        exit 1
    fi
    awk '/^summary:/ { print $2 }' "$f.out"
}

# per_pair NAME BINARY PRELOAD: one table line.
per_pair() {
    if [ -n "$3" ]; then
        lib=$(env -u LD_PRELOAD LD_PRELOAD="$3" "$2" --probe 2>/dev/null || true)
        case $lib in
        *"$1"*) ;;
        *)
            printf '%-14s %12s  (LD_PRELOAD=%s did not load)\n' "$1" - "$3"
            return
            ;;
        esac
    fi
    a=$(instructions "$1" "$2" "$3" "$short")
    b=$(instructions "$1" "$2" "$3" "$long")
    awk -v n="$1" -v a="$a" -v b="$b" -v s="$short" -v l="$long" \
        'BEGIN { printf "%-14s %12.1f\n", n, (b - a) / (l - s) }'
}

echo "churn under callgrind: instructions per malloc+free pair"
echo "(1 thread, 16 B, 1000 live; (Ir at $long steps - Ir at $short) / $((long - short)); includes the loop)"
printf '%-14s %12s\n' allocator instructions
per_pair goheap "$gh" ""
per_pair goheap-atomic "$gh" ""
per_pair mimalloc "$libc" libmimalloc.so.2
per_pair glibc "$libc" ""
