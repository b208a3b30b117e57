package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/itchyny/gojq"
)

// EntitySchema is the schema of the table references that name a folded
// entity instead of a table: {source: orders, entity: order} is the
// TableRef {orders, EntitySchema, order}. No PostgreSQL schema can be
// written like it unquoted, so it never names a real table.
const EntitySchema = "@entity"

// EventStream is a stream of domain events one source publishes, either as
// rows inserted into an event table (an outbox or an event store) or as
// logical decoding messages (pg_logical_emit_message(true, prefix,
// payload)), and the reducer that folds each aggregate's events into the
// entity views read like a table row.
type EventStream struct {
	// Table is the event table ("outbox" or "schema.outbox"); every
	// inserted row is one event, and updates and deletes of its rows are
	// ignored, so outbox housekeeping that deletes rows right after
	// insert loses nothing. Exactly one of table and message_prefix.
	Table string `yaml:"table"`
	// MessagePrefix takes the events from transactional logical decoding
	// messages of this prefix instead of a table: each message's content
	// is a JSON object whose keys the columns name.
	MessagePrefix string `yaml:"message_prefix"`
	// Columns name where each part of an event is: the columns of the
	// event table, or the keys of a message's JSON object.
	Columns EventColumns `yaml:"columns"`
	// AggregateType keeps only the events of this aggregate type; all
	// events by default.
	AggregateType string `yaml:"aggregate_type"`
	// OrderBy is the column the initial snapshot of the event table folds
	// the events it finds in order of; the id column by default.
	OrderBy string `yaml:"order_by"`
	// Strict makes an event of a type not listed under on a fold error,
	// dead-lettered; by default such events are ignored and counted.
	Strict bool `yaml:"strict"`
	// Fields are the entity's columns and their PostgreSQL types (text,
	// bigint, integer, numeric, double precision, boolean, jsonb,
	// timestamptz), which views select and join on like table columns.
	// The aggregate id is the key column "id", text unless listed here.
	Fields map[string]string `yaml:"fields"`
	// On is the reducer: by event type, how an event changes its entity.
	On map[string]Reducer `yaml:"on" jsonschema:"required"`
	// Keep says which folded events the local state keeps: all (the
	// default) keeps every event, so that a changed reducer folds the
	// entity again from all of them, messages and deleted outbox rows
	// included; none keeps only the entity, and a changed reducer folds
	// only the events the event table still holds. Changing keep alone
	// rebuilds no view.
	Keep string `yaml:"keep" json:"-" jsonschema:"enum=all,enum=none"`
}

// The values of keep.
const (
	KeepAll  = "all"
	KeepNone = "none"
)

// EventColumns name where the parts of an event are. The defaults are the
// Debezium outbox event router's column names.
type EventColumns struct {
	// ID identifies the event; "id" by default.
	ID string `yaml:"id"`
	// Type is the event type the reducer is chosen by; "type" by default.
	Type string `yaml:"type"`
	// AggregateType is the kind of entity the event is about;
	// "aggregatetype" by default.
	AggregateType string `yaml:"aggregate_type"`
	// AggregateID identifies the entity the event is about: the key of the
	// folded entity; "aggregateid" by default.
	AggregateID string `yaml:"aggregate_id"`
	// Payload holds the event's data as JSON (json, jsonb, text or
	// bytea); "payload" by default.
	Payload string `yaml:"payload"`
	// Timestamp is when the event happened; optional.
	Timestamp string `yaml:"timestamp"`
}

// DefaultEventColumns returns the Debezium outbox column names.
func DefaultEventColumns() EventColumns {
	return EventColumns{ID: "id", Type: "type", AggregateType: "aggregatetype", AggregateID: "aggregateid", Payload: "payload"}
}

// withDefaults fills the columns the file leaves out.
func (c EventColumns) withDefaults() EventColumns {
	d := DefaultEventColumns()
	for _, p := range []struct{ v, def *string }{
		{&c.ID, &d.ID}, {&c.Type, &d.Type}, {&c.AggregateType, &d.AggregateType},
		{&c.AggregateID, &d.AggregateID}, {&c.Payload, &d.Payload},
	} {
		if *p.v == "" {
			*p.v = *p.def
		}
	}
	return c
}

// Reducer says how one event type changes its entity. The declarative
// steps run in the order set, unset, append, remove; delete and jq stand
// alone. Expressions are jq (github.com/itchyny/gojq) over the event's
// payload, with the entity's current state in $state.
type Reducer struct {
	// Set gives fields new values, each a jq expression over the payload,
	// e.g. {consumer_id: .consumerId, state: '"PENDING"'}.
	Set map[string]string `yaml:"set"`
	// Unset removes fields from the entity.
	Unset []string `yaml:"unset"`
	// Append adds an element to an array field, replacing the element with
	// the same key.
	Append *ArrayStep `yaml:"append"`
	// Remove takes the elements with a key out of an array field.
	Remove *ArrayStep `yaml:"remove"`
	// Delete removes the entity.
	Delete bool `yaml:"delete"`
	// JQ computes the new state from {state, event, meta} (event is the
	// payload, meta the id, type, aggregate_id, aggregate_type and
	// timestamp): an object, or null to delete the entity. For what the
	// declarative steps cannot say.
	JQ string `yaml:"jq"`
}

// ArrayStep changes one array field of an entity, whose elements are
// objects identified by a key field.
type ArrayStep struct {
	// Field is the entity's array field.
	Field string `yaml:"field" jsonschema:"required"`
	// Key is the field of an element that identifies it, e.g. sku.
	Key string `yaml:"key" jsonschema:"required"`
	// Value is a jq expression over the payload: for append the element
	// ("." by default), for remove the key of the elements to take out
	// (".<key>" by default).
	Value string `yaml:"value"`
}

// EntityType returns the base type (as capture.Column.Base names it) of a
// type an entity field may be declared with, and whether it is one.
func EntityType(name string) (string, bool) {
	base, ok := entityTypes()[name]
	return base, ok
}

// entityTypes maps the types an entity field may be declared with to
// their base types.
func entityTypes() map[string]string {
	return map[string]string{
		"text": "text", "bigint": "int8", "integer": "int4", "numeric": "numeric",
		"double precision": "float8", "boolean": "bool", "jsonb": "jsonb", "timestamptz": "timestamptz",
	}
}

// EntityKey is the key column of every folded entity: its aggregate id.
const EntityKey = "id"

// EventTable returns the event table a stream reads, or false for a stream
// of logical decoding messages.
func (s EventStream) EventTable(source string) (TableRef, bool) {
	if s.Table == "" {
		return TableRef{}, false
	}
	ref := TableRef{Source: source, Schema: "public", Name: s.Table}
	if schema, name, ok := strings.Cut(s.Table, "."); ok {
		ref.Schema, ref.Name = schema, name
	}
	return ref, true
}

// EntityRef returns the table reference views name the entity with.
func EntityRef(source, entity string) TableRef {
	return TableRef{Source: source, Schema: EntitySchema, Name: entity}
}

// IsEntity reports whether t names a folded entity rather than a table.
func (t TableRef) IsEntity() bool { return t.Schema == EntitySchema }

// Stream returns the event stream a reference to an entity names.
func (c *Config) Stream(t TableRef) (EventStream, bool) {
	if !t.IsEntity() {
		return EventStream{}, false
	}
	s, ok := c.Sources[t.Source].Events[t.Name]
	return s, ok
}

// captured replaces each entity among tables by the event table it is
// folded from (streams of messages need none), keeping the order and each
// table once.
func (c *Config) captured(tables []TableRef) []TableRef {
	out := make([]TableRef, 0, len(tables))
	for _, t := range tables {
		if t.IsEntity() {
			s, ok := c.Stream(t)
			if !ok {
				continue
			}
			if t, ok = s.EventTable(t.Source); !ok {
				continue
			}
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// entityName is what an entity may be called: it names a pseudo-table.
var entityName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// events checks a source's event streams.
func (v *validator) events(source string, s Source) {
	for _, name := range slices.Sorted(maps.Keys(s.Events)) {
		es := s.Events[name]
		path := "sources." + source + ".events." + name
		if !entityName.MatchString(name) {
			v.add(path, `%q is not a valid entity name; use lowercase letters, digits and "_", not starting with a digit`, name)
		}
		switch {
		case es.Table == "" && es.MessagePrefix == "":
			v.add(path, "names no events; set table (an outbox or event store table) or message_prefix (pg_logical_emit_message)")
		case es.Table != "" && es.MessagePrefix != "":
			v.add(path+".message_prefix", "is set together with table; an entity folds the events of one table or of one message prefix")
		}
		if es.MessagePrefix != "" && es.Table == "" && es.OrderBy != "" {
			v.add(path+".order_by", "only orders the snapshot of an event table; messages are folded in commit order, remove it")
		}
		for _, field := range slices.Sorted(maps.Keys(es.Fields)) {
			if _, ok := EntityType(es.Fields[field]); !ok {
				v.add(path+".fields."+field, "%q is not an entity field type; use one of %s", es.Fields[field], strings.Join(slices.Sorted(maps.Keys(entityTypes())), ", "))
			}
		}
		if es.Keep != KeepAll && es.Keep != KeepNone {
			v.add(path+".keep", "is %q; use all (keep every event, so a changed reducer folds the entity again from all of them) or none", es.Keep)
		}
		if len(es.On) == 0 {
			v.add(path+".on", "lists no event type; map each event type to how it changes the entity, e.g. OrderCreated: {set: {state: '\"PENDING\"'}}")
		}
		for _, typ := range slices.Sorted(maps.Keys(es.On)) {
			v.reducer(es.On[typ], path+".on."+typ)
		}
	}
}

// reducer checks one event type's reducer and compiles its expressions.
func (v *validator) reducer(r Reducer, path string) {
	declarative := len(r.Set) > 0 || len(r.Unset) > 0 || r.Append != nil || r.Remove != nil
	switch {
	case r.Delete && (declarative || r.JQ != ""):
		v.add(path+".delete", "is combined with other steps; a deleting event does nothing else, remove them")
	case r.JQ != "" && declarative:
		v.add(path+".jq", "is combined with set, unset, append or remove; put everything into the jq expression, or use only the declarative steps")
	case !r.Delete && r.JQ == "" && !declarative:
		v.add(path, "does nothing; use set, unset, append, remove, delete or jq (an event type to ignore need not be listed unless strict)")
	}
	for _, field := range slices.Sorted(maps.Keys(r.Set)) {
		if field == EntityKey {
			v.add(path+".set."+field, "is the entity's key, the aggregate id of its events; it cannot be set")
		}
		v.expression(r.Set[field], path+".set."+field)
	}
	for i, field := range r.Unset {
		if field == EntityKey {
			v.add(fmt.Sprintf("%s.unset[%d]", path, i), "is the entity's key, the aggregate id of its events; it cannot be unset")
		}
	}
	for _, step := range []struct {
		s    *ArrayStep
		name string
	}{{r.Append, "append"}, {r.Remove, "remove"}} {
		if step.s == nil {
			continue
		}
		p := path + "." + step.name
		if step.s.Field == "" || step.s.Field == EntityKey {
			v.add(p+".field", "must name the entity's array field, e.g. items")
		}
		if step.s.Key == "" {
			v.add(p+".key", "must name the field that identifies an element, e.g. sku")
		}
		if step.s.Value != "" {
			v.expression(step.s.Value, p+".value")
		}
	}
	if r.JQ != "" {
		v.expression(r.JQ, path+".jq")
	}
}

// expression checks that a jq expression parses and compiles, with the
// variables reducers provide.
func (v *validator) expression(src, path string) {
	if _, err := CompileExpression(src); err != nil {
		v.add(path, "%v; fix the jq expression", err)
	}
}

// CompileExpression compiles a reducer's jq expression, which may use
// $state (the entity's current state) and $meta (the event's id, type,
// aggregate and timestamp).
func CompileExpression(src string) (*gojq.Code, error) {
	q, err := gojq.Parse(src)
	if err != nil {
		if pe, ok := errors.AsType[*gojq.ParseError](err); ok {
			return nil, fmt.Errorf("jq expression %q does not parse at character %d: %w", src, pe.Offset, err)
		}
		return nil, fmt.Errorf("jq expression %q does not parse: %w", src, err)
	}
	code, err := gojq.Compile(q, gojq.WithVariables([]string{"$state", "$meta"}))
	if err != nil {
		return nil, fmt.Errorf("jq expression %q does not compile: %w", src, err)
	}
	return code, nil
}

// entityRef converts a reference to a folded entity.
func (l *loader) entityRef(t rawTable, path string) TableRef {
	if t.Table != "" || t.Schema != "" {
		l.errs = append(l.errs, lookupPos(l.positions, l.file, path+".entity").Errorf("%s.entity: names both a table and entity %q; a view reads one of them, remove the other", path, t.Entity))
	}
	return EntityRef(t.Source, t.Entity)
}

// entity checks that a view's reference to an entity names one its source
// declares.
func (v *validator) entity(t TableRef, path string) {
	s, ok := v.c.Sources[t.Source]
	if !ok {
		return // reported with the source
	}
	if _, ok := s.Events[t.Name]; ok {
		return
	}
	known := slices.Sorted(maps.Keys(s.Events))
	if len(known) == 0 {
		v.add(path+".entity", "source %q declares no events; declare entity %q under sources.%s.events", t.Source, t.Name, t.Source)
		return
	}
	hint := ""
	if s := suggestKey(t.Name, known); s != "" {
		hint = fmt.Sprintf(" (did you mean %q?)", s)
	}
	v.add(path+".entity", "entity %q is not declared in source %q%s; use one of %s, or declare it under sources.%s.events", t.Name, t.Source, hint, strings.Join(known, ", "), t.Source)
}

// eventDefaults fills the columns, snapshot order and retention each
// stream leaves out.
func eventDefaults(streams map[string]EventStream) map[string]EventStream {
	for name, s := range streams {
		s.Columns = s.Columns.withDefaults()
		if s.Keep == "" {
			s.Keep = KeepAll
		}
		if s.OrderBy == "" && s.Table != "" {
			s.OrderBy = s.Columns.ID
		}
		streams[name] = s
	}
	return streams
}
