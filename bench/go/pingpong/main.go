// Command pingpong is the Go reference for bench/pingpong.c: an unbuffered
// channel round trip between two goroutines, per round trip.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"time"
)

func round(n int) time.Duration {
	ping, pong := make(chan int64), make(chan int64)
	done := make(chan struct{})
	t0 := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v
		}
		close(done)
	}()
	for i := 0; i < n; i++ {
		ping <- int64(i)
		<-pong
	}
	<-done
	return time.Since(t0)
}

func main() {
	n := flag.Int("n", 500000, "round trips per repetition")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()
	round(*n/10 + 1)
	ns := make([]float64, *reps)
	for r := range ns {
		runtime.GC()
		ns[r] = float64(round(*n).Nanoseconds()) / float64(*n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=pingpong procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
