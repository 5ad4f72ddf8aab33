// Command mutex is the Go reference for bench/mutex.c: 8 goroutines each do
// n rounds of Lock / increment a shared counter / Unlock on one sync.Mutex,
// per lock/unlock pair (wall time / (8 * n)).
//
//	GOMAXPROCS=1 ./mutex [-n 250000] [-reps 5]
//
// Prints: bench=mutex procs=P ns_per_op=X best=Y stat=median reps=R n=N
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

const goroutines = 8

func round(n int) time.Duration {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		counter int
	)
	wg.Add(goroutines)
	body := func() {
		for i := 0; i < n; i++ {
			mu.Lock()
			counter++
			mu.Unlock()
		}
		wg.Done()
	}
	t0 := time.Now()
	for i := 0; i < goroutines; i++ {
		go body()
	}
	wg.Wait()
	d := time.Since(t0)
	if counter != n*goroutines {
		fmt.Fprintf(os.Stderr, "mutex: counter %d, expected %d\n", counter, n*goroutines)
		os.Exit(2)
	}
	return d
}

func main() {
	n := flag.Int("n", 250000, "lock/unlock pairs per goroutine per repetition")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()

	round(*n/10 + 1) // warm-up
	ns := make([]float64, *reps)
	for r := range ns {
		runtime.GC()
		ns[r] = float64(round(*n).Nanoseconds()) / float64(*n*goroutines)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=mutex procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
