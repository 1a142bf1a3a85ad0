package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kbackup/kbackup/store"
)

// Requester is the storage whose requests are counted: *store.Store.
type Requester interface {
	Requests() store.RequestCounts
}

// Storage returns a collector of st's requests and failed requests by
// operation (get, range, put, create, upload, stat, list, delete), read
// from the store's own counters at each scrape.
func Storage(st Requester) prometheus.Collector {
	return &storageCollector{st: st,
		requests: desc("kbackup_storage_requests_total", "Storage requests made, by operation; a retried request counts once per try.", []string{"operation"}),
		errors:   desc("kbackup_storage_request_errors_total", "Storage requests that failed, by operation.", []string{"operation"}),
	}
}

type storageCollector struct {
	st               Requester
	requests, errors *prometheus.Desc
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.errors
}

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.st.Requests()
	for _, op := range store.Ops() {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(n.Requests[op]), op.String())
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(n.Errors[op]), op.String())
	}
}
