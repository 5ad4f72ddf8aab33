// Command throttle is the Go reference for bench/throttle.c: four CPU-bound
// goroutines and one that sleeps 1 ms in a loop and records how late it
// wakes, for -t seconds. Run inside a cgroup with a CPU quota (see
// scripts/bench-throttle.sh). Go 1.19 ignores the quota: GOMAXPROCS defaults
// to the CPU count.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const unitIters = 1 << 16 // xorshift steps per unit of work, as throttle.c

var sink uint64

func main() {
	secs := flag.Int("t", 5, "seconds")
	workers := flag.Int("w", 4, "CPU-bound goroutines")
	flag.Parse()

	var stop int32
	units := make([]uint64, *workers)
	late := make([]time.Duration, 0, *secs*2000+100)
	var wg sync.WaitGroup
	wg.Add(*workers + 1)
	for i := 0; i < *workers; i++ {
		go func(id int) {
			defer wg.Done()
			x := uint64(88172645463325252) + uint64(id)
			for atomic.LoadInt32(&stop) == 0 {
				for j := 0; j < unitIters; j++ {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
				}
				atomic.StoreUint64(&sink, x)
				atomic.AddUint64(&units[id], 1)
			}
		}(i)
	}
	go func() {
		defer wg.Done()
		for atomic.LoadInt32(&stop) == 0 {
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			if len(late) < cap(late) {
				late = append(late, time.Since(t0)-time.Millisecond)
			}
		}
	}()
	t0 := time.Now()
	time.Sleep(time.Duration(*secs) * time.Second)
	atomic.StoreInt32(&stop, 1)
	elapsed := time.Since(t0)
	wg.Wait()

	var total uint64
	for i := range units {
		total += atomic.LoadUint64(&units[i])
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	var p50, p99, mx time.Duration
	if n := len(late); n > 0 {
		p50, p99, mx = late[n/2], late[n*99/100], late[n-1]
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	fmt.Printf("bench=throttle who=go maxprocs=%d auto=- quota_milli=- secs=%d work_per_s=%.1f "+
		"samples=%d late_p50_us=%.1f late_p99_us=%.1f late_max_us=%.1f\n",
		runtime.GOMAXPROCS(0), *secs, float64(total)/elapsed.Seconds(), len(late), us(p50), us(p99), us(mx))
}
