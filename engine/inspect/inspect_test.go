package inspect

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kbackup/kbackup/store"
	fixture "github.com/kbackup/kbackup/store/storetest"
)

// knownStore writes the known backup into a fresh directory.
func knownStore(t *testing.T) (*store.Store, string) { return fixture.KnownStore(t) }

var v1 = store.Loc{Topic: "orders", Version: 1}

func TestRebuildIndexEquivalent(t *testing.T) {
	ctx := context.Background()
	st, dir := knownStore(t)
	orig, err := st.ReadIndex(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, filepath.FromSlash(v1.IndexKey()+".d"))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadIndex(ctx, v1); !store.IsNotFound(err) {
		t.Fatalf("index not deleted: %v", err)
	}
	rep, err := RebuildIndex(ctx, st, "orders", RebuildOptions{Snapshot: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) != 0 || len(rep.Gaps) != 0 || rep.Segments != 3 || !rep.Written {
		t.Fatalf("report = %+v", rep)
	}
	got, err := st.ReadIndex(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]store.SegmentEntry(nil), orig.Segments...)
	for i := range want {
		want[i].Expires = nil
	}
	if !reflect.DeepEqual(got.Segments, want) {
		t.Fatalf("rebuilt entries differ:\n got %+v\nwant %+v", got.Segments, want)
	}
	if !reflect.DeepEqual(got.Partitions, orig.Partitions) {
		t.Fatalf("summaries differ: %+v vs %+v", got.Partitions, orig.Partitions)
	}
}

func TestRebuildIndexReportsLosses(t *testing.T) {
	ctx := context.Background()
	st, dir := knownStore(t)
	// Segment 1 deleted (as retention would), segment 3 damaged.
	fixture.DeleteSegment(t, st, v1, fixture.OrdersV1[0].ID)
	flipByte(t, fixture.SegmentPath(dir, v1, fixture.OrdersV1[2].ID), 100)
	rep, err := RebuildIndex(ctx, st, "orders", RebuildOptions{Snapshot: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Segments != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Object, fixture.OrdersV1[2].ID) {
		t.Fatalf("skipped = %+v", rep.Skipped)
	}
	ix, err := st.ReadIndex(ctx, v1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Segments) != 1 || ix.Segments[0].ULID != fixture.OrdersV1[1].ID {
		t.Fatalf("rebuilt index: %+v", ix.Segments)
	}
}

func flipByte(t *testing.T, path string, at int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerify(t *testing.T) {
	seg := func(i int) string { return fixture.OrdersV1[i].ID }
	tests := []struct {
		name   string
		damage func(t *testing.T, st *store.Store, dir string)
		object string // names the bad object
		kinds  []string
	}{
		{"clean", func(*testing.T, *store.Store, string) {}, "", nil},
		{"flipped byte", func(t *testing.T, _ *store.Store, dir string) {
			flipByte(t, fixture.SegmentPath(dir, v1, seg(1)), 200)
		}, seg(1), []string{ProblemChecksum, ProblemCorrupt}},
		{"truncated", func(t *testing.T, _ *store.Store, dir string) {
			p := fixture.SegmentPath(dir, v1, seg(2))
			fi, _ := os.Stat(p)
			if err := os.Truncate(p, fi.Size()-40); err != nil {
				t.Fatal(err)
			}
		}, seg(2), []string{ProblemSize, ProblemChecksum, ProblemCorrupt}},
		{"missing", func(t *testing.T, st *store.Store, _ string) {
			fixture.DeleteSegment(t, st, v1, seg(1))
		}, seg(1), []string{ProblemMissing}},
		{"expired and deleted is fine", func(t *testing.T, st *store.Store, _ string) {
			fixture.DeleteSegment(t, st, v1, seg(0))
		}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, dir := knownStore(t)
			tc.damage(t, st, dir)
			rep, err := Verify(context.Background(), st, []string{"orders"}, VerifyOptions{AllSnapshots: true})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, sc := range rep.Snapshots {
				for _, p := range sc.Problems {
					if !strings.HasSuffix(p.Object, tc.object+".kan") || !p.Damage {
						t.Errorf("unexpected problem %+v", p)
					}
					kinds = append(kinds, p.Kind)
				}
			}
			if !reflect.DeepEqual(kinds, tc.kinds) || rep.Damaged != len(tc.kinds) {
				t.Fatalf("kinds = %v (damaged %d), want %v; report %+v", kinds, rep.Damaged, tc.kinds, rep)
			}
		})
	}
}

func TestVerifyContinuityAndUnindexed(t *testing.T) {
	ctx := context.Background()
	st, _ := knownStore(t)
	// An unindexed orphan, and an index whose second entry leaves a gap.
	err := fixture.WithLease(ctx, st, "orders", func(l *store.Lease) error {
		if _, err := fixture.WriteSegment(ctx, st, l, v1, fixture.Segment{ID: "01KF0000000000000000000099", Partition: 1, Start: 30, First: 30, N: 5}); err != nil {
			return err
		}
		ix, _ := st.ReadIndex(ctx, v1)
		ix.Segments[1].StartOffset = 60
		return st.WriteIndex(ctx, l, v1, ix.Segments)
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(ctx, st, []string{"orders"}, VerifyOptions{Snapshot: "1"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Snapshots[0].Problems {
		got = append(got, p.Kind)
	}
	// Records outside the range, the gap itself, and the footer disagreeing.
	want := []string{ProblemContinuity, ProblemContinuity, ProblemMismatch, ProblemUnindexed}
	if !reflect.DeepEqual(got, want) || rep.Warnings != 1 || rep.Damaged != 3 {
		t.Fatalf("problems = %v (%+v), want %v", got, rep.Snapshots[0].Problems, want)
	}
}

// TestDescribeExpired checks that describe counts apart what retention
// expired: the known backup's first orders/v1 segment expired.
func TestDescribeExpired(t *testing.T) {
	st, _ := knownStore(t)
	td, err := Describe(context.Background(), st, "orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	v1 := td.Snapshots[0]
	if v1.Version != 1 || v1.ExpiredSegments != 1 || v1.ExpiredRecords != 50 || v1.Records != 130 {
		t.Errorf("v1: %+v", v1)
	}
	if p := v1.Partitions; p[0].ExpiredRecords != 50 || p[1].ExpiredRecords != 0 {
		t.Errorf("v1 partitions: %+v", p)
	}
	if v2 := td.Snapshots[1]; v2.ExpiredSegments != 0 {
		t.Errorf("v2: %+v", v2)
	}
}
