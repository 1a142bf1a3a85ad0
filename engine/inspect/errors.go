package inspect

import "github.com/kbackup/kbackup/store"

// ErrFlatLayout means a versioning operation was asked of a flat-layout
// topic, which has no manifest and cannot keep versions.
var ErrFlatLayout = store.ErrFlatLayout
