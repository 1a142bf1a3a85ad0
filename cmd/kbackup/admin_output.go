package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
	"gopkg.in/yaml.v3"

	"github.com/kbackup/kbackup/store"
)

// outputFlag selects the output format of the admin commands.
func outputFlag(formats string) cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "table", Usage: "output format: " + formats}
}

// render writes v as JSON or YAML, or calls table for the human format.
func render(c *cli.Context, v any, table func(w io.Writer) error) error {
	w := c.App.Writer
	switch f := c.String("output"); f {
	case "table", "text", "":
		return table(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	default:
		return fmt.Errorf("%w: output format %q: use table, yaml or json", errUsage, f)
	}
}

// openStorage opens --storage (or the config file's storage).
func openStorage(c *cli.Context) (*store.Store, *fileConfig, error) {
	fc, err := loadConfig(c)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(c, fc, storageURL(c, fc))
	if err != nil {
		return nil, nil, err
	}
	return st, fc, nil
}

// adminFlags are the flags every storage-only admin command takes.
func adminFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{storageFlag(), encryptionKeyFlag(),
		&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML configuration `FILE` (docs/configuration.md)"},
	}, extra...)
}

// utc formats t as "2006-01-02 15:04:05 UTC".
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// isTerminal reports whether w is a terminal (progress displays).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// topicArgs returns the command's topic arguments, validated.
func topicArgs(c *cli.Context) ([]string, error) {
	ts := c.Args().Slice()
	for _, t := range ts {
		if err := store.ValidTopic(t); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	return ts, nil
}
