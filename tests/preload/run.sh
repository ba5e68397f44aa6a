#!/bin/sh
# run.sh: the test programs of tests/preload/ on goheap's malloc family.
#
# usage: tests/preload/run.sh BINDIR LIB [GO]
#
# BINDIR holds each program twice: NAME, an ordinary build that gets
# goheap through LD_PRELOAD=LIB, and NAME-static, linked with
# libgoheap-malloc.a. GO names the go command for reading the leak profile
# (default: go; skipped when missing). Checks:
#   family, roots, threads, fork,         exit 0 in both builds, with
#   signals, cxx, early                   gctrace lines where they collect
#   family with GOGC=off                  exits 0 without a single cycle
#   bad CASE                              goheap names the address on
#                                         stderr and aborts, in leak mode
#                                         after the allocation (and free)
#                                         stacks; ignored with
#                                         GODEBUG=invalidptr=0
#   leaky with GODEBUG=gcleak=report      the exact leak report (twice:
#                                         gh_report_leaks and exit), no
#                                         collection, and a profile that
#                                         go tool pprof reads
set -u

bin=$1
lib=$2
GO=${3:-go}
# Every program gets this long (seconds); a hang is a failure, not a stall.
limit=${PRELOAD_TIMEOUT:-120}
case $lib in /*) ;; *) lib=$(pwd)/$lib ;; esac
out=$bin/out
rm -rf "$out"
mkdir -p "$out"
failed=0

pass() { echo "  PASS    preload/$1"; }
fail() {
    echo "  FAIL    preload/$1: $2"
    failed=$((failed + 1))
}

# gclines FILE: the number of gctrace lines in FILE.
gclines() { grep -c '^gc [0-9][0-9]* @' "$1"; }

# run NAME MIN_GC ENV...: runs bin/NAME under LD_PRELOAD and bin/NAME-static,
# each with GCTRACE=1 and the given environment; both must exit 0, and
# print at least MIN_GC gctrace lines.
run() {
    name=$1
    min=$2
    shift 2
    for kind in preload static; do
        log=$out/$name.$kind
        if [ $kind = preload ]; then
            timeout -k 5 "$limit" env LD_PRELOAD="$lib" GCTRACE=1 "$@" "$bin/$name" > "$log.out" 2> "$log.err"
        else
            timeout -k 5 "$limit" env GCTRACE=1 "$@" "$bin/$name-static" > "$log.out" 2> "$log.err"
        fi
        rc=$?
        n=$(gclines "$log.err")
        if [ $rc -ne 0 ]; then
            fail "$name ($kind)" "exit status $rc: $(grep -v '^gc [0-9]' "$log.err" | head -n 5)"
        elif [ "$n" -lt "$min" ]; then
            fail "$name ($kind)" "$n gctrace lines, expected at least $min"
        else
            pass "$name ($kind${*:+, $*}; $n gc lines)"
        fi
    done
}

run family 0
run roots 3
run threads 1 GOGC=25
run fork 1
run signals 3
run cxx 1 GOGC=25
run early 0

# GOGC=off: a plain allocator, no cycle at all.
timeout -k 5 "$limit" env LD_PRELOAD="$lib" GCTRACE=1 GOGC=off "$bin/family" > "$out/gogc-off.out" 2> "$out/gogc-off.err"
rc=$?
if [ $rc -ne 0 ] || [ "$(gclines "$out/gogc-off.err")" -ne 0 ]; then
    fail "family (GOGC=off)" "exit status $rc, $(gclines "$out/gogc-off.err") gctrace lines"
else
    pass "family (GOGC=off; no collection)"
fi

# Invalid frees and reallocs.
for case in double-free foreign-free interior-free interior-realloc; do
    log=$out/bad-$case
    timeout -k 5 "$limit" env LD_PRELOAD="$lib" "$bin/bad" $case > "$log.out" 2> "$log.err"
    rc=$?
    addr=$(cat "$log.out")
    if [ $rc -ne 134 ]; then
        fail "bad $case" "exit status $rc, expected 134 (SIGABRT): $(head -n 3 "$log.err")"
    elif [ -z "$addr" ] || ! grep -q "^goheap: .*($addr)" "$log.err" ||
        ! grep -q '^goheap: fatal error: invalid' "$log.err"; then
        fail "bad $case" "no report naming $addr: $(head -n 3 "$log.err")"
    else
        pass "bad $case ($(head -n 1 "$log.err" | cut -c1-60)...)"
    fi
    # In leak mode goheap knows the stacks: the report names them first.
    timeout -k 5 "$limit" env LD_PRELOAD="$lib" GODEBUG=gcleak=report "$bin/bad" $case > "$log.leak.out" 2> "$log.leak.err"
    rc=$?
    addr=$(cat "$log.leak.out")
    case $case in
    double-free) want="was freed at: and allocated at:" ;;
    foreign-free) want="" ;;
    *) want="allocated at:" ;;
    esac
    got=$(awk -v a="($addr)" 'index($0, "goheap: ") == 1 && index($0, a) && / at:$/ {
            t = $0; sub(/.*\): /, "", t); sub(/.* byte\(s\) at 0x[0-9a-f]* /, "", t)
            getline; if (index($0, " in main ")) printf "%s%s", sep, t; sep = " " }' "$log.leak.err")
    if [ $rc -ne 134 ] || [ "$got" != "$want" ]; then
        fail "bad $case (gcleak=report)" "exit status $rc, stacks \"$got\", expected \"$want\": $(head -n 4 "$log.leak.err")"
    else
        pass "bad $case (gcleak=report; ${want:-no stack known})"
    fi
    timeout -k 5 "$limit" env LD_PRELOAD="$lib" GODEBUG=invalidptr=0 "$bin/bad" $case > "$log.ignored.out" 2> "$log.ignored.err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$log.ignored.err" ]; then
        fail "bad $case (invalidptr=0)" "exit status $rc: $(head -n 3 "$log.ignored.err")"
    else
        pass "bad $case (invalidptr=0; ignored)"
    fi
done

# The leak checker. leaky.c documents the expected leaks.
log=$out/leaky
timeout -k 5 "$limit" env LD_PRELOAD="$lib" GODEBUG=gcleak=report GCTRACE=1 GHHEAPPROFILE="$log.heap" \
    "$bin/leaky" \
    > "$log.out" 2> "$log.err"
rc=$?
# group TITLE FUNC: TITLE's first frame names FUNC.
group() {
    awk -v t="$1" -v f="$2" 'index($0, t) == 1 { getline; if (index($0, " in " f)) ok = 1 }
        END { exit !ok }' "$log.err"
}
summaries=$(grep -c '^SUMMARY: goheap: 3320 byte(s) leaked in 8 allocation(s)\.$' "$log.err")
if [ $rc -ne 0 ]; then
    fail "leaky (gcleak=report)" "exit status $rc: $(head -n 5 "$log.err")"
elif [ "$(cat "$log.out")" != "reported=3320" ]; then
    fail "leaky (gcleak=report)" "gh_report_leaks said $(cat "$log.out"), expected reported=3320"
elif [ "$summaries" -ne 2 ]; then
    fail "leaky (gcleak=report)" "$summaries summaries of 3320 bytes in 8 allocations, expected 2: $(head -n 20 "$log.err")"
elif ! group "Direct leak of 3000 byte(s) in 3 object(s)" leak_blocks ||
    ! group "Direct leak of 64 byte(s) in 1 object(s)" make_chain ||
    ! group "Indirect leak of 256 byte(s) in 4 object(s)" make_chain; then
    fail "leaky (gcleak=report)" "groups or stacks wrong: $(head -n 20 "$log.err")"
elif [ "$(gclines "$log.err")" -ne 0 ]; then
    fail "leaky (gcleak=report)" "collections ran in leak mode"
elif [ ! -s "$log.heap.leak" ]; then
    fail "leaky (gcleak=report)" "no leak profile at $log.heap.leak"
else
    pass "leaky (gcleak=report; report, stacks and profile)"
fi
if command -v "$GO" > /dev/null 2>&1 && [ -s "$log.heap.leak" ]; then
    if "$GO" tool pprof -top "$bin/leaky" "$log.heap.leak" > "$log.top" 2>&1 &&
        grep -q 'Showing nodes accounting for 3320B, 100% of 3320B total' "$log.top" &&
        awk '$NF == "make_chain" && $1 == "320B" { ok = 1 } END { exit !ok }' "$log.top"; then
        pass "leaky (go tool pprof -top reads the leak profile)"
    else
        fail "leaky (pprof)" "$(head -n 12 "$log.top")"
    fi
fi

[ "$failed" -eq 0 ]
