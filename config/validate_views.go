package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// indexName is what projector accepts as a view name. It is a strict subset
// of what Elasticsearch and OpenSearch allow for index names, leaving room
// for the suffix of the versioned index behind the alias.
var indexName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,199}$`)

func (v *validator) views() {
	if len(v.c.Views) == 0 {
		v.add("views", "no view is declared; add at least one under views")
		return
	}
	seen := map[string]Pos{}
	for i := range v.c.Views {
		v.view(&v.c.Views[i], fmt.Sprintf("views[%d]", i), seen)
	}
	for i, view := range v.c.Views {
		owner, ok := strings.CutSuffix(view.Name, DeadLetterSuffix)
		if first, taken := seen[owner]; ok && taken {
			v.add(fmt.Sprintf("views[%d].name", i), "view %q would share its index with the dead letters of view %q (line %d), which go to %q; rename one of them",
				view.Name, owner, first.Line, owner+DeadLetterSuffix)
		}
	}
}

// DeadLetterSuffix ends the name of the index that holds a view's
// refused documents: the view's name and this.
const DeadLetterSuffix = "-deadletter"

func (v *validator) view(view *View, path string, seen map[string]Pos) {
	switch first, dup := seen[view.Name]; {
	case view.Name == "":
		v.add(path+".name", "is empty; name the view, clients query the index alias of that name")
	case !indexName.MatchString(view.Name):
		v.add(path+".name", `%q is not a valid index name; use lowercase letters, digits, "_" and "-", starting with a letter or digit (at most 200)`, view.Name)
	case dup:
		v.add(path+".name", "view %q is already declared at line %d; give each view its own name", view.Name, first.Line)
	default:
		seen[view.Name] = v.c.at(path + ".name")
	}
	v.table(view.Root, path+".root")
	if view.Numeric != NumericString && view.Numeric != NumericNumber {
		v.add(path+".numeric", "%q is not a numeric format; use string (exact) or number (aggregatable, loses precision past float64)", view.Numeric)
	}
	v.jsonMappings(view.JSON, path+".json")
	v.settings(view.Settings, path+".settings")
	v.level(view.Fields, view.Relations, path)
	for i := range view.Relations {
		v.relation(&view.Relations[i], fmt.Sprintf("%s.relations[%d]", path, i), []TableRef{view.Root})
	}
}

// jsonMappings checks the json mapping chosen for each listed field. That
// the fields exist and are json is checked against the live schema.
func (v *validator) jsonMappings(m map[string]JSONMapping, path string) {
	for _, field := range slices.Sorted(maps.Keys(m)) {
		switch mode := m[field]; {
		case field == "":
			v.add(path, "names an empty field; write the document field path, e.g. payload or customer.prefs")
		case mode != JSONStored && mode != JSONFlattened && mode != JSONObject:
			v.add(path+"."+field, "%q is not a json mapping; use stored (any shape, not searchable), flattened (objects, leaves searchable as keywords) or object (typed keys)", mode)
		}
	}
}

func (v *validator) settings(s IndexSettings, path string) {
	if s.Shards < 1 {
		v.add(path+".shards", "must be at least 1, got %d", s.Shards)
	}
	if s.Replicas < 0 {
		v.add(path+".replicas", "must not be negative, got %d; use 0 for none", s.Replicas)
	}
	v.positive(path+".refresh_interval", s.RefreshInterval, "1s")
}

// table checks a table reference's source and names.
func (v *validator) table(t TableRef, path string) {
	v.source(t.Source, path+".source")
	if t.IsEntity() {
		v.entity(t, path)
		return
	}
	if t.Name == "" {
		v.add(path+".table", `is empty; name the table, as "table" or "schema.table"`)
	}
	if t.Schema == "" {
		v.add(path+".schema", `is empty; name the schema, or leave it out for "public"`)
	}
}

// source checks that a view refers to a declared source.
func (v *validator) source(name, path string) {
	if _, ok := v.c.Sources[name]; ok {
		return
	}
	known := strings.Join(v.c.sourceNames(), ", ")
	switch {
	case known == "":
		v.add(path, "source %q is not declared; declare it under sources", name)
	case name == "":
		v.add(path, "is empty; name one of the sources: %s", known)
	default:
		v.add(path, "source %q is not declared; use one of %s, or declare it under sources", name, known)
	}
}

func (v *validator) relation(r *Relation, path string, trail []TableRef) {
	switch r.Type {
	case BelongsTo, HasOne, HasMany:
	case "":
		v.add(path+".type", "is missing; use belongs_to, has_one or has_many")
	default:
		v.add(path+".type", "%q is not a relation type; use belongs_to, has_one or has_many", r.Type)
	}
	v.table(r.Table, path)
	v.joinPairs(r.On, path+".on")
	for _, t := range trail {
		if t == r.Table {
			v.add(path, "%s is already joined on the way from the root (%s); a view cannot join a table back into itself, so remove this relation", r.Table, joinTrail(trail))
			return
		}
	}
	v.level(r.Fields, r.Relations, path)
	trail = append(trail[:len(trail):len(trail)], r.Table)
	for i := range r.Relations {
		v.relation(&r.Relations[i], fmt.Sprintf("%s.relations[%d]", path, i), trail)
	}
}

func joinTrail(trail []TableRef) string {
	names := make([]string, len(trail))
	for i, t := range trail {
		names[i] = t.String()
	}
	return strings.Join(names, " > ")
}

func (v *validator) joinPairs(on []JoinPair, path string) {
	if len(on) == 0 {
		v.add(path, "is empty; map each parent column to the related column, e.g. { consumer_id: id }")
	}
	for _, p := range on {
		if p.Parent == "" || p.Related == "" {
			v.addAt(p.Pos, path, "a column name is empty; write parent column: related column")
		}
	}
}

// level checks the names one document object gets from its fields and
// relations: each must be usable and written once.
func (v *validator) level(fields []Field, relations []Relation, path string) {
	if fields != nil && len(fields) == 0 {
		v.add(path+".fields", "is empty; list the columns to copy, or leave fields out to copy every column")
	}
	names := map[string]string{}
	for _, f := range fields {
		if f.Column == "" {
			v.addAt(f.Pos, path+".fields", "a column name is empty; write the column to copy")
			continue
		}
		v.fieldName(names, f.Name, fmt.Sprintf("column %q", f.Column), f.Pos, path+".fields")
	}
	for i, r := range relations {
		p := fmt.Sprintf("%s.relations[%d].name", path, i)
		v.fieldName(names, r.Name, fmt.Sprintf("relation %q", r.Name), v.c.at(p), p)
	}
}

// fieldName checks one document field name and records what writes it.
func (v *validator) fieldName(names map[string]string, name, source string, pos Pos, path string) {
	if problem := fieldNameProblem(name); problem != "" {
		v.addAt(pos, path, "%s", problem)
		return
	}
	if names[name] != "" {
		v.addAt(pos, path, "document field %q is already written by %s; rename one of them", name, names[name])
		return
	}
	names[name] = source
}

// fieldNameProblem says why a name cannot be a document field: the search
// engines read dots as nesting and reserve names starting with "_".
func fieldNameProblem(name string) string {
	switch {
	case name == "":
		return "a document field name is empty; name it"
	case strings.Contains(name, "."):
		return fmt.Sprintf(`document field name %q contains "."; the search engine would read it as nesting, so use "_" instead`, name)
	case strings.HasPrefix(name, "_"):
		return fmt.Sprintf(`document field name %q starts with "_", which the search engine reserves; rename it`, name)
	}
	return ""
}
