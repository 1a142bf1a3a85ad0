package restore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kbackup/kbackup/store"
)

// Restore sentinel errors, wrapped with %w and context.
var (
	// ErrInvalidSpec means the restore spec or flags are malformed (status
	// Invalid); nothing was produced.
	ErrInvalidSpec = errors.New("invalid restore spec")
	// ErrPreflight means a preflight check failed (status Failed); nothing
	// was produced.
	ErrPreflight = errors.New("preflight check failed")
	// ErrTargetBusy means another restore into the same target topic of
	// the same cluster is running on this machine; it comes wrapped with
	// ErrPreflight.
	ErrTargetBusy = errors.New("restore target busy")
	// ErrTargetChanged means a target partition ended the restore holding
	// other than the records it held before plus those the restore wrote:
	// another producer wrote to it meanwhile, or records were written
	// twice. The restore fails instead of reporting Done.
	ErrTargetChanged = errors.New("target changed during the restore")
	// ErrCancelled means the restore was cancelled on purpose (its
	// folder in the mount's restore/ removed); what it produced stays and
	// a restart resumes.
	ErrCancelled = errors.New("restore cancelled")
)

// CheckError is the sentinel of one preflight check or spec rule. Its
// message is the check's name, as failure messages show it; Field is the
// spec field (as the spec spells it) that lets a restore pass the check,
// or "" when only disablePreflightChecks does. A failure wraps its
// sentinel, and ErrPreflight or ErrInvalidSpec, so that a caller can name
// its own way to set Field (the CLI names its flag) without reading the
// message; messages name spec fields only.
type CheckError struct {
	Check string
	Field string
}

func (e *CheckError) Error() string { return e.Check }

// The preflight checks (docs/restore.md, "Preflight checks"), and the rules
// the spec's fields answer; each wraps ErrPreflight where it fails.
var (
	// ErrTargetMissing: the target topic does not exist.
	ErrTargetMissing = &CheckError{Check: "target exists", Field: "createTopics"}
	// ErrPartitionCount: target and snapshot differ in partition count.
	ErrPartitionCount = &CheckError{Check: "partition count"}
	// ErrCleanupPolicy: target and source disagree on compaction.
	ErrCleanupPolicy = &CheckError{Check: "cleanup.policy"}
	// ErrTimestampType: the target replaces timestamps (LogAppendTime).
	ErrTimestampType = &CheckError{Check: "timestamp type"}
	// ErrTimestampAge: the target refuses records as old as planned.
	ErrTimestampAge = &CheckError{Check: "timestamp age"}
	// ErrRetention: the target's retention would delete planned records.
	ErrRetention = &CheckError{Check: "retention", Field: "filters.time.retention"}
	// ErrTargetNotEmpty: the target holds records this restore did not
	// write.
	ErrTargetNotEmpty = &CheckError{Check: "target empty", Field: "allowNonEmpty"}
	// ErrNothingSelected: the restore selects no record.
	ErrNothingSelected = &CheckError{Check: "records selected", Field: "allowEmpty"}
	// ErrEarlierIncarnation: the topic's active version is empty and the
	// newest version with records belongs to an earlier incarnation of the
	// topic, which a restore takes only when named.
	ErrEarlierIncarnation = &CheckError{Check: "newest snapshot", Field: "snapshot"}
	// ErrNoTopics: the spec names no topic (wraps ErrInvalidSpec).
	ErrNoTopics = &CheckError{Check: "no topics to restore", Field: "topics"}
)

// checkFailure returns a failure of check on topic with what is wrong.
func checkFailure(topic string, check *CheckError, format string, a ...any) error {
	return fmt.Errorf("topic %s: %w: %s", topic, check, fmt.Sprintf(format, a...))
}

// joinFailures returns one error wrapping outer and every failure, its
// message the failures in order, separated by "; ".
func joinFailures(outer error, failures []error) error {
	format := "%w: " + strings.TrimSuffix(strings.Repeat("%w; ", len(failures)), "; ")
	args := []any{outer}
	for _, f := range failures {
		args = append(args, f)
	}
	return fmt.Errorf(format, args...)
}

// Errors of Runs.
var (
	// ErrNameInUse means a restore of that name is already known.
	ErrNameInUse = errors.New("a restore of that name exists")
	// ErrNameUnknown means no restore of that name is known; it matches
	// store.ErrNotFound too.
	ErrNameUnknown = fmt.Errorf("no such restore: %w", store.ErrNotFound)
)

// specError is an ErrInvalidSpec with what is wrong.
func specError(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, a...))
}
