package fs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kbackup/kbackup/fs/browse"
	"github.com/kbackup/kbackup/store"
)

// fakeRestorer records the requests the mount makes.
type fakeRestorer struct {
	// entered and gate, when set, make Start signal that it was called
	// and wait until gate is closed, as a slow preflight would.
	entered chan string
	gate    chan struct{}

	mu   sync.Mutex
	reqs map[string]RestoreRequest
}

func (f *fakeRestorer) Start(_ context.Context, req RestoreRequest) error {
	if f.entered != nil {
		f.entered <- req.Name
	}
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.reqs[req.Name]; ok {
		return ErrRestoreExists
	}
	f.reqs[req.Name] = req
	if req.Invalid != "" {
		return fmt.Errorf("%w: %s", ErrInvalidRestore, req.Invalid)
	}
	return nil
}

// req returns the request recorded for name.
func (f *fakeRestorer) req(name string) RestoreRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[name]
}

func (f *fakeRestorer) List(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.reqs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Status shows the request recorded as the status's reason, one line.
func (f *fakeRestorer) Status(_ context.Context, name string) (*browse.RestoreStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reqs[name]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &browse.RestoreStatus{Name: name, Phase: "Ready",
		Reason: fmt.Sprintf("source: %s target: %s partitions: %v invalid: %s spec: %q", r.Source, r.Target, r.Partitions, r.Invalid, r.Spec)}, nil
}

func (f *fakeRestorer) Cancel(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.reqs[name]; !ok {
		return store.ErrNotFound
	}
	delete(f.reqs, name)
	return nil
}

func TestRestoreByCopy(t *testing.T) {
	b := newBackup(t)
	fr := &fakeRestorer{reqs: map[string]RestoreRequest{}}
	mp := mountStore(t, b.st, Options{Restorer: fr})
	snap := mp + "/topics/orders/snapshots/v2"
	status := func(name string) string { return sh(t, "cat "+mp+"/restore/"+name+"/status") }

	sh(t, "cp -r "+snap+" "+mp+"/restore/")
	if got := status("v2"); !strings.Contains(got, "source: orders/v2 target: orders partitions: [] ") {
		t.Errorf("cp -r vN restore/: %s", got)
	}
	sh(t, "cp -r "+snap+"/1 "+mp+"/restore/X")
	if got := status("X"); !strings.Contains(got, "target: X partitions: [1] ") {
		t.Errorf("cp -r vN/1 restore/X: %s", got)
	}
	sh(t, "cp -a "+mp+"/topics/orders/latest/ "+mp+"/restore/Y")
	if got := status("Y"); !strings.Contains(got, "source: orders/v2 target: Y ") {
		t.Errorf("cp -a latest restore/Y: %s", got)
	}
	sh(t, "cp -r "+mp+"/topics/orders/latest/ "+mp+"/restore/")
	if got := status("latest"); !strings.Contains(got, "source: orders/v2 target: orders ") {
		t.Errorf("cp -r latest/ restore/ (into orders, not a topic named latest): %s", got)
	}
	sh(t, "rm -r "+mp+"/restore/latest")
	sh(t, "cat "+snap+"/2/records.jsonl > /dev/null; mkdir "+mp+"/restore/Z && cat "+snap+"/2/records.jsonl > "+mp+"/restore/Z/records.jsonl")
	if got := status("Z"); !strings.Contains(got, "target: Z partitions: [2] ") {
		t.Errorf("cat > restore/Z/records.jsonl: %s", got)
	}
	if out, err := runErr("cp", "-r", mp+"/topics/orders/snapshots", mp+"/restore/W"); err == nil {
		t.Errorf("cp -r of snapshots/ succeeded: %s", out)
	}
	if got := status("W"); !strings.Contains(got, "invalid: restore/W is a copy of topics/orders/snapshots") {
		t.Errorf("cp -r snapshots restore/W: %s", got)
	}
	spec := t.TempDir() + "/orders-spec.yaml"
	sh(t, "printf 'config: {topics: [{source: orders}]}\n' > "+spec+" && cp "+spec+" "+mp+"/restore/")
	if got := status("orders-spec"); !strings.Contains(got, `spec: "config: {topics: [{source: orders}]}\n"`) {
		t.Errorf("cp spec.yaml restore/: %s", got)
	}
	sh(t, "rm -r "+mp+"/restore/X "+mp+"/restore/W")
	if got := sh(t, "ls "+mp+"/restore"); got != "Y\nZ\norders-spec\nv2\n" {
		t.Errorf("ls restore after rm -r: %q", got)
	}
}
