// Command chanmpmc is the Go reference for bench/chanmpmc.c: 8 sending and
// 8 receiving goroutines on one channel of capacity 8, per value.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"
)

const side = 8

func round(n int) float64 {
	per := n / side
	ch := make(chan int64, 8)
	var senders, receivers sync.WaitGroup
	sums := make([]int64, side)
	t0 := time.Now()
	receivers.Add(side)
	for i := 0; i < side; i++ {
		go func(sum *int64) {
			for v := range ch {
				*sum += v
			}
			receivers.Done()
		}(&sums[i])
	}
	senders.Add(side)
	for i := 0; i < side; i++ {
		go func() {
			for v := 0; v < per; v++ {
				ch <- int64(v)
			}
			senders.Done()
		}()
	}
	senders.Wait()
	close(ch)
	receivers.Wait()
	d := time.Since(t0)
	var sum int64
	for _, s := range sums {
		sum += s
	}
	if sum != side*int64(per)*int64(per-1)/2 {
		panic("lost values")
	}
	return float64(d.Nanoseconds()) / float64(side*per)
}

func main() {
	n := flag.Int("n", 500000, "values per repetition")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()
	round(*n/10 + side)
	ns := make([]float64, *reps)
	for r := range ns {
		runtime.GC()
		ns[r] = round(*n)
	}
	sort.Float64s(ns)
	fmt.Printf("bench=chanmpmc procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n)
}
