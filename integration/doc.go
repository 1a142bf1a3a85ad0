// Package integration holds end-to-end tests: they build the kbackup binary,
// run it against an embedded Kafka-protocol cluster (franz-go's kfake) on
// 127.0.0.1, and check results with an independent client, Debian's kcat.
package integration
