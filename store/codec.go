package store

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec names a block compression algorithm.
type Codec uint8

// Supported codecs. The numeric values are stored in segments: never reorder.
const (
	CodecNone Codec = iota
	CodecZstd
	CodecLZ4
	CodecSnappy
	CodecGzip
)

var codecNames = [...]string{"none", "zstd", "lz4", "snappy", "gzip"}

// String returns the codec's name as used in configuration and the index.
func (c Codec) String() string {
	if int(c) < len(codecNames) {
		return codecNames[c]
	}
	return fmt.Sprintf("codec(%d)", c)
}

// ParseCodec parses a codec name ("zstd", "lz4", "snappy", "gzip", "none").
func ParseCodec(s string) (Codec, error) {
	for i, n := range codecNames {
		if n == s {
			return Codec(i), nil
		}
	}
	if s == "" {
		return CodecZstd, nil
	}
	return 0, fmt.Errorf("unknown compression %q: use one of zstd, lz4, snappy, gzip, none", s)
}

// Decoder limits. zstd frames from the writer (EncodeAll at SpeedFastest)
// use at most a 4 MiB window; zstdMaxWindow leaves room for a slower level.
// The expansion limits are the most each format can decode to per stored
// byte: an LZ4 match grows by 255 bytes per length byte, a Snappy 3-byte
// copy yields 64 bytes, and a deflate symbol of 2 bits 258 bytes (1032:1).
const (
	zstdMaxWindow      = 8 << 20
	lz4MaxExpansion    = 255
	snappyMaxExpansion = 22
	gzipMaxExpansion   = 1032
)

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
	gzipPool sync.Pool // *gzip.Reader
)

func zstdCoders() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		// EncodeAll and DecodeAll are safe for concurrent use. DecodeAll
		// decodes no more than the capacity of its destination.
		zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxBlockLen), zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecodeAllCapLimit(true))
	})
	return zstdEnc, zstdDec
}

// compress appends the compressed form of src to dst.
func compress(c Codec, dst, src []byte) ([]byte, error) {
	switch c {
	case CodecNone:
		return append(dst, src...), nil
	case CodecZstd:
		enc, _ := zstdCoders()
		return enc.EncodeAll(src, dst), nil
	case CodecLZ4:
		buf := make([]byte, lz4.CompressBlockBound(len(src)))
		n, err := lz4.CompressBlock(src, buf, nil)
		if err != nil {
			return nil, err
		}
		if n == 0 { // incompressible; the caller stores the block uncompressed
			return nil, errIncompressible
		}
		return append(dst, buf[:n]...), nil
	case CodecSnappy:
		return append(dst, snappy.Encode(nil, src)...), nil
	case CodecGzip:
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		if _, err := w.Write(src); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return append(dst, b.Bytes()...), nil
	}
	return nil, fmt.Errorf("compress: %w: unknown codec %d", ErrCorrupt, c)
}

// decompress decodes src, which must decode to exactly rawLen bytes, into
// dst[:0], or a new buffer if dst is too small. It rejects a rawLen above
// MaxBlockLen or above what src could decode to before allocating, and
// stops decoding once the output would exceed rawLen (or cap(dst)), so it
// allocates at most rawLen bytes besides the decoders' own state (twice
// that for a zstd frame without a content size that decodes past rawLen:
// the decoder grows its output once before it stops).
func decompress(c Codec, dst, src []byte, rawLen int) ([]byte, error) {
	if err := checkDecodable(c, len(src), rawLen); err != nil {
		return nil, err
	}
	if cap(dst) < rawLen {
		dst = make([]byte, 0, rawLen)
	}
	dst = dst[:0]
	var out []byte
	var err error
	switch c {
	case CodecNone:
		out = append(dst, src...)
	case CodecZstd:
		out, err = zstdDecode(dst, src, rawLen)
	case CodecLZ4:
		var n int
		n, err = lz4.UncompressBlock(src, dst[:rawLen])
		out = dst[:n]
	case CodecSnappy:
		out, err = snappyDecode(dst, src, rawLen)
	case CodecGzip:
		out, err = gzipDecode(dst, src, rawLen)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s block: %v", ErrCorrupt, c, err)
	}
	if len(out) != rawLen {
		return nil, fmt.Errorf("%w: %s block decodes to %d bytes, header says %d", ErrCorrupt, c, len(out), rawLen)
	}
	return out, nil
}

// checkDecodable rejects a block that cannot be decoded to rawLen bytes
// from storedLen bytes under codec c.
func checkDecodable(c Codec, storedLen, rawLen int) error {
	limit := MaxBlockLen
	switch c {
	case CodecNone:
		limit = storedLen
		if rawLen != storedLen {
			return fmt.Errorf("%w: uncompressed block of %d bytes, header says %d", ErrCorrupt, storedLen, rawLen)
		}
	case CodecZstd:
	case CodecLZ4:
		limit = min(limit, lz4MaxExpansion*storedLen)
	case CodecSnappy:
		limit = min(limit, snappyMaxExpansion*storedLen)
	case CodecGzip:
		limit = min(limit, gzipMaxExpansion*storedLen)
	default:
		return fmt.Errorf("%w: unknown codec %d", ErrCorrupt, c)
	}
	if rawLen <= 0 && c != CodecNone {
		return fmt.Errorf("%w: %s block decodes to nothing", ErrCorrupt, c) // never written
	}
	if rawLen < 0 || rawLen > limit {
		return fmt.Errorf("%w: %s block of %d bytes cannot decode to %d bytes (limit %d)", ErrCorrupt, c, storedLen, rawLen, limit)
	}
	return nil
}

// zstdDecode decodes src into dst[:0], whose capacity is at least rawLen.
func zstdDecode(dst, src []byte, rawLen int) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(src); err != nil {
		return nil, err
	}
	if h.HasFCS && h.FrameContentSize != uint64(rawLen) {
		return nil, fmt.Errorf("frame holds %d bytes, header says %d", h.FrameContentSize, rawLen)
	}
	_, dec := zstdCoders()
	return dec.DecodeAll(src, dst)
}

// snappyDecode decodes src into dst[:0], whose capacity is at least rawLen.
func snappyDecode(dst, src []byte, rawLen int) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, err
	}
	if n != rawLen {
		return nil, fmt.Errorf("stream holds %d bytes, header says %d", n, rawLen)
	}
	return snappy.Decode(dst[:rawLen], src)
}

// gzipDecode decodes src into dst[:0], whose capacity is at least rawLen,
// reading at most one byte past rawLen.
func gzipDecode(dst, src []byte, rawLen int) ([]byte, error) {
	zr, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(src))
	} else {
		err = zr.Reset(bytes.NewReader(src))
	}
	if err != nil {
		return nil, err
	}
	defer gzipPool.Put(zr)
	out := dst[:rawLen]
	if n, err := io.ReadFull(zr, out); err != nil {
		return nil, fmt.Errorf("decodes to %d bytes, header says %d: %w", n, rawLen, err)
	}
	// The stream must end here; reading on checks its CRC and length.
	var one [1]byte
	switch n, err := io.ReadFull(zr, one[:]); {
	case n > 0:
		return nil, fmt.Errorf("decodes to more than the %d bytes its header says", rawLen)
	case err != io.EOF:
		return nil, err
	}
	return out, nil
}
