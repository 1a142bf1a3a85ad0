package restore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestRestoreRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	e.backup("src")
	res, err := e.restore(mapping("src", "dst"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Phase != Done || len(res.Topics) != 1 || !res.Topics[0].Created {
		t.Fatalf("result %+v", res.Status)
	}
	src, dst := e.readAll("src"), e.readAll("dst")
	var total int64
	ksrc, kdst := e.kcatRead("src"), e.kcatRead("dst")
	for p := int32(0); p < 3; p++ {
		compare(t, "franz-go partition "+strconv.Itoa(int(p)), src[p], dst[p])
		want := ksrc[p]
		compare(t, "kcat source vs franz-go", want, src[p])
		compare(t, "kcat partition "+strconv.Itoa(int(p)), want, kdst[p])
		total += int64(len(want))
	}
	if total != 661 { // 600 plain, 60 committed in transactions, 1 after
		t.Fatalf("source holds %d records, want 661", total)
	}
	if res.Produced != total || res.Topics[0].Records != total || res.Topics[0].RecordsTotal != total {
		t.Fatalf("produced %d, status %d/%d, want %d", res.Produced, res.Topics[0].Records, res.Topics[0].RecordsTotal, total)
	}
	// A rerun finds everything restored and produces nothing.
	res, err = e.restore(mapping("src", "dst"), Options{})
	if err != nil || res.Produced != 0 || res.Topics[0].Records != total {
		t.Fatalf("rerun: %v, produced %d, records %d", err, res.Produced, res.Topics[0].Records)
	}
}

func TestRestoreLegacyOffsetHeader(t *testing.T) {
	e := newEnv(t)
	e.seedDataset("src")
	e.backup("src")
	spec := mapping("src", "dst")
	spec.Spec.Config.LegacyOffsetHeader = "original-offset"
	if _, err := e.restore(spec, Options{}); err != nil {
		t.Fatal(err)
	}
	src, dst := e.readAll("src"), e.readAll("dst")
	for p := int32(0); p < 3; p++ {
		if len(src[p]) != len(dst[p]) {
			t.Fatalf("partition %d: %d records, want %d", p, len(dst[p]), len(src[p]))
		}
		for i, s := range src[p] {
			d := dst[p][i]
			last := d.Headers[len(d.Headers)-1]
			if last != "original-offset="+strconv.FormatInt(s.Offset, 10) {
				t.Fatalf("partition %d record %d: last header %q, want offset %d", p, i, last, s.Offset)
			}
			d.Headers = d.Headers[:len(d.Headers)-1]
			if len(d.Headers) == 0 {
				d.Headers = nil
			}
			if diff := s.same(d); diff != "" {
				t.Fatal(diff)
			}
		}
	}
}

func errContains(t *testing.T, err error, sentinel error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", sentinel)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("error %q does not wrap %v", err, sentinel)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q spans lines", err)
	}
}
