package store_test

// The emulators live in package storetest (emulators.go) so that the
// integration tests can run the mount and restore on them too.

import "github.com/kbackup/kbackup/store/storetest"

var (
	emulators  = storetest.Emulators
	startS3    = storetest.StartS3
	startAzure = storetest.StartAzure
	s3URL      = storetest.S3URL
	azureURL   = storetest.AzureURL
)
