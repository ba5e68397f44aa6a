// Command pause is the Go side of bench/pause.c: stop-the-world pauses and
// mutator utilisation while marking, with a large live heap of 32-byte
// nodes in binary trees and one mutator allocating garbage and rewriting
// the live heap. It reads its own gctrace lines (GODEBUG=gctrace=1, on a
// pipe put in place of stderr) to know each cycle's two stopped phases and
// its concurrent mark, and prints one line of key=value figures that
// pause.c reads.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

const ntrees = 256

type node struct {
	left, right *node
	value, pad  uint64
}

var trees [ntrees]*node
var sink interface{}

type span struct{ lo, hi int64 }

var (
	mu     sync.Mutex
	pauses []span
	marks  []span
	epoch  = time.Now()
)

func now() int64 { return int64(time.Since(epoch)) }

// traceReader turns "c1+c2+c3 ms clock" into the two stops and the mark,
// counted back from when the line arrived (Go prints it as the cycle ends).
func traceReader(r *os.File, stderr *os.File) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		t := now()
		i := strings.Index(line, "%: ")
		var c1, c2, c3 float64
		if !strings.HasPrefix(line, "gc ") || i < 0 {
			fmt.Fprintln(stderr, line)
			continue
		}
		if _, err := fmt.Sscanf(line[i+3:], "%g+%g+%g", &c1, &c2, &c3); err != nil {
			fmt.Fprintln(stderr, line)
			continue
		}
		end := t
		markTerm := end - int64(c3*1e6)
		mark := markTerm - int64(c2*1e6)
		start := mark - int64(c1*1e6)
		mu.Lock()
		pauses = append(pauses, span{start, mark}, span{markTerm, end})
		marks = append(marks, span{mark, markTerm})
		mu.Unlock()
	}
}

func treeMake(depth int, id *uint64) *node {
	*id++
	n := &node{value: *id}
	if depth > 0 {
		n.left = treeMake(depth-1, id)
		n.right = treeMake(depth-1, id)
	}
	return n
}

type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	x := r.s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	r.s = x
	return x * 0x2545f4914f6cdd1d
}

func (r *rng) below(n uint64) uint64 {
	hi, _ := mulhi(r.next(), n)
	return hi
}

func mulhi(a, b uint64) (uint64, uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t & mask32
	w2 := t >> 32
	w1 += a0 * b1
	return a1*b1 + w2 + w1>>32, a * b
}

var depth int

func liveNode(r *rng) *node {
	n := trees[r.below(ntrees)]
	for d := int(r.below(uint64(depth))); d > 0 && n.left != nil; d-- {
		if r.next()&1 != 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
	return n
}

func pct(v []int64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	k := int(q*float64(len(v)) + 0.999999)
	if k < 1 {
		k = 1
	}
	return float64(v[k-1])
}

func peakRSSMB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(l[6:]), "%d", &kb)
			return kb / 1024
		}
	}
	return -1
}

func main() {
	liveMB := flag.Int64("live-mb", 1024, "live heap in MiB")
	seconds := flag.Float64("seconds", 12, "mutator phase in seconds")
	flag.Parse()

	pr, pw, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	saved, _ := syscall.Dup(2)
	syscall.Dup2(int(pw.Fd()), 2)
	go traceReader(pr, os.NewFile(uintptr(saved), "stderr"))

	perTree := uint64(*liveMB) << 20 / 32 / ntrees
	for depth = 1; (uint64(2)<<(depth+1))-1 <= perTree; depth++ {
	}
	var id uint64
	t0 := time.Now()
	for i := range trees {
		trees[i] = treeMake(depth, &id)
	}
	buildS := time.Since(t0).Seconds()

	r := &rng{s: 0x9e3779b97f4a7c15}
	mu.Lock()
	np0, nm0 := len(pauses), len(marks)
	mu.Unlock()
	ends := make([]int64, 0, int(*seconds*2e6)+1024)
	var bytes uint64
	start := now()
	stop := start + int64(*seconds*1e9)
	t := start
	for t < stop {
		for k := 0; k < 32; k++ {
			n := 16 + 16*r.below(8)
			p := make([]*node, n/8)
			p[0] = nil
			sink = p
			bytes += n
		}
		var x *node
		for k := 0; k < 4; k++ {
			x = liveNode(r)
		}
		x.left, x.right = x.right, x.left
		t = now()
		ends = append(ends, t)
	}
	end := t
	time.Sleep(200 * time.Millisecond)

	mu.Lock()
	var ps []int64
	var ms []span
	if np0 > 0 {
		np0--
	}
	if nm0 > 0 {
		nm0--
	}
	for _, p := range pauses[np0:] {
		if p.hi > start && p.lo < end {
			ps = append(ps, p.hi-p.lo)
		}
	}
	var markNS int64
	for _, m := range marks[nm0:] {
		lo, hi := m.lo, m.hi
		if lo < start {
			lo = start
		}
		if hi > end {
			hi = end
		}
		if hi > lo {
			ms = append(ms, span{lo, hi})
			markNS += hi - lo
		}
	}
	mu.Unlock()
	var base []int64
	var gapMax int64
	inMark, m := 0, 0
	for u := range ends {
		prev := start
		if u > 0 {
			prev = ends[u-1]
		}
		d := ends[u] - prev
		if d > gapMax {
			gapMax = d
		}
		for m < len(ms) && ms[m].hi < ends[u] {
			m++
		}
		if m < len(ms) && ms[m].lo <= ends[u] {
			inMark++
		} else {
			base = append(base, d)
		}
	}
	baseNS := pct(base, 0.5)
	util := math.NaN()
	if markNS > 0 {
		util = float64(inMark) * baseNS / float64(markNS)
	}
	var pmax int64
	for _, p := range ps {
		if p > pmax {
			pmax = p
		}
	}
	p99 := pct(ps, 0.99)
	secs := float64(end-start) / 1e9
	fmt.Printf("runtime=go live_mb=%d seconds=%.1f build_s=%.1f cycles=%d pauses=%d pause_max_us=%.0f "+
		"pause_p99_us=%.0f mark_s=%.2f util=%.3f gap_max_us=%.0f alloc_mb_s=%.0f rss_mb=%d\n",
		*liveMB, secs, buildS, len(ms), len(ps), float64(pmax)/1e3, p99/1e3, float64(markNS)/1e9, util,
		float64(gapMax)/1e3, float64(bytes)/secs/(1<<20), peakRSSMB())
}
