package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// Source is one service database projector replicates from.
type Source struct {
	// Name is the key under sources; views refer to the database by it.
	Name string `yaml:"-"`
	// DSN is a postgres:// URL or a libpq key=value connection string, e.g.
	// "postgres://projector@db:5432/orders?sslmode=verify-full". A password
	// in it never appears in logs or errors.
	DSN string `yaml:"dsn" jsonschema:"required"`
	// PasswordFile names a file holding the password, for secrets mounted
	// as files; it is read at start and added to DSN, which must then have
	// none.
	PasswordFile string `yaml:"password_file"`
	// Slot is the logical replication slot; "projector_<name>" by default.
	Slot string `yaml:"slot"`
	// Publication lists the captured tables; "projector_<name>" by default.
	Publication string `yaml:"publication"`
	// PublicationMode says who owns the publication: managed (the default,
	// also when empty) creates it when missing and
	// adds the tables the views need; existing uses one an administrator
	// made as it is, and refuses to start unless it publishes what the
	// views need.
	PublicationMode PublicationMode `yaml:"publication_mode"`
	// EventTypes renames the domain events of the source's tables, by table
	// ("orders" or "public.orders"); unnamed operations keep the default
	// "<table>.created|updated|deleted|truncated".
	EventTypes map[string]EventNames `yaml:"event_types"`
	// Events are the entities folded from the domain events the source
	// publishes, by entity name; views read one as {source: <source>,
	// entity: <name>}.
	Events map[string]EventStream `yaml:"events"`
	// Snapshot says how the source's initial snapshot is taken.
	Snapshot SourceSnapshot `yaml:"snapshot"`
}

// SourceSnapshot says how a source's initial snapshot is taken.
type SourceSnapshot struct {
	// Mode is auto (the default: chunked when the source's tables hold
	// more than 1,000,000 rows by the server's estimate, exported
	// otherwise), exported (one transaction on the slot's exported
	// snapshot before streaming starts: fastest, every document built
	// once, but a crash starts it over and the slot holds WAL for the
	// whole copy) or chunked (streaming starts at once and each table is
	// copied in key order a chunk at a time between watermarks; a restart
	// resumes after the last chunk applied and the slot keeps advancing).
	Mode SnapshotMode `yaml:"mode"`
	// ChunkRows is how many rows one chunk of a chunked snapshot copies;
	// one chunk is held in memory at a time; 5000 by default.
	ChunkRows int `yaml:"chunk_rows"`
}

// SnapshotMode says how a source's initial snapshot is taken.
type SnapshotMode string

// The snapshot modes.
const (
	SnapshotAuto     SnapshotMode = "auto"
	SnapshotExported SnapshotMode = "exported"
	SnapshotChunked  SnapshotMode = "chunked"
)

// PublicationMode says whether projector creates and maintains a source's
// publication or uses one a database administrator made.
type PublicationMode string

const (
	// PublicationManaged creates the publication when it is missing, adds
	// the tables the views need and never removes tables it did not add; it
	// changes the publication's options only when projector created it.
	PublicationManaged PublicationMode = "managed"
	// PublicationExisting uses the publication as it is, never altering it,
	// and refuses to start unless it publishes what the views need.
	PublicationExisting PublicationMode = "existing"
)

// EventNames are a table's domain event types by operation.
type EventNames struct {
	// Created names the event of an inserted row (and of a row read by a
	// snapshot); "<table>.created" by default.
	Created string `yaml:"created,omitempty"`
	// Updated names the event of an updated row; "<table>.updated" by
	// default.
	Updated string `yaml:"updated,omitempty"`
	// Deleted names the event of a deleted row; "<table>.deleted" by
	// default.
	Deleted string `yaml:"deleted,omitempty"`
	// Truncated names the event of a truncated table; "<table>.truncated"
	// by default.
	Truncated string `yaml:"truncated,omitempty"`
}

// EventTypeNames returns EventTypes keyed by "schema.table" and then by
// operation (created, updated, deleted, truncated), leaving out the
// operations that keep their default names.
func (s Source) EventTypeNames() map[string]map[string]string {
	out := map[string]map[string]string{}
	for table, names := range s.EventTypes {
		byOp := map[string]string{}
		for op, name := range map[string]string{
			"created": names.Created, "updated": names.Updated, "deleted": names.Deleted, "truncated": names.Truncated,
		} {
			if name != "" {
				byOp[op] = name
			}
		}
		out[qualifiedTable(table)] = byOp
	}
	return out
}

// qualifiedTable puts a table name in the public schema unless it names
// its schema.
func qualifiedTable(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	return "public." + name
}

// String describes the source without its password.
func (s Source) String() string {
	return fmt.Sprintf("Source{Name:%s DSN:%s Slot:%s Publication:%s PublicationMode:%s}", s.Name, s.RedactedDSN(), s.Slot, s.Publication, s.PublicationMode)
}

// GoString keeps %#v from printing the password.
func (s Source) GoString() string { return s.String() }

// LogValue keeps slog from printing the password.
func (s Source) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.Name),
		slog.String("dsn", s.RedactedDSN()),
		slog.String("slot", s.Slot),
		slog.String("publication", s.Publication),
		slog.String("publication_mode", string(s.PublicationMode)),
	)
}

// RedactedDSN returns DSN with every password replaced by "xxxxx". A DSN too
// malformed to find its password in is hidden entirely.
func (s Source) RedactedDSN() string { return redactDSN(s.DSN) }
