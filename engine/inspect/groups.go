package inspect

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/kbackup/kbackup/store"
)

// GroupsDescription summarises the consumer-group captures of one snapshot.
type GroupsDescription struct {
	Captures int       `json:"captures" yaml:"captures"`
	Newest   time.Time `json:"newest_capture" yaml:"newest_capture"`
	// Groups are the groups of the newest capture, by name.
	Groups []GroupDescription `json:"groups" yaml:"groups"`
	// Damaged names what is wrong with the newest capture when it cannot
	// be read (kbackup verify lists every damaged capture).
	Damaged string `json:"damaged,omitempty" yaml:"damaged,omitempty"`
}

// GroupDescription is one group in a snapshot's newest capture.
type GroupDescription struct {
	Group      string `json:"group" yaml:"group"`
	Partitions int    `json:"partitions" yaml:"partitions"`
	// Lag is the records the group had not yet read at capture time
	// (log end minus committed offset, summed over partitions whose log end
	// is known).
	Lag int64 `json:"lag" yaml:"lag"`
}

// describeGroups summarises loc's captures from their listing and the
// newest one; nil when there are none.
func describeGroups(ctx context.Context, st *store.Store, loc store.Loc) (*GroupsDescription, error) {
	refs, err := st.GroupCaptures(ctx, loc)
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return nil, nil
	}
	newest := refs[len(refs)-1]
	gd := &GroupsDescription{Captures: len(refs), Newest: newest.Time, Groups: []GroupDescription{}}
	c, err := st.ReadGroupCapture(ctx, newest)
	switch {
	case errors.Is(err, store.ErrCorrupt):
		gd.Damaged = err.Error()
	case err != nil:
		return nil, fmt.Errorf("consumer groups of %s: %w", loc, err)
	default:
		gd.Groups = summarizeGroups(c)
	}
	return gd, nil
}

// summarizeGroups totals a capture per group.
func summarizeGroups(c *store.GroupCapture) []GroupDescription {
	by := map[string]*GroupDescription{}
	for _, o := range c.Offsets {
		g := by[o.Group]
		if g == nil {
			g = &GroupDescription{Group: o.Group}
			by[o.Group] = g
		}
		g.Partitions++
		if o.LogEnd >= 0 && o.Offset >= 0 {
			g.Lag += max(o.LogEnd-o.Offset, 0)
		}
	}
	out := make([]GroupDescription, 0, len(by))
	for _, g := range by {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}
