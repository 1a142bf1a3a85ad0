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

// Output formats of -o, the same set for every command: text (for people;
// "table" is accepted for it), json and yaml (for scripts).
const (
	formatText = "text"
	formatJSON = "json"
	formatYAML = "yaml"
)

// outputFlag is every command's -o.
func outputFlag() cli.Flag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: formatText, Usage: "output `FORMAT`: text, json or yaml (table is text)"}
}

// outputFormat returns the -o format, checked: text, json or yaml.
func outputFormat(c *cli.Context) (string, error) {
	switch f := c.String("output"); f {
	case "text", "table", "":
		return formatText, nil
	case formatJSON, formatYAML:
		return f, nil
	default:
		return "", fmt.Errorf("%w: output format %q: use text, json or yaml", errUsage, f)
	}
}

// render writes v as JSON or YAML, or calls table for the text format.
func render(c *cli.Context, v any, table func(w io.Writer) error) error {
	f, err := outputFormat(c)
	if err != nil {
		return err
	}
	w := c.App.Writer
	switch f {
	case formatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case formatYAML:
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	return table(w)
}

// encodeData writes v, whose shape is given by its JSON tags, as indented
// JSON or as YAML with the same keys in the same order.
func encodeData(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if format == formatJSON {
		_, err = w.Write(append(b, '\n'))
		return err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	blockStyle(&n)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return err
	}
	return enc.Close()
}

// blockStyle drops the flow and quoting styles JSON input left on n.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// openStorage opens --storage (or the config file's storage), which must
// already hold a backup: admin commands never create storage.
func openStorage(c *cli.Context) (*store.Store, *fileConfig, error) {
	fc, err := loadConfig(c)
	if err != nil {
		return nil, nil, err
	}
	st, err := openExistingStore(c, fc, storageURL(c, fc))
	if err != nil {
		return nil, nil, err
	}
	if err := st.CheckBackup(c.Context); err != nil {
		st.Close()
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
