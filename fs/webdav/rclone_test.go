package webdav

import (
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/fs/browse/browsetest"
)

// rclone runs the Debian rclone against s as the webdav remote "kb:",
// configured by environment only.
func rclone(t *testing.T, s *server, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("rclone")
	if err != nil {
		t.Skip("SKIPPING: rclone is not installed (apt-get install -y rclone)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "RCLONE_CONFIG=/dev/null", "RCLONE_CONFIG_KB_TYPE=webdav", "RCLONE_CONFIG_KB_URL="+s.URL,
		"RCLONE_CONFIG_KB_VENDOR=other")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("rclone %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// TestRclone lists and reads the tree with rclone's webdav backend: the
// listing is the tree's, and rclone cat reads the records' JSON lines.
func TestRclone(t *testing.T) {
	s := serve(t, Options{})
	got := strings.Fields(rclone(t, s, "lsf", "-R", "--max-depth", "6", "kb:topics/orders/snapshots/v2"))
	sort.Strings(got)
	want := []string{"0/", "0/records.jsonl", "0/segments/", "0/segments/00000000000000000000-00000000000000000019.jsonl",
		"0/segments/00000000000000000020-00000000000000000039.jsonl", "0/segments/00000000000000000040-00000000000000000059.jsonl",
		"1/", "1/records.jsonl", "1/segments/", "1/segments/00000000000000000000-00000000000000000019.jsonl",
		"1/segments/00000000000000000020-00000000000000000034.jsonl", "index", "snapshot.yaml"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rclone lsf -R:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sizes := rclone(t, s, "ls", "kb:topics/orders/snapshots/v1/0")
	if !strings.Contains(sizes, " "+strconv.Itoa(len(s.b.Lines[browsetest.V1][0]))+" records.jsonl") {
		t.Errorf("rclone ls sizes:\n%s", sizes)
	}
	if got := rclone(t, s, "cat", "kb:topics/orders/latest/1/records.jsonl"); got != string(s.b.Lines[browsetest.V2][1]) {
		t.Errorf("rclone cat differs: %d bytes, want %d", len(got), len(s.b.Lines[browsetest.V2][1]))
	}
	if got := rclone(t, s, "cat", "--offset", "5", "--count", "20", "kb:topics/orders/snapshots/v2/0/records.jsonl"); got != string(s.b.Lines[browsetest.V2][0][5:25]) {
		t.Errorf("rclone cat of a range: %q", got)
	}
}
