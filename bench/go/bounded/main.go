// Command bounded is the Go reference for bench/bounded.c: seed 004's
// Optimizations 1 and 2. N items are processed three ways: one goroutine per
// item with a WaitGroup (unbounded), a semaphore-limited group of K (what
// errgroup.SetLimit does; golang.org/x/sync is not in the standard library,
// so the limit is a buffered channel, exactly as errgroup implements it), and
// a pool of K reused workers fed through a bounded channel. process(item) is
// the same ~1 us of CPU work as in bounded.c (plus, with -wait-us, a sleep).
//
//	./bounded -child VARIANT -n N [-wait-us W]   one variant; prints peak_g=... wall_ns=...
//	GOMAXPROCS=P ./bounded [-n 1000000] [-reps 5]
//	                                 runs the pool variant REPS times in child
//	                                 processes and prints the bench= line
//
// Peak goroutines: runtime.NumGoroutine() sampled every 64 items and at the end.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const k = 32

var sink uint64

func process(item uint64) error {
	x := item*0x9E3779B97F4A7C15 + 1
	for i := 0; i < 60; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	atomic.AddUint64(&sink, x&1)
	if wait > 0 {
		time.Sleep(wait)
	}
	return nil
}

var wait time.Duration // simulated downstream latency per item

func child(variant string, n int) {
	peak := 0
	sample := func() {
		if g := runtime.NumGoroutine(); g > peak {
			peak = g
		}
	}
	t0 := time.Now()
	switch variant {
	case "unbounded":
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(it uint64) {
				defer wg.Done()
				process(it)
			}(uint64(i))
			if i&63 == 0 {
				sample()
			}
		}
		sample()
		wg.Wait()
	case "group":
		// errgroup.WithContext + SetLimit(k), as x/sync implements it.
		sem := make(chan struct{}, k)
		var wg sync.WaitGroup
		var errOnce sync.Once
		var firstErr error
		for i := 0; i < n; i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func(it uint64) {
				defer func() { <-sem; wg.Done() }()
				if err := process(it); err != nil {
					errOnce.Do(func() { firstErr = err })
				}
			}(uint64(i))
			if i&63 == 0 {
				sample()
			}
		}
		sample()
		wg.Wait()
		_ = firstErr
	case "pool":
		jobs := make(chan uint64, 2*k)
		var wg sync.WaitGroup
		for w := 0; w < k; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := range jobs {
					process(it)
				}
			}()
		}
		for i := 0; i < n; i++ {
			jobs <- uint64(i) // blocks while the workers are busy
			if i&63 == 0 {
				sample()
			}
		}
		sample()
		close(jobs)
		wg.Wait()
	default:
		fmt.Fprintln(os.Stderr, "unknown variant", variant)
		os.Exit(2)
	}
	fmt.Printf("peak_g=%d wall_ns=%d\n", peak, time.Since(t0).Nanoseconds())
}

func main() {
	variant := flag.String("child", "", "run one variant (unbounded, group, pool)")
	n := flag.Int("n", 1000000, "items")
	waitUs := flag.Int("wait-us", 0, "child: microseconds each item waits after its CPU work")
	reps := flag.Int("reps", 5, "measured repetitions of the pool variant")
	flag.Parse()
	if *variant != "" {
		wait = time.Duration(*waitUs) * time.Microsecond
		child(*variant, *n)
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ns := make([]float64, *reps)
	for r := range ns {
		out, err := exec.Command(self, "-child", "pool", "-n", strconv.Itoa(*n)).Output()
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		i := strings.Index(string(out), "wall_ns=")
		if i < 0 {
			fmt.Fprintln(os.Stderr, "child printed no wall_ns")
			os.Exit(2)
		}
		w, _ := strconv.ParseFloat(strings.TrimSpace(string(out[i+8:])), 64)
		ns[r] = w / float64(*n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=bounded procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
