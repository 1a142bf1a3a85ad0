package restore

import (
	"time"
)

// setPhase moves the restore to ph and reports it.
func (r *restorer) setPhase(ph Phase, reason string) {
	r.statusMu.Lock()
	r.phase, r.reason = ph, reason
	r.statusMu.Unlock()
	for _, j := range r.jobs {
		cur := Phase(j.phase.Load())
		if ph == Initializing || ph == Invalid || (ph == Failed && cur != Done) {
			j.phase.Store(int32(ph))
		}
	}
	switch ph {
	case Failed, Invalid:
		if r.cancelled {
			r.log.Info("restore Cancelled", "reason", reason)
			break
		}
		r.log.Error("restore "+ph.String(), "reason", reason)
	default:
		r.log.Info("restore " + ph.String())
	}
	r.report()
}

// report calls OnStatus with the current status.
func (r *restorer) report() {
	if r.opts.OnStatus == nil {
		return
	}
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	r.opts.OnStatus(r.statusLocked())
}

// tick reports progress every StatusInterval until the returned stop is
// called.
func (r *restorer) tick() (stop func()) { return every(r.opts.StatusInterval, r.report) }

// every calls f every d in a goroutine of its own until the returned stop
// is called; stop returns once f no longer runs.
func every(d time.Duration, f func()) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (r *restorer) statusLocked() Status {
	s := Status{Phase: r.phase, Reason: r.reason}
	for _, j := range r.jobs {
		s.Topics = append(s.Topics, j.status())
	}
	return s
}

// status reports one topic's progress; once the topic is done its totals
// are the exact counts.
func (j *topicJob) status() TopicStatus {
	ph := Phase(j.phase.Load())
	ts := TopicStatus{Source: j.m.Source, Target: j.m.TargetName(), Snapshot: j.loc.Version, Phase: ph, Created: j.create, Retention: j.retention, Groups: j.groupsRep}
	for _, pp := range j.plans {
		ps := pp.status()
		if ph == Done {
			ps.RecordsTotal, ps.DecodedBytes = ps.Records, ps.DecodedBytesTotal
		}
		ts.Partitions = append(ts.Partitions, ps)
		ts.Records += ps.Records
		ts.RecordsTotal += ps.RecordsTotal
		ts.DecodedBytes += ps.DecodedBytes
		ts.DecodedBytesTotal += ps.DecodedBytesTotal
		for _, e := range ps.Expired {
			ts.ExpiredRecords += e.Records
		}
	}
	return ts
}

func (r *restorer) result(d time.Duration) *Result {
	r.statusMu.Lock()
	res := &Result{Status: r.statusLocked(), Duration: d}
	r.statusMu.Unlock()
	for _, j := range r.jobs {
		for _, pp := range j.plans {
			res.Produced += pp.recs.Load() - pp.resumed
			res.PayloadBytes += pp.payload.Load()
		}
	}
	return res
}
