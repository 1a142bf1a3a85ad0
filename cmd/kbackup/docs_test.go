package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A doc example is runnable when its fence says so: ```console runnable.
// In it, a line starting with "$ " is a kbackup command, run in-process
// against a seeded dev cluster and an empty file storage (KBACKUP_BROKERS
// and KBACKUP_STORAGE, as the doc tells its reader to export), in the
// directory of a fresh temporary working copy. The lines after a command
// are its expected output: each must match a line of the command's stdout
// and stderr, in order, with runs of spaces collapsed and "…" standing for
// anything. A command ending in "# exit N" must exit with N, others with 0.
// The blocks of one file run in order, as one session.

// docExample is one command of a runnable block.
type docExample struct {
	file string
	line int
	args []string
	exit int
	want []string
}

var exitComment = regexp.MustCompile(`\s+#\s*exit\s+(\d+)\s*$`)

// docExamples reads the runnable commands of one Markdown file.
func docExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var exs []docExample
	in := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			in = !in && strings.Contains(line, "runnable")
		case !in:
		case strings.HasPrefix(line, "$ "):
			cmd, exit := line[2:], 0
			if m := exitComment.FindStringSubmatch(cmd); m != nil {
				exit, _ = strconv.Atoi(m[1])
				cmd = cmd[:len(cmd)-len(m[0])]
			}
			args, err := shellWords(cmd)
			if err != nil || len(args) == 0 || args[0] != "kbackup" {
				t.Fatalf("%s:%d: %q is not a kbackup command (%v)", path, n, cmd, err)
			}
			exs = append(exs, docExample{file: filepath.Base(path), line: n, args: args[1:], exit: exit})
		case len(exs) > 0 && strings.TrimSpace(line) != "":
			exs[len(exs)-1].want = append(exs[len(exs)-1].want, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return exs
}

// shellWords splits s as a POSIX shell splits a simple command: words
// separated by blanks, quoted with '…' or "…".
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case '\'', '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c", c)
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// matchLines reports the first expected line that no output line (after
// the previous match) matches, or "".
func matchLines(want []string, out string) string {
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	lines := strings.Split(out, "\n")
	at := 0
next:
	for _, w := range want {
		frags := strings.Split(norm(w), "…")
		for ; at < len(lines); at++ {
			l, pos, ok := norm(lines[at]), 0, true
			for i, f := range frags {
				f = strings.TrimSpace(f)
				k := strings.Index(l[pos:], f)
				if k < 0 || (i == 0 && k > 0 && !strings.HasPrefix(norm(w), "…")) {
					ok = false
					break
				}
				pos += k + len(f)
			}
			if ok {
				at++
				continue next
			}
		}
		return w
	}
	return ""
}

// TestDocExamples runs the runnable examples of docs/*.md.
func TestDocExamples(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	ran := 0
	for _, path := range files {
		exs := docExamples(t, path)
		if len(exs) == 0 {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c := devCluster(t, ctx, true)
			t.Chdir(t.TempDir())
			t.Setenv("KBACKUP_BROKERS", c.Addr())
			t.Setenv("KBACKUP_STORAGE", "./backup")
			for _, ex := range exs {
				code, stdout, stderr := runCtx(ctx, ex.args...)
				out := stdout + stderr
				if code != ex.exit {
					t.Fatalf("%s:%d: kbackup %s: exit %d, want %d\n%s", ex.file, ex.line, strings.Join(ex.args, " "), code, ex.exit, out)
				}
				if miss := matchLines(ex.want, out); miss != "" {
					t.Fatalf("%s:%d: kbackup %s: no output line matches %q; output:\n%s", ex.file, ex.line, strings.Join(ex.args, " "), miss, out)
				}
				ran++
			}
		})
	}
	if ran == 0 && !t.Failed() {
		t.Fatal("no runnable doc example found")
	}
}

func TestMatchLines(t *testing.T) {
	out := "Topic: orders  Snapshot: v1\nPARTITION  RECORDS\n0   42\nDone: 7 records produced, 0.1 MB payload in 0.3s\n"
	for _, tc := range []struct {
		want []string
		miss string
	}{
		{[]string{"Topic: orders Snapshot: v1", "0 42"}, ""},
		{[]string{"Done: … records produced, … MB payload in …"}, ""},
		{[]string{"…records produced"}, ""},
		{[]string{"0 42", "Topic: orders"}, "Topic: orders"}, // order matters
		{[]string{"records produced"}, "records produced"},   // anchored at the start without …
	} {
		if got := matchLines(tc.want, out); got != tc.miss {
			t.Errorf("matchLines(%q) = %q, want %q", tc.want, got, tc.miss)
		}
	}
}
