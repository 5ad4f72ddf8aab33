// Command spawn is the Go reference for bench/spawn.c: the cost of starting a
// goroutine that does nothing but wg.Done(), including its exit and the
// WaitGroup traffic, per goroutine.
//
//	GOMAXPROCS=1 ./spawn [-n 200000] [-reps 5]
//
// Prints: bench=spawn procs=P ns_per_op=X best=Y stat=median reps=R n=N
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

func round(n int) time.Duration {
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	return time.Since(t0)
}

func main() {
	n := flag.Int("n", 200000, "goroutines per repetition")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()

	round(*n) // warm-up: grows the heap, the G free list and the stack cache
	ns := make([]float64, *reps)
	for r := range ns {
		runtime.GC() // as testing.B does before each run
		ns[r] = float64(round(*n).Nanoseconds()) / float64(*n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=spawn procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
