package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// commit is set by `make build` (-ldflags -X main.commit=…) for binaries
// built without VCS stamping; "-modified" marks a dirty tree.
var commit string

// buildVersion is what `kbackup version` and `--version` print.
type buildVersion struct {
	Version  string `json:"version" yaml:"version"`
	Commit   string `json:"commit" yaml:"commit"`
	Modified bool   `json:"modified" yaml:"modified"`
	Time     string `json:"time,omitempty" yaml:"time,omitempty"`
	Go       string `json:"go" yaml:"go"`
}

// readVersion reads the module version, the VCS commit and the Go version
// the binary was built with.
func readVersion() buildVersion {
	v := buildVersion{Version: "unknown", Commit: "unknown", Go: "unknown"}
	if commit != "" {
		v.Commit, v.Modified = strings.CutSuffix(commit, "-modified")
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v.Go = bi.GoVersion
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Commit = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "vcs.time":
			v.Time = s.Value
		}
	}
	return v
}

func (v buildVersion) text(w io.Writer) error {
	commit := v.Commit
	if v.Modified {
		commit += " (modified)"
	}
	if v.Time != "" {
		commit += " " + v.Time
	}
	_, err := fmt.Fprintf(w, "kbackup %s\ncommit: %s\ngo: %s\n", v.Version, commit, v.Go)
	return err
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print kbackup's version, commit and Go version",
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return fmt.Errorf("%w: version takes no arguments", errUsage)
			}
			v := readVersion()
			return render(c, v, v.text)
		},
	}
}
