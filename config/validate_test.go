package config

import (
	"strings"
	"testing"
)

// TestLoadProblems changes one thing in the valid example per case and
// expects the exact problems, FILE standing for the file name.
func TestLoadProblems(t *testing.T) {
	sinkURL := `  urls: ["http://127.0.0.1:9200"]`
	addToSink := func(lines string) func(string) string { return replace(t, sinkURL, sinkURL+"\n"+lines) }
	addTop := func(block string) func(string) string { return replace(t, "views:\n", block+"views:\n") }
	tests := []struct {
		name string
		edit func(string) string
		env  func(string) (string, bool)
		want string
	}{
		// Sources.
		{"no sources", between(t, "sources:\n", "sink:\n", "sources: {}\n"), nil, `FILE:2:1: sources: no source database is declared; add one, e.g. orders: { dsn: "postgres://user@host:5432/orders" }
FILE:11:13: views[0].root.source: source "orders" is not declared; declare it under sources
FILE:16:9: views[0].relations[0].source: source "consumers" is not declared; declare it under sources
FILE:22:9: views[0].relations[1].source: source "restaurants" is not declared; declare it under sources
FILE:28:9: views[0].relations[2].source: source "orders" is not declared; declare it under sources
FILE:35:13: views[0].relations[2].relations[0].source: source "restaurants" is not declared; declare it under sources
FILE:41:9: views[0].relations[3].source: source "deliveries" is not declared; declare it under sources`},
		{"source name", replace(t, "  deliveries:  {", "  Deliveries:  {"), nil, `FILE:6:3: sources.Deliveries: "Deliveries" is not a valid source name; use lowercase letters, digits and "_", starting with a letter (at most 53)
FILE:6:3: sources.Deliveries: no view uses source "Deliveries"; remove it, since its replication slot would hold back WAL for nothing
FILE:45:9: views[0].relations[3].source: source "deliveries" is not declared; use one of orders, consumers, restaurants, Deliveries, or declare it under sources`},
		{"empty dsn", replace(t, `"${DELIVERIES_DSN}"`, `""`), nil, `FILE:6:18: sources.deliveries.dsn: is empty; write a postgres:// URL or a key=value DSN such as "host=db dbname=orders"`},
		{"dsn bad port", replace(t, "127.0.0.1:5433/consumers", "127.0.0.1:port/consumers"), nil, `FILE:4:18: sources.consumers.dsn: is neither a PostgreSQL URL nor a key=value DSN (invalid port); write it like postgres://user@host:5432/dbname or host=db dbname=orders`},
		{"dsn neither url nor key=value", replace(t, `"postgres://postgres@127.0.0.1:5433/consumers"`, `"mysql://root@127.0.0.1/consumers"`), nil, `FILE:4:18: sources.consumers.dsn: is neither a PostgreSQL URL nor a key=value DSN (failed to parse as keyword/value (invalid keyword/value)); write it like postgres://user@host:5432/dbname or host=db dbname=orders`},
		{"dsn bad option", replace(t, "5434/restaurants", "5434/restaurants?sslmode=sometimes"), nil, `FILE:5:18: sources.restaurants.dsn: is neither a PostgreSQL URL nor a key=value DSN (failed to configure TLS (sslmode is invalid)); write it like postgres://user@host:5432/dbname or host=db dbname=orders`},
		{"slot name", replace(t, `5433/orders" }`, `5433/orders", slot: Orders-Slot }`), nil, `FILE:3:68: sources.orders.slot: "Orders-Slot" is not a valid replication slot name; use at most 63 lowercase letters, digits and "_", not starting with a digit`},
		{"slot shared", replace(t, `5433/consumers" }`, `5433/consumers", slot: projector_orders }`), nil, `FILE:4:71: sources.consumers.slot: slot "projector_orders" is also used by source "orders"; give each source its own slot`},
		{"publication name", replace(t, `5433/orders" }`, `5433/orders", publication: "all tables" }`), nil, `FILE:3:68: sources.orders.publication: "all tables" is not a valid publication name; use at most 63 lowercase letters, digits and "_", not starting with a digit`},
		{"publication mode", replace(t, `5433/orders" }`, `5433/orders", publication_mode: borrowed }`), nil, `FILE:3:68: sources.orders.publication_mode: "borrowed" is not a publication mode; use managed (projector creates the publication and adds the tables the views need) or existing (a publication your administrator made, used as it is)`},
		{"unset variable", func(s string) string { return s }, func(string) (string, bool) { return "", false }, `FILE:6:23: sources.deliveries.dsn: environment variable DELIVERIES_DSN is not set; export it, or give a default with ${DELIVERIES_DSN:-value}`},
		{"bad variable reference", replace(t, `"${DELIVERIES_DSN}"`, `"${DELIVERIES DSN}"`), nil, `FILE:6:23: sources.deliveries.dsn: "${DELIVERIES DSN}" is not a variable reference; write ${NAME} or ${NAME:-default}, or "$$" for a literal "$"`},
		{"event types of an unread table", replace(t, `5433/orders" }`, `5433/orders", event_types: { menu: { created: MenuAdded } } }`), nil, `FILE:3:83: sources.orders.event_types.menu: no view reads table public.menu from source "orders", so it has no events to name; fix the table name or remove it`},
		{"event types unknown operation", replace(t, `5433/orders" }`, `5433/orders", event_types: { orders: { placed: OrderPlaced } } }`), nil, `FILE:3:93: unknown key "placed" in sources.orders.event_types.orders; valid keys there are created, deleted, truncated, updated`},
		{"unused source", replace(t, "        source: deliveries\n", "        source: orders\n"), nil, `FILE:6:3: sources.deliveries: no view uses source "deliveries"; remove it, since its replication slot would hold back WAL for nothing`},
		// Sink.
		{"no urls", replace(t, sinkURL, "  urls: []"), nil, `FILE:8:3: sink.urls: no search engine address is given; list at least one, e.g. ["http://127.0.0.1:9200"]`},
		{"url without scheme", replace(t, sinkURL, `  urls: ["127.0.0.1:9200"]`), nil, `FILE:8:10: sink.urls[0]: is not a valid URL (first path segment in URL cannot contain colon); write it like http://127.0.0.1:9200 or https://search.example.com:9200`},
		{"url scheme", replace(t, sinkURL, `  urls: ["ftp://127.0.0.1:9200"]`), nil, `FILE:8:10: sink.urls[0]: "ftp://127.0.0.1:9200" is not an http:// or https:// URL; write it like http://127.0.0.1:9200 or https://search.example.com:9200`},
		{"bad escape hides password", replace(t, sinkURL, `  urls: ["http://elastic:hun%zzter2@127.0.0.1:9200"]`), nil, `FILE:8:10: sink.urls[0]: is not a valid URL (it contains an invalid %-escape); write it like http://127.0.0.1:9200 or https://search.example.com:9200`},
		{"url without host hides password", replace(t, sinkURL, `  urls: ["http://elastic:hunter2@/"]`), nil, `FILE:8:10: sink.urls[0]: "http://elastic:xxxxx@/" has no host; write it like http://127.0.0.1:9200 or https://search.example.com:9200`},
		{"password without username", addToSink("  password: hunter2"), nil, `FILE:9:3: sink.password: is set but sink.username is not; set username too, or use api_key`},
		{"username without password", addToSink("  username: elastic"), nil, `FILE:9:3: sink.username: is set without a password; set password or password_file too`},
		{"api key and username", addToSink("  api_key: a2V5\n  username: elastic\n  password: hunter2"), nil, `FILE:9:3: sink.api_key: is set together with sink.username; authenticate with one of them`},
		{"missing password file", addToSink("  username: elastic\n  password_file: /nonexistent/password"), nil, `FILE:10:3: sink.password_file: open /nonexistent/password: no such file or directory; check the path and that projector may read it`},
		{"missing ca file", addToSink("  ca_cert_file: /nonexistent/ca.pem"), nil, `FILE:9:3: sink.ca_cert_file: stat /nonexistent/ca.pem: no such file or directory; point it at a readable PEM file`},
		{"negative timeout", addToSink("  timeout: -5s"), nil, `FILE:9:3: sink.timeout: must be greater than 0, got -5s; e.g. 30s`},
		{"duration without unit", addToSink("  flush_interval: 10"), nil, `FILE:9:19: sink.flush_interval: "10" is not a duration; write it like 10s, 1m30s or 500ms`},
		{"zero bulk actions", addToSink("  bulk_actions: 0"), nil, `FILE:9:3: sink.bulk_actions: must be at least 1, got 0; e.g. 1000`},
		{"bulk actions not a number", addToSink("  bulk_actions: many"), nil, `FILE:9:17: sink.bulk_actions: "many" is not a whole number; write digits only, e.g. 1000`},
		{"negative bulk bytes", addToSink("  bulk_bytes: -1"), nil, `FILE:9:3: sink.bulk_bytes: must be greater than 0, got -1; e.g. 5MiB`},
		{"bulk bytes unit", addToSink("  bulk_bytes: 5XB"), nil, `FILE:9:15: sink.bulk_bytes: "5XB" is not a size; write it like 5MiB, 5MB or 5242880`},
		{"zero concurrency", addToSink("  concurrency: 0"), nil, `FILE:9:3: sink.concurrency: must be at least 1, got 0; e.g. 2`},
		{"unknown sink key", addToSink("  url: http://127.0.0.1:9200"), nil, `FILE:9:3: unknown key "url" in sink; did you mean "urls"? Valid keys there are api_key, api_key_file, bulk_actions, bulk_bytes, ca_cert_file, concurrency, flush_interval, gzip, index_prefix, insecure_skip_verify, password, password_file, timeout, urls, username`},
		{"slot_name for slot", replace(t, `5433/orders" }`, `5433/orders", slot_name: orders }`), nil, `FILE:3:68: unknown key "slot_name" in sources.orders; did you mean "slot"? Valid keys there are dsn, event_types, events, password_file, publication, publication_mode, slot, snapshot`},
		{"chunked event table", replace(t, `5433/orders" }`, `5433/orders", snapshot: { mode: chunked }, events: { order: { table: outbox, on: { OrderCancelled: { delete: true } } } } }`), nil, `FILE:3:80: sources.orders.snapshot.mode: chunked cannot copy the event table outbox of events.order: its events are folded in their order, which a copy in chunks beside the stream would not keep; use exported or auto (auto takes an exported snapshot of a source with an event table)`},
		{"snapshot mode", replace(t, `5433/orders" }`, `5433/orders", snapshot: { mode: fast, chunk_rows: -1 } }`), nil, `FILE:3:80: sources.orders.snapshot.mode: "fast" is not a snapshot mode; use auto (chunked for sources of more than a million rows), exported (one consistent copy before streaming) or chunked (resumable copy in key order while streaming)
FILE:3:92: sources.orders.snapshot.chunk_rows: -1 rows is out of range; use a number from 1 to 1000000 (one chunk is held in memory), or leave it out for 5000`},
		{"url for dsn", replace(t, `{ dsn: "postgres://postgres@127.0.0.1:5433/orders" }`, `{ url: "postgres://postgres@127.0.0.1:5433/orders" }`), nil, `FILE:3:18: unknown key "url" in sources.orders; did you mean "dsn"? Valid keys there are dsn, event_types, events, password_file, publication, publication_mode, slot, snapshot`},
		{"unknown key far from any", addToSink("  colour: blue"), nil, `FILE:9:3: unknown key "colour" in sink; valid keys there are api_key, api_key_file, bulk_actions, bulk_bytes, ca_cert_file, concurrency, flush_interval, gzip, index_prefix, insecure_skip_verify, password, password_file, timeout, urls, username`},
		{"duration in a flow map", addTop("capture: { failover_slot: true, receive_timeout: 10 }\n"), nil, `FILE:13:50: capture.receive_timeout: "10" is not a duration; write it like 10s, 1m30s or 500ms`},
		{"two bad values on one line", addTop("capture: { receive_timeout: soon, failover_slot: maybe }\n"), nil, `FILE:13:29: capture.receive_timeout: "soon" is not a duration; write it like 10s, 1m30s or 500ms
FILE:13:50: capture.failover_slot: "maybe" is not a boolean; write true or false`},
		{"long values on one line", replace(t, "sink:\n"+sinkURL, `sink: { urls: ["http://127.0.0.1:9200"], bulk_actions: manymanymany, concurrency: manymanymanx, gzip: perhaps-not }`), nil, `FILE:7:56: sink.bulk_actions: "manyman..." is not a whole number; write digits only, e.g. 1000
FILE:7:83: sink.concurrency: "manyman..." is not a whole number; write digits only, e.g. 1000
FILE:7:103: sink.gzip: "perhaps..." is not a boolean; write true or false`},
		{"size in a flow map", replace(t, "sink:\n"+sinkURL, `sink: { urls: ["http://127.0.0.1:9200"], bulk_bytes: lots }`), nil, `FILE:7:54: sink.bulk_bytes: "lots" is not a size; write it like 5MiB, 5MB or 5242880`},
		// Process.
		{"empty state dir", replace(t, "  dir: ./var/state", `  dir: ""`), nil, `FILE:10:3: state.dir: is empty; name a directory projector may keep its state in, e.g. ./var/state`},
		{"listen without port", replace(t, "  listen: 127.0.0.1:9464", "  listen: 127.0.0.1"), nil, `FILE:12:3: http.listen: "127.0.0.1" is not host:port; write it like 127.0.0.1:9464, or :9464 for every interface`},
		{"listen with named port", replace(t, "  listen: 127.0.0.1:9464", "  listen: localhost:http"), nil, `FILE:12:3: http.listen: "localhost:http" is not host:port; write it like 127.0.0.1:9464, or :9464 for every interface`},
		{"pprof without token", replace(t, "  listen: 127.0.0.1:9464", "  listen: 127.0.0.1:9464\n  pprof: true"), nil, `FILE:13:3: http.pprof: is on without http.pprof_token_file; profiles are only served to requests bearing a token, so write one into a file (e.g. openssl rand -hex 32 > pprof.token) and name it in http.pprof_token_file`},
		{"pprof token file missing", replace(t, "  listen: 127.0.0.1:9464", "  listen: 127.0.0.1:9464\n  pprof: true\n  pprof_token_file: /nonexistent/token"), nil, `FILE:14:3: http.pprof_token_file: open /nonexistent/token: no such file or directory; check the path and that projector may read it`},
		{"slot lost action", addTop("capture:\n  on_slot_lost: ignore\n"), nil, `FILE:14:3: capture.on_slot_lost: "ignore" is not an action; use stop, or rebootstrap to rebuild the views from a new snapshot`},
		{"failover slot not a boolean", addTop("capture:\n  failover_slot: maybe\n"), nil, `FILE:14:18: capture.failover_slot: "maybe" is not a boolean; write true or false`},
		{"zero receive timeout", addTop("capture:\n  receive_timeout: 0s\n"), nil, `FILE:14:3: capture.receive_timeout: must be greater than 0, got 0s; e.g. 1m, like PostgreSQL's wal_receiver_timeout`},
		{"negative max lag", addTop("readiness:\n  max_lag: -1s\n"), nil, `FILE:14:3: readiness.max_lag: must not be negative, got -1s; use 0 to ignore lag`},
		{"negative grace", addTop("shutdown:\n  grace: -10s\n"), nil, `FILE:14:3: shutdown.grace: must not be negative, got -10s; e.g. 10s`},
		{"log format", addTop("log:\n  format: xml\n"), nil, `FILE:14:3: log.format: "xml" is not a log format; use json or text`},
		{"log level", addTop("log:\n  level: loud\n"), nil, `FILE:14:3: log.level: "loud" is not a log level; use debug, info, warn or error`},
		{"unknown top-level key", replace(t, "http:\n", "htp:\n"), nil, `FILE:11:1: unknown key "htp" at the top level; did you mean "http"? Valid keys there are admin, capture, http, log, readiness, shutdown, sink, sources, state, views`},
		// Views.
		{"no views", between(t, "views:\n", "", "views: []\n"), nil, `FILE:13:1: views: no view is declared; add at least one under views`},
		{"empty view name", replace(t, "name: order_history", `name: ""`), nil, `FILE:14:5: views[0].name: is empty; name the view, clients query the index alias of that name`},
		{"view name not an index name", replace(t, "name: order_history", `name: Order History`), nil, `FILE:14:5: views[0].name: "Order History" is not a valid index name; use lowercase letters, digits, "_" and "-", starting with a letter or digit (at most 200)`},
		{"duplicate view name", func(s string) string {
			return s + "  - name: order_history\n    root: { source: orders, table: orders }\n"
		}, nil, `FILE:49:5: views[1].name: view "order_history" is already declared at line 14; give each view its own name`},
		{"view name is a dead-letter index", func(s string) string {
			return s + "  - name: order_history-deadletter\n    root: { source: orders, table: orders }\n"
		}, nil, `FILE:49:5: views[1].name: view "order_history-deadletter" would share its index with the dead letters of view "order_history" (line 14), which go to "order_history-deadletter"; rename one of them`},
		{"root source not declared", replace(t, "root: { source: orders,", "root: { source: order,"), nil, `FILE:15:13: views[0].root.source: source "order" is not declared; use one of orders, consumers, restaurants, deliveries, or declare it under sources`},
		{"root table empty", replace(t, "table: orders }", `table: "" }`), nil, `FILE:15:29: views[0].root.table: is empty; name the table, as "table" or "schema.table"`},
		{"root schema empty", replace(t, "table: orders }", `table: orders, schema: "" }`), nil, `FILE:15:44: views[0].root.schema: is empty; name the schema, or leave it out for "public"`},
		{"numeric", replace(t, "    root:", "    numeric: float\n    root:"), nil, `FILE:15:5: views[0].numeric: "float" is not a numeric format; use string (exact) or number (aggregatable, loses precision past float64)`},
		{"json mapping", replace(t, "    root:", "    json: { payload: flattened, meta: text }\n    root:"), nil, `FILE:15:33: views[0].json.meta: "text" is not a json mapping; use stored (any shape, not searchable), flattened (objects, leaves searchable as keywords) or object (typed keys)`},
		{"shards", replace(t, "    root:", "    settings: { shards: 0 }\n    root:"), nil, `FILE:15:17: views[0].settings.shards: must be at least 1, got 0`},
		{"replicas", replace(t, "    root:", "    settings: { replicas: -1 }\n    root:"), nil, `FILE:15:17: views[0].settings.replicas: must not be negative, got -1; use 0 for none`},
		{"refresh interval not a duration", replace(t, "    root:", "    settings: { shards: 2, refresh_interval: soon }\n    root:"), nil, `FILE:15:46: views[0].settings.refresh_interval: "soon" is not a duration; write it like 10s, 1m30s or 500ms`},
		{"same bad value twice on one line", replace(t, "    root:", "    settings: { shards: x, replicas: x }\n    root:"), nil, `FILE:15:25: views[0].settings.shards: "x" is not a whole number; write digits only, e.g. 1000
FILE:15:38: views[0].settings.replicas: "x" is not a whole number; write digits only, e.g. 1000`},
		{"refresh interval", replace(t, "    root:", "    settings: { refresh_interval: 0s }\n    root:"), nil, `FILE:15:17: views[0].settings.refresh_interval: must be greater than 0, got 0s; e.g. 1s`},
		{"unknown view key", replace(t, "    root:", "    alias: orders\n    root:"), nil, `FILE:15:5: unknown key "alias" in views[0]; did you mean "name"? Valid keys there are fields, json, name, numeric, relations, root, settings`},
		// Relations.
		{"relation source not declared", replace(t, "        source: consumers\n", "        source: customers\n"), nil, `FILE:4:3: sources.consumers: no view uses source "consumers"; remove it, since its replication slot would hold back WAL for nothing
FILE:20:9: views[0].relations[0].source: source "customers" is not declared; use one of orders, consumers, restaurants, deliveries, or declare it under sources`},
		{"duplicate relation name", replace(t, "- name: restaurant\n", "- name: consumer\n"), nil, `FILE:24:9: views[0].relations[1].name: document field "consumer" is already written by relation "consumer"; rename one of them`},
		{"relation name is a field", replace(t, "- name: restaurant\n", "- name: status\n"), nil, `FILE:24:9: views[0].relations[1].name: document field "status" is already written by column "status"; rename one of them`},
		{"relation name with dot", replace(t, "- name: restaurant\n", "- name: restaurant.name\n"), nil, `FILE:24:9: views[0].relations[1].name: document field name "restaurant.name" contains "."; the search engine would read it as nesting, so use "_" instead`},
		{"unknown relation type", replace(t, "type: has_one", "type: has_few"), nil, `FILE:44:9: views[0].relations[3].type: "has_few" is not a relation type; use belongs_to, has_one or has_many`},
		{"missing relation type", replace(t, "        type: has_one             # deliveries.order_id -> orders.id ; an object\n", ""), nil, `FILE:43:9: views[0].relations[3].type: is missing; use belongs_to, has_one or has_many`},
		{"empty on", replace(t, "on: { restaurant_id: id }", "on: {}"), nil, `FILE:28:9: views[0].relations[1].on: is empty; map each parent column to the related column, e.g. { consumer_id: id }`},
		{"missing on", replace(t, "        on: { restaurant_id: id }\n", ""), nil, `FILE:24:9: views[0].relations[1].on: is empty; map each parent column to the related column, e.g. { consumer_id: id }`},
		{"on is a list", replace(t, "on: { restaurant_id: id }", "on: [restaurant_id, id]"), nil, `FILE:28:13: views[0].relations[1].on: is a list; write a map of parent column: related column, e.g. { consumer_id: id }`},
		{"on repeats a column", replace(t, "on: { consumer_id: id }", "on: { consumer_id: id, consumer_id: uuid }"), nil, `FILE:22:32: views[0].relations[0].on: parent column "consumer_id" is already listed at line 22; list it once`},
		{"on with empty column", replace(t, "on: { consumer_id: id }", `on: { consumer_id: "" }`), nil, `FILE:22:15: views[0].relations[0].on: a column name is empty; write parent column: related column`},
		{"relation cycle", replace(t, "table: order_line_items", "table: orders"), nil, `FILE:30:9: views[0].relations[2]: orders:public.orders is already joined on the way from the root (orders:public.orders); a view cannot join a table back into itself, so remove this relation`},
		{"unknown relation key", replace(t, "type: has_one", "kind: has_one"), nil, `FILE:44:9: unknown key "kind" in views[0].relations[3]; did you mean "type"? Valid keys there are entity, fields, name, on, relations, schema, source, table, type`},
		// Fields.
		{"empty fields", replace(t, "fields: [status, courier_name, delivered_at]", "fields: []"), nil, `FILE:48:9: views[0].relations[3].fields: is empty; list the columns to copy, or leave fields out to copy every column`},
		{"fields not a list or map", replace(t, "fields: [quantity, price_cents]", "fields: quantity"), nil, `FILE:35:17: views[0].relations[2].fields: is "quantity"; write a list of columns, or a map of column: field name`},
		{"field is not a name", replace(t, "fields: [quantity, price_cents]", "fields: [quantity, [price_cents]]"), nil, `FILE:35:28: views[0].relations[2].fields[1]: is a list; write a column name`},
		{"duplicate field in list", replace(t, "fields: [quantity, price_cents]", "fields: [quantity, quantity]"), nil, `FILE:35:28: views[0].relations[2].fields: document field "quantity" is already written by column "quantity"; rename one of them`},
		{"duplicate field by rename", replace(t, "email: contact_email", "email: name"), nil, `FILE:23:31: views[0].relations[0].fields: document field "name" is already written by column "name"; rename one of them`},
		{"duplicate column in map", replace(t, "email: contact_email", "name: contact_email"), nil, `FILE:23:31: views[0].relations[0].fields: column "name" is already listed at line 23; list it once`},
		{"field name with dot", replace(t, "email: contact_email", "email: contact.email"), nil, `FILE:23:31: views[0].relations[0].fields: document field name "contact.email" contains "."; the search engine would read it as nesting, so use "_" instead`},
		{"field name with underscore", replace(t, "email: contact_email", "email: _email"), nil, `FILE:23:31: views[0].relations[0].fields: document field name "_email" starts with "_", which the search engine reserves; rename it`},
		{"empty column", replace(t, "fields: [quantity, price_cents]", `fields: [quantity, ""]`), nil, `FILE:35:28: views[0].relations[2].fields: a column name is empty; write the column to copy`},
		// YAML.
		{"syntax", replace(t, "on: { consumer_id: id }", "on: { consumer_id: id"), nil, `FILE:22: invalid YAML: did not find expected ',' or '}'`},
		{"tab in indentation", replace(t, "        table: consumers\n", "        table: consumers\n\t\n"), nil, `FILE:22: invalid YAML: found a tab character that violates indentation`},
		{"not a map", func(string) string { return "- sources\n" }, nil, `FILE:1:1: the configuration is a list; it must be a map with keys such as sources, sink and views`},
		{"duplicate key", replace(t, "state:\n  dir: ./var/state\n", "state:\n  dir: ./var/state\n  dir: ./state\n"), nil, `FILE:11:8: state.dir: mapping key "dir" already defined at line 10`},
		{"list for a map", replace(t, "state:\n  dir: ./var/state\n", "state: [./var/state]\n"), nil, `FILE:9:8: state: is a list; write a map of keys, e.g. { key: value }`},
		{"text for a list", replace(t, sinkURL, `  urls: "http://127.0.0.1:9200"`), nil, `FILE:8:9: sink.urls: is "http://..."; write a list, e.g. [a, b]`},
		{"gzip not a boolean", addToSink("  gzip: maybe"), nil, `FILE:9:9: sink.gzip: "maybe" is not a boolean; write true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.env
			if env == nil {
				env = exampleEnv
			}
			_, file, err := loadEdited(t, tt.edit, env)
			if err == nil {
				t.Fatalf("loaded without error, want:\n%s", tt.want)
			}
			if got := strings.ReplaceAll(err.Error(), file, "FILE"); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// between returns an edit that replaces everything from the line starting
// with from up to the one starting with to (or the end) by with.
func between(t *testing.T, from, to, with string) func(string) string {
	return func(s string) string {
		i := strings.Index(s, from)
		j := len(s)
		if to != "" {
			j = strings.Index(s, to)
		}
		if i < 0 || j < i {
			t.Fatalf("%q ... %q not found in the example", from, to)
		}
		return s[:i] + with + s[j:]
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	cfg := Default()
	want := `sources: no source database is declared; add one, e.g. orders: { dsn: "postgres://user@host:5432/orders" }
sink.urls: no search engine address is given; list at least one, e.g. ["http://127.0.0.1:9200"]
views: no view is declared; add at least one under views`
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want:\n%s", err, want)
	}

	cfg.Sources["orders"] = Source{Name: "orders", DSN: "host=db dbname=orders", Slot: "projector_orders", Publication: "projector_orders"}
	cfg.Sink.URLs = []string{"http://127.0.0.1:9200"}
	cfg.Views = []View{{
		Name: "orders", Root: TableRef{Source: "orders", Schema: "public", Name: "orders"}, AllColumns: true,
		Numeric: NumericString, Settings: DefaultIndexSettings(),
	}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
}

func TestPosString(t *testing.T) {
	tests := []struct {
		pos  Pos
		want string
	}{
		{Pos{"a.yaml", 3, 7}, "a.yaml:3:7"},
		{Pos{"a.yaml", 3, 0}, "a.yaml:3"},
		{Pos{"a.yaml", 0, 0}, "a.yaml"},
		{Pos{"", 3, 7}, "3:7"},
		{Pos{}, ""},
	}
	for _, tt := range tests {
		if got := tt.pos.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.pos, got, tt.want)
		}
	}
	if err := (Pos{}).Errorf("100%% %s", "done"); err.Error() != "100% done" {
		t.Errorf("Errorf without a position = %q", err)
	}
}
