package fs

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// pinProcess restricts every thread of the test process, and so the
// mount it serves, the readers and the kernel work done on their behalf,
// to the first n CPUs it may run on, and returns the function that gives
// the threads back their CPUs. Threads inherit their creator's CPUs, so
// the pass over /proc/self/task repeats until it finds no thread left to
// pin. It is for benchmarks that measure how throughput grows with cores.
func pinProcess(tb testing.TB, n int) (unpin func()) {
	tb.Helper()
	var all unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		tb.Fatalf("read the CPUs of the process: %v", err)
	}
	var set unix.CPUSet
	for cpu := 0; set.Count() < n && cpu < 1024; cpu++ {
		if all.IsSet(cpu) {
			set.Set(cpu)
		}
	}
	if set.Count() < n {
		tb.Skipf("the process may run on %d CPUs, the benchmark needs %d", all.Count(), n)
	}
	if err := setThreads(&set); err != nil {
		tb.Fatal(err)
	}
	return func() {
		if err := setThreads(&all); err != nil {
			tb.Fatal(err)
		}
	}
}

// setThreads sets the CPUs of every thread of the process to set.
func setThreads(set *unix.CPUSet) error {
	done := map[int]bool{}
	for {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("list the threads of the process: %w", err)
		}
		more := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			more = true
			// A thread that exited since the listing is not an error.
			if err := unix.SchedSetaffinity(tid, set); err != nil && err != unix.ESRCH {
				return fmt.Errorf("set the CPUs of thread %d: %w", tid, err)
			}
			done[tid] = true
		}
		if !more {
			return nil
		}
	}
}
