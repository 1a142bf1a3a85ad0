package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
)

// retryPolicy bounds the retries of one whole-object operation.
type retryPolicy struct {
	attempts int           // total tries, the first included
	base     time.Duration // first back-off; doubled each time, jittered
	max      time.Duration // longest back-off
	// timeout bounds each try, so that a stalled request is abandoned and
	// retried instead of blocking its caller (a lease renewal, a flush)
	// for as long as the connection lives.
	timeout time.Duration
}

var defaultRetry = retryPolicy{attempts: 6, base: 100 * time.Millisecond, max: 3 * time.Second, timeout: 30 * time.Second}

// retryBucket decorates a bucket: whole-object operations (ReadAll,
// WriteAll, Attributes, Exists, Delete, ranged reads, listings) are retried
// with exponential back-off when isTransient says so. Streaming writes
// (NewWriter) are not: the object SDKs retry each uploaded part, and the
// object only appears when Close succeeds, so a failed upload never leaves a
// half-written object behind.
//
// Every retried operation is idempotent except a create-if-absent whose
// first try succeeded but whose response was lost: the retry then reports
// the object as existing. AcquireLease recognises its own token for that
// reason.
type retryBucket struct {
	*blob.Bucket
	policy retryPolicy
	stats  requestStats
}

func newRetryBucket(b *blob.Bucket) *retryBucket {
	return &retryBucket{Bucket: b, policy: defaultRetry}
}

// do runs fn until it succeeds, fails permanently or runs out of attempts.
// Each try gets a context bounded by the policy's timeout.
func (b *retryBucket) do(ctx context.Context, op Op, fn func(ctx context.Context) error) error {
	delay := b.policy.base
	for attempt := 1; ; attempt++ {
		err := b.try(ctx, fn)
		b.stats.count(op, err)
		if err == nil || attempt >= b.policy.attempts || !isTransient(ctx, err) {
			return err
		}
		sleep := delay/2 + rand.N(delay/2+1)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(sleep):
		}
		delay = min(2*delay, b.policy.max)
	}
}

// try runs fn once under the per-try timeout.
func (b *retryBucket) try(ctx context.Context, fn func(ctx context.Context) error) error {
	if b.policy.timeout <= 0 {
		return fn(ctx)
	}
	tctx, cancel := context.WithTimeout(ctx, b.policy.timeout)
	defer cancel()
	return fn(tctx)
}

// ReadAll reads a whole object.
func (b *retryBucket) ReadAll(ctx context.Context, key string) (data []byte, err error) {
	err = b.do(ctx, OpGet, func(ctx context.Context) error {
		data, err = b.Bucket.ReadAll(ctx, key)
		return err
	})
	return data, err
}

// WriteAll writes a whole object.
func (b *retryBucket) WriteAll(ctx context.Context, key string, p []byte, opts *blob.WriterOptions) error {
	op := OpPut
	if opts != nil && opts.IfNotExist {
		op = OpCreate
	}
	return b.do(ctx, op, func(ctx context.Context) error { return b.Bucket.WriteAll(ctx, key, p, opts) })
}

// Attributes reads an object's attributes.
func (b *retryBucket) Attributes(ctx context.Context, key string) (a *blob.Attributes, err error) {
	err = b.do(ctx, OpStat, func(ctx context.Context) error {
		a, err = b.Bucket.Attributes(ctx, key)
		return err
	})
	return a, err
}

// Exists reports whether key exists.
func (b *retryBucket) Exists(ctx context.Context, key string) (ok bool, err error) {
	err = b.do(ctx, OpStat, func(ctx context.Context) error {
		ok, err = b.Bucket.Exists(ctx, key)
		return err
	})
	return ok, err
}

// Delete deletes key. A retry after a lost response may report NotFound.
func (b *retryBucket) Delete(ctx context.Context, key string) error {
	return b.do(ctx, OpDelete, func(ctx context.Context) error { return b.Bucket.Delete(ctx, key) })
}

// NewReader opens key for streaming; only the open is retried, and the
// per-try timeout does not apply: the reader outlives the call.
func (b *retryBucket) NewReader(ctx context.Context, key string, opts *blob.ReaderOptions) (r *blob.Reader, err error) {
	err = b.do(ctx, OpGet, func(context.Context) error {
		r, err = b.Bucket.NewReader(ctx, key, opts)
		return err
	})
	return r, err
}

// ReadRange fills p from key at off; a short object yields io.EOF.
func (b *retryBucket) ReadRange(ctx context.Context, key string, off int64, p []byte) (n int, err error) {
	err = b.do(ctx, OpRange, func(ctx context.Context) error {
		rd, err := b.Bucket.NewRangeReader(ctx, key, off, int64(len(p)), nil)
		if err != nil {
			return err
		}
		defer rd.Close()
		n, err = io.ReadFull(rd, p)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			// The object is shorter than asked for; a cut connection
			// surfaces as a different error and is retried.
			if rd.Size() > 0 && off+int64(n) < rd.Size() {
				return io.ErrUnexpectedEOF
			}
			return io.EOF
		}
		return err
	})
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

// listPageSize is how many objects one listing request asks for. Large
// pages matter for file storage, which reads the whole directory for every
// page; object stores cap it (S3: 1,000).
const listPageSize = 100000

// ListAll returns every object (and directory, with a delimiter) matching
// opts. Each page is retried on its own, under the per-try timeout.
func (b *retryBucket) ListAll(ctx context.Context, opts *blob.ListOptions) ([]*blob.ListObject, error) {
	var objs []*blob.ListObject
	token := blob.FirstPageToken
	for {
		var page []*blob.ListObject
		var next []byte
		err := b.do(ctx, OpList, func(ctx context.Context) (err error) {
			page, next, err = b.Bucket.ListPage(ctx, token, listPageSize, opts)
			if isNotFound(err) {
				// File storage walks directories: an object deleted
				// during the walk fails it. The error must not read as
				// "nothing here" (a register would look empty).
				return fmt.Errorf("%w: %v", errListRace, err)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		objs = append(objs, page...)
		if len(next) == 0 {
			return objs, nil
		}
		token = next
	}
}

// isTransient reports whether err may go away when the operation is
// retried: server errors (5xx), throttling (429, 503), timeouts and
// connection resets. Nothing is transient once ctx is done.
func isTransient(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, errListRace) {
		return true
	}
	if st := httpStatus(err); st != 0 {
		return st >= 500 || st == http.StatusTooManyRequests || st == http.StatusRequestTimeout
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	switch gcerrors.Code(err) {
	case gcerrors.Unknown, gcerrors.Internal, gcerrors.ResourceExhausted, gcerrors.DeadlineExceeded:
		return true
	}
	return false
}

// httpStatus returns the HTTP status of a cloud SDK error, or 0.
func httpStatus(err error) int {
	var aws interface{ HTTPStatusCode() int } // S3 (smithy-go)
	if errors.As(err, &aws) {
		return aws.HTTPStatusCode()
	}
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code
	}
	var aerr *azcore.ResponseError
	if errors.As(err, &aerr) {
		return aerr.StatusCode
	}
	return 0
}
