// Package restore copies records from a backup in storage back into Kafka
// topics. The restore command (Run) and the mount's restore/ folder (Runs,
// which runs named restores in the background) drive the same code.
//
// # Lifecycle
//
// A restore moves through the phases Ready, Initializing, Restoring and
// then one of Done, Failed or Invalid. Run validates the Spec (Invalid,
// ErrInvalidSpec), plans every topic from the storage index (plan.go) and
// runs every topic's preflight checks (preflight.go, Failed, ErrPreflight)
// before anything is produced (produce.go). A Status reports the phase and
// per-topic and per-partition progress; report.go builds it and runs.go
// renders it for the mount.
//
// # Resume and exclusion
//
// A rerun of the same spec after an interruption resumes where the target
// ends without duplicating records, and a lock per target topic keeps two
// restores on this machine from writing into one target (lock.go).
package restore
