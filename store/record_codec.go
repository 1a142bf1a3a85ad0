package store

import (
	"encoding/binary"
	"fmt"
	"math"
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

// encodedLen returns len(appendRecord(nil, r, base)) without encoding r.
func encodedLen(r *Record, base int64) int {
	n := uvarintLen(uint64(r.Offset-base)) + 1 + varintLen(r.Timestamp.UnixMilli()) + varintLen(int64(r.LeaderEpoch))
	if r.Key != nil {
		n += uvarintLen(uint64(len(r.Key))) + len(r.Key)
	}
	if r.Value != nil {
		n += uvarintLen(uint64(len(r.Value))) + len(r.Value)
	}
	n += uvarintLen(uint64(len(r.Headers)))
	for _, h := range r.Headers {
		n += uvarintLen(uint64(len(h.Key))) + len(h.Key) + len(h.Value)
		if h.Value == nil {
			n += varintLen(-1)
		} else {
			n += varintLen(int64(len(h.Value)))
		}
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func varintLen(v int64) int { return uvarintLen(uint64(v<<1) ^ uint64(v>>63)) }

// payloadDecoder walks the records of one decompressed block payload. The
// records it returns alias the payload.
type payloadDecoder struct {
	b    []byte
	base int64
	size int   // payload length, to report where a problem is
	n    int   // records decoded
	err  error // what is wrong, without ErrCorrupt
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
		d.err = fmt.Errorf("record %d: bad %s at payload byte %d", d.n, what, d.size-len(d.b))
	}
	d.b = nil
}

// next decodes the next record into r; it returns false at the end or on error.
func (d *payloadDecoder) next(r *Record) bool {
	if len(d.b) == 0 || d.err != nil {
		return false
	}
	delta := d.uvarint()
	if delta > math.MaxInt64 || (d.base > 0 && int64(delta) > math.MaxInt64-d.base) {
		d.fail("offset")
		return false
	}
	r.Offset = d.base + int64(delta)
	if len(d.b) == 0 || d.b[0]&^(flagLogAppend|flagKeyNull|flagValueNull) != 0 {
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
	epoch := d.varint()
	if epoch != int64(int32(epoch)) {
		d.fail("leader epoch")
		return false
	}
	r.LeaderEpoch = int32(epoch)
	r.Key, r.Value = nil, nil
	if flags&flagKeyNull == 0 {
		r.Key = d.bytes(d.uvarint())
	}
	if flags&flagValueNull == 0 {
		r.Value = d.bytes(d.uvarint())
	}
	// Each header takes at least two bytes; MaxRecordHeaders bounds the
	// Header slice whatever the payload.
	nh := d.uvarint()
	if nh > MaxRecordHeaders || nh > uint64(len(d.b)/2) {
		d.fail("header count")
		return false
	}
	r.Headers = r.Headers[:0]
	for i := uint64(0); i < nh && d.err == nil; i++ {
		k := d.bytes(d.uvarint())
		var h Header
		h.Key = string(k)
		switch l := d.varint(); {
		case l >= 0:
			h.Value = d.bytes(uint64(l))
		case l < -1:
			d.fail("header value length")
		}
		r.Headers = append(r.Headers, h)
	}
	if d.err != nil {
		return false
	}
	d.n++
	return true
}
