#!/bin/sh
# real.sh: real programs, unchanged, on goheap. Each workload runs twice,
# on the C library's malloc and then with LD_PRELOAD=LIB and GCTRACE=1,
# and must exit 0 both times with the same standard output, the same
# standard error apart from the gctrace lines, and at least one gctrace
# line from goheap.
#
# usage: tests/preload/real.sh LIB OUTDIR quick|full
#
#   quick  (make test) python3, sqlite3, git, gcc, perl, lua and sort, scaled to
#          run in well under a minute in all, with GOGC=25 so that every
#          workload collects several times;
#   full   (make test-preload-full) ten times bigger, at the default GOGC,
#          plus some modules of Python's own test suite when Debian's
#          libpython3-testsuite is installed (those only need to pass:
#          gctrace is off there, as its tests compare the stderr of child
#          processes with the empty string).
#
# A program that is not installed is reported as SKIP; at least four must
# run. The scratch files stay in OUTDIR.
set -u

lib=$1
out=$2
mode=${3:-quick}
here=$(cd "$(dirname "$0")" && pwd)
case $lib in /*) ;; *) lib=$(pwd)/$lib ;; esac
case $out in /*) ;; *) out=$(pwd)/$out ;; esac

if [ "$mode" = full ]; then
    scale=10 gogc=100
else
    scale=1 gogc=25
fi
# Seconds each run may take; a hang is a failure, not a stall.
limit=${PRELOAD_TIMEOUT:-$((300 * scale))}

rm -rf "$out"
mkdir -p "$out"
ran=0
failed=0

fail() {
    echo "  FAIL    preload/real $1: $2"
    failed=$((failed + 1))
}

# run_twice NAME CMD...: runs CMD (a shell command line, in OUTDIR/NAME.ALLOC)
# on glibc and on goheap and compares the two runs.
run_twice() {
    name=$1
    shift
    for alloc in glibc goheap; do
        dir=$out/$name.$alloc
        mkdir -p "$dir"
        start=$(date +%s.%N)
        if [ $alloc = glibc ]; then
            (cd "$dir" && timeout -k 5 "$limit" env -u LD_PRELOAD -u GCTRACE sh -c "$*") \
                > "$dir.out" 2> "$dir.err"
        else
            (cd "$dir" && timeout -k 5 "$limit" env LD_PRELOAD="$lib" GCTRACE=1 GOGC=$gogc sh -c "$*") \
                > "$dir.out" 2> "$dir.err"
        fi
        echo $? > "$dir.status"
        end=$(date +%s.%N)
        awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }' > "$dir.time"
    done
    g=$out/$name.glibc
    p=$out/$name.goheap
    ran=$((ran + 1))
    if [ "$(cat "$g.status")" != 0 ]; then
        fail "$name" "exit status $(cat "$g.status") on glibc: $(head -c 300 "$g.err")"
        return
    fi
    if [ "$(cat "$p.status")" != 0 ]; then
        fail "$name" "exit status $(cat "$p.status") on goheap: $(grep -v '^gc [0-9]' "$p.err" | head -c 600)"
        return
    fi
    if ! cmp -s "$g.out" "$p.out"; then
        fail "$name" "standard output differs: $(diff "$g.out" "$p.out" | head -n 6)"
        return
    fi
    grep -v '^gc [0-9][0-9]* @' "$p.err" > "$p.err.rest"
    if ! cmp -s "$g.err" "$p.err.rest"; then
        fail "$name" "standard error differs: $(diff "$g.err" "$p.err.rest" | head -n 6)"
        return
    fi
    cycles=$(grep -c '^gc [0-9][0-9]* @' "$p.err")
    if [ "$cycles" -eq 0 ]; then
        fail "$name" "no gctrace line from goheap"
        return
    fi
    echo "  PASS    preload/real $name ($cycles gc lines; $(cat "$g.time") s on glibc, $(cat "$p.time") s on goheap)"
}

have() {
    command -v "$1" > /dev/null 2>&1 && return 0
    echo "  SKIP    preload/real $2: $1 is not installed"
    return 1
}

# Debian's own interpreter: a python3 earlier in PATH may be a wrapper
# script that starts several processes.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if have "$py" python3; then
    run_twice python3 "$py '$here/work.py' $((60000 * scale))"
fi

if have sqlite3 sqlite3; then
    run_twice sqlite3 "rm -f w.db && for i in \$(seq $scale); do sqlite3 w.db < '$here/work.sql' && rm -f w.db || exit 1; done"
fi

if have git git; then
    run_twice git "sh '$here/git.sh' repo $((150 * scale)) 4"
fi

if have gcc gcc; then
    run_twice gcc "sh '$here/cc.sh' $((6 * scale)) && ./prog && od -An -tx1 prog | cksum"
fi

if have perl perl; then
    run_twice perl "perl '$here/work.pl' $((100000 * scale))"
fi

if have lua5.4 lua; then
    run_twice lua "lua5.4 '$here/work.lua' $((100000 * scale))"
fi

# Multi-threaded, and it catches SIGXCPU, one of the signals goheap stops
# threads with (see "Signals" in shim.c).
if have sort sort; then
    run_twice sort "seq $((300000 * scale)) | sed 's/\\(.\\)\\(.*\\)/\\2\\1 &/' > in.txt && sort --parallel=2 -S 16M in.txt | cksum && sort -n -k2 --parallel=2 in.txt | tail -n 3"
fi

if [ "$mode" = full ] && [ -x "$py" ] && "$py" -c 'import test.libregrtest' 2> /dev/null; then
    ran=$((ran + 1))
    log=$out/python3-testsuite.log
    if timeout -k 5 "$limit" env LD_PRELOAD="$lib" "$py" -m test test_dict test_list test_set test_json test_re \
        test_collections test_itertools test_string test_unicode test_bytes > "$log" 2>&1 &&
        grep -q 'Tests result: SUCCESS' "$log"; then
        echo "  PASS    preload/real python3 test suite ($(grep -c '^0:\|OK' "$log" || true) lines OK)"
    else
        fail "python3 test suite" "$(tail -n 5 "$log")"
    fi
fi

if [ "$ran" -lt 4 ]; then
    echo "  FAIL    preload/real: only $ran programs could run (need 4)"
    exit 1
fi
[ "$failed" -eq 0 ]
