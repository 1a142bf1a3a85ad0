package backup

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on.
var (
	// ErrNoTopics means no topic matched the selection in a one-shot run.
	ErrNoTopics = errors.New("no topic matches")
	// ErrRecreatedFlat means a flat-layout topic was recreated.
	ErrRecreatedFlat = errors.New("flat-layout topic recreated")
	// ErrOffsetRegressed means a partition's offsets went backwards.
	ErrOffsetRegressed = errors.New("partition offsets went backwards")
	// ErrBadPattern means a topic include or exclude pattern
	// (Options.Topics, Options.Exclude) is not a valid regular expression.
	ErrBadPattern = errors.New("not a valid regular expression")
	// ErrBadMemory means Options.MaxMemory is below MinMaxMemory.
	ErrBadMemory = errors.New("memory bound too small")
)

// flatRecreatedError is the error of a recreated flat-layout topic.
func flatRecreatedError(topic string) error {
	return fmt.Errorf("topic %s was recreated, but its backup uses the flat layout, which cannot keep versions: move or delete %s/ in storage (index and .kan files) to start a fresh backup, then run again: %w", topic, topic, ErrRecreatedFlat)
}
