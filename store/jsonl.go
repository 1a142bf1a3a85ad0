package store

import (
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSONLine appends r as one JSON object and a newline:
//
//	{"offset":N,"timestamp":"RFC3339Nano","timestamp_type":"create",
//	 "key":…,"value":…,"headers":[{"key":"…","value":…}]}
//
// Bytes that are valid UTF-8 become JSON strings, nil becomes null, anything
// else is base64 with "key_encoding"/"value_encoding":"base64" beside it.
// Values are never embedded as JSON: a line stays one line whatever the
// value, and jq users write `.value | fromjson`. The output is deterministic
// and JSONLineLen predicts its length; the index records it per segment.
func AppendJSONLine(dst []byte, r *Record) []byte {
	dst = append(dst, `{"offset":`...)
	dst = strconv.AppendInt(dst, r.Offset, 10)
	dst = append(dst, `,"timestamp":"`...)
	dst = r.Timestamp.UTC().AppendFormat(dst, timeLayout)
	dst = append(dst, `","timestamp_type":"`...)
	dst = append(dst, r.TimestampType.String()...)
	dst = append(dst, '"')
	dst = appendBytesField(dst, "key", r.Key)
	dst = appendBytesField(dst, "value", r.Value)
	dst = append(dst, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"key":`...)
		dst = appendJSONString(dst, h.Key)
		dst = appendBytesField(dst, "value", h.Value)
		dst = append(dst, '}')
	}
	return append(dst, "]}\n"...)
}

const timeLayout = "2006-01-02T15:04:05.999999999Z07:00"

// JSONLineLen returns len(AppendJSONLine(nil, r)) without building the line.
func JSONLineLen(r *Record) int64 {
	n := len(`{"offset":`) + intLen(r.Offset) + len(`,"timestamp":"`)
	n += timestampLen(r.Timestamp)
	n += len(`","timestamp_type":"`) + len(r.TimestampType.String()) + 1
	n += bytesFieldLen("key", r.Key) + bytesFieldLen("value", r.Value)
	n += len(`,"headers":[`)
	for i, h := range r.Headers {
		if i > 0 {
			n++
		}
		n += len(`{"key":`) + stringLen(h.Key) + bytesFieldLen("value", h.Value) + 1
	}
	return int64(n + len("]}\n"))
}

// Unix seconds of the first and last second of years 0000 to 9999, which
// timeLayout renders in exactly 20 bytes before the fraction.
const (
	minFixedYearUnix = -62167219200
	maxFixedYearUnix = 253402300799
)

// timestampLen returns the length of t rendered in timeLayout (UTC)
// without rendering it: 20 bytes and the fraction's significant digits
// after a dot, for years 0000 to 9999.
func timestampLen(t time.Time) int {
	if s := t.Unix(); s < minFixedYearUnix || s > maxFixedYearUnix {
		var tb [40]byte
		return len(t.UTC().AppendFormat(tb[:0], timeLayout))
	}
	n := len("2006-01-02T15:04:05Z")
	if ns := t.Nanosecond(); ns != 0 {
		n += 10 // the dot and nine digits, less the trailing zeros
		for ns%10 == 0 {
			ns /= 10
			n--
		}
	}
	return n
}

func intLen(v int64) int {
	var b [24]byte
	return len(strconv.AppendInt(b[:0], v, 10))
}

func appendBytesField(dst []byte, name string, b []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	switch {
	case b == nil:
		return append(dst, "null"...)
	case utf8.Valid(b):
		return appendValidJSONString(dst, b)
	default:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		dst = append(dst, `","`...)
		dst = append(dst, name...)
		return append(dst, `_encoding":"base64"`...)
	}
}

func bytesFieldLen(name string, b []byte) int {
	n := 4 + len(name)
	switch {
	case b == nil:
		return n + 4
	case utf8.Valid(b):
		return n + validStringLen(b)
	default:
		return n + 2 + base64.StdEncoding.EncodedLen(len(b)) + 2 + len(name) + len(`_encoding":"base64"`)
	}
}

const hexDigits = "0123456789abcdef"

// appendValidJSONString appends valid UTF-8 b as a JSON string. Words of
// eight bytes with nothing to escape are skipped whole; in a word with
// something to escape, the first such byte is found from the word's mask.
func appendValidJSONString(dst, b []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		if i+16 <= len(b) {
			m := needsEscape(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				if m = needsEscape(binary.LittleEndian.Uint64(b[i+8:])); m == 0 {
					i += 16
					continue
				}
				i += 8
			}
			i += bits.TrailingZeros64(m) >> 3
		} else if i+8 <= len(b) {
			m := needsEscape(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else if escapeExtra[b[i]] == 0 {
			i++
			continue
		}
		// b[i] needs escaping.
		dst = append(dst, b[start:i]...)
		dst = appendEscape(dst, b[i])
		i++
		start = i
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}

// appendEscape appends the JSON escape of ASCII byte c.
func appendEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	if utf8.ValidString(s) {
		return appendValidJSONString(dst, []byte(s))
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscape(dst, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			start = i + 1
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// escapeExtra[c] is how many bytes escaping adds to byte c in a JSON string
// of valid UTF-8: \" \\ \n \r \t add one, other control characters
// (\u00XX) add five.
var escapeExtra = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = 5
	}
	t['\n'], t['\r'], t['\t'], t['"'], t['\\'] = 1, 1, 1, 1, 1
	return t
}()

// validStringLen returns len(appendJSONString(nil, string(b))) for valid
// UTF-8 b, without decoding runes: the backup computes it for every value.
func validStringLen(b []byte) int {
	n := 2 + len(b)
	for i := 0; i < len(b); {
		if i+8 <= len(b) {
			m := needsEscape(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		n += int(escapeExtra[b[i]])
		i++
	}
	return n
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// needsEscape is non-zero iff some byte of x needs escaping in a JSON
// string: a control character, '"' or '\\'. Its lowest set bit is in the
// first such byte; bits above it may be false.
func needsEscape(x uint64) uint64 {
	return hasLess(x, 0x20) | hasZero(x^(ones*'"')) | hasZero(x^(ones*'\\'))
}

// hasZero is non-zero iff some byte of x is zero.
func hasZero(x uint64) uint64 { return (x - ones) & ^x & highs }

// hasLess is non-zero iff some byte of x is below n (n <= 128).
func hasLess(x, n uint64) uint64 { return (x - ones*n) & ^x & highs }

// stringLen returns len(appendJSONString(nil, s)).
func stringLen(s string) int {
	if utf8.ValidString(s) {
		return validStringLen([]byte(s))
	}
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				n++
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			default:
				n += 6
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}
