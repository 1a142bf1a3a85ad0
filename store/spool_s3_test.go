package store_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/kbackup/kbackup/store"
)

// TestS3MultipartSpooledSegment checks that a segment spilled to its
// spool file goes to S3 as a multipart upload from the file, within the
// upload budget, and reads back intact.
func TestS3MultipartSpooledSegment(t *testing.T) {
	srv := startS3(t)
	st := opener(t, s3URL(t, srv.Host, ""))()
	loc := store.Loc{Topic: "big", Version: 1}
	sp, err := store.NewSpool(store.SpoolOptions{Dir: t.TempDir(), Memory: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	up, err := st.CreateSegment(ctx, lease(t, st, loc.Topic), loc, store.SegmentOptions{ID: "01JBBBBBBBBBBBBBBBBBBBBBB2", Codec: store.CodecNone, Spool: sp})
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 64<<10)
	for off := int64(0); up.Size() < 20<<20; off++ {
		_, _ = rand.Read(val)
		if err := up.Append(&store.Record{Offset: off, Timestamp: time.UnixMilli(off), Value: val}); err != nil {
			t.Fatal(err)
		}
	}
	if sp.Spilled() != 1 {
		t.Fatalf("%d segments spilled, want 1", sp.Spilled())
	}
	e, err := up.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.Parts.Load(); n < 3 {
		t.Fatalf("%d UploadPart requests for a %d-byte segment, want at least 3", n, e.StoredBytes)
	}
	if peak, limit := sp.Uploads().Peak(), 2*store.SegmentPartSize; peak != int64(limit) {
		t.Errorf("upload budget peaked at %d, want one upload's %d", peak, limit)
	}
	if m := sp.Memory().InUse(); m != 0 {
		t.Errorf("%d bytes of budget still taken", m)
	}
	checkSegmentBytes(t, st, loc, e)
}
