// Package config loads and validates projector's YAML configuration. It
// only reads and checks: it starts nothing and connects nowhere.
//
// # The file
//
// A file declares the service databases (sources), the search engine
// (sink) and the views: one document type each, built from a root table
// and its relations. See testdata/views-example.yaml for a complete file.
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
// Leaving fields out copies every column. A view may not be named like
// another view's dead-letter index ("<name>-deadletter"). Each source gets the replication
// slot and publication "projector_<name>" unless slot and publication say
// otherwise. publication_mode says who owns the publication: managed (the
// default) creates it, adds the tables the views need and never removes
// one it did not add; existing uses a publication an administrator made
// (FOR ALL TABLES, FOR TABLES IN SCHEMA or a list) as it is, never
// altering it, and refuses to start unless it publishes what the views
// need. A source may also rename its tables' domain events with event_types,
// e.g. event_types: { orders: { created: OrderPlaced } }. The sink also takes username with password or password_file,
// api_key or api_key_file, ca_cert_file, insecure_skip_verify, timeout,
// gzip, bulk_actions, bulk_bytes, flush_interval, concurrency and
// index_prefix (put in front of every alias and index name); a view
// takes numeric (string or number), json (how each json or jsonb field is
// indexed, by document field path: stored, the default, keeps any shape
// unsearchable; flattened indexes an object's leaves as keywords; object
// maps its keys dynamically, e.g. json: { payload: flattened }) and
// settings (shards, replicas, refresh_interval). state.dir, http.listen
// (127.0.0.1:9464 by default; write :9464 or the pod's address where
// Prometheus scrapes from elsewhere), http.pprof with http.pprof_token_file
// (the bearer token profile requests must send; pprof is refused without
// it), capture.on_slot_lost (stop or rebootstrap), capture.failover_slot
// (true creates the replication slots with failover on, or turns it on for
// existing ones, which needs PostgreSQL 17 or later: a standby with
// sync_replication_slots keeps them, so a failover does not lose the slot;
// a source on an older server stops with an error), capture.receive_timeout
// (1m: a replication stream silent that long, though asked for a reply
// halfway, is reconnected), readiness.max_lag, shutdown.grace, log.format
// and log.level
// complete the file; Default shows every default.
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
// "file:line:col: key: what is wrong; how to fix it". Unknown keys are
// errors that list the keys accepted at that place. Checks that need a
// live server (tables, columns, key types, primary keys) are left to the
// stages that connect; View.Joins and Config.TablesBySource give them what
// to check, and Pos.Errorf reports their findings against the line the
// operator wrote.
//
// Secrets never print: Config, Source and Sink format and log themselves
// with passwords and API keys replaced by "xxxxx".
package config
