package benchtab

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Load is the machine's one-minute load average around a comparison.
type Load struct {
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	Cores  int     `json:"cores"`
}

// Busy reports whether the load average before or after was above the
// number of cores. The load after includes the comparison's own processes.
func (l Load) Busy() bool {
	return l.Cores > 0 && (l.Before > float64(l.Cores) || l.After > float64(l.Cores))
}

// String renders "0.42 → 2.10", with " (busy)" when Busy; an unknown load
// (negative) prints as "?".
func (l Load) String() string {
	f := func(v float64) string {
		if v < 0 {
			return "?"
		}
		return fmt.Sprintf("%.2f", v)
	}
	s := f(l.Before) + " → " + f(l.After)
	if l.Busy() {
		s += " (busy)"
	}
	return s
}

// Host describes the machine a figure was measured on.
type Host struct {
	Cores  int    `json:"cores"`
	CPU    string `json:"cpu"`
	Go     string `json:"go"`
	Kernel string `json:"kernel,omitempty"`
}

// ThisHost describes the running machine: usable cores (as nproc counts
// them), the CPU model from /proc/cpuinfo, the Go version and the kernel.
func ThisHost() Host {
	h := Host{Cores: runtime.NumCPU(), CPU: "unknown", Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	return h
}

// LoadAvg returns the one-minute load average from /proc/loadavg, or -1
// when it cannot be read.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// settle waits, for at most max, until the load average is at most cores,
// so that a comparison does not start in the wake of the previous one. It
// returns the load it ends with.
func settle(cores int, max time.Duration) float64 {
	deadline := time.Now().Add(max)
	for {
		l := LoadAvg()
		if l <= float64(cores) || time.Now().After(deadline) {
			return l
		}
		time.Sleep(time.Second)
	}
}
