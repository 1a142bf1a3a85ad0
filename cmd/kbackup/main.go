// Command kbackup backs up Kafka topics into object storage, shows backups
// as a filesystem and restores them. This package only translates flags and
// configuration into engine calls; exit codes are decided here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/store"
)

// Exit codes (docs/cli.md).
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitLeaseHeld = 3
	exitDamage    = 4
	exitCancelled = 130
)

// errUsage marks command-line mistakes.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args, os.Stdout, os.Stderr))
}

// Main runs kbackup with args and returns the process exit code. Tests call
// it in-process.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, reorderArgs(app, args))
	if err == nil {
		return exitOK
	}
	err = withHint(err)
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "kbackup: %s\n", msg)
	switch {
	case errors.Is(err, errUsage), errors.Is(err, kafka.ErrConfig):
		return exitUsage
	case errors.Is(err, store.ErrLeaseHeld), errors.Is(err, store.ErrLeaseLost):
		return exitLeaseHeld
	case errors.Is(err, errDamage):
		return exitDamage
	case errors.Is(err, context.Canceled):
		return exitCancelled
	}
	return exitFailure
}

// errDamage marks a verify run that found damage.
var errDamage = errors.New("damage found")

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:      "kbackup",
		Usage:     "back up Kafka topics to object storage, browse backups as files, restore them",
		Writer:    stdout,
		ErrWriter: stderr,
		Commands:  commands(),
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w: %v (see kbackup --help)", errUsage, err)
		},
		ExitErrHandler: func(*cli.Context, error) {},
		HideVersion:    true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cpuprofile", Hidden: true, Usage: "write a CPU profile to `FILE`"},
			&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version, commit and Go version"},
		},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				return readVersion().text(c.App.Writer)
			}
			if c.NArg() > 0 {
				return fmt.Errorf("%w: unknown command %q (see kbackup --help)", errUsage, c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Before: func(c *cli.Context) error {
			if p := c.String("cpuprofile"); p != "" {
				f, err := os.Create(p)
				if err != nil {
					return err
				}
				return pprof.StartCPUProfile(f)
			}
			return nil
		},
		After: func(c *cli.Context) error {
			if c.String("cpuprofile") != "" {
				pprof.StopCPUProfile()
			}
			return nil
		},
	}
	for _, c := range app.Commands {
		name := c.Name
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w: %v (see kbackup %s --help)", errUsage, err, name)
		}
	}
	return app
}

// commands lists every subcommand; each lives in its own cmd_*.go file.
func commands() []*cli.Command {
	return []*cli.Command{
		backupCommand(),
		keyCommand(),
		devClusterCommand(),
		demoCommand(),
		restoreCommand(),
		groupsCommand(),
		snapshotCommand(),
		indexCommand(),
		verifyCommand(),
		describeCommand(),
		mountCommand(),
		catCommand(),
		versionCommand(),
		serveCommand(),
	}
}
