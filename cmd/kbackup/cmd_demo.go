package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine"
	"github.com/kbackup/kbackup/kafka"
	"github.com/kbackup/kbackup/kafka/devcluster"
	"github.com/kbackup/kbackup/store"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "start an embedded cluster with sample topics and back it up once into a directory",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "demo-backup", Usage: "backup `DIR`"},
		},
		Action: func(c *cli.Context) error {
			cl, err := devcluster.Start(devcluster.Options{})
			if err != nil {
				return err
			}
			defer cl.Close()
			fmt.Fprintf(c.App.Writer, "embedded Kafka cluster on %s; seeding sample topics…\n", cl.Addr())
			if err := devcluster.Seed(c.Context, cl.Addr()); err != nil {
				return fmt.Errorf("seed sample topics: %w", err)
			}
			dir, _ := filepath.Abs(c.String("dir"))
			st, err := store.Open(c.Context, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			sum, err := engine.Backup(c.Context, st, &kafka.Config{Brokers: []string{cl.Addr()}}, engine.BackupOptions{Once: true})
			if err != nil {
				return err
			}
			printSummary(c.App.Writer, "text", sum)
			fmt.Fprintf(c.App.Writer, `
Backup written to %[1]s. Try next:
  ls -R %[1]s | head                     # the storage layout (docs/storage-format.md)
  kbackup dev-cluster --seed &            # a cluster on 127.0.0.1:9092 to play with
  kbackup backup --brokers 127.0.0.1:9092 --storage %[1]s   # the daemon, incremental
`, dir)
			return nil
		},
	}
}
