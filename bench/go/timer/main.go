// Command timer is the Go reference for bench/timer.c: how late a 1 ms
// time.Sleep wakes, mean ns over n sleeps, with the runtime otherwise idle.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"time"
)

func round(n int) float64 {
	var late time.Duration
	for i := 0; i < n; i++ {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		late += time.Since(t0) - time.Millisecond
	}
	return float64(late.Nanoseconds()) / float64(n)
}

func main() {
	n := flag.Int("n", 200, "sleeps per repetition")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()
	round(*n/10 + 1)
	ns := make([]float64, *reps)
	for r := range ns {
		ns[r] = round(*n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=timer procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
