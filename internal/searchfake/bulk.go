package searchfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// bulkAction is one action of a bulk request with its source.
type bulkAction struct {
	verb    string // index, create, delete or update
	index   string
	id      string
	hasID   bool
	version int64
	vtype   string
	source  []byte
}

// decodeJSON decodes with numbers kept as json.Number, as the engines keep
// a number's text.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// parseBulk reads the NDJSON body of a bulk request. Errors here, like the
// engines' validation, refuse the whole request.
func parseBulk(body []byte, defaultIndex string) ([]bulkAction, []string, error) {
	lines := bytes.Split(body, []byte("\n"))
	var actions []bulkAction
	var invalid []string
	for i := 0; i < len(lines); i++ {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 {
			continue
		}
		var meta map[string]struct {
			Index       string       `json:"_index"`
			ID          *string      `json:"_id"`
			Version     *json.Number `json:"version"`
			VersionType string       `json:"version_type"`
		}
		if err := json.Unmarshal(line, &meta); err != nil || len(meta) != 1 {
			return nil, nil, fmt.Errorf("Malformed action/metadata line [%d], expected a simple value for field [_index] but found %s",
				i+1, line)
		}
		for verb, m := range meta {
			a := bulkAction{verb: verb, index: m.Index, vtype: m.VersionType}
			if a.index == "" {
				a.index = defaultIndex
			}
			if m.ID != nil {
				a.id, a.hasID = *m.ID, true
			}
			if m.Version != nil {
				v, err := m.Version.Int64()
				if err != nil {
					return nil, nil, fmt.Errorf("version must be a number, got [%s]", *m.Version)
				}
				a.version = v
			}
			switch verb {
			case "index", "create", "update":
				i++
				if i >= len(lines) || len(bytes.TrimSpace(lines[i])) == 0 {
					return nil, nil, fmt.Errorf("The bulk request must be terminated by a newline [\\n]")
				}
				a.source = bytes.TrimSpace(lines[i])
			case "delete":
			default:
				return nil, nil, fmt.Errorf("Malformed action/metadata line [%d], expected one of [create, delete, index, update] but found [%s]",
					i+1, verb)
			}
			n := len(invalid) + 1
			if a.index == "" {
				invalid = append(invalid, fmt.Sprintf("%d: index is missing;", n))
			}
			if len(a.id) > maxIDBytes {
				invalid = append(invalid, fmt.Sprintf("%d: id [%s] is too long, must be no longer than 512 bytes but was: %d;",
					n, a.id, len(a.id)))
			}
			if a.verb == "delete" && !a.hasID {
				invalid = append(invalid, fmt.Sprintf("%d: id is missing;", n))
			}
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		invalid = append(invalid, "1: no requests added;")
	}
	return actions, invalid, nil
}

func (e *Engine) bulk(body []byte, defaultIndex string) (int, any) {
	actions, invalid, err := parseBulk(body, defaultIndex)
	if err != nil {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "illegal_argument_exception", err.Error())
	}
	if len(invalid) > 0 {
		return http.StatusBadRequest, errorBody(http.StatusBadRequest, "action_request_validation_exception",
			"Validation Failed: "+strings.Join(invalid, " "))
	}
	items := make([]any, 0, len(actions))
	failed := false
	for _, a := range actions {
		res := e.apply(a)
		if _, isErr := res["error"]; isErr {
			failed = true
		}
		items = append(items, map[string]any{a.verb: res})
	}
	return http.StatusOK, map[string]any{"took": 1, "errors": failed, "items": items}
}

// writeIndex resolves the index a write goes to: an index, or an alias
// over exactly one index. A missing name is created, as
// action.auto_create_index allows by default.
func (e *Engine) writeIndex(name string) (*index, *parseFailure) {
	if ix, ok := e.indices[name]; ok {
		return ix, nil
	}
	var targets []*index
	for _, ix := range e.sortedIndices() {
		if ix.aliases[name] {
			targets = append(targets, ix)
		}
	}
	switch len(targets) {
	case 1:
		return targets[0], nil
	case 0:
		if why := validIndexName(name); why != "" {
			return nil, &parseFailure{typ: "invalid_index_name_exception", reason: "Invalid index name [" + name + "], " + why}
		}
		ix := &index{name: name, mappings: map[string]any{}, aliases: map[string]bool{}, docs: map[string]*doc{},
			tombstones: map[string]int64{}, props: &objectMapping{dynamic: "true", fields: map[string]*fieldMapping{}}}
		e.indices[name] = ix
		return ix, nil
	}
	return nil, &parseFailure{typ: "illegal_argument_exception", reason: "no write index is defined for alias [" + name +
		"]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple " +
		"indices without one being designated as a write index"}
}

// apply performs one action and returns its item answer.
func (e *Engine) apply(a bulkAction) map[string]any {
	res := map[string]any{"_index": a.index, "_id": a.id}
	fail := func(status int, f *parseFailure) map[string]any {
		res["status"] = status
		res["error"] = f.body()
		return res
	}
	if a.verb == "update" {
		return fail(http.StatusBadRequest, &parseFailure{typ: "illegal_argument_exception",
			reason: "the fake engine does not implement update actions"})
	}
	if a.hasID && a.id == "" {
		return fail(http.StatusBadRequest, &parseFailure{typ: "illegal_argument_exception",
			reason: "if _id is specified it must not be empty"})
	}
	ix, f := e.writeIndex(a.index)
	if f != nil {
		return fail(http.StatusBadRequest, f)
	}
	res["_index"] = ix.name
	external := a.vtype == "external" || a.vtype == "external_gte"
	if external && a.version < 0 {
		return fail(http.StatusBadRequest, &parseFailure{typ: "action_request_validation_exception",
			reason: "Validation Failed: 1: illegal version value [" + fmt.Sprint(a.version) + "] for version type [" + a.vtype + "];"})
	}
	current, exists := ix.docs[a.id]
	var currentVersion int64
	known := exists
	if exists {
		currentVersion = current.version
	} else if v, ok := ix.tombstones[a.id]; ok {
		currentVersion, known = v, true
	}
	if external && known && (currentVersion > a.version || (currentVersion == a.version && a.vtype == "external")) {
		return fail(http.StatusConflict, &parseFailure{typ: "version_conflict_engine_exception",
			reason: fmt.Sprintf("[%s]: version conflict, current version [%d] is higher or equal to the one provided [%d]",
				a.id, currentVersion, a.version)})
	}
	next := a.version
	if !external {
		next = currentVersion + 1
	}
	if a.verb == "delete" {
		res["_version"] = next
		if external {
			ix.tombstones[a.id] = next
		}
		if !exists {
			res["result"], res["status"] = "not_found", http.StatusNotFound
			return res
		}
		delete(ix.docs, a.id)
		ix.order = slices.DeleteFunc(ix.order, func(id string) bool { return id == a.id })
		res["result"], res["status"] = "deleted", http.StatusOK
		return res
	}
	if a.verb == "create" && exists {
		return fail(http.StatusConflict, &parseFailure{typ: "version_conflict_engine_exception",
			reason: fmt.Sprintf("[%s]: version conflict, document already exists (current version [%d])", a.id, currentVersion)})
	}
	var source map[string]any
	if err := decodeJSON(a.source, &source); err != nil || source == nil {
		return fail(http.StatusBadRequest, &parseFailure{typ: e.parsingType(), reason: "failed to parse",
			cause: &parseFailure{typ: "not_x_content_exception",
				reason: "Compressor detection can only be called on some xcontent bytes or compressed xcontent bytes"}})
	}
	if !a.hasID {
		a.id = fmt.Sprintf("fake%08d", len(ix.order)+1)
		res["_id"] = a.id
	}
	if f := e.checkDocument(ix, a.id, source); f != nil {
		return fail(http.StatusBadRequest, f)
	}
	ix.docs[a.id] = &doc{version: next, source: append(json.RawMessage(nil), a.source...), parsed: source}
	delete(ix.tombstones, a.id)
	if !exists {
		ix.order = append(ix.order, a.id)
	}
	res["_version"] = next
	if exists {
		res["result"], res["status"] = "updated", http.StatusOK
	} else {
		res["result"], res["status"] = "created", http.StatusCreated
	}
	return res
}
