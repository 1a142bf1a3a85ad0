package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"

	"github.com/kbackup/kbackup/store/crypt"
	"github.com/kbackup/kbackup/store/storetest"
)

// The encrypted round trip on every cloud backend (issue 15): the binary
// backs a varied topic up with --encryption-key under one prefix of the
// emulator's bucket and plain under another, restores the encrypted
// backup into a new topic and mounts it, each equal to kcat; no object of
// the encrypted prefix holds the topic name, a key or a value; a plain
// backup into the encrypted prefix is refused.

func TestCloudEncryptedS3(t *testing.T)    { cloudEncryptedRoundTrip(t, "S3") }
func TestCloudEncryptedGCS(t *testing.T)   { cloudEncryptedRoundTrip(t, "GCS") }
func TestCloudEncryptedAzure(t *testing.T) { cloudEncryptedRoundTrip(t, "Azure") }

func cloudEncryptedRoundTrip(t *testing.T, backend string) {
	needKcat(t)
	var emu storetest.Emulator
	for _, e := range storetest.Emulators {
		if e.Name == backend {
			emu = e
		}
	}
	host := emu.Start(t)
	enc, plain := emu.URL(t, host, "&prefix=enc/"), emu.URL(t, host, "&prefix=plain/")
	key := "base64key://" + base64.URLEncoding.EncodeToString(crypt.NewSalt())
	c := startCluster(t)
	const topic = "cloudsecret"
	createTopic(t, c.Addr(), topic, 3, nil)
	produceVaried(t, c.Addr(), topic, 3, 300)
	want := kcatRead(t, c.Addr(), topic)

	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", enc, "--encryption-key", key); r.code != 0 {
		t.Fatalf("encrypted backup to %s: exit %d: %s", backend, r.code, r.stderr)
	}
	if r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", plain); r.code != 0 {
		t.Fatalf("plain backup beside it: exit %d: %s", r.code, r.stderr)
	}
	r := kbackup(t, "backup", "--once", "--brokers", c.Addr(), "--storage", enc)
	oneLineFailure(t, "plain backup into the encrypted prefix", r, "--encryption-key")

	if r := kbackup(t, "restore", "--brokers", c.Addr(), "--storage", enc, "--encryption-key", key, "--topic", topic+":restored", "--create-topics", "--retention", "extend"); r.code != 0 {
		t.Fatalf("restore from %s: exit %d: %s", backend, r.code, r.stderr)
	}
	sameRecords(t, "restored topic", want, kcatRead(t, c.Addr(), "restored"))

	mp := mountKbackup(t, enc, "--encryption-key", key)
	got := map[int32][]rec{}
	for p := range int32(3) {
		got[p] = mountedRecords(t, filepath.Join(mp, "topics", topic, "latest", fmt.Sprint(p), "records.jsonl"), p)
	}
	sameRecords(t, "mounted records.jsonl", want, got)

	// The raw objects under enc/ leak no topic name, key or value; the
	// plain ones under plain/ do (the check would see a leak).
	ctx := context.Background()
	b, err := blob.OpenBucket(ctx, emu.URL(t, host, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	needles := [][]byte{[]byte(topic), []byte("key-101"), []byte(`{"n":101,`)}
	leaks := func(prefix string) (objs, found int) {
		it := b.List(&blob.ListOptions{Prefix: prefix})
		for {
			o, err := it.Next(ctx)
			if err == io.EOF {
				return objs, found
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := b.ReadAll(ctx, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			objs++
			for _, n := range needles {
				if bytes.Contains(data, n) {
					found++
					if prefix == "enc/" {
						t.Errorf("%s holds %q in plaintext", o.Key, n)
					}
				}
			}
		}
	}
	if objs, _ := leaks("enc/"); objs < 5 {
		t.Errorf("only %d objects under enc/", objs)
	}
	if _, found := leaks("plain/"); found == 0 {
		t.Errorf("no needle found in the plain backup: the leak check sees nothing")
	}
}
