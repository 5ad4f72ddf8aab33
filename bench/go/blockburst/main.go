// Command blockburst is the Go reference for bench/blockburst.c: n goroutines
// each block their thread for 10 ms in a raw nanosleep system call
// (syscall.Syscall, so entersyscall/exitsyscall and sysmon's retake run, as
// for any blocking syscall). ns_per_op is the burst's completion time / n;
// threads= is the peak of /proc/self/task, created= the threads Go created.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func nap() {
	ts := syscall.Timespec{Sec: 0, Nsec: 10 * 1000 * 1000}
	syscall.Syscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

func threads() int {
	f, err := os.Open("/proc/self/task")
	if err != nil {
		return -1
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return len(names)
}

func burst(n int) float64 {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			nap()
			wg.Done()
		}()
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func main() {
	n := flag.Int("n", 10000, "blocking calls per burst")
	reps := flag.Int("reps", 3, "measured repetitions")
	flag.Parse()
	if *reps > 3 {
		*reps = 3
	}
	var peak int64
	var stop int32
	done := make(chan struct{})
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
			if t := int64(threads()); t > atomic.LoadInt64(&peak) {
				atomic.StoreInt64(&peak, t)
			}
			time.Sleep(time.Millisecond)
		}
		close(done)
	}()
	created0 := pprof.Lookup("threadcreate").Count()
	ns := make([]float64, *reps)
	for r := range ns {
		ns[r] = burst(*n)
	}
	atomic.StoreInt32(&stop, 1)
	<-done
	sort.Float64s(ns)
	fmt.Printf("bench=blockburst procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d threads=%d created=%d\n",
		runtime.GOMAXPROCS(0), ns[len(ns)/2], ns[0], *reps, *n, atomic.LoadInt64(&peak),
		pprof.Lookup("threadcreate").Count()-created0)
}
