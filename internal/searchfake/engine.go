// Package searchfake is an in-memory search engine that speaks the part of
// the Elasticsearch/OpenSearch REST API projector uses: GET /, index
// creation with mappings, settings and aliases, alias changes, _mapping
// with _meta, _bulk with external versions (conflicts and delete
// tombstones included), _refresh, _count, _search and _mget with the
// queries the views are read with (bool, term, terms, match, match_phrase,
// range, exists, ids, nested), and the engine's refusals: a value the
// mapping cannot take fails its item, an id over 512 bytes fails the whole
// request, as does a body over MaxContentLength (413).
//
// One leniency is deliberate: every write is visible to searches at once,
// as if each were followed by a refresh; tests refresh anyway, because the
// engines need it.
//
// Unit tests use it where a real engine would be slow or unavailable. The
// sink conformance suite runs the same behaviours against it and against
// the real engines, so where it differs from them the suite fails: fix the
// fake, not the suite.
package searchfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
)

// Flavour is the product the fake presents itself as.
type Flavour int

const (
	// OpenSearch answers GET / as OpenSearch 2.19 does.
	OpenSearch Flavour = iota
	// Elasticsearch answers as Elasticsearch 8.19 does, with the
	// X-Elastic-Product header its client checks on every answer.
	Elasticsearch
)

// DefaultMaxContentLength is the engines' default http.max_content_length.
const DefaultMaxContentLength = 100 << 20

// maxIDBytes is the engines' limit on a document id, in UTF-8 bytes.
const maxIDBytes = 512

// Engine is the fake engine, an http.Handler; the zero value is not
// usable, call New.
type Engine struct {
	flavour Flavour
	// MaxContentLength is the largest request body accepted; a larger one
	// is answered 413 as the engines do. Set it before serving.
	MaxContentLength int

	mu      sync.Mutex
	indices map[string]*index
}

// New returns an empty engine of the given flavour.
func New(flavour Flavour) *Engine {
	return &Engine{flavour: flavour, MaxContentLength: DefaultMaxContentLength, indices: map[string]*index{}}
}

// index is one index: its mapping, aliases and documents.
type index struct {
	name     string
	settings map[string]any
	mappings map[string]any
	props    *objectMapping
	aliases  map[string]bool
	docs     map[string]*doc
	order    []string // ids in the order first written, for stable hits
	// tombstones keep the external version of deleted documents, so an
	// older revision replayed after a delete is refused as the engines
	// refuse it (within their index.gc_deletes, 60 s; the fake keeps them).
	tombstones map[string]int64
}

type doc struct {
	version int64
	source  json.RawMessage
	parsed  map[string]any
}

// ServeHTTP routes a request by method and path.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.flavour == Elasticsearch {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	w.Header().Set("Content-Type", "application/json")
	if r.ContentLength > int64(e.MaxContentLength) {
		// Like the engines' HTTP layer: no body, and the request is not read.
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(e.MaxContentLength)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "parse_exception", "read request body: "+err.Error())
		return
	}
	if len(body) > e.MaxContentLength {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	status, answer := e.route(r, body)
	w.WriteHeader(status)
	if r.Method != http.MethodHead && answer != nil {
		json.NewEncoder(w).Encode(answer)
	}
}

// route does the work of one request and returns the status and answer.
func (e *Engine) route(r *http.Request, body []byte) (int, any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	parts := strings.Split(strings.Trim(path.Clean("/"+r.URL.Path), "/"), "/")
	if parts[0] == "" {
		parts = nil
	}
	q := r.URL.Query()
	m := r.Method
	switch {
	case len(parts) == 0 && (m == http.MethodGet || m == http.MethodHead):
		return http.StatusOK, e.root()
	case len(parts) == 1 && parts[0] == "_bulk" && (m == http.MethodPost || m == http.MethodPut):
		return e.bulk(body, "")
	case len(parts) == 2 && parts[1] == "_bulk" && (m == http.MethodPost || m == http.MethodPut):
		return e.bulk(body, parts[0])
	case len(parts) == 1 && parts[0] == "_aliases" && m == http.MethodPost:
		return e.updateAliases(body)
	case len(parts) == 2 && parts[0] == "_alias" && (m == http.MethodGet || m == http.MethodHead):
		return e.getAlias(parts[1])
	case len(parts) >= 2 && parts[0] == "_cat" && parts[1] == "indices":
		pattern := "*"
		if len(parts) > 2 {
			pattern = parts[2]
		}
		return e.catIndices(pattern)
	case len(parts) == 2 && parts[0] == "_cluster" && parts[1] == "health":
		return http.StatusOK, map[string]any{"cluster_name": "searchfake", "status": "green", "timed_out": false}
	case len(parts) == 1 && parts[0] == "_refresh":
		return e.refresh("*")
	case len(parts) == 1 && !strings.HasPrefix(parts[0], "_"):
		switch m {
		case http.MethodPut:
			return e.createIndex(parts[0], body)
		case http.MethodHead, http.MethodGet:
			return e.getIndex(parts[0])
		case http.MethodDelete:
			return e.deleteIndex(parts[0])
		}
	case len(parts) == 2:
		switch parts[1] {
		case "_mapping":
			if m == http.MethodGet {
				return e.getMapping(parts[0])
			}
		case "_settings":
			if m == http.MethodPut {
				return e.putSettings(parts[0], body)
			}
		case "_refresh":
			return e.refresh(parts[0])
		case "_count":
			return e.search(parts[0], body, true, q.Get("q"))
		case "_search":
			return e.search(parts[0], body, false, q.Get("q"))
		case "_mget":
			return e.mget(parts[0], body)
		case "_alias":
			return e.indexAliases(parts[0])
		}
	case len(parts) == 3 && parts[1] == "_doc" && m == http.MethodGet:
		return e.getDoc(parts[0], parts[2])
	}
	return http.StatusBadRequest, errorBody(http.StatusBadRequest, "illegal_argument_exception",
		fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.Path, m))
}

func (e *Engine) root() map[string]any {
	if e.flavour == Elasticsearch {
		return map[string]any{"name": "searchfake", "cluster_name": "searchfake",
			"version": map[string]any{"number": "8.19.21", "build_flavor": "default", "lucene_version": "9.12.2"},
			"tagline": "You Know, for Search"}
	}
	return map[string]any{"name": "searchfake", "cluster_name": "searchfake",
		"version": map[string]any{"distribution": "opensearch", "number": "2.19.1", "lucene_version": "9.12.1"},
		"tagline": "The OpenSearch Project: https://opensearch.org/"}
}

// errorBody is the engines' error answer.
func errorBody(status int, typ, reason string) map[string]any {
	cause := map[string]any{"type": typ, "reason": reason}
	return map[string]any{"error": map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason},
		"status": status}
}

func writeError(w http.ResponseWriter, status int, typ, reason string) {
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody(status, typ, reason))
}

func indexNotFound(name string) (int, any) {
	return http.StatusNotFound, errorBody(http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]")
}

// validIndexName applies the engines' rules for index and alias names.
func validIndexName(name string) string {
	switch {
	case name == "" || name == "." || name == "..":
		return "must not be '.' or '..'"
	case strings.ToLower(name) != name:
		return "must be lowercase"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return `must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`
	case strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+"):
		return "must not start with '_', '-', or '+'"
	case len(name) > 255:
		return "index name is too long"
	}
	return ""
}

func (e *Engine) createIndex(name string, body []byte) (int, any) {
	if why := validIndexName(name); why != "" {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "invalid_index_name_exception",
			"Invalid index name ["+name+"], "+why)
	}
	if _, ok := e.indices[name]; ok {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "resource_already_exists_exception",
			"index ["+name+"] already exists")
	}
	if e.isAlias(name) {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "invalid_index_name_exception",
			"Invalid index name ["+name+"], already exists as alias")
	}
	var req struct {
		Settings map[string]any            `json:"settings"`
		Mappings map[string]any            `json:"mappings"`
		Aliases  map[string]map[string]any `json:"aliases"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return http.StatusBadRequest, errorBody(http.StatusBadRequest, "parse_exception", err.Error())
		}
	}
	props, err := parseMapping(req.Mappings)
	if err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "mapper_parsing_exception",
			"Failed to parse mapping: "+err.Error())
	}
	ix := &index{name: name, settings: req.Settings, mappings: req.Mappings, props: props,
		aliases: map[string]bool{}, docs: map[string]*doc{}, tombstones: map[string]int64{}}
	if ix.mappings == nil {
		ix.mappings = map[string]any{}
	}
	for a := range req.Aliases {
		if _, clash := e.indices[a]; clash {
			return http.StatusBadRequest, errorBody(http.StatusBadRequest, "invalid_alias_name_exception",
				"Invalid alias name ["+a+"]: an index or data stream exists with the same name as the alias")
		}
		ix.aliases[a] = true
	}
	e.indices[name] = ix
	return http.StatusOK, map[string]any{"acknowledged": true, "shards_acknowledged": true, "index": name}
}

func (e *Engine) deleteIndex(name string) (int, any) {
	if strings.ContainsAny(name, "*,") || name == "_all" {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "illegal_argument_exception",
			"Wildcard expressions or all indices are not allowed")
	}
	if _, ok := e.indices[name]; !ok {
		return indexNotFound(name)
	}
	delete(e.indices, name)
	return http.StatusOK, map[string]any{"acknowledged": true}
}

func (e *Engine) isAlias(name string) bool {
	for _, ix := range e.indices {
		if ix.aliases[name] {
			return true
		}
	}
	return false
}

// resolve returns the indices an expression names: comma-separated index
// names, aliases and * patterns. missing names the first name that matches
// nothing; patterns may match nothing.
func (e *Engine) resolve(expr string) (out []*index, missing string) {
	seen := map[string]bool{}
	add := func(ix *index) {
		if !seen[ix.name] {
			seen[ix.name] = true
			out = append(out, ix)
		}
	}
	for _, part := range strings.Split(expr, ",") {
		if part == "_all" {
			part = "*"
		}
		if strings.Contains(part, "*") {
			for _, ix := range e.sortedIndices() {
				if ok, _ := path.Match(part, ix.name); ok {
					add(ix)
				}
			}
			continue
		}
		if ix, ok := e.indices[part]; ok {
			add(ix)
			continue
		}
		found := false
		for _, ix := range e.sortedIndices() {
			if ix.aliases[part] {
				add(ix)
				found = true
			}
		}
		if !found && missing == "" {
			missing = part
		}
	}
	return out, missing
}

func (e *Engine) sortedIndices() []*index {
	out := make([]*index, 0, len(e.indices))
	for _, ix := range e.indices {
		out = append(out, ix)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (e *Engine) updateAliases(body []byte) (int, any) {
	var req struct {
		Actions []map[string]struct {
			Index string `json:"index"`
			Alias string `json:"alias"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "parse_exception", err.Error())
	}
	// Check every action before applying any: the engines apply the list
	// atomically.
	for _, action := range req.Actions {
		for verb, a := range action {
			ix, ok := e.indices[a.Index]
			if !ok {
				return indexNotFound(a.Index)
			}
			switch verb {
			case "add":
				if _, clash := e.indices[a.Alias]; clash {
					return http.StatusBadRequest, errorBody(http.StatusBadRequest, "invalid_alias_name_exception",
						"Invalid alias name ["+a.Alias+"]: an index or data stream exists with the same name as the alias")
				}
			case "remove":
				if !ix.aliases[a.Alias] {
					return http.StatusNotFound, errorBody(http.StatusNotFound, "aliases_not_found_exception",
						"aliases ["+a.Alias+"] missing")
				}
			default:
				return http.StatusBadRequest, errorBody(http.StatusBadRequest, "illegal_argument_exception",
					"unsupported alias action ["+verb+"]")
			}
		}
	}
	for _, action := range req.Actions {
		for verb, a := range action {
			e.indices[a.Index].aliases[a.Alias] = verb == "add"
			if verb == "remove" {
				delete(e.indices[a.Index].aliases, a.Alias)
			}
		}
	}
	return http.StatusOK, map[string]any{"acknowledged": true}
}

func (e *Engine) getAlias(name string) (int, any) {
	out := map[string]any{}
	for _, ix := range e.sortedIndices() {
		if name == "" || ix.aliases[name] {
			aliases := map[string]any{}
			for a := range ix.aliases {
				if name == "" || a == name {
					aliases[a] = map[string]any{}
				}
			}
			if len(aliases) > 0 {
				out[ix.name] = map[string]any{"aliases": aliases}
			}
		}
	}
	if len(out) == 0 {
		return http.StatusNotFound, map[string]any{"error": "alias [" + name + "] missing", "status": 404}
	}
	return http.StatusOK, out
}

// getIndex describes the indices an expression names; an alias names the
// indices behind it.
func (e *Engine) getIndex(expr string) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	out := map[string]any{}
	for _, ix := range matched {
		out[ix.name] = map[string]any{"aliases": aliasObjects(ix), "mappings": ix.mappings,
			"settings": map[string]any{"index": ix.settings["index"]}}
	}
	return http.StatusOK, out
}

// indexAliases lists the aliases of the indices an expression names.
func (e *Engine) indexAliases(expr string) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	out := map[string]any{}
	for _, ix := range matched {
		out[ix.name] = map[string]any{"aliases": aliasObjects(ix)}
	}
	return http.StatusOK, out
}

func aliasObjects(ix *index) map[string]any {
	out := map[string]any{}
	for a := range ix.aliases {
		out[a] = map[string]any{}
	}
	return out
}

func (e *Engine) catIndices(pattern string) (int, any) {
	matched, _ := e.resolve(pattern)
	rows := []map[string]any{}
	for _, ix := range matched {
		rows = append(rows, map[string]any{"index": ix.name, "health": "green", "status": "open",
			"docs.count": fmt.Sprint(len(ix.docs))})
	}
	return http.StatusOK, rows
}

func (e *Engine) getMapping(expr string) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	out := map[string]any{}
	for _, ix := range matched {
		out[ix.name] = map[string]any{"mappings": ix.mappings}
	}
	return http.StatusOK, out
}

func (e *Engine) putSettings(expr string, body []byte) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	var req map[string]any
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "parse_exception", err.Error())
	}
	for _, ix := range matched {
		if ix.settings == nil {
			ix.settings = map[string]any{}
		}
		for k, v := range req {
			ix.settings[k] = v
		}
	}
	return http.StatusOK, map[string]any{"acknowledged": true}
}

// refresh succeeds for existing indices: the fake makes every write
// visible at once, which is what a refresh guarantees on the engines.
func (e *Engine) refresh(expr string) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	n := len(matched)
	return http.StatusOK, map[string]any{"_shards": map[string]any{"total": n, "successful": n, "failed": 0}}
}

func (e *Engine) getDoc(expr, id string) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	if len(matched) != 1 {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "illegal_argument_exception",
			"alias ["+expr+"] has more than one index associated with it, can't execute a single index op")
	}
	ix := matched[0]
	d, ok := ix.docs[id]
	if !ok {
		return http.StatusNotFound, map[string]any{"_index": ix.name, "_id": id, "found": false}
	}
	return http.StatusOK, map[string]any{"_index": ix.name, "_id": id, "_version": d.version, "found": true,
		"_source": d.source}
}

func (e *Engine) mget(expr string, body []byte) (int, any) {
	matched, missing := e.resolve(expr)
	if missing != "" {
		return indexNotFound(missing)
	}
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "parse_exception", err.Error())
	}
	docs := make([]any, 0, len(req.IDs))
	for _, id := range req.IDs {
		var found *doc
		name := expr
		for _, ix := range matched {
			if d, ok := ix.docs[id]; ok {
				found, name = d, ix.name
			}
		}
		if found == nil {
			docs = append(docs, map[string]any{"_index": name, "_id": id, "found": false})
			continue
		}
		docs = append(docs, map[string]any{"_index": name, "_id": id, "_version": found.version, "found": true,
			"_source": found.source})
	}
	return http.StatusOK, map[string]any{"docs": docs}
}
