package fooddelivery

import (
	"strings"
	"testing"
)

func TestNextStatus(t *testing.T) {
	cases := []struct {
		from string
		u    float64
		want string
		ok   bool
	}{
		{StatusPlaced, 0.5, StatusAccepted, true},
		{StatusPlaced, 0.1, StatusCancelled, true},
		{StatusAccepted, 0.5, StatusPreparing, true},
		{StatusAccepted, 0.1, StatusCancelled, true},
		{StatusPreparing, 0.1, StatusDelivering, true},
		{StatusDelivering, 0.1, StatusDelivered, true},
		{StatusDelivered, 0.1, "", false},
		{StatusCancelled, 0.9, "", false},
	}
	for _, c := range cases {
		got, ok := nextStatus(c.from, c.u)
		if got != c.want || ok != c.ok {
			t.Errorf("nextStatus(%q, %v) = %q, %v; want %q, %v", c.from, c.u, got, ok, c.want, c.ok)
		}
	}
}

func TestNextDeliveryStatus(t *testing.T) {
	cases := []struct {
		from, want string
		ok         bool
	}{
		{DeliveryAssigned, DeliveryPickedUp, true},
		{DeliveryPickedUp, DeliveryDelivered, true},
		{DeliveryDelivered, "", false},
		{"", "", false},
	}
	for _, c := range cases {
		if got, ok := nextDeliveryStatus(c.from); got != c.want || ok != c.ok {
			t.Errorf("nextDeliveryStatus(%q) = %q, %v; want %q, %v", c.from, got, ok, c.want, c.ok)
		}
	}
}

func TestSizeValidate(t *testing.T) {
	valid := Size{Consumers: 1, Restaurants: 1, MenuItemsPerRestaurant: 1, Orders: 1, MaxItemsPerOrder: 1}
	cases := []struct {
		name   string
		change func(*Size)
		want   string // "" for valid
	}{
		{"valid", func(*Size) {}, ""},
		{"no orders needs nothing else", func(s *Size) { *s = Size{Consumers: 3} }, ""},
		{"negative", func(s *Size) { s.Consumers = -1 }, "negative"},
		{"orders without consumers", func(s *Size) { s.Consumers = 0 }, "orders need"},
		{"orders without menu", func(s *Size) { s.MenuItemsPerRestaurant = 0 }, "orders need"},
		{"orders without line items", func(s *Size) { s.MaxItemsPerOrder = 0 }, "MaxItemsPerOrder"},
	}
	for _, c := range cases {
		s := valid
		c.change(&s)
		err := s.validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// TestMixCoversEveryOp keeps the list of kinds and the weighted mix in step,
// and every kind likely within a few hundred draws.
func TestMixCoversEveryOp(t *testing.T) {
	total, seen := 0, map[Op]bool{}
	for _, m := range mix() {
		total += m.weight
		seen[m.op] = true
	}
	for _, op := range Ops() {
		if !seen[op] {
			t.Errorf("%s is never drawn", op)
		}
	}
	for _, m := range mix() {
		if share := float64(m.weight) / float64(total); share < 0.025 {
			t.Errorf("%s is drawn %.1f%% of the time; too rare to show up in a short run", m.op, 100*share)
		}
	}
	if len(seen) != len(Ops()) {
		t.Errorf("the mix has %d kinds, Ops lists %d", len(seen), len(Ops()))
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, b := newGenerator(9, 1), newGenerator(9, 1)
	for range 20 {
		ra, rb := a.restaurant(14), b.restaurant(14)
		if ra.name != rb.name || ra.menu[13] != rb.menu[13] {
			t.Fatalf("same seed, different restaurants: %+v / %+v", ra, rb)
		}
	}
	if r := newGenerator(9, 1).restaurant(14); !strings.Contains(r.menu[len(r.menu)-1].name, "(") {
		t.Errorf("menu longer than a cuisine's dishes has no variants: %+v", r.menu)
	}
}

func TestLongNoteIsLong(t *testing.T) {
	g := newGenerator(1, 1)
	if n := len(longNote(g.r, 6000)); n < 6000 {
		t.Errorf("long note is %d bytes, want at least 6000", n)
	}
}
