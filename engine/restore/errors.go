package restore

import (
	"errors"
	"fmt"

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
	// ErrCancelled means the restore was cancelled on purpose (its
	// folder in the mount's restore/ removed); what it produced stays and
	// a restart resumes.
	ErrCancelled = errors.New("restore cancelled")
)

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
