package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Spool holds the segments being written while a memory budget bounds
// them: a segment is encoded into memory taken from the budget, and
// spills to a temporary file in the spool directory when it grows past
// SegmentMemory or the budget has no more to give. Commit uploads the
// segment from memory or from its file (SegmentOptions.Spool).
//
// A spool file is never the source of truth: it is unlinked as soon as it
// is created, so a killed process leaves nothing behind, and the backup
// resumes from what storage holds. NewSpool removes the files of dead
// processes that a crash between create and unlink could have left.
//
// It is safe for concurrent use; each segment uses its own file.
type Spool struct {
	dir      string
	mem      *Budget // encoded chunks and open blocks of open segments
	uploads  *Budget // upload buffers of segments being committed
	segLimit int64

	spilled atomic.Int64
}

// SpoolOptions configures NewSpool.
type SpoolOptions struct {
	// Dir holds spill files (default os.TempDir()).
	Dir string
	// Memory is the budget of every open segment's buffers together: the
	// open block being filled and the encoded bytes not yet uploaded.
	Memory int64
	// Uploads is the budget of upload buffers of segments being
	// committed to cloud storage (two of SegmentPartSize each); it bounds
	// how many upload at once. Less allows one upload at a time.
	Uploads int64
	// SegmentMemory is the largest encoded segment kept in memory;
	// a larger one spills to a file (default SegmentPartSize).
	SegmentMemory int64
}

// SegmentPartSize is the part (S3), block (Azure) or chunk (GCS) buffer
// one segment upload holds.
const SegmentPartSize = segmentPartSize

// spoolChunk is the largest unit of memory a spooled segment takes from
// the budget for its encoded bytes.
const spoolChunk = 64 << 10

// minSpillBlock is the smallest open block a segment flushes early when
// the budget cannot hold it: smaller ones are kept past the budget
// (Budget.Force), so that blocks never shrink to a few records each.
const minSpillBlock = 16 << 10

// NewSpool returns a spool in o.Dir, created if missing, after removing
// the spill files that dead processes left there. It fails when the
// directory cannot hold a file.
func NewSpool(o SpoolOptions) (*Spool, error) {
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if o.SegmentMemory <= 0 {
		o.SegmentMemory = segmentPartSize
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool directory %s cannot be created (set --spool-dir): %w", o.Dir, err)
	}
	sp := &Spool{dir: o.Dir, mem: NewBudget(o.Memory), uploads: NewBudget(max(o.Uploads, 2*segmentPartSize)), segLimit: o.SegmentMemory}
	if err := removeStaleSpool(o.Dir); err != nil {
		return nil, err
	}
	f, err := sp.create()
	if err != nil {
		return nil, err
	}
	f.Close()
	return sp, nil
}

// Memory returns the budget of open segments' buffers.
func (sp *Spool) Memory() *Budget { return sp.mem }

// Uploads returns the budget of upload buffers.
func (sp *Spool) Uploads() *Budget { return sp.uploads }

// Spilled returns how many segments spilled to a file so far.
func (sp *Spool) Spilled() int64 { return sp.spilled.Load() }

// Dir returns the spool directory.
func (sp *Spool) Dir() string { return sp.dir }

// spoolPrefix and spoolSuffix frame the names of spill files:
// kbackup-<pid>-<random>.spool.
const (
	spoolPrefix = "kbackup-"
	spoolSuffix = ".spool"
)

// create makes a spill file and unlinks it at once.
func (sp *Spool) create() (*os.File, error) {
	f, err := os.CreateTemp(sp.dir, spoolPrefix+strconv.Itoa(os.Getpid())+"-*"+spoolSuffix)
	if err != nil {
		return nil, fmt.Errorf("spool directory %s cannot hold a file (set --spool-dir): %w", sp.dir, err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool file %s: %w", f.Name(), err)
	}
	return f, nil
}

// removeStaleSpool removes the spill files of processes that no longer
// run.
func removeStaleSpool(dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, spoolPrefix+"*"+spoolSuffix))
	if err != nil {
		return fmt.Errorf("spool directory %s: %w", dir, err)
	}
	for _, n := range names {
		pidStr, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(n), spoolPrefix), "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue // alive, or not ours to judge
		}
		if err := os.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale spool file: %w", err)
		}
	}
	return nil
}

// spoolSink receives one segment's encoded bytes: in budgeted memory
// chunks, then in a spill file once it spilled.
type spoolSink struct {
	sp      *Spool
	chunks  [][]byte // filled up to their length; only the last one has room
	charged int64    // the chunks' capacity, taken from the budget
	f       *os.File
	size    int64
}

// chunkSize is the size of the next memory chunk: small for the first
// ones, so that a small segment takes little, then spoolChunk.
func chunkSize(have int) int {
	if have >= 4 {
		return spoolChunk
	}
	return 4 << 10 << have
}

func (s *spoolSink) Write(p []byte) (int, error) {
	n := len(p)
	for s.f == nil && len(p) > 0 {
		last := len(s.chunks) - 1
		if last < 0 || len(s.chunks[last]) == cap(s.chunks[last]) {
			size := chunkSize(len(s.chunks))
			if s.size+int64(len(p)) > s.sp.segLimit || !s.sp.mem.TryAcquire(int64(size)) {
				if err := s.spill(); err != nil {
					return n - len(p), err
				}
				break
			}
			s.chunks = append(s.chunks, make([]byte, 0, size))
			s.charged += int64(size)
			last++
		}
		c := s.chunks[last]
		k := min(cap(c)-len(c), len(p))
		s.chunks[last] = append(c, p[:k]...)
		p = p[k:]
		s.size += int64(k)
	}
	if len(p) > 0 {
		k, err := s.f.Write(p)
		s.size += int64(k)
		if err != nil {
			return n - len(p) + k, fmt.Errorf("spool file: %w", err)
		}
	}
	return n, nil
}

// spill moves the segment's bytes to a spill file and gives their memory
// back.
func (s *spoolSink) spill() error {
	f, err := s.sp.create()
	if err != nil {
		return err
	}
	if _, err := s.reader().WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("spool file: %w", err)
	}
	s.f = f
	s.sp.spilled.Add(1)
	s.freeMemory()
	return nil
}

func (s *spoolSink) freeMemory() {
	s.chunks = nil
	s.sp.mem.Release(s.charged)
	s.charged = 0
}

// reader returns the segment's bytes held in memory, from the start.
func (s *spoolSink) reader() *chunkReader {
	return &chunkReader{chunks: append([][]byte(nil), s.chunks...)}
}

// upload returns what Commit uploads: the spill file or the chunks.
func (s *spoolSink) upload() io.Reader {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.size)
	}
	return s.reader()
}

// close gives back the memory and closes the spill file (already
// unlinked). It may be called twice.
func (s *spoolSink) close() {
	s.freeMemory()
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// chunkReader reads a spooled segment held in memory chunks.
type chunkReader struct {
	chunks [][]byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.chunks) > 0 && len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	return n, nil
}

// WriteTo writes the remaining bytes to w.
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for len(r.chunks) > 0 {
		n, err := w.Write(r.chunks[0])
		total += int64(n)
		r.chunks[0] = r.chunks[0][n:]
		if err != nil {
			return total, err
		}
		r.chunks = r.chunks[1:]
	}
	return total, nil
}
