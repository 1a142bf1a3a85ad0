// Package metrics exposes what a backup or restore does as Prometheus
// metrics, and serves them with the health endpoints (/metrics, /healthz,
// /readyz).
//
// The engine never imports this package: Backup implements the observer
// the backup engine declares and calls at lease changes, records consumed
// and segments stored, and Restore takes the restore engine's status
// reports. Everything is kept in plain counters under one lock and turned
// into samples when Prometheus scrapes (a Collector), so that turning
// partition labels off (Options.PartitionLabels) sums or maximises per
// topic at scrape time instead of keeping a second set of series.
//
// Consumer lag and the recovery point are measured against Kafka itself:
// Backup.Run lists the end offsets and the newest record timestamps of the
// topics held every interval. The recovery point (RPO) of a partition is
// zero when storage holds everything up to its end offset, and otherwise
// the timestamp of the newest record in Kafka minus that of the newest
// record in storage: how much history a loss of the cluster would cost.
package metrics
