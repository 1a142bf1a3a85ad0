package benchtab

import (
	"fmt"
	"math"
	"slices"
)

// Stats summarises the samples of one contender in one unit.
type Stats struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Spread is (Max-Min)/Median: 0.1 means the runs span 10% of the median.
	// It is 0 for fewer than two samples and NaN when the median is 0 but
	// the samples differ.
	Spread float64 `json:"spread"`
}

// Summarize returns the statistics of xs without modifying it. The median of
// an even count is the mean of the two middle samples. No samples give the
// zero Stats.
func Summarize(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	st := Stats{N: n, Min: s[0], Max: s[n-1], Median: s[n/2]}
	if n%2 == 0 {
		st.Median = (s[n/2-1] + s[n/2]) / 2
	}
	switch {
	case st.Max == st.Min:
		st.Spread = 0
	case st.Median == 0:
		st.Spread = math.NaN()
	default:
		st.Spread = (st.Max - st.Min) / math.Abs(st.Median)
	}
	return st
}

// Ratio returns a/b, or NaN when either is missing (NaN) or b is 0: a ratio
// to nothing is not a figure.
func Ratio(a, b float64) float64 {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return a / b
}

// Goal is what a figure is held to: its ratio of medians when it has a peer,
// or its median when it has a limit. The zero Goal reports without judging.
type Goal struct {
	// Op is ">=" or "<="; empty means no goal.
	Op string `json:"op,omitempty"`
	// Value is the bound: a ratio (peer) or a value in the figure's unit
	// (limit).
	Value float64 `json:"value,omitempty"`
	// Source says where the goal comes from ("issue 2").
	Source string `json:"source,omitempty"`
}

// AtLeast is the goal x >= v.
func AtLeast(v float64, source string) Goal { return Goal{Op: ">=", Value: v, Source: source} }

// AtMost is the goal x <= v.
func AtMost(v float64, source string) Goal { return Goal{Op: "<=", Value: v, Source: source} }

// Verdict is the outcome of holding a figure to its goal.
type Verdict string

// Verdicts.
const (
	Met     Verdict = "met"
	NotMet  Verdict = "not met"
	NoGoal  Verdict = "—" // reported only
	Unknown Verdict = "no data"
)

// Judge holds x to the goal. A missing x (NaN) is Unknown.
func (g Goal) Judge(x float64) Verdict {
	switch {
	case g.Op == "":
		return NoGoal
	case math.IsNaN(x):
		return Unknown
	case g.Op == ">=" && x >= g.Value, g.Op == "<=" && x <= g.Value:
		return Met
	default:
		return NotMet
	}
}

// String renders the goal as "≥ 0.7×" (ratio) or "≤ 1 s" (unit).
func (g Goal) String(unit string) string {
	if g.Op == "" {
		return "—"
	}
	sym := map[string]string{">=": "≥", "<=": "≤"}[g.Op]
	s := fmt.Sprintf("%s %s", sym, Num(g.Value))
	if unit == "" {
		s += "×"
	} else {
		s += " " + unit
	}
	if g.Source != "" {
		s += " (" + g.Source + ")"
	}
	return s
}

// Num formats v with about three significant digits: 1234, 123, 12.3, 1.23,
// 0.123; whole numbers below 1000 print without decimals.
func Num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v == math.Trunc(v) && a < 1e15:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
