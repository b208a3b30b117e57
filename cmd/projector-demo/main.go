// Command projector-demo runs the food-delivery system of projector's
// reference example against real PostgreSQL databases: it creates the four
// service databases and their tables, loads a realistic data set, and then
// generates a live stream of changes for projector to follow.
//
//	projector-demo setup
//	projector-demo load --orders 10000
//	projector-demo generate --rate 200 --duration 10m
//
// The databases are named by connection strings in flags or in the
// environment (ORDERS_DSN, CONSUMERS_DSN, RESTAURANTS_DSN, DELIVERIES_DSN);
// the defaults point at the local test bed.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "projector-demo:", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	var dsns dsnFlags
	root := &cobra.Command{
		Use:   "projector-demo",
		Short: "Run the food-delivery example system that projector's demo follows",
		Long: `projector-demo drives the food-delivery system of projector's reference example:
four service databases (orders, consumers, restaurants, deliveries) that it can
create, fill with realistic data and keep changing while projector follows.

Connection strings come from flags, else from ORDERS_DSN, CONSUMERS_DSN,
RESTAURANTS_DSN and DELIVERIES_DSN, else the local test bed.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	dsns.register(root)
	root.AddCommand(newSetupCommand(&dsns), newLoadCommand(&dsns), newGenerateCommand(&dsns), newOrderCommand(&dsns))
	return root
}

func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
