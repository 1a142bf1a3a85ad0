// Package benchtab runs kbackup's benchmarks fairly and gathers their figures
// into one summary table (`make bench`, docs/performance.md).
//
// # Fairness
//
// A comparison has contenders: kbackup and its peers (kcat, a raw franz-go
// client, decoding without FUSE) or a single contender measured against a
// fixed limit. [Run] first lets the load average settle, then gives every
// contender one uncounted warm-up run (it pays for cold caches and
// connection set-up) and then alternates them, A B A B…, for at least
// [MinRounds] rounds, so that drift in the machine's state hits every
// contender alike. Each contender does its own untimed preparation and clean-up
// inside its run and times only the work (see [Measure]); every run starts from
// the same state.
//
// # Figures
//
// A [Figure] names one number the project cares about: kbackup's samples
// beside a peer's samples or a limit, and the goal the ratio (or, against a
// limit, the value) is held to. Its row carries the median, minimum and
// spread of each side, the ratio of the medians, the load average before and
// after the comparison and the machine, so a figure from a busy machine says
// so.
//
// # Rows and the table
//
// When $KBACKUP_BENCH_OUT names a file, every figure is appended to it as one
// JSON line; benchmarks in several packages thus write one file, and
// cmd/benchtab prints the summary table from it (and rewrites the table in
// docs/performance.md with -doc). Without the variable, figures are only
// logged and reported as benchmark metrics.
package benchtab
