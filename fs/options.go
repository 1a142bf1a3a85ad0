package fs

import (
	"log/slog"
	"time"

	"github.com/kbackup/kbackup/fs/browse"
)

// DefaultRefresh is how often, at most, the mount re-reads the topic list,
// manifests and index heads when Options.Refresh is zero.
const DefaultRefresh = browse.DefaultRefresh

// Options configure a mount. The zero value is usable.
type Options struct {
	// Refresh is the age after which the topic list, a manifest or an index
	// head is read again on access; zero selects DefaultRefresh. New
	// topics, snapshots and segments appear within Refresh plus the
	// kernel's one-second entry cache.
	Refresh time.Duration
	// AllowOther lets users other than the one who mounted read the tree
	// (FUSE allow_other; non-root users need user_allow_other in
	// /etc/fuse.conf).
	AllowOther bool
	// Debug logs every FUSE request (go-fuse debug output).
	Debug bool
	// Restorer runs restores requested through restore/. Nil makes the
	// whole mount read-only, with restore/README saying why.
	Restorer Restorer
	// RestoreUsers and RestoreGroups may start and cancel restores in
	// restore/ besides the mount's owner and root (see access.go); with
	// AllowOther everyone else may only read.
	RestoreUsers  []uint32
	RestoreGroups []uint32
	// Logger receives errors such as missing segments; nil discards them.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Refresh <= 0 {
		o.Refresh = DefaultRefresh
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
