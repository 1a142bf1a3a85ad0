package store

import (
	"context"

	"gopkg.in/yaml.v3"
)

// Freeze stops l's renewals without ending it, as a process stopped by
// SIGSTOP or a long GC pause would. It is a fault-injection hook for tests
// (storetest.RunConformance); a program has no use for it.
func (l *Lease) Freeze() {
	l.stop()
	<-l.kept
}

// ForceTakeover makes the next acquire of l's topic succeed although l's
// holder still believes it holds the lease: the situation a frozen holder
// wakes up in, without waiting for the TTL. It writes a released entry
// after l's, as a holder that judged l stale would have taken it. It is a
// fault-injection hook for tests (storetest.RunConformance).
func ForceTakeover(s *Store, l *Lease) error {
	doc := leaseDoc{Holder: "a process that judged the lease stale", Token: "takeover", Released: true}
	b, _ := yaml.Marshal(&doc)
	return s.createRegisterEntry(context.Background(), leasesKey(l.topic), l.gen+1, b)
}
