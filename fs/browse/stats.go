package browse

import "sync/atomic"

// Stats counts what the model read from storage. The counters make
// laziness observable: listing topics/ reads no manifest, tail of
// records.jsonl decodes a block or two. Adapters add their own counters
// (bytes served) beside these.
type Stats struct {
	Manifests atomic.Int64 // manifests read from storage
	Heads     atomic.Int64 // index heads read from storage
	Indexes   atomic.Int64 // whole indexes (head and sealed parts) read
	Segments  atomic.Int64 // segment footers read (segments opened)
	Blocks    atomic.Int64 // blocks read and decoded
}
