package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/projector-dev/projector/internal/fooddelivery"
)

func newLoadCommand(dsns *dsnFlags) *cobra.Command {
	var (
		orders int
		seed   uint64
		size   fooddelivery.Size
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Add a realistic data set to the service databases",
		Long: `load adds consumers, restaurants with menus, orders with line items and
deliveries, in proportion to --orders unless a size is given explicitly. Rows
already there are kept. The same --seed draws the same data. Run setup first.`,
		Example: "  projector-demo load --orders 10000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			full, flags := fooddelivery.SizeForOrders(orders), cmd.Flags()
			unlessSet(flags, "consumers", &size.Consumers, full.Consumers)
			unlessSet(flags, "restaurants", &size.Restaurants, full.Restaurants)
			unlessSet(flags, "menu-items", &size.MenuItemsPerRestaurant, full.MenuItemsPerRestaurant)
			unlessSet(flags, "max-items", &size.MaxItemsPerOrder, full.MaxItemsPerOrder)
			size.Orders = orders
			dbs, err := fooddelivery.Connect(cmd.Context(), dsns.dsns)
			if err != nil {
				return err
			}
			defer dbs.Close()
			start := time.Now()
			if err := fooddelivery.Load(cmd.Context(), dbs, size, seed); err != nil {
				return fmt.Errorf("load: %w", err)
			}
			newLogger().Info("loaded", "orders", size.Orders, "consumers", size.Consumers,
				"restaurants", size.Restaurants, "took", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&orders, "orders", 10000, "orders to add")
	f.IntVar(&size.Consumers, "consumers", 0, "consumers to add (default: one per five orders)")
	f.IntVar(&size.Restaurants, "restaurants", 0, "restaurants to add (default: one per fifty orders)")
	f.IntVar(&size.MenuItemsPerRestaurant, "menu-items", 0, "menu items per restaurant (default 12)")
	f.IntVar(&size.MaxItemsPerOrder, "max-items", 0, "most line items per order (default 4)")
	f.Uint64Var(&seed, "seed", 1, "seed of the random data")
	return cmd
}

// unlessSet gives a size flag its default in proportion to --orders unless
// the user set it.
func unlessSet(flags *pflag.FlagSet, name string, v *int, def int) {
	if !flags.Changed(name) {
		*v = def
	}
}
