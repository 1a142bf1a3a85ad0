package store

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kbackup/kbackup/store/storetest/fuzzcheck"
)

// FuzzDecompress decodes arbitrary payloads with every codec: an error
// wrapping ErrCorrupt or exactly rawLen bytes, allocating at most about
// rawLen (twice for a zstd frame without a content size) plus the input.
func FuzzDecompress(f *testing.F) {
	raw := bytes.Repeat([]byte("compressible record payload "), 100)
	for _, c := range allCodecs {
		p, err := compress(c, nil, raw)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(c), uint32(len(raw)), p)
		f.Add(byte(c), uint32(len(raw)-1), p)
		f.Add(byte(c), uint32(MaxBlockLen+1), p)
	}
	f.Add(byte(CodecSnappy), uint32(64), []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0})
	f.Add(byte(CodecLZ4), uint32(MaxBlockLen), []byte{0x10, 0, 0, 0, 0, 0, 0})
	f.Add(byte(9), uint32(1), []byte{0})
	zstdCoders()
	f.Fuzz(func(t *testing.T, codec byte, rawLen uint32, src []byte) {
		n := int(rawLen)
		if n <= MaxBlockLen {
			n %= 4 << 20 // keep the fuzzer fast; the limit itself is tested above it
		}
		var out []byte
		var err error
		bound := uint64(fuzzcheck.Base + 2*len(src) + 2*min(n, MaxBlockLen))
		fuzzcheck.Bounded(t, "decompress", bound, func() { out, err = decompress(Codec(codec), nil, src, n) })
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(out) != n {
			t.Fatalf("decoded %d bytes, asked for %d", len(out), n)
		}
		if Codec(codec) == CodecNone && !bytes.Equal(out, src) {
			t.Fatal("codec none changed the payload")
		}
		// Decoding again into a reused buffer gives the same bytes.
		again, err := decompress(Codec(codec), make([]byte, 3, n+7), src, n)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("second decode into a reused buffer: %v", err)
		}
	})
}

// FuzzCodecRoundTrip: every codec decodes what it encoded, and what the
// writer would store passes the decoders' expansion limits.
func FuzzCodecRoundTrip(f *testing.F) {
	f.Add(byte(CodecZstd), []byte("hello"))
	f.Add(byte(CodecLZ4), make([]byte, 1<<16))
	f.Add(byte(CodecSnappy), bytes.Repeat([]byte{1, 2, 3}, 5000))
	f.Add(byte(CodecGzip), []byte{})
	zstdCoders()
	f.Fuzz(func(t *testing.T, codec byte, data []byte) {
		c := allCodecs[int(codec)%len(allCodecs)]
		p, err := compress(c, nil, data)
		if errors.Is(err, errIncompressible) && c == CodecLZ4 {
			return
		}
		if err != nil {
			t.Fatalf("compress %d bytes: %v", len(data), err)
		}
		if err := checkDecodable(c, len(p), len(data)); err != nil && (c == CodecNone || len(p) < len(data)) {
			t.Fatalf("the writer would store %d bytes for %d, but: %v", len(p), len(data), err)
		}
		if len(data) > 0 || c == CodecNone { // empty blocks are never written
			out, err := decompress(c, nil, p, len(data))
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("round trip of %d bytes: %v", len(data), err)
			}
		}
	})
}
