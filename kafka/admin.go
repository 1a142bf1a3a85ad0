package kafka

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic is what kbackup needs to know about a live topic.
type Topic struct {
	Name       string
	ID         string // "" when the cluster exposes no topic IDs (KIP-516)
	RawID      [16]byte
	Partitions int32
}

// Admin wraps the admin calls kbackup makes.
type Admin struct{ adm *kadm.Client }

// NewAdmin returns an Admin over cl; closing cl closes it.
func NewAdmin(cl *kgo.Client) *Admin { return &Admin{adm: kadm.NewClient(cl)} }

// Topics lists the cluster's non-internal topics by name.
func (a *Admin) Topics(ctx context.Context) (map[string]Topic, error) {
	td, err := a.adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	out := make(map[string]Topic, len(td))
	for name, d := range td {
		if d.Err != nil || d.IsInternal {
			continue
		}
		id := ""
		if d.ID != (kadm.TopicID{}) {
			id = FormatTopicID(d.ID)
		}
		out[name] = Topic{Name: name, ID: id, RawID: d.ID, Partitions: int32(len(d.Partitions))}
	}
	return out, nil
}

// TopicConfigs returns the topic's non-default configs.
func (a *Admin) TopicConfigs(ctx context.Context, topic string) (map[string]string, error) {
	rcs, err := a.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	if rc.Err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, rc.Err)
	}
	out := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value == nil || c.Sensitive {
			continue
		}
		if c.Source == 1 /* DYNAMIC_TOPIC_CONFIG */ {
			out[c.Key] = *c.Value
		}
	}
	return out, nil
}

// EndOffsets returns, per partition of topic, the read_committed end offset
// (the last stable offset).
func (a *Admin) EndOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	lo, err := a.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	var ferr error
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && ferr == nil {
			ferr = fmt.Errorf("end offset of %s/%d: %w", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out, ferr
}

// StartOffsets returns the log start offset of each partition of topic.
func (a *Admin) StartOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	lo, err := a.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// CreateTopic creates topic with partitions and configs (replication factor
// from the broker's default).
func (a *Admin) CreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) error {
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := a.adm.CreateTopic(ctx, partitions, -1, cfg, topic)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if resp.Err != nil {
		return fmt.Errorf("create topic %s: %w", topic, resp.Err)
	}
	return nil
}

// ClusterID names the cluster: its cluster ID, or for brokers without one
// their addresses (host:port, sorted, comma-separated).
func (a *Admin) ClusterID(ctx context.Context) (string, error) {
	md, err := a.adm.BrokerMetadata(ctx)
	if err != nil {
		return "", fmt.Errorf("cluster metadata: %w", err)
	}
	if md.Cluster != "" {
		return md.Cluster, nil
	}
	var addrs []string
	for _, b := range md.Brokers {
		addrs = append(addrs, fmt.Sprintf("%s:%d", b.Host, b.Port))
	}
	sort.Strings(addrs)
	return strings.Join(addrs, ","), nil
}

// EffectiveTopicConfigs returns every config of topic that has a value,
// defaults included (TopicConfigs returns only those set on the topic).
func (a *Admin) EffectiveTopicConfigs(ctx context.Context, topic string) (map[string]string, error) {
	rcs, err := a.adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	out := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil {
			out[c.Key] = *c.Value
		}
	}
	return out, nil
}

// LogRange returns, per partition of topic, the log start offset and the
// log end offset (high watermark). Unlike StartOffsets and EndOffsets it
// fails if any partition's offsets cannot be listed.
func (a *Admin) LogRange(ctx context.Context, topic string) (starts, ends map[int32]int64, err error) {
	list := func(what string, f func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
		lo, err := f(ctx, topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("%s offsets of %s: %w", what, topic, err)
		}
		out := map[int32]int64{}
		lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		return out, nil
	}
	if starts, err = list("start", a.adm.ListStartOffsets); err != nil {
		return nil, nil, err
	}
	if ends, err = list("end", a.adm.ListEndOffsets); err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}

// ValidateCreateTopic asks the cluster whether it would create topic with
// partitions and configs (replication factor from the broker's default),
// creating nothing. It returns the configs the topic would have (the
// given ones and the defaults the broker reports), or refused, the
// cluster's reason, when it would not create it.
func (a *Admin) ValidateCreateTopic(ctx context.Context, topic string, partitions int32, configs map[string]string) (cfgs map[string]string, refused string, err error) {
	ptrs := map[string]*string{}
	for k, v := range configs {
		ptrs[k] = &v
	}
	resps, err := a.adm.ValidateCreateTopics(ctx, partitions, -1, ptrs, topic)
	if err != nil {
		return nil, "", fmt.Errorf("validate creating %s: %w", topic, err)
	}
	cfgs = map[string]string{}
	resp, ok := resps[topic]
	if !ok {
		return cfgs, "", nil
	}
	if resp.Err != nil {
		msg := resp.Err.Error()
		if resp.ErrMessage != "" {
			msg += " (" + resp.ErrMessage + ")"
		}
		return cfgs, msg, nil
	}
	for k, c := range resp.Configs {
		if c.Value != nil {
			cfgs[k] = *c.Value
		}
	}
	return cfgs, "", nil
}

// BrokerConfigs returns the configs of the first broker the cluster's
// metadata names, which hold the broker-wide topic defaults.
func (a *Admin) BrokerConfigs(ctx context.Context) (map[string]string, error) {
	md, err := a.adm.BrokerMetadata(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster metadata: %w", err)
	}
	out := map[string]string{}
	if len(md.Brokers) == 0 {
		return out, nil
	}
	rcs, err := a.adm.DescribeBrokerConfigs(ctx, md.Brokers[0].NodeID)
	if err != nil {
		return nil, fmt.Errorf("describe broker configs: %w", err)
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			if c.Value != nil {
				out[c.Key] = *c.Value
			}
		}
	}
	return out, nil
}

// SetTopicConfigs sets configs on topic, leaving its other configs alone.
func (a *Admin) SetTopicConfigs(ctx context.Context, topic string, configs map[string]string) error {
	var alter []kadm.AlterConfig
	for k, v := range configs {
		alter = append(alter, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
	}
	resps, err := a.adm.AlterTopicConfigs(ctx, alter, topic)
	if err == nil {
		var resp kadm.AlterConfigsResponse
		if resp, err = resps.On(topic, nil); err == nil {
			err = resp.Err
		}
	}
	if err != nil {
		return fmt.Errorf("set configs of %s: %w", topic, err)
	}
	return nil
}

// SortedNames returns the names of ts in order.
func SortedNames(ts map[string]Topic) []string {
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FormatTopicID renders a topic ID in UUID form (8-4-4-4-12 hex digits).
func FormatTopicID(id [16]byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
}

// TopicEnds returns the read_committed end offset (the last stable
// offset) of every partition of topics, in one listing.
func (a *Admin) TopicEnds(ctx context.Context, topics []string) (map[string]map[int32]int64, error) {
	lo, err := a.adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	return listed(lo, func(o kadm.ListedOffset) int64 { return o.Offset }), nil
}

// NewestTimestamps returns the timestamp of the newest record (the largest
// timestamp, KIP-734, Kafka 3.0+) of every partition of topics that has
// one, in one listing.
func (a *Admin) NewestTimestamps(ctx context.Context, topics []string) (map[string]map[int32]time.Time, error) {
	lo, err := a.adm.ListMaxTimestampOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("newest timestamps: %w", err)
	}
	out := map[string]map[int32]time.Time{}
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset < 0 || o.Timestamp < 0 {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]time.Time{}
		}
		out[o.Topic][o.Partition] = time.UnixMilli(o.Timestamp)
	})
	return out, nil
}

// listed keeps the partitions of lo answered without error.
func listed(lo kadm.ListedOffsets, val func(kadm.ListedOffset) int64) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Partition < 0 {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = val(o)
	})
	return out
}
