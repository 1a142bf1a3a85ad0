// Command benchtab prints the summary table of a `make bench` run from the
// figures the benchmarks appended to $KBACKUP_BENCH_OUT, and with -doc
// rewrites the generated section of docs/performance.md.
//
//	go run ./integration/benchtab/cmd/benchtab -in bench.jsonl [-doc docs/performance.md]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kbackup/kbackup/integration/benchtab"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtab:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fl := flag.NewFlagSet("benchtab", flag.ContinueOnError)
	in := fl.String("in", os.Getenv(benchtab.OutEnv), "file of figures (JSON lines) written by the benchmarks")
	doc := fl.String("doc", "", "also rewrite the generated section of this Markdown file")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return errors.New("no figures file: pass -in FILE or set " + benchtab.OutEnv)
	}
	rows, err := benchtab.ReadRows(*in)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("%s holds no figures: did the benchmarks run?", *in)
	}
	benchtab.WriteDetails(stdout, rows)
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Summary")
	fmt.Fprintln(stdout)
	var section bytes.Buffer
	benchtab.WriteDocSection(&section, rows, rows[len(rows)-1].Time.Format(time.DateOnly))
	if _, err := stdout.Write(section.Bytes()); err != nil {
		return err
	}
	if *doc != "" {
		if err := benchtab.UpdateDoc(*doc, section.String()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote the table into %s\n", *doc)
	}
	return nil
}
