// Command echo is the Go reference for bench/echo.c: a net package TCP echo
// server (a goroutine per connection, Read then Write) on loopback, driven
// by the same client as the goro server: bench/echo.c in client mode, a
// separate single-threaded epoll process (found next to this binary as
// ../echo, or through $BENCH_ECHO_CLIENT). Run with GOMAXPROCS set to the
// goro run's P count.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
)

type window struct{ rps, p50, p99 float64 }

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	conns := flag.Int("n", 1000, "concurrent connections")
	reps := flag.Int("reps", 5, "measured windows of 1 s (after a warm-up)")
	flag.Parse()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(2)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()

	client := os.Getenv("BENCH_ECHO_CLIENT")
	if client == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			os.Exit(2)
		}
		client = filepath.Join(filepath.Dir(exe), "..", "echo")
	}
	port := ln.Addr().(*net.TCPAddr).Port
	cmd := exec.Command(client, "-client", "-port", strconv.Itoa(port), "-c", strconv.Itoa(*conns),
		"-r", strconv.Itoa(*reps), "-t", "1000")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo: cannot start the client", client, ":", err)
		os.Exit(2)
	}
	var ws []window
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(ws) < *reps {
		var w window
		var p50, p99 int64
		if n, _ := fmt.Sscanf(sc.Text(), "rps=%g p50_ns=%d p99_ns=%d", &w.rps, &p50, &p99); n == 3 {
			w.p50, w.p99 = float64(p50), float64(p99)
			ws = append(ws, w)
		}
	}
	if err := cmd.Wait(); err != nil || len(ws) < *reps {
		fmt.Fprintln(os.Stderr, "echo: the client failed:", err, len(ws), "windows")
		os.Exit(2)
	}
	ln.Close()
	sort.Slice(ws, func(i, j int) bool { return ws[i].rps < ws[j].rps })
	med, best := ws[len(ws)/2], ws[len(ws)-1]
	fmt.Printf("bench=echo procs=%d ns_per_op=%.1f best=%.1f stat=median reps=%d n=%d "+
		"rps=%.0f p50_us=%.0f p99_us=%.0f\n",
		runtime.GOMAXPROCS(0), 1e9/med.rps, 1e9/best.rps, *reps, *conns, med.rps, med.p50/1000, med.p99/1000)
}
