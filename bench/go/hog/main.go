// Command hog is the Go reference for bench/hog.c: how long a goroutine that
// sleeps 10 ms in a loop waits behind one CPU hog per P (mean lateness, ns).
//
// bench=hog: the hog loop has no calls, so only Go's asynchronous preemption
// (SIGURG) gets it off the P. bench=hog_coop: the same program re-executed
// with GODEBUG=asyncpreemptoff=1 and a (non-inlined, stack-checked) call in
// the hog loop every ~20 us, Go's cooperative preemption point, as goro's
// hogs call goro_preempt_point().
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

var sink uint64

func burn(n uint64, x uint64) uint64 {
	for i := uint64(0); i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

//go:noinline
func point(buf *[64]byte) byte {
	var local [256]byte // a frame big enough to carry a stack check
	local[buf[0]] = 1
	return local[7]
}

func calibrate(d time.Duration) uint64 {
	n := uint64(1 << 20)
	for {
		t0 := time.Now()
		atomic.StoreUint64(&sink, burn(n, 1))
		el := time.Since(t0)
		if el > 20*time.Millisecond {
			return uint64(float64(n) * float64(d) / float64(el))
		}
		n *= 2
	}
}

func round(procs int, iters uint64, coop bool) float64 {
	var left int32 = int32(procs)
	var wg sync.WaitGroup
	var lateSum time.Duration
	ticks := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for atomic.LoadInt32(&left) > 0 {
			t0 := time.Now()
			time.Sleep(10 * time.Millisecond)
			late := time.Since(t0) - 10*time.Millisecond
			if atomic.LoadInt32(&left) > 0 {
				lateSum += late
				ticks++
			}
		}
	}()
	time.Sleep(time.Millisecond)
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := uint64(88172645463325252)
			var buf [64]byte
			if coop {
				for done := uint64(0); done < iters; done += 4096 {
					x = burn(4096, x)
					point(&buf)
				}
			} else {
				for done := uint64(0); done < iters; done++ {
					x ^= x << 13
					x ^= x >> 7
					x ^= x << 17
				}
			}
			atomic.StoreUint64(&sink, x)
			atomic.AddInt32(&left, -1)
		}()
	}
	wg.Wait()
	if ticks == 0 {
		return float64(300 * time.Millisecond)
	}
	return float64(lateSum.Nanoseconds()) / float64(ticks)
}

func main() {
	n := flag.Int("n", 300, "ms each hog runs")
	reps := flag.Int("reps", 5, "measured repetitions (after one warm-up)")
	flag.Parse()
	coop := os.Getenv("HOG_COOP") == "1"
	procs := runtime.GOMAXPROCS(0)
	iters := calibrate(time.Duration(*n) * time.Millisecond)
	round(procs, iters/4, coop)
	ns := make([]float64, *reps)
	for r := range ns {
		ns[r] = round(procs, iters, coop)
	}
	sort.Float64s(ns)
	name := "hog"
	if coop {
		name = "hog_coop"
	}
	fmt.Printf("bench=%s procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d\n",
		name, procs, ns[len(ns)/2], ns[0], *reps, *n)
	if !coop {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		cmd.Env = append(os.Environ(), "HOG_COOP=1", "GODEBUG=asyncpreemptoff=1")
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "hog_coop:", err)
			os.Exit(1)
		}
	}
}
