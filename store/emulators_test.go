package store_test

// The emulators and the backend helpers live in package storetest
// (emulators.go, backends.go) so that the engine and integration tests can
// run on every backend too.

import "github.com/kbackup/kbackup/store/storetest"

var (
	emulators         = storetest.Emulators
	startS3           = storetest.StartS3
	startAzure        = storetest.StartAzure
	s3URL             = storetest.S3URL
	azureURL          = storetest.AzureURL
	forEachBackend    = storetest.ForEachBackend
	opener            = storetest.Opener
	checkSegmentBytes = storetest.CheckSegmentBytes
)

const prefix = storetest.Prefix
