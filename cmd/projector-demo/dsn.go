package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

// dsnFlags are the connection strings of the four service databases.
type dsnFlags struct {
	dsns fooddelivery.DSNs
}

// dsnFlag ties a flag to the environment variable that stands in for it.
type dsnFlag struct {
	name, env, def string
	target         *string
}

func (f *dsnFlags) all() []dsnFlag {
	// The test bed puts two databases on the second server, as the example
	// configuration does, so the demo always spans two servers.
	return []dsnFlag{
		{"orders-dsn", "ORDERS_DSN", "postgres://postgres@127.0.0.1:5433/orders", &f.dsns.Orders},
		{"consumers-dsn", "CONSUMERS_DSN", "postgres://postgres@127.0.0.1:5433/consumers", &f.dsns.Consumers},
		{"restaurants-dsn", "RESTAURANTS_DSN", "postgres://postgres@127.0.0.1:5434/restaurants", &f.dsns.Restaurants},
		{"deliveries-dsn", "DELIVERIES_DSN", "postgres://postgres@127.0.0.1:5434/deliveries", &f.dsns.Deliveries},
	}
}

// register adds the flags with the test bed as their defaults. The
// environment is read only when a command runs, so --help never prints a
// password that a variable holds.
func (f *dsnFlags) register(cmd *cobra.Command) {
	for _, d := range f.all() {
		cmd.PersistentFlags().StringVar(d.target, d.name, d.def,
			"connection string of the "+d.name[:len(d.name)-len("-dsn")]+" database (env "+d.env+")")
	}
	cmd.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		for _, d := range f.all() {
			if v := os.Getenv(d.env); v != "" && !cmd.Flags().Changed(d.name) {
				*d.target = v
			}
		}
	}
}
