// Package devcluster runs an embedded Kafka-protocol cluster (franz-go's
// kfake) on 127.0.0.1 and seeds it with sample topics, for the demo, the
// dev-cluster command and tests.
package devcluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Options configures Start.
type Options struct {
	// Port to listen on (0: any free port).
	Port int
	// DataDir persists the cluster's data (kfake's segment files), keeping
	// memory low for large runs; empty keeps everything in memory.
	DataDir string
	// SASL, when Mechanism is set, requires clients to authenticate as
	// this superuser (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512).
	SASL SASL
	// TLS, when set, makes the broker speak TLS only.
	TLS *tls.Config
	// Brokers is how many brokers the cluster runs (0: one), on
	// consecutive free ports; Port, if set, is the first broker's. Tests
	// that move partition leaders need more than one.
	Brokers int
	// NoTopicIDs emulates a cluster older than Kafka 2.8 that exposes no
	// topic IDs (KIP-516).
	NoTopicIDs bool
}

// SASL is one superuser's credentials.
type SASL struct{ Mechanism, User, Password string }

// Cluster is a running embedded cluster.
type Cluster struct{ c *kfake.Cluster }

// Start starts a single-broker cluster on 127.0.0.1.
func Start(o Options) (*Cluster, error) {
	// A cluster ID of its own, as every Kafka cluster has (kfake's default
	// is the same for all): restores lock targets by cluster ID and topic.
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	brokers := max(o.Brokers, 1)
	ports := make([]int, brokers) // 0: any free port
	ports[0] = o.Port
	opts := []kfake.Opt{kfake.NumBrokers(brokers), kfake.Ports(ports...), kfake.DefaultNumPartitions(1),
		kfake.ClusterID(base64.RawURLEncoding.EncodeToString(id[:]))}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	if o.NoTopicIDs {
		opts = append(opts, kfake.MaxVersions(kversion.V2_7_0()))
	}
	if o.SASL.Mechanism != "" {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(o.SASL.Mechanism, o.SASL.User, o.SASL.Password))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded Kafka cluster on port %d: %w", o.Port, err)
	}
	return &Cluster{c: c}, nil
}

// Addr returns the broker's HOST:PORT.
func (c *Cluster) Addr() string { return c.c.ListenAddrs()[0] }

// Kfake exposes the underlying cluster (topic deletion, faults) to tests.
func (c *Cluster) Kfake() *kfake.Cluster { return c.c }

// Close stops the cluster.
func (c *Cluster) Close() { c.c.Close() }

// SampleTopics are the topics Seed creates, with their partition counts.
var SampleTopics = map[string]int32{"orders": 3, "events": 6, "payments": 2}

// Seed creates the sample topics on the cluster at addr and produces records
// into them: JSON orders with keys and headers, events with null keys and
// tombstones, and payments written by a transactional producer with one
// committed and one aborted transaction.
func Seed(ctx context.Context, addr string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for t, p := range SampleTopics {
		if _, err := adm.CreateTopic(ctx, p, 1, nil, t); err != nil {
			return fmt.Errorf("create %s: %w", t, err)
		}
	}
	// Timestamps of the last three days: a restore into a topic with
	// Kafka's default retention (7 days) keeps them.
	base := time.Now().UTC().Truncate(time.Hour).Add(-72 * time.Hour)
	var recs []*kgo.Record
	for i := 0; i < 3000; i++ {
		v := fmt.Sprintf(`{"order":%d,"customer":"c-%d","amount":%d.%02d}`, i, i%97, i%500, i%100)
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 3),
			Key: []byte("order-" + strconv.Itoa(i)), Value: []byte(v),
			Timestamp: base.Add(time.Duration(i) * time.Minute),
			Headers:   []kgo.RecordHeader{{Key: "source", Value: []byte("demo")}, {Key: "seq", Value: []byte(strconv.Itoa(i))}}})
	}
	for i := 0; i < 5000; i++ {
		r := &kgo.Record{Topic: "events", Partition: int32(i % 6), Timestamp: base.Add(time.Duration(i) * time.Second),
			Value: []byte(fmt.Sprintf("event %d happened", i))}
		if i%5 != 0 {
			r.Key = []byte("device-" + strconv.Itoa(i%40))
		}
		if i%50 == 49 {
			r.Value = nil // tombstone
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce samples: %w", err)
	}
	return seedTxn(ctx, addr, base)
}

func seedTxn(ctx context.Context, addr string, base time.Time) error {
	tx, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("kbackup-demo"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer tx.Close()
	for round, commit := range []bool{true, false, true} {
		if err := tx.BeginTransaction(); err != nil {
			return err
		}
		for i := 0; i < 100; i++ {
			n := round*100 + i
			r := &kgo.Record{Topic: "payments", Partition: int32(i % 2), Key: []byte("pay-" + strconv.Itoa(n)),
				Value: []byte(fmt.Sprintf(`{"payment":%d,"committed":%t}`, n, commit)), Timestamp: base.Add(time.Duration(n) * time.Second)}
			if err := tx.ProduceSync(ctx, r).FirstErr(); err != nil {
				return err
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			return err
		}
	}
	return nil
}
