// Command growbench is the Go side of tools/growbench.c: it grows one byte
// buffer to a target size by appending fixed-size chunks under one growth
// strategy, so that the same strategies can be compared on Go's runtime and
// on goheap.
//
// Strategies (the C side documents the arithmetic in tools/growth.h):
//
//	double    bytes.Buffer.Write (Go 1.19: capacity max(2*cap, len+n),
//	          rounded up to the size class by append)
//	x1.5      make+copy to max(cap+cap/2, len+n)
//	goappend  append(buf, chunk...) (runtime.growslice)
//	exact     make+copy to exactly len+n
//	step      make+copy to len+n rounded up to a multiple of -step
//	chunked   a list of -step sized blocks, never copying
//	prealloc  make([]byte, 0, total) up front
//
// realloc has no Go equivalent (Go cannot free memory explicitly), so it is
// rejected.
//
// Peak heap is the highest HeapInuse seen, read through runtime/metrics
// (heap objects + unused: the in-use spans, without stopping the world)
// from two sources: (1) right after each allocation that this program makes
// itself, while the old buffer is still referenced (x1.5, exact, step,
// chunked, prealloc: exact, as HeapInuse only rises at allocations), and
// (2) a sampler goroutine every millisecond, which covers the allocations
// made inside bytes.Buffer and append (double, goappend): there the old and
// new buffers are both live for the whole copy, several milliseconds for
// the big grows that make the peak, so the sampler sees it.
//
// The result is one line on stdout of key=value pairs, read by growbench.c:
// strategy, final (bytes held), cap (final capacity), peak (max HeapInuse),
// alloc (TotalAlloc delta), gcs (NumGC delta), copied (bytes copied by
// grows), grows, copy_peak (largest old+new capacity alive during one
// grow, at least the final capacity), ns (wall time of the growth loop).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// stats accumulates what one run measures. peak is shared with the
// sampler goroutine.
type stats struct {
	copied, grows, copyPeak uint64
	peak                    atomic.Uint64
}

// heapInuse returns HeapInuse (bytes in in-use heap spans).
func heapInuse() uint64 {
	m := [2]metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	metrics.Read(m[:])
	return m[0].Value.Uint64() + m[1].Value.Uint64()
}

// sample records the current HeapInuse if it is a new maximum.
func (s *stats) sample() {
	v := heapInuse()
	for {
		old := s.peak.Load()
		if v <= old || s.peak.CompareAndSwap(old, v) {
			return
		}
	}
}

// sampler calls sample every millisecond until stop is closed.
func (s *stats) sampler(stop <-chan struct{}, done chan<- struct{}) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			close(done)
			return
		case <-t.C:
			s.sample()
		}
	}
}

// grew records one grow from oldCap to newCap that copied n bytes.
func (s *stats) grew(oldCap, newCap, n int) {
	s.grows++
	s.copied += uint64(n)
	if c := uint64(oldCap + newCap); c > s.copyPeak {
		s.copyPeak = c
	}
}

// sink keeps the final buffer reachable until the result is printed.
var sink interface{}

func growDouble(total int, chunk []byte, s *stats) (int, int) {
	var b bytes.Buffer
	for b.Len() < total {
		n := min(len(chunk), total-b.Len())
		oldCap, oldLen := b.Cap(), b.Len()
		b.Write(chunk[:n])
		if b.Cap() != oldCap {
			s.grew(oldCap, b.Cap(), oldLen)
			s.sample()
		}
	}
	sink = &b
	return b.Len(), b.Cap()
}

func growAppend(total int, chunk []byte, s *stats) (int, int) {
	var buf []byte
	for len(buf) < total {
		n := min(len(chunk), total-len(buf))
		oldCap, oldLen := cap(buf), len(buf)
		buf = append(buf, chunk[:n]...)
		if cap(buf) != oldCap {
			s.grew(oldCap, cap(buf), oldLen)
			s.sample()
		}
	}
	sink = buf
	return len(buf), cap(buf)
}

// growCopy implements the strategies that compute a new capacity and copy
// into a fresh slice; next returns the capacity for cap and need.
func growCopy(total int, chunk []byte, s *stats, next func(cap, need int) int) (int, int) {
	var buf []byte
	for len(buf) < total {
		n := min(len(chunk), total-len(buf))
		if need := len(buf) + n; need > cap(buf) {
			nb := make([]byte, len(buf), next(cap(buf), need))
			s.sample()
			copy(nb, buf)
			s.grew(cap(buf), cap(nb), len(buf))
			buf = nb
		}
		buf = append(buf, chunk[:n]...)
	}
	sink = buf
	return len(buf), cap(buf)
}

func growChunked(total int, chunk []byte, block int, s *stats) (int, int) {
	var blocks [][]byte
	held, capacity := 0, 0
	for held < total {
		n := min(len(chunk), total-held)
		for n > 0 {
			if len(blocks) == 0 || len(blocks[len(blocks)-1]) == block {
				blocks = append(blocks, make([]byte, 0, block))
				capacity += block
				s.sample()
			}
			last := &blocks[len(blocks)-1]
			k := min(n, block-len(*last))
			*last = append(*last, chunk[:k]...)
			n -= k
			held += k
		}
	}
	sink = blocks
	return held, capacity
}

func growPrealloc(total int, chunk []byte, s *stats) (int, int) {
	buf := make([]byte, 0, total)
	s.sample()
	for len(buf) < total {
		buf = append(buf, chunk[:min(len(chunk), total-len(buf))]...)
	}
	sink = buf
	return len(buf), cap(buf)
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// parseSize reads a byte count with an optional K, M or G suffix (powers of
// 1024), as growbench.c does.
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult = 1 << 10
	case strings.HasSuffix(s, "M"):
		mult = 1 << 20
	case strings.HasSuffix(s, "G"):
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func main() {
	strategy := flag.String("strategy", "double", "growth strategy")
	totalArg := flag.String("total", "64M", "bytes to append (K/M/G suffixes)")
	chunkArg := flag.String("chunk", "32K", "bytes per append")
	stepArg := flag.String("step", "4M", "increment for step, block size for chunked")
	flag.Parse()
	total, err1 := parseSize(*totalArg)
	chunkSize, err2 := parseSize(*chunkArg)
	step, err3 := parseSize(*stepArg)
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			fmt.Fprintln(os.Stderr, "growbench:", err)
			os.Exit(2)
		}
	}
	chunk := make([]byte, chunkSize)
	for i := range chunk {
		chunk[i] = byte(i)
	}

	var s stats
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop, done := make(chan struct{}), make(chan struct{})
	go s.sampler(stop, done)
	start := time.Now()
	var final, capacity int
	switch *strategy {
	case "double":
		final, capacity = growDouble(total, chunk, &s)
	case "goappend":
		final, capacity = growAppend(total, chunk, &s)
	case "x1.5":
		final, capacity = growCopy(total, chunk, &s, func(c, need int) int {
			if c+c/2 > need {
				return c + c/2
			}
			return need
		})
	case "exact":
		final, capacity = growCopy(total, chunk, &s, func(c, need int) int { return need })
	case "step":
		final, capacity = growCopy(total, chunk, &s, func(c, need int) int {
			return (need + step - 1) / step * step
		})
	case "chunked":
		final, capacity = growChunked(total, chunk, step, &s)
	case "prealloc":
		final, capacity = growPrealloc(total, chunk, &s)
	default:
		fmt.Fprintf(os.Stderr, "growbench: strategy %q has no Go version\n", *strategy)
		os.Exit(2)
	}
	elapsed := time.Since(start)
	close(stop)
	<-done
	s.sample()
	runtime.ReadMemStats(&after)
	if uint64(capacity) > s.copyPeak {
		s.copyPeak = uint64(capacity)
	}
	fmt.Printf("strategy=%s final=%d cap=%d peak=%d alloc=%d gcs=%d copied=%d grows=%d copy_peak=%d ns=%d\n",
		*strategy, final, capacity, s.peak.Load(), after.TotalAlloc-before.TotalAlloc,
		after.NumGC-before.NumGC, s.copied, s.grows, s.copyPeak, elapsed.Nanoseconds())
	runtime.KeepAlive(sink)
}
