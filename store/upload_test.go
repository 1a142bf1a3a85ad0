package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/kbackup/kbackup/store"
)

// TestAzureUploadFailure proves that failing uploads to Azure return errors.
// gocloud.dev v0.47.0's azureblob writer panicked with a nil pointer in
// Close whenever an upload failed; v0.48.0 must not.
func TestAzureUploadFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own Azurite (about 6 s); skipped with -short, make test runs it")
	}
	host := startAzure(t)
	ctx := context.Background()
	b, err := blob.OpenBucket(ctx, azureURL(t, host, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	t.Run("streamed IfNotExist on an existing key", func(t *testing.T) {
		if err := b.WriteAll(ctx, "taken", []byte("first"), nil); err != nil {
			t.Fatal(err)
		}
		err := noPanic(t, func() error {
			w, err := b.NewWriter(ctx, "taken", &blob.WriterOptions{IfNotExist: true, ContentType: "application/octet-stream"})
			if err != nil {
				return err
			}
			if _, err := w.Write(bytes.Repeat([]byte("x"), 100<<10)); err != nil {
				_ = w.Close()
				return err
			}
			return w.Close()
		})
		if c := gcerrors.Code(err); c != gcerrors.FailedPrecondition && c != gcerrors.AlreadyExists {
			t.Fatalf("second create: %v (code %v), want a precondition failure", err, c)
		}
	})
	t.Run("lease create on an existing lease", func(t *testing.T) {
		st := store.New(b)
		l, err := st.AcquireLease(ctx, "orders", "a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		err = noPanic(t, func() error { _, err := st.AcquireLease(ctx, "orders", "b", time.Minute); return err })
		if !errors.Is(err, store.ErrLeaseHeld) {
			t.Fatalf("acquire of a held lease: %v, want ErrLeaseHeld", err)
		}
	})
	t.Run("segment upload into a missing container", func(t *testing.T) {
		st, err := store.Open(ctx, fmt.Sprintf("azblob://no-such-container?protocol=http&domain=%s&localemu=true", host))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		err = noPanic(t, func() error {
			l, err := st.AcquireLease(ctx, "orders", "a", time.Minute)
			if err != nil {
				return err
			}
			defer l.Release(ctx)
			up, err := st.CreateSegment(ctx, l, store.Loc{Topic: "orders", Version: 1}, store.SegmentOptions{ID: "01JAAAAAAAAAAAAAAAAAAAAAA1", Codec: store.CodecNone})
			if err != nil {
				return err
			}
			buf := make([]byte, 1<<20)
			_, _ = rand.Read(buf)
			if err := up.Append(&store.Record{Value: buf}); err != nil {
				up.Abort()
				return err
			}
			_, err = up.Commit()
			return err
		})
		if err == nil {
			t.Fatal("upload into a missing container succeeded")
		}
	})
}

func noPanic(t *testing.T, fn func() error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic instead of an error: %v", r)
		}
	}()
	return fn()
}

// TestS3MultipartSegment checks that a segment larger than the part size
// goes to S3 as a multipart upload, and reads back intact.
func TestS3MultipartSegment(t *testing.T) {
	srv := startS3(t)
	st := opener(t, s3URL(t, srv.Host, ""))()
	loc := store.Loc{Topic: "big", Version: 1}
	// 20 MiB of records: three 8 MiB parts.
	e := writeRandomSegment(t, st, loc, "01JBBBBBBBBBBBBBBBBBBBBBB1", 20<<20)
	if n := srv.Parts.Load(); n < 3 {
		t.Fatalf("%d UploadPart requests for a %d-byte segment, want at least 3", n, e.StoredBytes)
	}
	checkSegmentBytes(t, st, loc, e)
}

// writeRandomSegment uploads an incompressible segment of about size bytes.
func writeRandomSegment(t testing.TB, st *store.Store, loc store.Loc, id string, size int) store.SegmentEntry {
	ctx := context.Background()
	up, err := st.CreateSegment(ctx, lease(t, st, loc.Topic), loc, store.SegmentOptions{ID: id, Codec: store.CodecNone})
	if err != nil {
		t.Fatal(err)
	}
	val := make([]byte, 64<<10)
	for off := int64(0); up.Size() < int64(size); off++ {
		_, _ = rand.Read(val)
		if err := up.Append(&store.Record{Offset: off, Timestamp: time.UnixMilli(off), Value: val}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := up.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return e
}
