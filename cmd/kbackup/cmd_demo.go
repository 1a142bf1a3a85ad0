package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/engine/backup"
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
			self := os.Args[0]
			st, err := store.Open(c.Context, dir)
			if err != nil {
				return err
			}
			defer st.Close()
			sum, err := backup.Run(c.Context, st, &kafka.Config{Brokers: []string{cl.Addr()}}, backup.Options{Once: true})
			if err != nil {
				return err
			}
			printSummary(c.App.Writer, formatText, sum)
			fmt.Fprintf(c.App.Writer, `
Backup written to %[1]s. Try next:
  %[2]s snapshot list --all --storage %[1]s
  %[2]s index show --storage %[1]s orders
  %[2]s verify --storage %[1]s
  %[2]s describe --storage %[1]s

  # A cluster to play with (new topic IDs: the next backup archives v1 and writes v2):
  %[2]s dev-cluster --seed &
  %[2]s backup --brokers 127.0.0.1:9092 --storage %[1]s &

  # The backup as files, and restore by copy (root, or fuse3's fusermount3):
  mkdir -p /tmp/kbackup-mnt
  %[2]s mount --storage %[1]s --brokers 127.0.0.1:9092 /tmp/kbackup-mnt &
  ls /tmp/kbackup-mnt/topics/orders/snapshots/v1/0
  head -n 3 /tmp/kbackup-mnt/topics/orders/snapshots/v1/0/records.jsonl | jq .
  cp -r /tmp/kbackup-mnt/topics/orders/snapshots/v1 /tmp/kbackup-mnt/restore/orders-copy
  cat /tmp/kbackup-mnt/restore/orders-copy/status
`, dir, self)
			return nil
		},
	}
}
