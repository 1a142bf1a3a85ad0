package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/engine/metrics"
	"github.com/kbackup/kbackup/engine/restore"
	"github.com/kbackup/kbackup/store"
)

// manifest is one document of a file in deploy/.
type manifest struct {
	file string
	doc  map[string]any
}

func readManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("../../deploy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/: %v", err)
	}
	var out []manifest
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s does not parse: %v", f, err)
			}
			if doc == nil {
				continue
			}
			if doc["kind"] == nil || doc["apiVersion"] == nil {
				t.Errorf("%s: a document without kind or apiVersion", f)
			}
			out = append(out, manifest{filepath.Base(f), doc})
		}
	}
	return out
}

func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

// podSpec returns the pod spec of a workload document, or nil.
func podSpec(doc map[string]any) map[string]any {
	switch doc["kind"] {
	case "Pod":
		ps, _ := doc["spec"].(map[string]any)
		return ps
	case "Deployment", "StatefulSet", "Job", "DaemonSet":
		ps, _ := path(doc, "spec", "template", "spec").(map[string]any)
		return ps
	case "CronJob":
		ps, _ := path(doc, "spec", "jobTemplate", "spec", "template", "spec").(map[string]any)
		return ps
	}
	return nil
}

// commandOf returns the (sub)command args name and the arguments after
// its name.
func commandOf(cmds []*cli.Command, args []string) (*cli.Command, []string) {
	var cmd *cli.Command
	for len(args) > 0 {
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(args[0]) {
				next = c
			}
		}
		if next == nil {
			break
		}
		cmd, cmds, args = next, next.Subcommands, args[1:]
	}
	return cmd, args
}

func flagByName(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// TestDeployManifests parses every manifest in deploy/ and checks what it
// asks of kbackup against the binary's own definitions: each command,
// flag and KBACKUP_ variable exists, the configuration file decodes with
// unknown keys refused, the restore spec parses, probes ask for /healthz
// and /readyz on the metrics port, and every metric an alert uses exists.
func TestDeployManifests(t *testing.T) {
	ms := readManifests(t)
	app := newApp(io.Discard, io.Discard)
	files := map[string]string{} // ConfigMap keys: file name -> content
	for _, m := range ms {
		if m.doc["kind"] == "ConfigMap" {
			for k, v := range m.doc["data"].(map[string]any) {
				files[k] = v.(string)
			}
		}
	}
	names := metricNames(t)
	var workloads int
	for _, m := range ms {
		if m.doc["kind"] == "PrometheusRule" {
			for _, g := range list(path(m.doc, "spec", "groups")) {
				for _, r := range list(path(g, "rules")) {
					checkMetrics(t, m.file+" rule "+path(r, "alert").(string), path(r, "expr").(string), names)
				}
			}
		}
		ps := podSpec(m.doc)
		if ps == nil {
			continue
		}
		for _, c := range list(ps["containers"]) {
			if !strings.Contains(path(c, "image").(string), "kbackup") {
				continue
			}
			workloads++
			where := m.file + " " + m.doc["kind"].(string)
			var args []string
			for _, a := range list(path(c, "args")) {
				args = append(args, a.(string))
			}
			cmd, rest := commandOf(app.Commands, args)
			if cmd == nil {
				t.Errorf("%s: args %q name no kbackup command", where, args)
				continue
			}
			used := map[string]string{}
			for i := 0; i < len(rest); i++ {
				a := rest[i]
				if !strings.HasPrefix(a, "-") {
					continue // a positional argument (mount point)
				}
				name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
				f := flagByName(cmd, name)
				if f == nil {
					t.Errorf("%s: kbackup %s has no flag %s", where, cmd.Name, a)
					continue
				}
				if _, isBool := f.(*cli.BoolFlag); !isBool && !hasVal && i+1 < len(rest) {
					i++
					val = rest[i]
				}
				used[f.Names()[0]] = val
			}
			for _, e := range list(path(c, "env")) {
				n := path(e, "name").(string)
				if strings.HasPrefix(n, "KBACKUP_") && n != "KBACKUP_SASL_PASSWORD" && !hasEnv(cmd, n) {
					t.Errorf("%s: kbackup %s reads no %s", where, cmd.Name, n)
				}
			}
			if cfg, ok := used["config"]; ok {
				checkConfig(t, where, cfg, files)
			}
			if spec, ok := used["file"]; ok {
				body, ok := files[filepath.Base(spec)]
				if !ok {
					t.Errorf("%s: restore spec %s is in no ConfigMap", where, spec)
				} else if _, err := restore.ParseSpec([]byte(body)); err != nil {
					t.Errorf("%s: restore spec %s: %v", where, spec, err)
				}
			}
			checkProbes(t, where, c)
		}
	}
	if workloads < 3 {
		t.Errorf("%d kbackup workloads in deploy/, want the daemon, the restore job and the mount", workloads)
	}
	if ops, err := os.ReadFile("../../docs/operations.md"); err != nil {
		t.Error(err)
	} else {
		checkMetrics(t, "docs/operations.md", string(ops), names)
	}
}

func hasEnv(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ef.GetEnvVars() {
				if e == name {
					return true
				}
			}
		}
	}
	return false
}

// checkConfig decodes the configuration file the way kbackup does:
// unknown keys are errors.
func checkConfig(t *testing.T, where, path string, files map[string]string) {
	t.Helper()
	body, ok := files[filepath.Base(path)]
	if !ok {
		t.Errorf("%s: configuration %s is in no ConfigMap", where, path)
		return
	}
	var fc fileConfig
	dec := yaml.NewDecoder(strings.NewReader(body))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		t.Errorf("%s: configuration %s: %v", where, path, err)
		return
	}
	for name, d := range map[string]string{"backup.segment_age": fc.Backup.SegmentAge, "backup.lease_ttl": fc.Backup.LeaseTTL,
		"backup.flush_timeout": fc.Backup.FlushTimeout, "backup.discovery_interval": fc.Backup.Discovery,
		"metrics.interval": fc.Metrics.Interval, "kafka.dial_timeout": fc.Kafka.DialTimeout} {
		if _, err := duration(name, d); err != nil {
			t.Errorf("%s: configuration %s: %v", where, path, err)
		}
	}
	if _, err := parseSize("backup.segment_bytes", fc.Backup.SegmentBytes); err != nil {
		t.Errorf("%s: configuration %s: %v", where, path, err)
	}
	if _, err := store.ParseCodec(fc.Backup.Compression); err != nil {
		t.Errorf("%s: configuration %s: %v", where, path, err)
	}
	if fc.Metrics.Addr != nil && *fc.Metrics.Addr != metrics.DefaultAddr {
		t.Errorf("%s: metrics.addr %q: the probes and Service assume %s", where, *fc.Metrics.Addr, metrics.DefaultAddr)
	}
}

// checkProbes: probes ask for /healthz (liveness) and /readyz (readiness)
// on the container's metrics port, 9000.
func checkProbes(t *testing.T, where string, c any) {
	t.Helper()
	ports := map[string]int{}
	for _, p := range list(path(c, "ports")) {
		ports[path(p, "name").(string)] = path(p, "containerPort").(int)
	}
	if len(ports) > 0 && ports["metrics"] != 9000 {
		t.Errorf("%s: metrics port %v, want 9000 (%s)", where, ports["metrics"], metrics.DefaultAddr)
	}
	for probe, want := range map[string]string{"livenessProbe": "/healthz", "readinessProbe": "/readyz"} {
		p := path(c, probe)
		if p == nil {
			continue
		}
		if got := path(p, "httpGet", "path"); got != want {
			t.Errorf("%s: %s asks for %v, want %s", where, probe, got, want)
		}
		if port := path(p, "httpGet", "port"); port != "metrics" && port != 9000 {
			t.Errorf("%s: %s on port %v, want metrics (9000)", where, probe, port)
		}
	}
}

// metricNames returns the name of every metric kbackup exposes.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	ch := make(chan *prometheus.Desc, 100)
	for _, c := range []prometheus.Collector{metrics.NewBackup(metrics.Options{}).Collector(),
		metrics.NewRestore(metrics.Options{}).Collector(), metrics.Storage(nil)} {
		c.Describe(ch)
	}
	close(ch)
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		if m := re.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	if len(names) < 20 {
		t.Fatalf("found %d metric names: %v", len(names), names)
	}
	return names
}

var metricRef = regexp.MustCompile(`\bkbackup_[a-z_]+[a-z]`)

// checkMetrics fails for every kbackup_ metric text names that kbackup
// does not expose.
func checkMetrics(t *testing.T, where, text string, names map[string]bool) {
	t.Helper()
	for _, n := range metricRef.FindAllString(text, -1) {
		if !names[n] && !names[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")] {
			t.Errorf("%s: metric %s does not exist", where, n)
		}
	}
}
