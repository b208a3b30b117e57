package fooddelivery

import (
	"math/rand/v2"
	"time"
)

// generator draws rows from one seeded random source. It is not safe for
// concurrent use: every worker has its own.
type generator struct {
	r        *rand.Rand
	cuisines []cuisine
	now      time.Time
}

// newGenerator derives an independent stream per worker from one seed, so
// that a run with the same seed and worker count draws the same choices.
func newGenerator(seed, stream uint64) *generator {
	return &generator{r: rand.New(rand.NewPCG(seed, stream)), cuisines: cuisines(), now: time.Now()}
}

type consumerRow struct {
	name, email string
	createdAt   time.Time
}

func (g *generator) consumer(n int64) consumerRow {
	name, email := person(g.r, n)
	return consumerRow{name, email, g.past(365 * 24 * time.Hour)}
}

// past returns a moment up to d before the generator was made.
func (g *generator) past(d time.Duration) time.Time {
	return g.now.Add(-time.Duration(g.r.Int64N(int64(d)))).Truncate(time.Microsecond)
}

type restaurantRow struct {
	name, cuisine, city string
	menu                []menuItemRow
}

type menuItemRow struct {
	name, description string
	cents             int64
}

func (g *generator) restaurant(menuItems int) restaurantRow {
	c := g.cuisines[g.r.IntN(len(g.cuisines))]
	row := restaurantRow{name: restaurantName(g.r, c), cuisine: c.name, city: city(g.r)}
	for i := range menuItems {
		row.menu = append(row.menu, g.menuItem(c, i))
	}
	return row
}

// menuItem returns the i-th dish of a menu; menus longer than the cuisine's
// list of dishes get sized variants.
func (g *generator) menuItem(c cuisine, i int) menuItemRow {
	d := c.dishes[i%len(c.dishes)]
	variant := i / len(c.dishes)
	name, cents := d.name, d.cents+int64(g.r.IntN(5))*10-20
	if variant > 0 {
		sizes := []string{"Large", "Family Size", "Extra Spicy", "Vegan", "Mini"}
		name += " (" + sizes[(variant-1)%len(sizes)] + ")"
		cents += int64(variant) * 150
	}
	return menuItemRow{name, d.description, cents}
}

// anyMenuItem returns a dish of a random cuisine, for menus that grow later.
func (g *generator) anyMenuItem() menuItemRow {
	c := g.cuisines[g.r.IntN(len(g.cuisines))]
	return g.menuItem(c, g.r.IntN(len(c.dishes)*3))
}

// cuisineNamed returns the cuisine called name, or a random one for a name
// it does not know.
func (g *generator) cuisineNamed(name string) cuisine {
	for _, c := range g.cuisines {
		if c.name == name {
			return c
		}
	}
	return g.cuisines[g.r.IntN(len(g.cuisines))]
}

// orderStatus draws the status of a historical order: most are delivered.
func (g *generator) orderStatus() string {
	switch n := g.r.IntN(100); {
	case n < 5:
		return StatusPlaced
	case n < 9:
		return StatusAccepted
	case n < 13:
		return StatusPreparing
	case n < 18:
		return StatusDelivering
	case n < 93:
		return StatusDelivered
	}
	return StatusCancelled
}

// deliveryFor returns the delivery an order in status has, if any.
func deliveryFor(status string) (string, bool) {
	switch status {
	case StatusAccepted, StatusPreparing:
		return DeliveryAssigned, true
	case StatusDelivering:
		return DeliveryPickedUp, true
	case StatusDelivered:
		return DeliveryDelivered, true
	}
	return "", false
}
