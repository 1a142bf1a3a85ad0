package store

import (
	"bytes"
	"errors"
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

var errIncompressible = errors.New("incompressible block")

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
)

func zstdCoders() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		// EncodeAll and DecodeAll are safe for concurrent use.
		zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
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

// decompress decodes src, whose decoded length is rawLen, into dst[:0].
func decompress(c Codec, dst, src []byte, rawLen int) ([]byte, error) {
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
		_, dec := zstdCoders()
		out, err = dec.DecodeAll(src, dst)
	case CodecLZ4:
		out = dst[:rawLen]
		var n int
		n, err = lz4.UncompressBlock(src, out)
		out = out[:n]
	case CodecSnappy:
		out, err = snappy.Decode(dst[:rawLen], src)
	case CodecGzip:
		var r *gzip.Reader
		r, err = gzip.NewReader(bytes.NewReader(src))
		if err == nil {
			b := bytes.NewBuffer(dst)
			_, err = io.Copy(b, r)
			out = b.Bytes()
		}
	default:
		return nil, fmt.Errorf("%w: unknown codec %d", ErrCorrupt, c)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s block: %v", ErrCorrupt, c, err)
	}
	if len(out) != rawLen {
		return nil, fmt.Errorf("%w: %s block decodes to %d bytes, header says %d", ErrCorrupt, c, len(out), rawLen)
	}
	return out, nil
}
