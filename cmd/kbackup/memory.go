package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/backup"
)

// cgroupMemoryFiles hold the memory limit of the process's cgroup: v2,
// then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// autoMaxMemory is the memory bound when none is configured: three
// quarters of the cgroup's memory limit (a container's limit), leaving the
// rest to the page cache and what the bound does not count; without a
// limit, backup.DefaultMaxMemory (1 GiB). It is never below
// backup.MinMaxMemory.
func autoMaxMemory(files []string) int64 {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 { // "max", or v1's "unlimited"
			continue
		}
		return max(n/4*3, backup.MinMaxMemory)
	}
	return backup.DefaultMaxMemory
}

func memoryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "max-memory", Usage: "bound the daemon's memory to `SIZE`, whatever the number of partitions (e.g. 512MiB; at least 128MiB)", DefaultText: "3/4 of the cgroup limit, else 1GiB"},
		&cli.StringFlag{Name: "spool-dir", Usage: "`DIR` for segments spilled out of memory (temporary, unlinked files)", DefaultText: "$TMPDIR or /tmp"},
	}
}

// memoryOptions sets o.MaxMemory and o.SpoolDir from the flags and the
// file.
func memoryOptions(c *cli.Context, bc backupConfig, o *backup.Options) error {
	size := bc.MaxMemory
	if c.IsSet("max-memory") {
		size = c.String("max-memory")
	}
	n, err := parseSize("max memory", size)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if n == 0 {
		n = autoMaxMemory(cgroupMemoryFiles)
	}
	if n < backup.MinMaxMemory {
		return fmt.Errorf("%w: max memory %s is below the minimum of 128MiB", errUsage, size)
	}
	o.MaxMemory = n
	o.SpoolDir = bc.SpoolDir
	if c.IsSet("spool-dir") {
		o.SpoolDir = c.String("spool-dir")
	}
	return nil
}

// aimGC makes the Go garbage collector work harder as the heap nears the
// memory bound, instead of letting it grow to twice the live heap
// (GOGC), unless GOMEMLIMIT says otherwise.
func aimGC(maxMemory int64) {
	if os.Getenv("GOMEMLIMIT") == "" && maxMemory > 0 {
		debug.SetMemoryLimit(backup.GCLimit(maxMemory))
	}
}

// logPeakMemory logs the process's peak resident set (Linux), for
// operators sizing --max-memory and for the test that holds the bound.
func logPeakMemory(log *slog.Logger, maxMemory int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				log.Info("peak memory", "peak_rss", kb<<10, "max_memory", maxMemory)
			}
		}
	}
}
