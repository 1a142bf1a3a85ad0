package store

import (
	"encoding/binary"
	"fmt"
)

const (
	flagLogAppend = 1 << 0
	flagKeyNull   = 1 << 1
	flagValueNull = 1 << 2
)

// appendRecord encodes r into a block payload. base is the block's first offset.
func appendRecord(dst []byte, r *Record, base int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(r.Offset-base))
	var flags byte
	if r.TimestampType == TimestampLogAppend {
		flags |= flagLogAppend
	}
	if r.Key == nil {
		flags |= flagKeyNull
	}
	if r.Value == nil {
		flags |= flagValueNull
	}
	dst = append(dst, flags)
	dst = binary.AppendVarint(dst, r.Timestamp.UnixMilli())
	dst = binary.AppendVarint(dst, int64(r.LeaderEpoch))
	if r.Key != nil {
		dst = binary.AppendUvarint(dst, uint64(len(r.Key)))
		dst = append(dst, r.Key...)
	}
	if r.Value != nil {
		dst = binary.AppendUvarint(dst, uint64(len(r.Value)))
		dst = append(dst, r.Value...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendUvarint(dst, uint64(len(h.Key)))
		dst = append(dst, h.Key...)
		if h.Value == nil {
			dst = binary.AppendVarint(dst, -1)
			continue
		}
		dst = binary.AppendVarint(dst, int64(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	return dst
}

// payloadDecoder walks the records of one decompressed block payload. The
// records it returns alias the payload.
type payloadDecoder struct {
	b    []byte
	base int64
	err  error
}

func (d *payloadDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *payloadDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *payloadDecoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail("length")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *payloadDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad record %s in block", ErrCorrupt, what)
	}
	d.b = nil
}

// next decodes the next record into r; it returns false at the end or on error.
func (d *payloadDecoder) next(r *Record) bool {
	if len(d.b) == 0 || d.err != nil {
		return false
	}
	r.Offset = d.base + int64(d.uvarint())
	if len(d.b) == 0 {
		d.fail("flags")
		return false
	}
	flags := d.b[0]
	d.b = d.b[1:]
	r.TimestampType = TimestampCreate
	if flags&flagLogAppend != 0 {
		r.TimestampType = TimestampLogAppend
	}
	r.Timestamp = msTime(d.varint())
	r.LeaderEpoch = int32(d.varint())
	r.Key, r.Value = nil, nil
	if flags&flagKeyNull == 0 {
		r.Key = d.bytes(d.uvarint())
	}
	if flags&flagValueNull == 0 {
		r.Value = d.bytes(d.uvarint())
	}
	nh := d.uvarint()
	if nh > uint64(len(d.b)) {
		d.fail("header count")
		return false
	}
	r.Headers = r.Headers[:0]
	for i := uint64(0); i < nh && d.err == nil; i++ {
		k := d.bytes(d.uvarint())
		var h Header
		h.Key = string(k)
		if l := d.varint(); l >= 0 {
			h.Value = d.bytes(uint64(l))
		}
		r.Headers = append(r.Headers, h)
	}
	return d.err == nil
}
