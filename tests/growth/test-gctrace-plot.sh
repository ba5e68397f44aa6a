#!/bin/bash
# test-gctrace-plot.sh: checks tools/gctrace-plot, its gctrace parser and
# its chart, on fixed lines in goheap's and Go 1.19's layouts and on real
# lines from both runtimes.
#
# Usage: tests/growth/test-gctrace-plot.sh GROWBENCH GROWBENCH_GO
#   GROWBENCH     tools/growbench.c built against goheap (live goheap lines)
#   GROWBENCH_GO  tools/go/growbench built with go (live Go lines)
# Needs gnuplot, xmllint (libxml2-utils) and rsvg-convert (librsvg2-bin).
set -euo pipefail

[ $# -eq 2 ] || { sed -n '6,9p' "$0" >&2; exit 2; }
growbench=$1
growbench_go=$2
plot=$(dirname "$0")/../../tools/gctrace-plot
for tool in gnuplot:gnuplot-nox xmllint:libxml2-utils rsvg-convert:librsvg2-bin; do
    command -v "${tool%%:*}" > /dev/null ||
        { echo "  FAILED  ${tool%%:*} is missing (Debian ${tool#*:}; tools/deps.sh installs it)"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

pass() { echo "  ok      $1"; }
fail() { echo "  FAILED  $1"; failures=$((failures + 1)); }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1; shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# ---- Parser, fixed lines ------------------------------------------------------

# goheap's layout (Go's old three-phase line), among other output.
cat > "$tmp/goheap.log" <<'LOG'
growbench: starting
gc 1 @0.004s 3%: 0.020+1.1+0.010 ms clock, 0.040+0.30/0.55/0+0.020 ms cpu, 4->4->1 MB, 4 MB goal, 2 P
gc 2 @0.011s 5%: 0.031+2.4+0.012 ms clock, 0.062+1.2/1.0/0.10+0.024 ms cpu, 5->7->6 MB, 6 MB goal, 2 P
scav 0 KiB work, 0 KiB total, 100% util
gc 21 @8.389s 0%: 0.069+4.0+0.16 ms clock, 1.6+2.8/14/10+4.0 ms cpu, 87->88->45 MB, 89 MB goal, 24 P
gc 22 @12.345s 12%: 14+123+9.9 ms clock, 28+0/0/0+19 ms cpu, 90->95->46 MB, 91 MB goal, 2 P (forced)
gc 23 @12.400s 12%: 0.1+0.2+0.3 ms clock, 0.2+0/0.1/0+0.6 ms cpu, 90->95->46 MB
LOG
printf '1\t0.004\t4\t4\t1\t4\t2\t0\n2\t0.011\t5\t7\t6\t6\t2\t0\n21\t8.389\t87\t88\t45\t89\t24\t0\n22\t12.345\t90\t95\t46\t91\t2\t1\n' > "$tmp/goheap.want"
"$plot" --parse "$tmp/goheap.log" > "$tmp/goheap.got"
check "parses goheap's layout, skips other and truncated lines" cmp -s "$tmp/goheap.want" "$tmp/goheap.got"

# Real Go 1.19 lines (stacks and globals), with GC forced and pacer lines.
cat > "$tmp/go.log" <<'LOG'
gc 1 @0.000s 80%: 3.3+0.19+0.062 ms clock, 6.6+0.045/0.064/0+0.12 ms cpu, 3->4->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P
pacer: assist ratio=+1.000000e+000 (scan 0 MB in 3->4 MB) workers=1++0.000000e+000
gc 5 @0.008s 40%: 0.060+0.13+0 ms clock, 0.12+0.049/0/0+0.001 ms cpu, 4->5->0 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P
GC forced
gc 6 @0.009s 37%: 0.023+0.34+0 ms clock, 0.047+0/0.038/0+0.001 ms cpu, 2->2->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)
gc 7 @120.500s 1%: 0.023+0.34+0 ms clock, 0.047+0/0.038/0+0.001 ms cpu, 1024->1100->512 MB, 1025 MB goal, 1 MB stacks, 2 MB globals, 8 P
LOG
printf '1\t0.000\t3\t4\t0\t4\t2\t0\n5\t0.008\t4\t5\t0\t5\t2\t0\n6\t0.009\t2\t2\t0\t4\t2\t1\n7\t120.500\t1024\t1100\t512\t1025\t8\t0\n' > "$tmp/go.want"
"$plot" --parse "$tmp/go.log" > "$tmp/go.got"
check "parses Go 1.19's layout (stacks, globals, forced)" cmp -s "$tmp/go.want" "$tmp/go.got"

# ---- Parser, live lines ---------------------------------------------------------

# every_gc_line_parses LOG: as many cycles parsed as "gc N @" lines, at least one.
every_gc_line_parses() {
    local lines parsed
    lines=$(grep -c '^gc [0-9]* @' "$1" || true)
    parsed=$("$plot" --parse "$1" | awk -F'\t' 'NF == 8' | wc -l)
    [ "$lines" -gt 0 ] && [ "$lines" -eq "$parsed" ]
}

GODEBUG=gctrace=1 "$growbench_go" -strategy double -total 32M > /dev/null 2> "$tmp/live-go.log"
check "parses every line of a real Go run" every_gc_line_parses "$tmp/live-go.log"
"$growbench" --strategies double --total 32M --profile= --out "$tmp/live" > /dev/null 2>&1
check "parses every line of a real goheap run" every_gc_line_parses "$tmp/live/gctrace-goheap-double.log"

# ---- Chart --------------------------------------------------------------------------

svg=$tmp/chart.svg
"$plot" -o "$svg" -t "test chart" fixed/goheap="$tmp/goheap.log" fixed/go="$tmp/go.log" \
    live/goheap="$tmp/live/gctrace-goheap-double.log" live/go="$tmp/live-go.log" empty=/dev/null
check "the SVG is well-formed XML" xmllint --noout "$svg"
check "one panel per group, titled with its runs" \
    grep -q "fixed (goheap solid, go dashed)" "$svg"
check "a run without cycles gets an empty panel" grep -q "no collections" "$svg"
# Every cycle is drawn as four points (start, end, live, goal), and the
# first panel's key shows one more point per series of each of its runs.
cycles=$(cat "$tmp/goheap.want" "$tmp/go.want" | wc -l)
cycles=$((cycles + $("$plot" --parse "$tmp/live/gctrace-goheap-double.log" | wc -l)))
cycles=$((cycles + $("$plot" --parse "$tmp/live-go.log" | wc -l)))
points=$(grep -o "xlink:href='#gpPt6'" "$svg" | wc -l)
check "four points per cycle of every run ($((4 * cycles)) + 8 in the key, got $points)" \
    [ "$points" -eq $((4 * cycles + 8)) ]
png=$tmp/chart.png
rsvg-convert -o "$png" "$svg"
check "the PNG renders and is not empty" [ -s "$png" ]
check "the PNG is a PNG" [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]

# ---- Errors ---------------------------------------------------------------------------

status() { set +e; "$@" > /dev/null 2>&1; echo $?; set -e; }
check "a missing log is an error (2)" [ "$(status "$plot" -o "$tmp/x.svg" run="$tmp/nope.log")" -eq 2 ]
check "an unknown option is an error (2)" [ "$(status "$plot" --frobnicate "$tmp/go.log")" -eq 2 ]
check "no runs is an error (2)" [ "$(status "$plot" -o "$tmp/x.svg")" -eq 2 ]

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
