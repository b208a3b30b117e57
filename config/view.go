package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// View is one denormalised document type: rows of the root table become
// documents in an index that clients query through an alias named Name, with
// related rows joined in under the relation names.
type View struct {
	Name string
	// Root is the table whose primary key becomes the document _id.
	Root TableRef
	// Fields are the root columns copied into the document, in file order.
	Fields []Field
	// AllColumns is true when the file omits fields: every column of the
	// table is copied under its own name, and Fields is nil.
	AllColumns bool
	Relations  []Relation
	// Numeric says how PostgreSQL numeric values are written: as JSON
	// strings, which keep every digit, or as JSON numbers, which the search
	// engine can aggregate but which lose precision past float64.
	Numeric Numeric
	// JSON says how json and jsonb fields are indexed, by document field
	// path ("payload", "customer.prefs"); fields not listed are JSONStored.
	JSON     map[string]JSONMapping
	Settings IndexSettings
	Pos      Pos
}

// Relation joins the rows of another table into a document, possibly from
// another source database.
type Relation struct {
	// Name is the document field the related rows are written under.
	Name string
	Type RelationType
	// Table is the related table; its Source may differ from the parent's.
	Table TableRef
	// On pairs a column of the parent table with one of Table, in file order;
	// several pairs form a composite key.
	On         []JoinPair
	Fields     []Field
	AllColumns bool
	Relations  []Relation
	Pos        Pos
}

// RelationType says how many related rows a document holds and which side
// holds the join key.
type RelationType string

// The relation types. The comments show the document shape.
const (
	// BelongsTo: the parent holds the key of one related row; an object, or
	// null when that row does not exist.
	BelongsTo RelationType = "belongs_to"
	// HasOne: one related row holds the parent's key; an object or null.
	HasOne RelationType = "has_one"
	// HasMany: any number of related rows hold the parent's key; an array.
	HasMany RelationType = "has_many"
)

// Numeric is how numeric columns are written into documents.
type Numeric string

// The two ways of writing numeric columns.
const (
	NumericString Numeric = "string"
	NumericNumber Numeric = "number"
)

// JSONMapping is how a json or jsonb field is indexed. The document holds
// the value as PostgreSQL has it whatever the choice.
type JSONMapping string

// The ways of indexing json and jsonb fields.
const (
	// JSONStored keeps the value in the document without indexing it, so
	// a value of any shape is accepted. The default.
	JSONStored JSONMapping = "stored"
	// JSONFlattened indexes the leaves of an object as keywords under the
	// field; a value that is not an object is dead-lettered.
	JSONFlattened JSONMapping = "flattened"
	// JSONObject maps the keys dynamically, typed as first seen; a row
	// that does not fit them is dead-lettered.
	JSONObject JSONMapping = "object"
)

// TableRef names one table of one source database.
type TableRef struct {
	Source string
	Schema string
	Name   string
}

// String returns "source:schema.table".
func (t TableRef) String() string { return t.Source + ":" + t.Schema + "." + t.Name }

// Field copies one column into a document under a field name.
type Field struct {
	Column string
	Name   string
	Pos    Pos
}

// JoinPair matches a column of the parent table with a column of the related
// table.
type JoinPair struct {
	Parent  string
	Related string
	Pos     Pos
}

// IndexSettings are applied when projector creates a view's index.
type IndexSettings struct {
	// Shards is the number of primary shards of the index; changing it
	// takes effect with the next index version (projector rebuild).
	Shards int `yaml:"shards"`
	// Replicas is the number of copies of each shard; 0 for none, e.g. on
	// a single-node cluster.
	Replicas int `yaml:"replicas"`
	// RefreshInterval is how often the engine makes written documents
	// searchable; it adds to the lag readers see.
	RefreshInterval Duration `yaml:"refresh_interval"`
}

// DefaultIndexSettings returns the settings a view gets when the file does
// not say otherwise.
func DefaultIndexSettings() IndexSettings {
	return IndexSettings{Shards: 1, Replicas: 1, RefreshInterval: Duration(time.Second)}
}

// rawView is a view as written in the file, before fields, on and table
// names are given their single internal form. Its field comments are the
// descriptions of the JSON Schema, like those of rawTable and rawRelation.
type rawView struct {
	// Name is the index alias clients query; the index behind it is
	// "<name>_v<N>" and refused documents go to "<name>-deadletter".
	Name string `yaml:"name" jsonschema:"required"`
	// Root is the table whose rows become the documents; its primary key
	// is the document _id.
	Root rawTable `yaml:"root" jsonschema:"required"`
	// Fields are the root columns copied into the document: a list keeps
	// the column names, a map renames column: field; left out, every
	// column is copied under its own name.
	Fields yaml.Node `yaml:"fields"`
	// Relations join rows of other tables, possibly of other sources, into
	// the document.
	Relations []rawRelation `yaml:"relations"`
	// Numeric says how numeric columns are written: string keeps every
	// digit; number lets the engine aggregate but loses precision past
	// float64.
	Numeric Numeric `yaml:"numeric"`
	// JSON says how json and jsonb fields are indexed, by document field
	// path ("payload", "customer.prefs"): stored (the default) keeps any
	// shape unsearchable, flattened indexes an object's leaves as
	// keywords, object maps its keys dynamically.
	JSON map[string]JSONMapping `yaml:"json"`
	// Settings are applied when projector creates the view's index.
	Settings IndexSettings `yaml:"settings"`
}

// UnmarshalYAML starts from the view defaults so that only the keys the file
// writes replace them.
func (v *rawView) UnmarshalYAML(n *yaml.Node) error {
	type plain rawView
	p := plain{Numeric: NumericString, Settings: DefaultIndexSettings()}
	err := n.Decode(&p)
	*v = rawView(p)
	return err
}

// rawTable is a table reference as written: table may be "schema.table".
type rawTable struct {
	// Source is the name of the source database the table is in.
	Source string `yaml:"source" jsonschema:"required"`
	// Schema is the table's schema; "public" unless Table names one.
	Schema string `yaml:"schema"`
	// Table is the table's name, or "schema.table".
	Table string `yaml:"table"`
	// Entity names an entity folded from the source's events (under
	// sources.<source>.events) instead of a table.
	Entity string `yaml:"entity"`
}

// rawRelation is a relation as written in the file.
type rawRelation struct {
	// Name is the document field the related rows are written under.
	Name string `yaml:"name" jsonschema:"required"`
	// Type says how many related rows a document holds: belongs_to (the
	// parent holds the key of one row; an object or null), has_one (one
	// row holds the parent's key, which needs a unique key on the join
	// columns; an object or null) or has_many (an array).
	Type  RelationType `yaml:"type" jsonschema:"required"`
	Table rawTable     `yaml:",inline"`
	// On maps each parent column to the related table's column it equals;
	// several pairs form a composite key.
	On yaml.Node `yaml:"on" jsonschema:"required"`
	// Fields are the related columns copied: a list keeps the column
	// names, a map renames column: field; left out, every column is copied.
	Fields yaml.Node `yaml:"fields"`
	// Relations join further tables under this one.
	Relations []rawRelation `yaml:"relations"`
}
