package config

import (
	"errors"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// identifier is what projector accepts as a source, slot or publication
// name: PostgreSQL takes it unquoted and replication slots allow no more.
var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// sourceName is a source key: it prefixes the default slot name, so it must
// leave room for "projector_".
var sourceName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,52}$`)

// Validate checks everything that can be checked without a server and
// returns every problem at once, joined. Each says where (file:line:col and
// the key), what is wrong and how to fix it. Tables, columns, key types and
// primary keys need a live server and are checked by the stages that
// connect, against the positions kept in View, Relation, Field and JoinPair.
func (c *Config) Validate() error {
	v := &validator{c: c}
	v.sources()
	v.sink()
	v.service()
	v.admin()
	v.views()
	return errors.Join(v.errs...)
}

// validator collects problems.
type validator struct {
	c    *Config
	errs []error
}

// add records a problem with the key at path.
func (v *validator) add(path, format string, args ...any) {
	v.addAt(v.c.at(path), path, format, args...)
}

// addAt records a problem at a known position.
func (v *validator) addAt(pos Pos, path, format string, args ...any) {
	v.errs = append(v.errs, pos.Errorf("%s: "+format, append([]any{path}, args...)...))
}

// at is where path was written, or where its nearest written parent was.
func (c *Config) at(path string) Pos { return lookupPos(c.positions, c.File, path) }

// lookupPos finds path, or its nearest parent, in positions.
func lookupPos(positions map[string]Pos, file, path string) Pos {
	for p := path; p != ""; {
		if pos, ok := positions[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Pos{File: file}
}

// sourceNames returns the source names in file order, or sorted when the
// Config was built in code without SourceNames.
func (c *Config) sourceNames() []string {
	if len(c.SourceNames) == len(c.Sources) {
		ok := true
		for _, n := range c.SourceNames {
			_, found := c.Sources[n]
			ok = ok && found
		}
		if ok {
			return c.SourceNames
		}
	}
	names := make([]string, 0, len(c.Sources))
	for n := range c.Sources {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (v *validator) sources() {
	names := v.c.sourceNames()
	if len(names) == 0 {
		v.add("sources", `no source database is declared; add one, e.g. orders: { dsn: "postgres://user@host:5432/orders" }`)
		return
	}
	used := v.c.usedSources()
	slots := map[string]string{}
	for _, name := range names {
		s := v.c.Sources[name]
		path := "sources." + name
		v.dsn(s.DSN, path+".dsn")
		if !sourceName.MatchString(name) {
			// The default slot and publication names derive from it, so
			// their problems would only repeat this one.
			v.add(path, `%q is not a valid source name; use lowercase letters, digits and "_", starting with a letter (at most 53)`, name)
		} else {
			v.identifier(s.Slot, path+".slot", "replication slot")
			v.identifier(s.Publication, path+".publication", "publication")
		}
		if s.PublicationMode != "" && s.PublicationMode != PublicationManaged && s.PublicationMode != PublicationExisting {
			v.add(path+".publication_mode", "%q is not a publication mode; use managed (projector creates the publication and adds the tables the views need) or existing (a publication your administrator made, used as it is)", s.PublicationMode)
		}
		v.snapshot(path+".snapshot", s.Snapshot)
		if s.Snapshot.Mode == SnapshotChunked {
			for _, name := range slices.Sorted(maps.Keys(s.Events)) {
				if s.Events[name].Table != "" {
					v.add(path+".snapshot.mode", "chunked cannot copy the event table %s of events.%s: its events are folded in their order, "+
						"which a copy in chunks beside the stream would not keep; use exported or auto (auto takes an exported snapshot of a source with an event table)",
						s.Events[name].Table, name)
				}
			}
		}
		if other, dup := slots[s.Slot]; dup {
			v.add(path+".slot", "slot %q is also used by source %q; give each source its own slot", s.Slot, other)
		}
		slots[s.Slot] = name
		v.eventTypes(name, s)
		v.events(name, s)
		if len(v.c.Views) > 0 && !used[name] {
			v.add(path, "no view uses source %q; remove it, since its replication slot would hold back WAL for nothing", name)
		}
	}
}

func (v *validator) dsn(dsn, path string) {
	if dsn == "" {
		v.add(path, `is empty; write a postgres:// URL or a key=value DSN such as "host=db dbname=orders"`)
		return
	}
	if problem := dsnProblem(dsn); problem != "" {
		v.add(path, "is neither a PostgreSQL URL nor a key=value DSN (%s); write it like postgres://user@host:5432/dbname or host=db dbname=orders", problem)
	}
}

func (v *validator) identifier(name, path, what string) {
	if !identifier.MatchString(name) {
		v.add(path, `%q is not a valid %s name; use at most 63 lowercase letters, digits and "_", not starting with a digit`, name, what)
	}
}

// usedSources is the set of sources some view reads.
func (c *Config) usedSources() map[string]bool {
	used := map[string]bool{}
	for source := range c.TablesBySource() {
		used[source] = true
	}
	for i := range c.Views {
		for _, t := range c.Views[i].Tables() {
			used[t.Source] = used[t.Source] || t.IsEntity()
		}
	}
	return used
}

// positive records a duration that must be greater than zero.
func (v *validator) positive(path string, d Duration, example string) {
	if d <= 0 {
		v.add(path, "must be greater than 0, got %s; e.g. %s", d, example)
	}
}

// nonNegative records a negative duration.
func (v *validator) nonNegative(path string, d Duration, zero string) {
	if d < 0 {
		v.add(path, "must not be negative, got %s; %s", d, zero)
	}
}

// service checks the keys about projector's own process.
func (v *validator) service() {
	c := v.c
	if c.State.Dir == "" {
		v.add("state.dir", "is empty; name a directory projector may keep its state in, e.g. ./var/state")
	}
	if !validListen(c.HTTP.Listen) {
		v.add("http.listen", "%q is not host:port; write it like 127.0.0.1:9464, or :9464 for every interface", c.HTTP.Listen)
	}
	if c.HTTP.Pprof && c.HTTP.PprofToken == "" {
		v.add("http.pprof", "is on without http.pprof_token_file; profiles are only served to requests bearing a token, "+
			"so write one into a file (e.g. openssl rand -hex 32 > pprof.token) and name it in http.pprof_token_file")
	}
	if c.Capture.OnSlotLost != SlotLostStop && c.Capture.OnSlotLost != SlotLostRebootstrap {
		v.add("capture.on_slot_lost", "%q is not an action; use stop, or rebootstrap to rebuild the views from a new snapshot", c.Capture.OnSlotLost)
	}
	v.positive("capture.receive_timeout", c.Capture.ReceiveTimeout, "1m, like PostgreSQL's wal_receiver_timeout")
	v.nonNegative("readiness.max_lag", c.Readiness.MaxLag, "use 0 to ignore lag")
	v.nonNegative("shutdown.grace", c.Shutdown.Grace, "e.g. 10s")
	if c.Log.Format != "json" && c.Log.Format != "text" {
		v.add("log.format", "%q is not a log format; use json or text", c.Log.Format)
	}
	if _, err := c.Log.SlogLevel(); err != nil {
		v.add("log.level", "%q is not a log level; use debug, info, warn or error", c.Log.Level)
	}
}

// validListen reports whether s is a host:port with a numeric port.
func validListen(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// eventTypes checks that renamed events belong to tables the source's
// views read: others never produce events, so the names would be dead.
func (v *validator) eventTypes(source string, s Source) {
	read := map[string]bool{}
	for _, t := range v.c.TablesBySource()[source] {
		read[t.Schema+"."+t.Name] = true
	}
	for table := range s.EventTypes {
		if !read[qualifiedTable(table)] {
			v.add("sources."+source+".event_types."+table, "no view reads table %s from source %q, so it has no events to name; fix the table name or remove it",
				qualifiedTable(table), source)
		}
	}
}
