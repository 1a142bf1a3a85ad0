package webdav

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
)

// Paging of records on a partition's page and of a long segments/
// listing: ?offset=N starts at the first record whose offset is at least
// N, ?time=T (RFC 3339) at the first record stamped T or later;
// ?limit=M (records pages) shows M records. The segments the index lists
// (offsets in their names, sizes, last record times) say where to start
// reading records.jsonl, so a page decodes the blocks it shows and little
// more, whatever the partition's size.

const (
	defaultLimit = 100
	maxLimit     = 1000
	// maxScan bounds the bytes of records.jsonl read for one page: the
	// records between a segment's start and the one asked for.
	maxScan = 64 << 20
)

// seek is where a records page or a listing page starts.
type seek struct {
	set    bool
	offset int64
	time   time.Time // zero unless ?time was given
	limit  int
}

// errBadQuery means a query parameter that cannot be read.
var errBadQuery = errors.New("bad query")

// parseSeek reads ?offset, ?time and ?limit.
func parseSeek(q url.Values) (seek, error) {
	s := seek{limit: defaultLimit}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return s, fmt.Errorf("%w: offset %.40q is not a record offset (0 or more)", errBadQuery, v)
		}
		s.set, s.offset = true, n
	}
	if v := q.Get("time"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return s, fmt.Errorf("%w: time %.40q is not RFC 3339 (2024-05-01T12:00:00Z)", errBadQuery, v)
		}
		s.set, s.time = true, t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return s, fmt.Errorf("%w: limit %.40q is not between 1 and %d", errBadQuery, v, maxLimit)
		}
		s.limit = n
	}
	return s, nil
}

// segmentFor returns the index of the first segment that may hold the
// record s asks for: by offset, the first whose last offset is at least
// s.offset; by time, the first whose last record is at or after s.time.
// It is len(segs) when none does.
func (s seek) segmentFor(segs []browse.Entry) int {
	for i, e := range segs {
		if !s.time.IsZero() {
			if !e.ModTime.Before(s.time) && e.Path.Last >= s.offset {
				return i
			}
			continue
		}
		if e.Path.Last >= s.offset {
			return i
		}
	}
	return len(segs)
}

// recordsPage is one page of a partition's records.
type recordsPage struct {
	Lines      []string
	First      int64 // offset of the first record shown
	Next, Prev string
	Limit      int
}

// recordLine is what a page reads of a JSON line.
type recordLine struct {
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
}

// records reads the page s asks for of partition part's records.
func (h *Handler) records(r *http.Request, part browse.Path, s seek) (*recordsPage, error) {
	ctx := r.Context()
	segsPath, recPath := part, part
	segsPath.Kind, recPath.Kind = browse.KindSegments, browse.KindRecords
	segs, err := h.tree.List(ctx, segsPath)
	if err != nil {
		return nil, err
	}
	i := s.segmentFor(segs)
	var start int64
	for _, e := range segs[:i] {
		start += e.Size
	}
	pg := &recordsPage{Limit: s.limit}
	f, err := h.tree.Open(ctx, recPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sr := io.NewSectionReader(f, start, min(f.Size-start, maxScan))
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 64<<10)
	for len(pg.Lines) < s.limit {
		n, err := sr.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for len(pg.Lines) < s.limit {
			nl := bytes.IndexByte(buf, '\n')
			if nl < 0 {
				break
			}
			line := buf[:nl]
			buf = buf[nl+1:]
			var rl recordLine
			if json.Unmarshal(line, &rl) != nil {
				continue
			}
			if rl.Offset < s.offset || !s.time.IsZero() && rl.Timestamp.Before(s.time) {
				continue
			}
			if len(pg.Lines) == 0 {
				pg.First = rl.Offset
			}
			pg.Lines = append(pg.Lines, string(line))
			if len(pg.Lines) == s.limit {
				pg.Next = fmt.Sprintf("?offset=%d&limit=%d", rl.Offset+1, s.limit)
			}
		}
		buf = append(chunk[:0:0], buf...) // keep the cut line only
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(pg.Lines) > 0 && pg.First > 0 {
		pg.Prev = fmt.Sprintf("?offset=%d&limit=%d", max(0, pg.First-int64(s.limit)), s.limit)
	}
	return pg, nil
}
