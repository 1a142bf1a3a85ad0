package webdav

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kbackup/kbackup/fs/browse/browsetest"
	"github.com/kbackup/kbackup/store"
)

// TestGroupFiles: serve shows a snapshot's consumer groups as the mount
// does, with exact lengths, names escaped in hrefs.
func TestGroupFiles(t *testing.T) {
	s := serve(t, Options{})
	ctx := context.Background()
	l, err := s.b.St.AcquireLease(ctx, "orders", "test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	err = s.b.St.PutGroupCapture(ctx, l, browsetest.V2, store.GroupCapture{Time: browsetest.BaseTime.Add(time.Hour), Offsets: []store.GroupOffset{
		{Group: "billing", Partition: 0, Offset: 4, LeaderEpoch: -1, LogStart: 0, LogEnd: 20},
		{Group: "a/b", Partition: 1, Offset: 9, LeaderEpoch: -1, LogStart: 0, LogEnd: 35},
	}})
	l.Release(ctx)
	if err != nil {
		t.Fatal(err)
	}
	code, h, body := s.do(t, "GET", "/topics/orders/latest/groups/billing.jsonl")
	if code != 200 || !strings.Contains(body, `"group":"billing","topic":"orders","partition":0,"offset":4`) ||
		h.Get("Content-Length") != fmt.Sprint(len(body)) || h.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("GET billing.jsonl: %d %v %q", code, h, body)
	}
	code, _, prop := s.do(t, "PROPFIND", "/topics/orders/snapshots/v2/groups/", "Depth", "1")
	if code != http.StatusMultiStatus {
		t.Fatalf("PROPFIND groups/: %d %s", code, prop)
	}
	for _, want := range []string{
		"<D:href>/topics/orders/snapshots/v2/groups/billing.jsonl</D:href>",
		fmt.Sprintf("<D:getcontentlength>%d</D:getcontentlength>", len(body)),
		"<D:href>/topics/orders/snapshots/v2/groups/a%252Fb.jsonl</D:href>",
	} {
		if !strings.Contains(prop, want) {
			t.Errorf("PROPFIND groups/ lacks %s:\n%s", want, prop)
		}
	}
	if code, _, body := s.do(t, "GET", "/topics/orders/snapshots/v2/groups/a%252Fb.jsonl"); code != 200 || !strings.Contains(body, `"group":"a/b"`) {
		t.Errorf("GET a%%2Fb.jsonl by its href: %d %q", code, body)
	}
}
