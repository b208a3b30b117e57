// Package config loads and validates projector's YAML configuration. It
// only reads and checks: it starts nothing and connects nowhere.
//
// # The file
//
// docs/configuration.md is the reference for every key: its type, its
// default, what it does and an example; a test fails when a key the loader
// accepts is missing there or a default it gives is not Default's.
// testdata/views-example.yaml is a complete file. In short:
//
//	sources:
//	  orders:    { dsn: "postgres://postgres@127.0.0.1:5433/orders" }
//	  consumers: { dsn: "${CONSUMERS_DSN}", password_file: /run/secrets/pg }
//	sink:
//	  urls: ["http://127.0.0.1:9200"]
//	views:
//	  - name: order_history                    # the alias clients query
//	    root: { source: orders, table: orders } # _id = primary key (docs/adr/0001)
//	    fields: [id, status]                    # a list keeps column names
//	    relations:
//	      - name: consumer
//	        type: belongs_to                    # belongs_to | has_one (unique key) | has_many
//	        source: consumers
//	        table: consumers                    # or "schema.table"; public by default
//	        on: { consumer_id: id }             # parent column: related column
//	        fields: { email: contact_email }    # a map renames column: field
//
// A source may also publish domain events: under sources.<name>.events
// each entity names its event table (or message prefix), the columns of an
// event and a reducer per event type, whose jq expressions are compiled
// here, so a bad one is reported at its line. Views read an entity as
// {source: orders, entity: order}, which TableRef holds with EntitySchema
// as its schema; TablesBySource lists the event table in its stead. Keep
// (all by default) says whether the state keeps the folded events, so
// that a changed reducer folds the entities again from all of them.
//
// The structs the loader decodes into (document and below) define the
// keys: their yaml tags name them, and their doc comments are the
// descriptions of the file's JSON Schema, projector.schema.json, which
// Schema returns and TestSchemaIsCurrent regenerates (go generate). A new
// key therefore needs a doc comment, a check in Validate with a file:line
// error, and a row in docs/configuration.md.
//
// # Values
//
// Every value may use ${NAME}, or ${NAME:-default} when NAME is unset or
// empty; an unset NAME without a default is an error, and "$$" writes a
// literal "$". Durations are Go durations ("10s", "1m30s"); sizes are a
// number of bytes or take a unit ("5MiB" is 5×1024×1024, "5MB" is 5×10⁶).
// A value that cannot be read is an error, never replaced by a default.
//
// # Errors
//
// Load reports every problem it finds at once, one per line, each as
// "file:line:col: key.path: what is wrong; how to fix it". Unknown keys are
// errors that list the keys accepted at that place and suggest the one
// most likely meant. Checks that need a live server (tables, columns, key
// types, primary keys) are left to the stages that connect; View.Joins and
// Config.TablesBySource give them what to check, and Pos.Errorf reports
// their findings against the line the operator wrote.
//
// The admin API (admin.*) is off unless admin.token_file is set; its
// tokens are secrets like the others. admin.bulk_refresh (default false)
// lets a wait be made searchable by the refresh=true of the next bulk
// request of the view's one-shard index instead of a refresh request.
//
// Secrets never print: Config, Source and Sink format and log themselves
// with passwords and API keys replaced by "xxxxx", and Effective, the
// configuration as `projector config print` shows it, leaves out those
// read from files.
package config
