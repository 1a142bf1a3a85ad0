package benchtab

import (
	"math"
	"slices"
	"testing"
)

func same(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) < 1e-9
}

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		in   []float64
		want Stats
	}{
		{"none", nil, Stats{}},
		{"one", []float64{7}, Stats{N: 1, Median: 7, Min: 7, Max: 7}},
		{"odd, unsorted", []float64{120, 100, 110, 90, 130}, Stats{N: 5, Median: 110, Min: 90, Max: 130, Spread: 40.0 / 110}},
		{"even: mean of the middle two", []float64{4, 1, 3, 2}, Stats{N: 4, Median: 2.5, Min: 1, Max: 4, Spread: 3 / 2.5}},
		{"all equal", []float64{5, 5, 5, 5, 5}, Stats{N: 5, Median: 5, Min: 5, Max: 5}},
		{"outlier moves min, not median", []float64{100, 101, 99, 100, 10}, Stats{N: 5, Median: 100, Min: 10, Max: 101, Spread: 0.91}},
		{"zero median, samples differ", []float64{0, 0, 0, 1, -1}, Stats{N: 5, Median: 0, Min: -1, Max: 1, Spread: nan}},
		{"negative values", []float64{-3, -1, -2}, Stats{N: 3, Median: -2, Min: -3, Max: -1, Spread: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := Summarize(tc.in)
			if got.N != tc.want.N || !same(got.Median, tc.want.Median) || !same(got.Min, tc.want.Min) ||
				!same(got.Max, tc.want.Max) || !same(got.Spread, tc.want.Spread) {
				t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("Summarize reordered its input: %v, was %v", tc.in, in)
			}
		})
	}
}

func TestRatio(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		a, b, want float64
	}{
		{150, 100, 1.5},
		{50, 100, 0.5},
		{0, 100, 0},
		{100, 0, nan},
		{nan, 100, nan},
		{100, nan, nan},
	} {
		if got := Ratio(tc.a, tc.b); !same(got, tc.want) {
			t.Errorf("Ratio(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestGoalJudge(t *testing.T) {
	for _, tc := range []struct {
		name string
		goal Goal
		x    float64
		want Verdict
	}{
		{"at least, above", AtLeast(0.7, ""), 0.71, Met},
		{"at least, on the bound", AtLeast(0.7, ""), 0.7, Met},
		{"at least, below", AtLeast(0.7, ""), 0.69, NotMet},
		{"at most, below", AtMost(1, ""), 0.9, Met},
		{"at most, on the bound", AtMost(1, ""), 1, Met},
		{"at most, above", AtMost(1, ""), 8.2, NotMet},
		{"at most zero", AtMost(0, ""), 0, Met},
		{"at most zero, one over", AtMost(0, ""), 1, NotMet},
		{"no goal", Goal{}, 3, NoGoal},
		{"no data", AtLeast(1, ""), math.NaN(), Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.goal.Judge(tc.x); got != tc.want {
				t.Errorf("%+v.Judge(%v) = %q, want %q", tc.goal, tc.x, got, tc.want)
			}
		})
	}
}

func TestRowView(t *testing.T) {
	kb := Side{Name: "kbackup", Samples: []float64{210, 190, 200, 205, 195}}
	peer := &Side{Name: "kcat -C", Settings: "default fetch sizes", Samples: []float64{100, 110, 90, 105, 95}}
	for _, tc := range []struct {
		name    string
		fig     Figure
		ratio   float64
		verdict Verdict
		peer    string
		goal    string
	}{
		{"peer, goal met", Figure{Unit: "MB/s", Kbackup: kb, Peer: peer, Goal: AtLeast(1, "issue 2")},
			2, Met, "kcat -C (default fetch sizes): 100 MB/s (min 90, spread 20%)", "≥ 1× (issue 2)"},
		{"peer, goal not met", Figure{Unit: "MB/s", Kbackup: kb, Peer: peer, Goal: AtLeast(2.5, "")},
			2, NotMet, "kcat -C (default fetch sizes): 100 MB/s (min 90, spread 20%)", "≥ 2.50×"},
		{"peer, no goal", Figure{Unit: "MB/s", Kbackup: kb, Peer: peer},
			2, NoGoal, "kcat -C (default fetch sizes): 100 MB/s (min 90, spread 20%)", "—"},
		{"limit met: the goal applies to the median", Figure{Unit: "s", Kbackup: kb, Goal: AtMost(400, "")},
			0.5, Met, "limit 400 s", "≤ 400 s"},
		{"limit not met", Figure{Unit: "s", Kbackup: kb, Goal: AtMost(100, "issue 13")},
			2, NotMet, "limit 100 s", "≤ 100 s (issue 13)"},
		{"zero limit has no ratio", Figure{Unit: "reads", Kbackup: Side{Name: "mount", Samples: []float64{0, 0, 0, 0, 0}}, Goal: AtMost(0, "")},
			math.NaN(), Met, "limit 0 reads", "≤ 0 reads"},
		{"reported only", Figure{Unit: "MB/s", Kbackup: kb},
			math.NaN(), NoGoal, "—", "—"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fig.ID, tc.fig.Name = "x", "x"
			v := Row{Figure: tc.fig}.View()
			if !same(v.RatioValue, tc.ratio) || v.Verdict != tc.verdict || v.Peer != tc.peer || v.Goal != tc.goal {
				t.Errorf("View() = ratio %v, %q, peer %q, goal %q; want %v, %q, %q, %q",
					v.RatioValue, v.Verdict, v.Peer, v.Goal, tc.ratio, tc.verdict, tc.peer, tc.goal)
			}
			if want := "200 " + tc.fig.Unit + " (min 190, spread 10%)"; tc.fig.Kbackup.Name == "kbackup" && v.Kbackup != want {
				t.Errorf("kbackup cell %q, want %q", v.Kbackup, want)
			}
		})
	}
}

func TestLoadBusy(t *testing.T) {
	for _, tc := range []struct {
		load Load
		want bool
		text string
	}{
		{Load{Before: 0.5, After: 1.9, Cores: 2}, false, "0.50 → 1.90"},
		{Load{Before: 2, After: 2, Cores: 2}, false, "2.00 → 2.00"},
		{Load{Before: 2.5, After: 1, Cores: 2}, true, "2.50 → 1.00 (busy)"},
		{Load{Before: 0.1, After: 3.2, Cores: 2}, true, "0.10 → 3.20 (busy)"},
		{Load{Before: -1, After: -1, Cores: 2}, false, "? → ?"},
		{Load{Before: 5, After: 5}, false, "5.00 → 5.00"}, // unknown cores: cannot judge
	} {
		if got := tc.load.Busy(); got != tc.want {
			t.Errorf("%+v.Busy() = %v, want %v", tc.load, got, tc.want)
		}
		if got := tc.load.String(); got != tc.text {
			t.Errorf("%+v.String() = %q, want %q", tc.load, got, tc.text)
		}
	}
}

func TestNum(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{1234.5, "1234"}, {231.4, "231"}, {23.14, "23.1"}, {2.314, "2.31"}, {0.2314, "0.231"},
		{0.00123, "0.00123"}, {7, "7"}, {0, "0"}, {-1.5, "-1.50"}, {math.NaN(), "—"}, {math.Inf(1), "—"},
	} {
		if got := Num(tc.v); got != tc.want {
			t.Errorf("Num(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
