// Command rebind plans, reviews, applies, resumes and rolls back runbooks
// that repair hybrid identities across Active Directory, Entra ID and
// Exchange Online.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/rebind-dev/rebind/cli"
)

// memoryLimit is the soft limit on the Go runtime's memory rebind runs
// with when GOMEMLIMIT does not set one: near it the garbage collector
// runs more often instead of letting the heap grow to twice what is live
// (https://go.dev/doc/gc-guide#Memory_limit). A plan of a 100,000-instance
// fan-out holds about 650 MB live at its largest, and its heap grew to
// 1.2 GB and its RSS to 1.5-1.6 GB without the limit; with it, RSS stays
// under 1 GB for about a fifth more CPU (README, Measurements). It is soft:
// a command that needs more live memory gets it, and pays in collector CPU
// (which Go caps at about half the CPU), not in a failure.
const memoryLimit = 900 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	os.Exit(run())
}

// run is rebind's command line. REBIND_CPUPROFILE and REBIND_MEMPROFILE
// name files to write a CPU profile of the whole command and a heap
// profile to, for `go tool pprof` (README, Measurements): the heap profile
// is taken when the live heap was largest, as sampled every 100 ms, so
// that it shows what a command's peak RSS holds.
func run() int {
	if path := os.Getenv("REBIND_MEMPROFILE"); path != "" {
		stop := peakHeapProfile(path)
		defer stop()
	}
	if path := os.Getenv("REBIND_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "REBIND_CPUPROFILE: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "REBIND_CPUPROFILE: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	return cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// peakHeapProfile writes a heap profile to path each time the heap in use
// passes its largest size so far by a tenth; the returned func stops it.
func peakHeapProfile(path string) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var peak uint64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse < peak+peak/10 {
				continue
			}
			peak = ms.HeapInuse
			f, err := os.Create(path)
			if err == nil {
				err = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "REBIND_MEMPROFILE: %v\n", err)
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}
