package store

import "time"

// TimestampType tells how Kafka set a record's timestamp.
type TimestampType uint8

// Timestamp types, as in Kafka's record batch attributes.
const (
	TimestampCreate TimestampType = iota
	TimestampLogAppend
)

// String returns "create" or "log_append".
func (t TimestampType) String() string {
	if t == TimestampLogAppend {
		return "log_append"
	}
	return "create"
}

// Header is one record header. A nil Value is a null header value.
type Header struct {
	Key   string
	Value []byte
}

// Record is one Kafka record as kbackup stores it. Nil Key or Value means
// null (a tombstone for Value); an empty non-nil slice is an empty value.
type Record struct {
	Offset        int64
	Timestamp     time.Time // millisecond precision
	TimestampType TimestampType
	LeaderEpoch   int32
	Key           []byte
	Value         []byte
	Headers       []Header
}
