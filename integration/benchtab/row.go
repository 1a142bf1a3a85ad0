package benchtab

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// OutEnv names the environment variable holding the file that figures are
// appended to as JSON lines.
const OutEnv = "KBACKUP_BENCH_OUT"

// ErrBadFigure is returned for a figure that cannot be judged: no samples,
// a non-finite sample, a missing name or unit, or an unknown goal.
var ErrBadFigure = errors.New("bad benchmark figure")

// Side is one contender's counted samples of a figure.
type Side struct {
	Name     string    `json:"name"`
	Settings string    `json:"settings,omitempty"`
	Samples  []float64 `json:"samples"`
}

// Figure is one number in the summary table: kbackup beside a peer, or
// kbackup against the bound of its goal (a limit), or kbackup alone (no peer,
// no goal: reported only).
type Figure struct {
	// ID is short and stable ("backup-zstd-vs-kcat"); it names the
	// benchmark metrics.
	ID string `json:"id"`
	// Name says what is measured, for the table.
	Name string `json:"name"`
	// Unit of the samples: "MB/s", "s", "MiB".
	Unit    string `json:"unit"`
	Kbackup Side   `json:"kbackup"`
	// Peer, when set, does the same job; the ratio is kbackup's median over
	// the peer's and the goal applies to it. Without a peer the goal
	// applies to kbackup's median and its bound is the limit.
	Peer *Side `json:"peer,omitempty"`
	Goal Goal  `json:"goal"`
	// Note is printed with the figure (what the figure includes or omits).
	Note string `json:"note,omitempty"`
}

// Row is a figure as measured: one JSON line of $KBACKUP_BENCH_OUT.
type Row struct {
	Bench string `json:"bench"`
	Figure
	Rounds int       `json:"rounds"`
	Load   Load      `json:"load"`
	Host   Host      `json:"host"`
	Time   time.Time `json:"time"`
}

// Validate checks that the row can be judged.
func (r Row) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadFigure, r.ID, fmt.Sprintf(format, a...))
	}
	if r.ID == "" || r.Name == "" || r.Unit == "" {
		return bad("id, name and unit are required")
	}
	if r.Goal.Op != "" && r.Goal.Op != ">=" && r.Goal.Op != "<=" {
		return bad("goal operator %q is not >= or <=", r.Goal.Op)
	}
	sides := []*Side{&r.Kbackup}
	if r.Peer != nil {
		sides = append(sides, r.Peer)
	}
	for _, s := range sides {
		if len(s.Samples) == 0 {
			return bad("%s has no samples", s.Name)
		}
		for _, x := range s.Samples {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return bad("%s has a non-finite sample", s.Name)
			}
		}
	}
	return nil
}

// View is a row's figures computed and rendered for the table.
type View struct {
	KbackupStats, PeerStats Stats
	// RatioValue is kbackup's median over the peer's, or over the limit
	// when there is no peer; NaN when there is neither or it is 0.
	RatioValue float64
	Verdict    Verdict

	Kbackup, Peer, Ratio, Goal string
}

// View computes the row's statistics, ratio and verdict.
func (r Row) View() View {
	v := View{KbackupStats: Summarize(r.Kbackup.Samples), RatioValue: math.NaN()}
	v.Kbackup = cell(v.KbackupStats, r.Unit)
	switch {
	case r.Peer != nil:
		v.PeerStats = Summarize(r.Peer.Samples)
		v.RatioValue = Ratio(v.KbackupStats.Median, v.PeerStats.Median)
		v.Verdict = r.Goal.Judge(v.RatioValue)
		v.Peer = r.Peer.Name
		if r.Peer.Settings != "" {
			v.Peer += " (" + r.Peer.Settings + ")"
		}
		v.Peer += ": " + cell(v.PeerStats, r.Unit)
		v.Goal = r.Goal.String("")
	case r.Goal.Op != "":
		v.RatioValue = Ratio(v.KbackupStats.Median, r.Goal.Value)
		v.Verdict = r.Goal.Judge(v.KbackupStats.Median)
		v.Peer = "limit " + Num(r.Goal.Value) + " " + r.Unit
		v.Goal = r.Goal.String(r.Unit)
	default:
		v.Verdict = NoGoal
		v.Peer, v.Goal = "—", "—"
	}
	v.Ratio = "—"
	if !isNaN(v.RatioValue) {
		v.Ratio = Num(v.RatioValue) + "×"
	}
	return v
}

// cell renders "231 MB/s (min 220, spread 6%)".
func cell(s Stats, unit string) string {
	if s.N == 0 {
		return "no data"
	}
	out := Num(s.Median) + " " + unit
	if s.N > 1 {
		spread := "—"
		if !isNaN(s.Spread) {
			spread = fmt.Sprintf("%.0f%%", 100*s.Spread)
		}
		out += fmt.Sprintf(" (min %s, spread %s)", Num(s.Min), spread)
	}
	return out
}

// AppendRow appends row to the file at path as one JSON line.
func AppendRow(path string, row Row) error {
	b, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("encode figure %s: %w", row.ID, err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open benchmark rows: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("append figure %s to %s: %w", row.ID, path, err)
	}
	return f.Close()
}

// ReadRows reads the rows of the file at path, in order. A later row with
// the ID of an earlier one replaces it in place, so a benchmark run twice
// shows its latest figures.
func ReadRows(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read benchmark rows: %w", err)
	}
	defer f.Close()
	var rows []Row
	at := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r Row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if i, ok := at[r.ID]; ok {
			rows[i] = r
			continue
		}
		at[r.ID] = len(rows)
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return rows, nil
}

// metricUnit makes a benchmark metric unit (no spaces) from an ID and unit.
func metricUnit(id, unit string) string {
	return strings.Join(strings.Fields(id+"-"+unit), "_")
}

func isNaN(x float64) bool { return math.IsNaN(x) }
