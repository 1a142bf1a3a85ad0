package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store/storetest"
)

// groupDaemon is one `kbackup backup --group-id` process of a scale test.
type groupDaemon struct {
	name string
	cmd  *exec.Cmd
	logs *storetest.SyncBuffer
	// gone is when the process was seen dead (zero while it runs): it
	// wrote nothing after.
	gone time.Time
}

// leaseEvent is an acquisition (the "backing up" line, logged once the
// lease is held) or a release (logged once every write is done, before
// the lease is released) in a daemon's log.
type leaseEvent struct {
	at      time.Time
	topic   string
	acquire bool
}

// events parses the daemon's JSON log into lease events, in order.
func (d *groupDaemon) events(t *testing.T) []leaseEvent {
	t.Helper()
	var evs []leaseEvent
	sc := bufio.NewScanner(strings.NewReader(d.logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Time  time.Time `json:"time"`
			Msg   string    `json:"msg"`
			Topic string    `json:"topic"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch l.Msg {
		case "backing up":
			evs = append(evs, leaseEvent{l.Time, l.Topic, true})
		case "releasing lease":
			evs = append(evs, leaseEvent{l.Time, l.Topic, false})
		}
	}
	return evs
}

// checkLog fails on what must not happen in a group: a lease lost to
// another writer, or a topic handed over before its holder released it
// (cooperative hand-overs release first, and a SIGKILLed holder on this
// host is seen dead, so nobody should find a lease held).
func (d *groupDaemon) checkLog(t *testing.T) {
	t.Helper()
	for _, line := range strings.Split(d.logs.String(), "\n") {
		switch {
		case strings.Contains(line, "lost the lease of a topic"):
			t.Errorf("%s lost a lease: two writers met: %s", d.name, line)
		case strings.Contains(line, "another process holds its lease"):
			t.Errorf("%s found a lease held: a topic was handed over before its holder released it: %s", d.name, line)
		}
	}
}

// owned returns the topics whose lease d holds, by its log.
func (d *groupDaemon) owned(t *testing.T) map[string]bool {
	own := map[string]bool{}
	for _, e := range d.events(t) {
		own[e.topic] = e.acquire
	}
	for tp, ok := range own {
		if !ok {
			delete(own, tp)
		}
	}
	return own
}

// stop ends the daemon with sig and waits for it.
func (d *groupDaemon) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := d.cmd.Wait()
	d.gone = time.Now()
	if sig == syscall.SIGTERM && err != nil {
		t.Fatalf("%s did not exit 0 on SIGTERM: %v\n%s", d.name, err, d.logs)
	}
}

// groupProducer produces to every partition of every topic until stopped,
// counting what the cluster acknowledged.
type groupProducer struct {
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	count map[string]int
	err   error
}

func startGroupProducer(t *testing.T, addr string, parts map[string]int32) *groupProducer {
	cl := client(t, addr)
	p := &groupProducer{stop: make(chan struct{}), done: make(chan struct{}), count: map[string]int{}}
	go func() {
		defer close(p.done)
		for seq := 0; ; seq++ {
			select {
			case <-p.stop:
				return
			case <-time.After(40 * time.Millisecond):
			}
			var rs []*kgo.Record
			for tp, n := range parts {
				for i := range n {
					rs = append(rs, &kgo.Record{Topic: tp, Partition: i, Key: []byte(tp), Value: fmt.Appendf(nil, "%s/%d/%d", tp, i, seq)})
				}
			}
			res := cl.ProduceSync(context.Background(), rs...)
			p.mu.Lock()
			for _, r := range res {
				if r.Err != nil {
					p.err = r.Err
					continue
				}
				p.count[r.Record.Topic]++
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// TestScaleOutGroup is issue 12's proof of --group-id: on 3 brokers, with
// records produced all along, 3 daemons share the topics; a 4th joins, one
// stops cleanly, one is SIGKILLed. Each rebalance settles (every topic has
// exactly one live owner, every daemon owns some) within the session
// timeout plus a few seconds; no two daemons ever hold a topic at once
// (their logged lease intervals never overlap); after quiescence storage
// holds exactly what kcat reads from the cluster.
func TestScaleOutGroup(t *testing.T) {
	needKcat(t)
	n := 12
	if os.Getenv("KBACKUP_SOAK") == "1" {
		n = 40
	}
	c, err := devcluster.Start(devcluster.Options{Brokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	parts := map[string]int32{}
	var topics []string
	for i := range n {
		tp := fmt.Sprintf("scale-%02d", i)
		parts[tp] = int32(i%3 + 1)
		topics = append(topics, tp)
		createTopic(t, c.Addr(), tp, parts[tp], nil)
	}
	prod := startGroupProducer(t, c.Addr(), parts)
	defer func() {
		select {
		case <-prod.stop:
		default:
			close(prod.stop)
		}
		<-prod.done
	}()

	const session = 6 * time.Second // kfake's (and Kafka's) minimum
	dir := t.TempDir()
	var daemons []*groupDaemon
	start := func() {
		cmd, logs := startKbackup(t, "backup", "--brokers", c.Addr(), "--storage", dir,
			"--group-id", "scale", "--group-session-timeout", session.String(),
			"--segment-age", "1s", "--discovery-interval", "1s", "--lease-ttl", "20s",
			"--flush-timeout", "5s", "--log-format", "json")
		daemons = append(daemons, &groupDaemon{name: fmt.Sprintf("d%d", len(daemons)), cmd: cmd, logs: logs})
	}
	// settled: every topic has exactly one live owner, and every live
	// daemon owns at least one.
	settled := func() bool {
		owners := map[string]int{}
		for _, d := range daemons {
			if !d.gone.IsZero() {
				continue
			}
			own := d.owned(t)
			if len(own) == 0 {
				return false
			}
			for tp := range own {
				owners[tp]++
			}
		}
		for _, tp := range topics {
			if owners[tp] != 1 {
				return false
			}
		}
		return true
	}
	// rebalance times how long the group takes to settle after a change.
	rebalance := func(what string, change func()) {
		t.Helper()
		began := time.Now()
		change()
		waitFor(t, session+30*time.Second, what, settled)
		took := time.Since(began)
		t.Logf("%s: settled in %s", what, took.Round(10*time.Millisecond))
		if limit := session + 5*time.Second; took > limit {
			t.Errorf("%s: settled in %s, more than the session timeout plus 5s (%s)", what, took, limit)
		}
	}

	rebalance("3 daemons start", func() { start(); start(); start() })
	time.Sleep(2 * time.Second)
	rebalance("a 4th daemon joins", start)
	time.Sleep(2 * time.Second)
	rebalance("one daemon stops cleanly", func() { daemons[0].stop(t, syscall.SIGTERM) })
	time.Sleep(2 * time.Second)
	rebalance("one daemon is SIGKILLed", func() { daemons[1].stop(t, syscall.SIGKILL) })
	for _, d := range daemons[2:] {
		p := int32(0)
		for tp := range d.owned(t) {
			p += parts[tp]
		}
		t.Logf("%s owns %d topics, %d partitions", d.name, len(d.owned(t)), p)
	}

	// Quiescence: stop producing, let the survivors store everything.
	close(prod.stop)
	<-prod.done
	if prod.err != nil {
		t.Fatalf("produce: %v", prod.err)
	}
	waitFor(t, 60*time.Second, "every produced record stored", func() bool {
		for _, tp := range topics {
			if storedCount(t, dir, tp, 0) != prod.count[tp] {
				return false
			}
		}
		return true
	})
	for _, d := range daemons[2:] {
		d.stop(t, syscall.SIGTERM)
	}

	for _, d := range daemons {
		d.checkLog(t)
	}
	checkOneWriter(t, daemons, topics)
	for _, tp := range topics {
		sameRecords(t, tp, kcatRead(t, c.Addr(), tp), storageRead(t, dir, tp, 0))
	}
}

// checkOneWriter fails if two daemons held one topic at once: per topic,
// the intervals from a daemon's acquisition to its release (or its death)
// must not overlap.
func checkOneWriter(t *testing.T, daemons []*groupDaemon, topics []string) {
	t.Helper()
	type span struct {
		who        string
		from, till time.Time
	}
	spans := map[string][]span{}
	for _, d := range daemons {
		open := map[string]time.Time{}
		for _, e := range d.events(t) {
			if e.acquire {
				open[e.topic] = e.at
				continue
			}
			if from, ok := open[e.topic]; ok {
				spans[e.topic] = append(spans[e.topic], span{d.name, from, e.at})
				delete(open, e.topic)
			}
		}
		for tp, from := range open {
			spans[tp] = append(spans[tp], span{d.name, from, d.gone})
		}
	}
	moves := 0
	for _, tp := range topics {
		ss := spans[tp]
		if len(ss) == 0 {
			t.Errorf("topic %s was never backed up", tp)
		}
		sort.Slice(ss, func(i, j int) bool { return ss[i].from.Before(ss[j].from) })
		for i := 1; i < len(ss); i++ {
			if ss[i].from.Before(ss[i-1].till) {
				t.Errorf("topic %s: %s took the lease at %s while %s held it until %s",
					tp, ss[i].who, ss[i].from.Format(time.StampMicro), ss[i-1].who, ss[i-1].till.Format(time.StampMicro))
			}
		}
		moves += len(ss) - 1
	}
	t.Logf("%d lease hand-overs over %d topics, none overlapping", moves, len(topics))
}
