// Command yield is the Go reference for bench/yield.c: two goroutines that
// call runtime.Gosched in a loop, per iteration (each of the pair yields once).
//
//	GOMAXPROCS=1 ./yield [-n 1000000] [-reps 5]
//
// Prints: bench=yield procs=P ns_per_op=X best=Y stat=median reps=R n=N
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
	wg.Add(2)
	body := func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	t0 := time.Now()
	go body()
	go body()
	wg.Wait()
	return time.Since(t0)
}

func main() {
	n := flag.Int("n", 1000000, "iterations per goroutine per repetition")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()

	round(*n / 10) // warm-up
	ns := make([]float64, *reps)
	for r := range ns {
		runtime.GC()
		ns[r] = float64(round(*n).Nanoseconds()) / float64(*n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=yield procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
