package benchtab

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// MinRounds is the fewest counted rounds of a comparison.
const MinRounds = 5

// Options tunes Run.
type Options struct {
	// Rounds is the number of counted rounds after the warm-up; it is
	// raised to MinRounds, or to $KBACKUP_BENCH_ROUNDS when that is larger.
	Rounds int
	// Settle bounds the wait for the load average to fall to the number of
	// cores before the warm-up: 0 means 30 s, negative means no wait.
	Settle time.Duration
}

// Contender is one side of a comparison: kbackup, or a peer doing the same
// job.
type Contender struct {
	// Name is shown in the table: "kcat -C", "kbackup backup --once".
	Name string
	// Settings says how the contender runs, as a user would run it
	// ("default fetch sizes; values only, to a file"); it is printed beside
	// the figure.
	Settings string
	// Run does the job once and records its values in m. It may prepare and
	// clean up around the timed part; every run must start from the same
	// state and record the same metrics.
	Run func(m *Measure) error
}

// Measure collects the values of one run of a contender.
type Measure struct {
	values map[string]float64
}

// Set records v as the run's value of metric.
func (m *Measure) Set(metric string, v float64) { m.values[metric] = v }

// Seconds runs f and records its wall time in seconds as metric.
func (m *Measure) Seconds(metric string, f func() error) error {
	start := time.Now()
	if err := f(); err != nil {
		return err
	}
	m.Set(metric, time.Since(start).Seconds())
	return nil
}

// MBps runs f, which handles bytes bytes, and records its throughput in
// MB/s (10⁶ bytes per second) as metric.
func (m *Measure) MBps(metric string, bytes int64, f func() error) error {
	start := time.Now()
	if err := f(); err != nil {
		return err
	}
	m.Set(metric, float64(bytes)/1e6/time.Since(start).Seconds())
	return nil
}

// Result holds the counted samples of a comparison.
type Result struct {
	b       *testing.B
	load    Load
	rounds  int
	names   []string
	setting map[string]string
	samples map[string]map[string][]float64 // contender → metric → samples
}

// Run compares the contenders: it waits for the load to settle, runs each
// contender once uncounted, then runs them in turn, A B A B…, for the
// counted rounds, with a garbage collection before each run so that no run
// pays for another's garbage. A failing run fails the benchmark. Run
// ignores b.N: use -benchtime 1x.
func Run(b *testing.B, o Options, cs ...Contender) *Result {
	b.Helper()
	rounds := max(o.Rounds, MinRounds)
	if n, err := strconv.Atoi(os.Getenv("KBACKUP_BENCH_ROUNDS")); err == nil && n > rounds {
		rounds = n
	}
	wait := o.Settle
	if wait == 0 {
		wait = 30 * time.Second
	}
	r := &Result{b: b, rounds: rounds, setting: map[string]string{}, samples: map[string]map[string][]float64{}}
	r.load.Cores = runtime.NumCPU()
	for _, c := range cs {
		if _, dup := r.setting[c.Name]; dup {
			b.Fatalf("benchtab: contender %q named twice", c.Name)
		}
		r.names = append(r.names, c.Name)
		r.setting[c.Name] = c.Settings
		r.samples[c.Name] = map[string][]float64{}
	}
	b.StopTimer()
	r.load.Before = LoadAvg()
	if wait > 0 {
		r.load.Before = settle(r.load.Cores, wait)
	}
	for _, c := range cs {
		r.once(c, -1)
	}
	b.StartTimer()
	for i := range rounds {
		for _, c := range cs {
			r.once(c, i)
		}
	}
	b.StopTimer()
	r.load.After = LoadAvg()
	b.Logf("load average %s over %d cores; %d counted rounds after a warm-up", r.load, r.load.Cores, rounds)
	return r
}

// once runs c; round -1 is the warm-up, whose values are dropped.
func (r *Result) once(c Contender, round int) {
	r.b.Helper()
	runtime.GC()
	m := &Measure{values: map[string]float64{}}
	if err := c.Run(m); err != nil {
		what := "warm-up"
		if round >= 0 {
			what = fmt.Sprintf("round %d", round+1)
		}
		r.b.Fatalf("%s (%s): %v", c.Name, what, err)
	}
	if round < 0 {
		return
	}
	for k, v := range m.values {
		r.samples[c.Name][k] = append(r.samples[c.Name][k], v)
	}
}

// Load returns the load average before and after the comparison.
func (r *Result) Load() Load { return r.load }

// Side returns a contender's samples of metric; it fails the benchmark when
// the contender or the metric is unknown or a round did not record it.
func (r *Result) Side(contender, metric string) Side {
	r.b.Helper()
	ms, ok := r.samples[contender]
	if !ok {
		r.b.Fatalf("benchtab: no contender %q", contender)
	}
	xs := ms[metric]
	if len(xs) != r.rounds {
		r.b.Fatalf("benchtab: %s recorded %q in %d of %d rounds", contender, metric, len(xs), r.rounds)
	}
	return Side{Name: contender, Settings: r.setting[contender], Samples: xs}
}

// Figure records f, measured in this comparison: it logs the figure,
// reports its medians and ratio as benchmark metrics, and appends its row
// to $KBACKUP_BENCH_OUT when that is set.
func (r *Result) Figure(f Figure) {
	r.b.Helper()
	row := Row{Bench: r.b.Name(), Figure: f, Rounds: r.rounds, Load: r.load, Host: ThisHost(), Time: time.Now().UTC()}
	if err := row.Validate(); err != nil {
		r.b.Fatal(err)
	}
	v := row.View()
	r.b.Logf("%s: kbackup %s | %s | ratio %s | goal %s: %s",
		f.Name, v.Kbackup, v.Peer, v.Ratio, v.Goal, v.Verdict)
	r.b.ReportMetric(v.KbackupStats.Median, metricUnit(f.ID, f.Unit))
	if row.Peer != nil {
		r.b.ReportMetric(v.PeerStats.Median, metricUnit(f.ID+"-peer", f.Unit))
	}
	if !isNaN(v.RatioValue) {
		r.b.ReportMetric(v.RatioValue, f.ID+"-ratio")
	}
	if p := os.Getenv(OutEnv); p != "" {
		if err := AppendRow(p, row); err != nil {
			r.b.Fatal(err)
		}
	}
}
