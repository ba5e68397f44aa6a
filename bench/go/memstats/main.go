// Command memstats is the Go side of bench/memstats_pause.c: how long
// runtime.ReadMemStats stops its caller while goroutines allocate.
//
// -threads goroutines each keep a ring of 4096 byte slices and replace one
// per step with a new slice of 16..1024 bytes. Once all are running, the
// main goroutine calls runtime.ReadMemStats -calls times, sleeping
// -interval-us microseconds between calls, and times each call around it.
// It prints one line of key=value figures that memstats_pause.c reads:
// median, 90th and 99th percentile and maximum pause in microseconds, the
// collections during the calls and the allocations per second.
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"sync/atomic"
	"time"
)

const ring = 4096

func worker(id int, stop *int32, running *int32, allocs *uint64) {
	r := rand.New(rand.NewSource(int64(id) + 1))
	var slots [ring][]byte
	atomic.AddInt32(running, 1)
	for i := uint64(0); atomic.LoadInt32(stop) == 0; i++ {
		p := make([]byte, 16+r.Intn(1009))
		p[0] = byte(i)
		slots[i%ring] = p
		atomic.StoreUint64(allocs, i+1)
	}
}

func percentile(v []float64, q float64) float64 {
	k := int(q*float64(len(v)) + 0.999999)
	if k < 1 {
		k = 1
	}
	if k > len(v) {
		k = len(v)
	}
	return v[k-1]
}

func main() {
	calls := flag.Int("calls", 1000, "ReadMemStats calls")
	threads := flag.Int("threads", 4, "allocating goroutines")
	interval := flag.Int("interval-us", 1000, "sleep between calls, microseconds")
	flag.Parse()

	var stop, running int32
	allocs := make([]uint64, *threads)
	for i := 0; i < *threads; i++ {
		go worker(i, &stop, &running, &allocs[i])
	}
	for atomic.LoadInt32(&running) < int32(*threads) {
		runtime.Gosched()
	}
	sum := func() (s uint64) {
		for i := range allocs {
			s += atomic.LoadUint64(&allocs[i])
		}
		return
	}
	var m0, m runtime.MemStats
	runtime.ReadMemStats(&m0)
	a0 := sum()
	start := time.Now()
	pause := make([]float64, *calls)
	gap := time.Duration(*interval) * time.Microsecond
	for k := range pause {
		t0 := time.Now()
		runtime.ReadMemStats(&m)
		pause[k] = float64(time.Since(t0).Nanoseconds()) / 1e3
		time.Sleep(gap)
	}
	secs := time.Since(start).Seconds()
	a1 := sum()
	atomic.StoreInt32(&stop, 1)
	sort.Float64s(pause)
	n := len(pause)
	median := pause[n/2]
	if n%2 == 0 {
		median = (pause[n/2-1] + pause[n/2]) / 2
	}
	fmt.Printf("median_us=%.3f p90_us=%.3f p99_us=%.3f max_us=%.3f gcs=%d mallocs_per_s=%.0f\n",
		median, percentile(pause, 0.90), percentile(pause, 0.99), pause[n-1],
		m.NumGC-m0.NumGC, float64(a1-a0)/secs)
}
