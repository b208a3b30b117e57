package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform/fold"
	"github.com/projector-dev/projector/transform/state"
)

// Entity is an entity folded from one source's published domain events:
// views read it as the table {Source, config.EntitySchema, Name}.
type Entity struct {
	Source string
	Name   string
	Stream config.EventStream
}

// EntitiesOf lists the entities the configuration declares, by source in
// file order and by name.
func EntitiesOf(cfg *config.Config) []Entity {
	var out []Entity
	for _, source := range cfg.SourceNames {
		s := cfg.Sources[source]
		names := make([]string, 0, len(s.Events))
		for name := range s.Events {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			out = append(out, Entity{Source: source, Name: name, Stream: s.Events[name]})
		}
	}
	return out
}

// Types lists the event types the entity's reducer knows, sorted: the
// values its projector_events_total series take besides "other".
func (en Entity) Types() []string {
	types := make([]string, 0, len(en.Stream.On))
	for t := range en.Stream.On {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// AddEntities describes each entity in schema like a table, so views
// compile against it.
func AddEntities(schema Schema, entities []Entity) {
	for _, en := range entities {
		if schema[en.Source] == nil {
			schema[en.Source] = map[capture.Table]*capture.TableInfo{}
		}
		info := fold.NewShape(en.Stream).Info(en.Name)
		schema[en.Source][info.Table] = info
	}
}

// otherEventType labels the events of types the reducer does not list.
const otherEventType = "other"

// Where the fold keeps what it needs besides the entity rows views read:
// each entity's full state with the position of the last event folded into
// it, and the events a snapshot copied, until the whole event table is
// copied and they can be folded in order.
const (
	foldStateSchema = "@fold"
	foldStageSchema = "@fold-staged"
)

// entityPlan is one entity, compiled.
type entityPlan struct {
	Entity
	reducer *fold.Reducer
	shape   fold.Shape
	types   map[string]bool
	table   capture.Table // the event table; zero for a message stream
	rows    capture.Table // the pseudo-table views read
	states  state.TableID
	staged  state.TableID
	// counters are the projector_events_total series by type label.
	counters map[string]prometheus.Counter
}

// count counts one event of type typ, its counter looked up once.
func (ep *entityPlan) count(m *Metrics, typ string) {
	if m == nil {
		return
	}
	c, ok := ep.counters[typ]
	if !ok {
		c = m.folded.WithLabelValues(ep.Source, ep.Name, typ)
		ep.counters[typ] = c
	}
	c.Inc()
}

// folds holds the entities of every source.
type folds struct {
	bySource map[string][]*entityPlan
	metrics  *Metrics
	// deadLetterIndex names the dead-letter index of a view.
	deadLetterIndex func(view string) string
	// readers lists, by entity pseudo-table, the views that read it: a
	// fold error is dead-lettered with each.
	readers map[state.TableID][]string
	// fl logs the events folded, and folds entities again from the log
	// (fold_log.go).
	fl foldLog
	// encoding is where entityRow writes a state and its entity row,
	// reused from event to event.
	encoding []byte
	// prefetchMin is the fewest aggregates of a transaction whose states
	// are read ahead (prefetch): prefetchAggregates, or more in benchmarks
	// that measure without.
	prefetchMin int
}

func newFolds(entities []Entity, views []*View, metrics *Metrics, deadLetterIndex func(string) string) (*folds, error) {
	f := &folds{bySource: map[string][]*entityPlan{}, metrics: metrics, deadLetterIndex: deadLetterIndex, readers: map[state.TableID][]string{},
		prefetchMin: prefetchAggregates}
	for _, en := range entities {
		r, err := fold.Compile(en.Stream)
		if err != nil {
			return nil, fmt.Errorf("entity %s of source %s: %w", en.Name, en.Source, err)
		}
		ep := &entityPlan{Entity: en, reducer: r, shape: fold.NewShape(en.Stream), types: map[string]bool{}, counters: map[string]prometheus.Counter{},
			rows:   capture.Table{Schema: config.EntitySchema, Name: en.Name},
			states: state.TableID{Source: en.Source, Table: capture.Table{Schema: foldStateSchema, Name: en.Name}},
			staged: state.TableID{Source: en.Source, Table: capture.Table{Schema: foldStageSchema, Name: en.Name}},
		}
		if ref, ok := en.Stream.EventTable(en.Source); ok {
			ep.table = capture.Table{Schema: ref.Schema, Name: ref.Name}
		}
		for _, t := range r.Types() {
			ep.types[t] = true
		}
		if metrics != nil {
			metrics.DeclareEntity(en.Source, en.Name, r.Types())
		}
		f.bySource[en.Source] = append(f.bySource[en.Source], ep)
	}
	for _, v := range views {
		v.Root.walk(func(n *Node) {
			id := n.id()
			if n.Table.Schema == config.EntitySchema && !slices.Contains(f.readers[id], v.Name) {
				f.readers[id] = append(f.readers[id], v.Name)
			}
		})
	}
	return f, nil
}

// position orders the events of a source: the end of the transaction that
// committed them and their index in it.
type position struct {
	lsn   capture.LSN
	index int
}

func (p position) String() string { return string(appendPosition(nil, p)) }

// appendPosition appends p in the form String gives, the LSN as PostgreSQL
// writes it: the fold stores one for every event, and fmt is slow.
func appendPosition(b []byte, p position) []byte {
	b = appendUpperHex(b, uint64(p.lsn)>>32)
	b = append(b, '/')
	b = appendUpperHex(b, uint64(p.lsn)&0xFFFFFFFF)
	b = append(b, '#')
	return strconv.AppendInt(b, int64(p.index), 10)
}

// appendUpperHex appends v in upper-case hexadecimal.
func appendUpperHex(b []byte, v uint64) []byte {
	start := len(b)
	b = strconv.AppendUint(b, v, 16)
	for i := start; i < len(b); i++ {
		if b[i] >= 'a' {
			b[i] -= 'a' - 'A'
		}
	}
	return b
}

// parsePosition reads a position String wrote.
func parsePosition(s string) (position, error) {
	// The common case without fmt, which parses LSNs slowly; anything
	// else takes the path that says what is wrong.
	if hi, rest, ok := strings.Cut(s, "/"); ok {
		if lo, idx, ok := strings.Cut(rest, "#"); ok {
			h, err1 := strconv.ParseUint(hi, 16, 32)
			l, err2 := strconv.ParseUint(lo, 16, 32)
			i, err3 := strconv.Atoi(idx)
			if err1 == nil && err2 == nil && err3 == nil {
				return position{lsn: capture.LSN(h<<32 | l), index: i}, nil
			}
		}
	}
	lsn, idx, ok := strings.Cut(s, "#")
	if !ok {
		return position{}, fmt.Errorf("fold position %q has no index", s)
	}
	l, err := capture.ParseLSN(lsn)
	if err != nil {
		return position{}, err
	}
	i, err := strconv.Atoi(idx)
	if err != nil {
		return position{}, fmt.Errorf("fold position %q: %w", s, err)
	}
	return position{lsn: l, index: i}, nil
}

func (p position) after(q position) bool {
	return p.lsn > q.lsn || (p.lsn == q.lsn && p.index > q.index)
}

// apply folds the events txn publishes into their entities and applies
// each changed entity to the views like a row change. The events of one
// aggregate are folded in commit order, and within a transaction in the
// order they were written. Updates and deletes of event rows are ignored:
// the event is the insert.
func (f *folds) apply(a *applier, txn *capture.Transaction) error {
	plans := f.bySource[txn.Source]
	if len(plans) == 0 {
		return nil
	}
	// Entity rows change many times within a snapshot, so the applier
	// must read their previous versions.
	copying := a.copying
	a.copying = false
	defer func() { a.copying = copying }()
	for _, ep := range plans {
		if txn.Reset {
			if err := f.reset(a, ep, txn); err != nil {
				return err
			}
		}
		if err := f.applyEntity(a, ep, txn); err != nil {
			return fmt.Errorf("fold events of entity %s: %w", ep.Name, err)
		}
	}
	return nil
}

func (f *folds) applyEntity(a *applier, ep *entityPlan, txn *capture.Transaction) error {
	if ep.table == (capture.Table{}) {
		for i := range txn.Messages {
			m := &txn.Messages[i]
			if m.Prefix != ep.Stream.MessagePrefix || !m.Transactional {
				continue
			}
			pos := position{lsn: txn.EndLSN, index: i}
			ev, err := fold.MessageEvent(ep.Stream.Columns, m.Content)
			raw := func() []byte { return m.Content }
			if err != nil {
				f.failed(a, ep, txn, pos, fold.Event{}, raw, err)
				continue
			}
			if err := f.foldEvent(a, ep, txn, pos, ev, raw, !txn.Snapshot); err != nil {
				return err
			}
		}
		return nil
	}
	if !txn.Snapshot {
		if err := f.prefetch(a, ep, txn.Changes); err != nil {
			return err
		}
	}
	for i := range txn.Changes {
		ch := &txn.Changes[i]
		if ch.Table != ep.table || (ch.Op != capture.Insert && ch.Op != capture.Read) {
			continue
		}
		if txn.Snapshot {
			if err := f.stage(a, ep, ch.New); err != nil {
				return err
			}
			continue
		}
		if err := f.foldRow(a, ep, txn, position{lsn: txn.EndLSN, index: txn.Offset + i}, ch.New, true); err != nil {
			return err
		}
	}
	if txn.Snapshot && (txn.SnapshotDone || slices.Contains(txn.Copied, ep.table)) {
		return f.foldStaged(a, ep, txn)
	}
	return nil
}

// foldRow folds the event an event table's row holds.
func (f *folds) foldRow(a *applier, ep *entityPlan, txn *capture.Transaction, pos position, row capture.Row, skipSeen bool) error {
	// The event as a document is only needed to dead-letter it.
	raw := func() []byte { return f.rowJSON(row) }
	ev, err := fold.RowEvent(ep.Stream.Columns, row)
	if err != nil {
		f.failed(a, ep, txn, pos, fold.Event{}, raw, err)
		return nil
	}
	return f.foldEvent(a, ep, txn, pos, ev, raw, skipSeen)
}

// foldEvent folds one event into its entity, unless the entity already
// holds it (skipSeen: an event sent again after a restart), and applies
// the entity's new version as a row change.
func (f *folds) foldEvent(a *applier, ep *entityPlan, txn *capture.Transaction, pos position, ev fold.Event, raw func() []byte, skipSeen bool) error {
	if ep.Stream.AggregateType != "" && ev.AggregateType != ep.Stream.AggregateType {
		return nil
	}
	typ := ev.Type
	if !ep.types[typ] {
		typ = otherEventType
	}
	key, err := ep.shape.Key(ev.AggregateID)
	if err != nil {
		f.failed(a, ep, txn, pos, ev, raw, err)
		return nil
	}
	pk, err := entityKey(key)
	if err != nil {
		f.failed(a, ep, txn, pos, ev, raw, err)
		return nil
	}
	current, seen, size, err := f.load(a, ep, pk)
	if err != nil {
		return err
	}
	if skipSeen && !pos.after(seen) {
		return nil // folded before a restart
	}
	if skip, err := f.logEvent(a, ep, pos, &ev, raw, skipSeen); err != nil || skip {
		return err
	}
	ep.count(f.metrics, typ)
	next, outcome, err := ep.reducer.Fold(current, ev)
	if err != nil {
		f.failed(a, ep, txn, pos, ev, raw, err)
		return nil
	}
	switch outcome {
	case fold.Ignored:
		return f.save(a, ep, pk, pos, current)
	case fold.Deleted:
		if err := f.save(a, ep, pk, pos, nil); err != nil {
			return err
		}
		return a.apply(ep.Source, &capture.Change{Op: capture.Delete, Table: ep.rows, Key: []string{config.EntityKey}, Old: capture.Row{config.EntityKey: key}})
	}
	tp := a.plan.tables[state.TableID{Source: ep.Source, Table: ep.rows}]
	// The new state is about as long as the one it was folded from.
	encoded, row, err := f.entityRow(tp, ep.shape, key, next, size+size/4+64)
	if err != nil {
		f.failed(a, ep, txn, pos, ev, raw, err)
		return nil
	}
	if err := f.saveEncoded(a, ep, pk, pos, next, encoded); err != nil {
		return err
	}
	if tp == nil {
		return nil // an entity no view reads
	}
	// pk keys the row too: entityKey encodes as encodeKey does.
	old, known := previousRow(tp, ep.shape, key, current)
	if !known && !a.copying && len(tp.indexes) > 0 {
		// Not made from the state: read, as upsert reads a row's previous
		// version.
		if old, err = a.b.Row(tp.id, pk); err != nil {
			return err
		}
	}
	return a.upsertRow(tp, pk, row, old, false)
}

// maxKeptEncoding is the largest buffer entityRow keeps for the next state.
const maxKeptEncoding = 64 << 10

// entityRow encodes the folded state st as save does and renders the
// entity row views store for it, the row project makes of what Shape.Row
// gives, into the same buffer made one string: the row's jsonb values are
// slices of the state's encoding instead of encoded again, and the state
// and the row's values are one allocation. tp is nil for an entity no view
// reads: every field is still converted, so a state that does not fit the
// declared types fails alike, but no row is made. The buffer is reused
// from event to event; size is room to make for it at once, so that a
// state encoded again and again does not grow it step by step.
func (f *folds) entityRow(tp *tablePlan, sh fold.Shape, key any, st map[string]any, size int) (string, *state.Row, error) {
	if cap(f.encoding) < size {
		f.encoding = make([]byte, 0, size)
	}
	var fieldRoom [16]string
	var spanRoom [16]fold.Span
	b, fields, spans, err := fold.AppendState(f.encoding[:0], st, fieldRoom[:0], spanRoom[:0])
	if err != nil {
		return "", nil, err
	}
	defer func() {
		// Kept unless one huge state grew it: that room is not held for
		// the small states after it.
		if cap(b) <= maxKeptEncoding {
			f.encoding = b[:0]
		}
	}()
	stateEnd := len(b)
	type column struct {
		name       string
		start, end int
		numeric    bool
	}
	var colRoom [16]column
	cols := colRoom[:0]
	stores := func(col string) bool { return tp != nil && tp.stores(col) }
	if stores(config.EntityKey) {
		start := len(b)
		b = appendJSON(b, key)
		cols = append(cols, column{name: config.EntityKey, start: start, end: len(b), numeric: isNumeric(key)})
	}
	for i, field := range fields {
		if field == config.EntityKey {
			continue // the key is the aggregate id, whatever the state says
		}
		v := st[field]
		if sh.JSON(field) && v != nil {
			if stores(field) {
				cols = append(cols, column{name: field, start: spans[i].Start, end: spans[i].End})
			}
			continue
		}
		// Converted even when not stored: a state that does not fit the
		// declared types fails alike.
		start := len(b)
		var numeric bool
		var err error
		b, numeric, err = sh.AppendValue(b, field, v)
		if err != nil {
			return "", nil, fmt.Errorf("field %s: %w", field, err)
		}
		if !stores(field) {
			b = b[:start]
			continue
		}
		cols = append(cols, column{name: field, start: start, end: len(b), numeric: numeric})
	}
	all := string(b)
	if tp == nil {
		return all, nil, nil
	}
	row := state.NewRow(len(cols))
	for _, c := range cols {
		row.Cols = append(row.Cols, state.Column{Name: c.name, Value: all[c.start:c.end], Numeric: c.numeric})
	}
	row.SortColumns()
	return all[:stateEnd], row, nil
}

// previousRow is the entity row the views hold for the state prev, as far
// as it places the row in documents (its key and indexed columns), made
// from prev instead of read back from the store: the row is the projection
// of the state, and the two are written together and forgotten together,
// so a state that exists has its row. ok is false when the row must be
// read: no state (a refold forgets the states before the rows it replaces),
// no indexed column (the row is not read then either), or a value that
// does not convert.
func previousRow(tp *tablePlan, sh fold.Shape, key any, prev map[string]any) (*state.Row, bool) {
	if prev == nil || len(tp.indexes) == 0 {
		return nil, false
	}
	// Written as project writes them, the values rendered into one buffer
	// made one string.
	row := state.NewRow(1 + len(tp.indexes))
	var room [128]byte
	buf := room[:0]
	var ends [8]int
	spans := ends[:0]
	add := func(col string, v any) {
		for _, c := range row.Cols {
			if c.Name == col {
				return
			}
		}
		buf = appendJSON(buf, v)
		spans = append(spans, len(buf))
		row.Cols = append(row.Cols, state.Column{Name: col, Numeric: isNumeric(v)})
	}
	add(config.EntityKey, key)
	for _, cols := range tp.indexes {
		for _, col := range cols {
			v, ok := prev[col]
			if !ok || col == config.EntityKey {
				continue // a missing field is a missing column; the key is the aggregate id
			}
			cv, err := sh.Value(col, v)
			if err != nil {
				return nil, false
			}
			add(col, cv)
		}
	}
	all, start := string(buf), 0
	for i, end := range spans {
		row.Cols[i].Value = all[start:end]
		start = end
	}
	row.SortColumns()
	return row, true
}

// entityKey encodes an entity's key value as encodeKey encodes its row's
// key, without making the row.
func entityKey(key any) (string, error) {
	if key == nil {
		return "", fmt.Errorf("key column %s is missing", config.EntityKey)
	}
	var room [64]byte // most keys: the string is the one allocation
	return string(append(appendJSON(append(room[:0], '['), key), ']')), nil
}

// load reads an entity's folded state (nil when it does not exist), the
// position of the last event folded into it and the length of its
// encoding (0 when not known).
func (f *folds) load(a *applier, ep *entityPlan, pk string) (map[string]any, position, int, error) {
	if c, ok := a.folded[ep.states][pk]; ok {
		return c.state, c.pos, c.size, nil
	}
	r, err := a.b.Row(ep.states, pk)
	if err != nil || r == nil {
		return nil, position{}, 0, err
	}
	p, _ := r.Value("pos")
	// saveEncoded's JSON string, which has nothing to escape.
	ps, ok := strings.CutPrefix(p, `"`)
	if ok {
		ps, ok = strings.CutSuffix(ps, `"`)
	}
	if !ok || strings.ContainsAny(ps, `"\`) {
		return nil, position{}, 0, fmt.Errorf("read fold position %s of %s %s: not a plain JSON string", p, ep.Name, pk)
	}
	pos, err := parsePosition(ps)
	if err != nil {
		return nil, position{}, 0, err
	}
	s, _ := r.Value("state")
	st, err := fold.DecodeState(s)
	if err != nil {
		return nil, position{}, 0, fmt.Errorf("read folded state of %s %s: %w", ep.Name, pk, err)
	}
	return st, pos, len(s), nil
}

// prefetchAggregates is the fewest aggregates whose states prefetch reads
// ahead: for a few, reading each as its event comes costs the same.
const prefetchAggregates = 16

// prefetch reads ahead the states of the aggregates the events among
// changes are about, in the store's key order, into the group's folded
// states, which load then finds. An outbox transaction's events are about
// many aggregates whose states the row cache mostly no longer holds (the
// next event of an aggregate comes thousands of events later); read one
// after the other in key order, with nothing written to the batch in
// between, each seek of the store's iterator moves forward from the last
// one instead of seeking through every level of the store again. The
// folded states mirror the stored ones until an event changes them, which
// saveEncoded records there too.
func (f *folds) prefetch(a *applier, ep *entityPlan, changes []capture.Change) error {
	var pks []string
	for i := range changes {
		ch := &changes[i]
		if ch.Table != ep.table || (ch.Op != capture.Insert && ch.Op != capture.Read) {
			continue
		}
		id, ok := fold.RowAggregateID(ep.Stream.Columns, ch.New)
		if !ok {
			continue // foldRow dead-letters it
		}
		key, err := ep.shape.Key(id)
		if err != nil {
			continue
		}
		pk, err := entityKey(key)
		if err != nil {
			continue
		}
		if _, ok := a.folded[ep.states][pk]; !ok {
			pks = append(pks, pk)
		}
	}
	if len(pks) < f.prefetchMin {
		return nil
	}
	state.SortStored(pks)
	for i, pk := range pks {
		if i > 0 && pk == pks[i-1] {
			continue
		}
		st, pos, size, err := f.load(a, ep, pk)
		if err != nil {
			return err
		}
		f.remember(a, ep, pk, foldedState{state: st, pos: pos, size: size})
	}
	return nil
}

// remember keeps an entity's state as the group has it, for the group's
// later events of the same aggregate.
func (f *folds) remember(a *applier, ep *entityPlan, pk string, c foldedState) {
	if a.folded == nil {
		a.folded = map[state.TableID]map[string]foldedState{}
	}
	if a.folded[ep.states] == nil {
		a.folded[ep.states] = map[string]foldedState{}
	}
	a.folded[ep.states][pk] = c
}

// save keeps an entity's state (nil once deleted) with the position of
// the event folded last.
func (f *folds) save(a *applier, ep *entityPlan, pk string, pos position, st map[string]any) error {
	s := []byte("null")
	var err error
	if st != nil {
		s, err = fold.AppendJSON(nil, st)
	}
	if err != nil {
		return fmt.Errorf("encode folded state of %s %s: %w", ep.Name, pk, err)
	}
	return f.saveEncoded(a, ep, pk, pos, st, string(s))
}

// saveEncoded is save with the state already encoded.
func (f *folds) saveEncoded(a *applier, ep *entityPlan, pk string, pos position, st map[string]any, encoded string) error {
	var buf [48]byte // JSON: an LSN and an index need no escaping
	p := string(append(appendPosition(append(buf[:0], '"'), pos), '"'))
	row := &state.Row{Cols: []state.Column{{Name: "pos", Value: p}, {Name: "state", Value: encoded}}}
	if err := a.b.SetRow(ep.states, pk, row, false); err != nil {
		return err
	}
	// Kept decoded for the group's later events of the same aggregate:
	// Fold never changes a state it is given.
	f.remember(a, ep, pk, foldedState{state: st, pos: pos, size: len(encoded)})
	return nil
}

// foldedState is an entity's state as a group folded it last.
type foldedState struct {
	state map[string]any
	pos   position
	size  int // of its encoding
}

// forget removes every folded state of an entity: its source starts over
// from a new snapshot.
func (f *folds) forget(a *applier, ep *entityPlan) error {
	delete(a.folded, ep.states)
	for _, id := range []state.TableID{ep.states, ep.staged} {
		if err := a.b.ScanRows(id, func(pk string) error { return a.b.DeleteRow(id, pk) }); err != nil {
			return fmt.Errorf("forget folded entity %s: %w", ep.Name, err)
		}
	}
	return nil
}

// stage keeps an event row a snapshot copied until the whole event table
// is copied: the snapshot reads rows in no particular order, and events
// must be folded in order_by order.
func (f *folds) stage(a *applier, ep *entityPlan, row capture.Row) error {
	order := ep.Stream.OrderBy
	if order == "" {
		order = ep.Stream.Columns.ID
	}
	pk, err := encodeKey([]string{order, ep.Stream.Columns.ID}, row)
	if err != nil {
		return fmt.Errorf("stage event of %s: order_by %w", ep.Name, err)
	}
	raw, err := json.Marshal(jsonRow(row))
	if err != nil {
		return fmt.Errorf("stage event of %s: %w", ep.Name, err)
	}
	return a.b.SetRow(ep.staged, pk, &state.Row{Cols: []state.Column{{Name: "row", Value: string(raw)}}}, true)
}

// foldStaged folds the events a snapshot copied, in order_by order, and
// forgets them.
func (f *folds) foldStaged(a *applier, ep *entityPlan, txn *capture.Transaction) error {
	var pks []string
	if err := a.b.ScanRows(ep.staged, func(pk string) error { pks = append(pks, pk); return nil }); err != nil {
		return fmt.Errorf("read staged events of %s: %w", ep.Name, err)
	}
	state.SortKeys(pks)
	for i, pk := range pks {
		r, err := a.b.Row(ep.staged, pk)
		if err != nil || r == nil {
			return err
		}
		raw, _ := r.Value("row")
		row, err := decodeRow([]byte(raw))
		if err != nil {
			return fmt.Errorf("read staged event %s of %s: %w", pk, ep.Name, err)
		}
		if err := f.foldRow(a, ep, txn, position{lsn: txn.EndLSN, index: i}, row, false); err != nil {
			return err
		}
		if err := a.b.DeleteRow(ep.staged, pk); err != nil {
			return err
		}
	}
	return nil
}

// jsonRow renders a row's values as JSON values.
func jsonRow(row capture.Row) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(row))
	for k, v := range row {
		out[k] = json.RawMessage(appendJSON(nil, v))
	}
	return out
}

// decodeRow reads back a row jsonRow wrote; every value becomes what
// fold.Decode makes of it, except strings, which stay strings.
func decodeRow(b []byte) (capture.Row, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	row := make(capture.Row, len(raw))
	for k, v := range raw {
		var s string
		if json.Unmarshal(v, &s) == nil {
			row[k] = s
			continue
		}
		row[k] = json.RawMessage(v)
	}
	return row, nil
}

// failed dead-letters an event that did not fold, once with each view
// reading its entity, and leaves the entity as it was.
func (f *folds) failed(a *applier, ep *entityPlan, txn *capture.Transaction, pos position, ev fold.Event, raw func() []byte, cause error) {
	if f.metrics != nil {
		f.metrics.foldErrors.WithLabelValues(ep.Source, ep.Name).Inc()
	}
	where := ep.Source + "@" + pos.String()
	for _, view := range f.readers[state.TableID{Source: ep.Source, Table: ep.rows}] {
		rec := foldDeadLetter{
			Time: time.Now().UTC(), View: view, Index: view, ID: ev.AggregateID, Position: where, Action: "fold",
			Error:    foldDeadLetterError{Type: "fold_error", Reason: cause.Error()},
			Document: string(raw()), Entity: ep.Name, EventType: ev.Type, EventID: ev.ID,
		}
		src, _ := json.Marshal(rec) //nolint:errchkjson // strings and a time always marshal
		sum := sha256.Sum256([]byte(view + "\x00" + where))
		index := sink.DeadLetterIndex(view)
		if f.deadLetterIndex != nil {
			index = f.deadLetterIndex(view)
		}
		a.deadLetters = append(a.deadLetters, sink.Document{Index: index, ID: "fold-" + hex.EncodeToString(sum[:16]),
			Source: src, View: view, Position: where})
	}
}

// foldDeadLetter has the shape of the sink's dead letters, with the event
// in document and what it was about.
type foldDeadLetter struct {
	Time      time.Time           `json:"time"`
	View      string              `json:"view"`
	Index     string              `json:"index"`
	ID        string              `json:"id"`
	Position  string              `json:"position,omitempty"`
	Action    string              `json:"action"`
	Error     foldDeadLetterError `json:"error"`
	Document  string              `json:"document,omitempty"`
	Entity    string              `json:"entity"`
	EventType string              `json:"event_type,omitempty"`
	EventID   string              `json:"event_id,omitempty"`
}

type foldDeadLetterError struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// ReducerDigest digests the definitions of the entities view reads, for
// its index fingerprint: a changed reducer, fields or columns fold other
// documents from the same events, so the view is rebuilt. Empty for a view
// of tables only, whose fingerprint it leaves as it was.
func ReducerDigest(cfg *config.Config, view *config.View) string {
	var defs []any
	for _, t := range view.Tables() {
		if s, ok := cfg.Stream(t); ok {
			defs = append(defs, []any{t.Source, t.Name, s})
		}
	}
	if len(defs) == 0 {
		return ""
	}
	b, _ := json.Marshal(defs) //nolint:errchkjson // plain structs, maps and strings always marshal
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
