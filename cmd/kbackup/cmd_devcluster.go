package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/kbackup/kbackup/kafka/devcluster"
)

func devClusterCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev-cluster",
		Usage: "run an embedded Kafka-protocol cluster (kfake) on 127.0.0.1 until interrupted",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "port", Value: 9092, Usage: "port to listen on (0: any)"},
			&cli.StringFlag{Name: "data-dir", Usage: "persist the cluster's data in `DIR`"},
			&cli.BoolFlag{Name: "seed", Usage: "create and fill the sample topics (orders, events, payments)"},
		},
		Action: func(c *cli.Context) error {
			cl, err := devcluster.Start(devcluster.Options{Port: c.Int("port"), DataDir: c.String("data-dir")})
			if err != nil {
				return err
			}
			defer cl.Close()
			if c.Bool("seed") {
				if err := devcluster.Seed(c.Context, cl.Addr()); err != nil {
					return fmt.Errorf("seed sample topics: %w", err)
				}
			}
			fmt.Fprintf(c.App.Writer, "kafka cluster listening on %s (Ctrl-C to stop)\n", cl.Addr())
			<-c.Context.Done()
			return nil
		},
	}
}
