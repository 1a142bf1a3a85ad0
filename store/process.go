package store

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
)

// processID identifies a process beyond its PID, so that a lease held by a
// process on this very machine can be taken over at once when that process
// is gone, without waiting for the TTL. A PID alone is not enough:
// containers share host names without sharing PID namespaces, cloned VMs
// share host names, and PIDs are reused.
type processID struct {
	Host   string `yaml:"host"`
	BootID string `yaml:"boot_id"`     // /proc/sys/kernel/random/boot_id
	PIDNS  string `yaml:"pid_ns"`      // the target of /proc/self/ns/pid
	PID    int    `yaml:"pid"`         // in that namespace
	Start  uint64 `yaml:"start_ticks"` // field 22 of /proc/<pid>/stat
}

// currentProcess returns this process's identity, or nil where /proc does
// not tell it (then leases are judged by their TTL alone).
func currentProcess() *processID {
	host, err := os.Hostname()
	if err != nil {
		return nil
	}
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return nil
	}
	pid := os.Getpid()
	start, err := processStart(pid)
	if err != nil {
		return nil
	}
	return &processID{Host: host, BootID: strings.TrimSpace(string(boot)), PIDNS: ns, PID: pid, Start: start}
}

// dead reports whether p is certainly a process that no longer runs: it
// ran on this machine since its last boot, in this PID namespace, and its
// PID is now free or belongs to a process started at another time. Any
// doubt answers false, and the lease waits for its TTL.
func (p *processID) dead() bool {
	me := currentProcess()
	if me == nil || p.Host != me.Host || p.BootID == "" || p.BootID != me.BootID || p.PIDNS == "" || p.PIDNS != me.PIDNS || p.PID <= 0 {
		return false
	}
	start, err := processStart(p.PID)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	return err == nil && start != p.Start
}

// processStart reads the start time (in clock ticks since boot) of pid.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state); the start time is field 22.
	if len(fields) < 20 {
		return 0, errors.New("unexpected /proc stat format")
	}
	return strconv.ParseUint(fields[19], 10, 64)
}
