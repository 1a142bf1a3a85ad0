package backup

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kbackup/kbackup/integration/benchtab"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
)

// BenchmarkGroupCapture measures one consumer-group capture (issue 11) of
// 1,000 groups, each with offsets on the 3 partitions of the backed-up
// topic: list groups, fetch their committed offsets from the coordinator,
// list the log range and store the capture (file storage). Before each
// round one group commits a new offset, so that every capture is stored.
// The peer is the floor: the same list and fetch with kadm alone.
//
//	go test ./engine/backup -run '^$' -bench GroupCapture -benchtime 1x
func BenchmarkGroupCapture(b *testing.B) {
	const groups, parts = 1000, 3
	c, err := devcluster.Start(devcluster.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	b.Cleanup(cancel)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	if err := createBenchTopic(ctx, cl, "orders", parts); err != nil {
		b.Fatal(err)
	}
	var rs []*kgo.Record
	for i := range 300 {
		rs = append(rs, &kgo.Record{Topic: "orders", Partition: int32(i % parts), Value: []byte("x")})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	commit := func(g int, at int64) error {
		var os kadm.Offsets
		for p := range int32(parts) {
			os.Add(kadm.Offset{Topic: "orders", Partition: p, At: at, LeaderEpoch: -1})
		}
		resp, err := adm.CommitOffsets(ctx, fmt.Sprintf("group-%04d", g), os)
		if err == nil {
			err = resp.Error()
		}
		return err
	}
	for g := range groups {
		if err := commit(g, int64(g%100)); err != nil {
			b.Fatal(err)
		}
	}

	st, err := store.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	lease, err := st.AcquireLease(ctx, "orders", "bench", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = lease.Release(context.Background()) })
	opts := Options{Holder: "bench"}
	if err := opts.defaults(); err != nil {
		b.Fatal(err)
	}
	bk := newBackup(ctx, st, &kafka.Config{Brokers: []string{c.Addr()}}, opts)
	bk.adm = kafka.NewAdmin(cl)
	gc, err := newGroupCapturer(bk)
	if err != nil {
		b.Fatal(err)
	}
	loc := store.Loc{Topic: "orders", Version: 1}
	targets := []captureTarget{{topic: "orders", loc: loc, lease: lease}}
	round := int64(100)
	capture := benchtab.Contender{
		Name:     "kbackup group capture",
		Settings: fmt.Sprintf("%d groups x %d partitions, file storage", groups, parts),
		Run: func(m *benchtab.Measure) error {
			round++
			if err := commit(0, round); err != nil {
				return err
			}
			start := time.Now()
			n, stored, err := gc.captureOnce(ctx, targets)
			took := time.Since(start)
			if err != nil {
				return err
			}
			if n != groups || stored != 1 {
				return fmt.Errorf("captured %d groups, stored %d captures; want %d and 1", n, stored, groups)
			}
			m.Set("ms", took.Seconds()*1e3)
			m.Set("us/group", took.Seconds()*1e6/groups)
			return nil
		},
	}
	floor := benchtab.Contender{
		Name:     "kadm ListGroups + FetchManyOffsets",
		Settings: "the same groups, nothing stored",
		Run: func(m *benchtab.Measure) error {
			start := time.Now()
			lg, err := adm.ListGroups(ctx)
			if err != nil {
				return err
			}
			fs := adm.FetchManyOffsets(ctx, lg.Groups()...)
			took := time.Since(start)
			if err := fs.Error(); err != nil {
				return err
			}
			if len(fs) != groups {
				return fmt.Errorf("fetched %d groups, want %d", len(fs), groups)
			}
			m.Set("ms", took.Seconds()*1e3)
			m.Set("us/group", took.Seconds()*1e6/groups)
			return nil
		},
	}
	res := benchtab.Run(b, benchtab.Options{}, capture, floor)
	kb, peer := res.Side(capture.Name, "ms"), res.Side(floor.Name, "ms")
	res.Figure(benchtab.Figure{ID: "group-capture", Name: "consumer-group capture, 1,000 groups x 3 partitions", Unit: "ms",
		Kbackup: kb, Peer: &peer, Note: "list groups, fetch committed offsets, list log range, store one capture object"})
	res.Figure(benchtab.Figure{ID: "group-capture-per-group", Name: "consumer-group capture per group", Unit: "us",
		Kbackup: res.Side(capture.Name, "us/group"), Note: "the capture above divided by 1,000 groups"})
	if refs, err := st.GroupCaptures(ctx, loc); err != nil || len(refs) == 0 {
		b.Fatalf("captures stored: %d, %v", len(refs), err)
	} else {
		b.ReportMetric(float64(refs[len(refs)-1].Size), "capture-bytes")
	}
}
