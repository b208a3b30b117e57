package fooddelivery

import (
	"maps"
	"slices"
	"sync"
)

// Op names a kind of change the [Workload] makes.
type Op string

// The kinds of change. Those marked "one transaction" change several rows or
// tables of one database atomically.
const (
	OpOrderPlace       Op = "order_place"      // an order with its line items, one transaction
	OpOrderAdvance     Op = "order_advance"    // next status, or cancelled
	OpOrderNote        Op = "order_note"       // a column no view shows, sometimes a long value
	OpOrderDelete      Op = "order_delete"     // an order and its line items, one transaction
	OpLineItemAdd      Op = "line_item_add"    // and the order's total, one transaction
	OpLineItemUpdate   Op = "line_item_update" // quantity and the order's total, one transaction
	OpLineItemMove     Op = "line_item_move"   // to another order, both totals, one transaction
	OpLineItemDelete   Op = "line_item_delete" // and the order's total, one transaction
	OpConsumerInsert   Op = "consumer_insert"
	OpConsumerRename   Op = "consumer_rename"   // name and email, embedded in every order of theirs
	OpConsumerDelete   Op = "consumer_delete"   // their orders keep pointing at it
	OpRestaurantInsert Op = "restaurant_insert" // with its menu, one transaction
	OpRestaurantRename Op = "restaurant_rename" // embedded in every order placed there
	OpRestaurantDelete Op = "restaurant_delete" // with its menu, one transaction; orders keep pointing at both
	OpMenuItemInsert   Op = "menu_item_insert"
	OpMenuItemRename   Op = "menu_item_rename" // name and price, embedded in line items
	OpMenuItemDelete   Op = "menu_item_delete" // line items keep pointing at it
	OpDeliveryCreate   Op = "delivery_create"  // for an order that has none
	OpDeliveryAdvance  Op = "delivery_advance" // next status, delivered_at when delivered
	OpDeliveryDelete   Op = "delivery_delete"
	// OpSkipped counts drawn changes that found no row to act on, for
	// example a rename when every restaurant has been deleted.
	OpSkipped Op = "skipped"
)

// Ops lists every kind of change, without [OpSkipped].
func Ops() []Op {
	return []Op{
		OpOrderPlace, OpOrderAdvance, OpOrderNote, OpOrderDelete,
		OpLineItemAdd, OpLineItemUpdate, OpLineItemMove, OpLineItemDelete,
		OpConsumerInsert, OpConsumerRename, OpConsumerDelete,
		OpRestaurantInsert, OpRestaurantRename, OpRestaurantDelete,
		OpMenuItemInsert, OpMenuItemRename, OpMenuItemDelete,
		OpDeliveryCreate, OpDeliveryAdvance, OpDeliveryDelete,
	}
}

// Counts says how many changes of each kind were made.
type Counts map[Op]int

// Total is the number of changes drawn, including skipped ones.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Tally accumulates [Counts] from concurrent workers and can be read while
// they run, for progress reports. The zero value is ready to use.
type Tally struct {
	mu     sync.Mutex
	counts Counts
}

func (t *Tally) add(op Op) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = Counts{}
	}
	t.counts[op]++
}

// Snapshot returns a copy of the counts so far.
func (t *Tally) Snapshot() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := maps.Clone(t.counts)
	if c == nil {
		c = Counts{}
	}
	return c
}

// Missing returns the kinds of change that have not happened yet, sorted.
func (c Counts) Missing() []Op {
	var missing []Op
	for _, op := range Ops() {
		if c[op] == 0 {
			missing = append(missing, op)
		}
	}
	slices.Sort(missing)
	return missing
}
