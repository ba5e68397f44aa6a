#!/bin/sh
# run-churn.sh: instructions per malloc+free pair under callgrind, for
# `make bench-churn-callgrind`.
#
# usage: sh bench/run-churn.sh GOHEAP_BUILD LIBC_BUILD
#
# Each allocator runs the single-thread churn (1000 live objects) of
# bench/churn.c with 16 B objects and with 8-512 B, each twice under
# callgrind, with SHORT and then LONG timed steps.
# Start-up, the untimed warm-up and exit are the same in both runs, so
#   (Ir(LONG) - Ir(SHORT)) / (LONG - SHORT)
# is what one step costs: malloc, free, and the loop around them (touching
# the object, the ring, the checksum), which is the same for every
# allocator. goheap-malloc is the malloc drop-in (libgoheap-malloc.so of the
# build directory GOHEAP_BUILD is in) under LD_PRELOAD, making the same
# calls as the glibc row. Callgrind output goes next to LIBC_BUILD.
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

# instructions NAME BINARY PRELOAD ITERS SIZES: total Ir of one run.
instructions() {
    f="$out/churn-callgrind.$1.$5.$4"
    alloc=$1
    case $1 in goheap-malloc) alloc=glibc ;; esac
    if ! env -u LD_PRELOAD ${3:+LD_PRELOAD=$3} valgrind --tool=callgrind \
        --callgrind-out-file="$f.out" "$2" --run --alloc "$alloc" --threads 1 --sizes "$5" \
        --live 1000 --iters "$4" >"$f.log" 2>&1; then
        cat "$f.log" >&2
        echo "$0: $1 failed under callgrind" >&2
        exit 1
    fi
    awk '/^summary:/ { print $2 }' "$f.out"
}

# per_pair NAME BINARY PRELOAD SIZES: one table line.
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
    a=$(instructions "$1" "$2" "$3" "$short" "$4")
    b=$(instructions "$1" "$2" "$3" "$long" "$4")
    awk -v n="$1" -v a="$a" -v b="$b" -v s="$short" -v l="$long" \
        'BEGIN { printf "%-14s %12.1f\n", n, (b - a) / (l - s) }'
}

drop_in=$(cd "$(dirname "$gh")/.." && pwd)/libgoheap-malloc.so
echo "churn under callgrind: instructions per malloc+free pair"
echo "(1 thread, 1000 live; (Ir at $long steps - Ir at $short) / $((long - short)); includes the loop)"
for sizes in 16 8-512; do
    printf '\n%s B\n%-14s %12s\n' "$sizes" allocator instructions
    per_pair goheap "$gh" "" "$sizes"
    per_pair goheap-atomic "$gh" "" "$sizes"
    per_pair goheap-malloc "$libc" "$drop_in" "$sizes"
    per_pair mimalloc "$libc" libmimalloc.so.2 "$sizes"
    per_pair glibc "$libc" "" "$sizes"
done
