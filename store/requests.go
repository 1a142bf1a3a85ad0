package store

import "sync/atomic"

// Op names a kind of storage request, for counting (Store.Requests).
type Op int

// The kinds of storage requests the store makes. A retried request counts
// once per try.
const (
	OpGet    Op = iota // read a whole object
	OpRange            // read a range of an object (segment footers and blocks)
	OpPut              // write a whole object
	OpCreate           // write an object only if absent (register entries)
	OpUpload           // a segment upload (the SDK may split it into parts)
	OpStat             // read an object's attributes
	OpList             // one page of a listing
	OpDelete           // delete an object
	numOps
)

var opNames = [numOps]string{"get", "range", "put", "create", "upload", "stat", "list", "delete"}

// String returns the request kind's name: get, range, put, create, upload,
// stat, list, delete.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "unknown"
	}
	return opNames[o]
}

// Ops lists every kind of request.
func Ops() []Op {
	out := make([]Op, numOps)
	for i := range out {
		out[i] = Op(i)
	}
	return out
}

// RequestCounts are the requests a Store made, and those that failed, by
// kind.
type RequestCounts struct {
	Requests [numOps]int64
	Errors   [numOps]int64
}

// Total returns the requests of every kind.
func (c RequestCounts) Total() int64 {
	var n int64
	for _, v := range c.Requests {
		n += v
	}
	return n
}

// Sub returns c minus before: the requests made between two readings.
func (c RequestCounts) Sub(before RequestCounts) RequestCounts {
	for i := range c.Requests {
		c.Requests[i] -= before.Requests[i]
		c.Errors[i] -= before.Errors[i]
	}
	return c
}

// requestStats counts requests as they are made.
type requestStats struct {
	requests, errors [numOps]atomic.Int64
}

func (s *requestStats) count(op Op, err error) {
	s.requests[op].Add(1)
	if err != nil {
		s.errors[op].Add(1)
	}
}

// Requests returns the requests this Store made so far, by kind, for
// metrics and the request-cost benchmark.
func (s *Store) Requests() RequestCounts {
	var c RequestCounts
	for i := range c.Requests {
		c.Requests[i] = s.b.stats.requests[i].Load()
		c.Errors[i] = s.b.stats.errors[i].Load()
	}
	return c
}
