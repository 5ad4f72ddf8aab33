// Command bufchan is the Go reference for bench/bufchan.c: one producer and
// one consumer through a channel of capacity 1024, per item.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"time"
)

func round(n int) time.Duration {
	ch := make(chan int64, 1024)
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			ch <- int64(i)
		}
	}()
	var sum int64
	for i := 0; i < n; i++ {
		sum += <-ch
	}
	d := time.Since(t0)
	if sum != int64(n)*int64(n-1)/2 {
		panic("lost items")
	}
	return d
}

func main() {
	n := flag.Int("n", 2000000, "items per repetition")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()
	round(*n/10 + 1)
	ns := make([]float64, *reps)
	for r := range ns {
		runtime.GC()
		ns[r] = float64(round(*n).Nanoseconds()) / float64(*n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=bufchan procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
