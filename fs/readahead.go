package fs

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// readAheadKiB is the kernel's read-ahead for the mount. FUSE offers the
// file system the backing device's default, 128 KiB, at mount time, so
// sequential reads of records.jsonl and segment files reach the mount as
// 128 KiB requests, one decoded block in eight per round trip. A larger
// window lets the kernel ask for whole blocks (up to MaxWrite, 1 MiB) and
// keep several requests in flight, which the mount decodes in parallel
// while the reader consumes the previous ones. 4 MiB measured best on 2
// cores (BenchmarkCatRecords); 1 MiB left one core idle, 8 MiB queued more
// requests than there were cores.
const readAheadKiB = 4096

// setReadAhead sets the read-ahead of the file system mounted at mp to kb
// KiB through its backing device's sysfs knob
// (/sys/class/bdi/MAJOR:MINOR/read_ahead_kb). Only root may; the mount
// works without it, only slower.
func setReadAhead(mp string, kb int) error {
	var st unix.Stat_t
	if err := unix.Stat(mp, &st); err != nil {
		return fmt.Errorf("set read-ahead of %s: %w", mp, err)
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0); err != nil {
		return fmt.Errorf("set read-ahead of %s: %w", mp, err)
	}
	return nil
}
