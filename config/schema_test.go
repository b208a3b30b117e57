package config

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite projector.schema.json from the config structs")

// TestSchemaIsCurrent regenerates the schema and compares it with the
// committed projector.schema.json; with -update it rewrites the file.
func TestSchemaIsCurrent(t *testing.T) {
	got, err := generateSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("projector.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(got) != schemaJSON {
		t.Errorf("projector.schema.json is not current: run go generate ./config/ (or make schema) and commit the result")
	}
}

// generateSchema reflects the JSON Schema of the file from the structs the
// loader decodes into (document and below), taking the descriptions from
// their doc comments and the defaults from Default.
func generateSchema() ([]byte, error) {
	comments, err := fieldComments(".")
	if err != nil {
		return nil, err
	}
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		ExpandedStruct:             true,
		Namer:                      schemaName,
		Mapper:                     schemaForType,
		LookupComment: func(t reflect.Type, field string) string {
			return comments[t.Name()+"."+field]
		},
	}
	s := r.Reflect(&document{})
	s.ID = jsonschema.ID(SchemaURL)
	s.Title = "projector configuration"
	s.Description = "The configuration file of projector (docs/configuration.md). Values may be written as ${VAR} or ${VAR:-default}, expanded from the environment at start."
	if err := refine(s); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// schemaName names the definitions after the keys users write.
func schemaName(t reflect.Type) string {
	name := strings.TrimPrefix(t.Name(), "raw")
	if name == "" { // map, slice and basic types have no definition
		return ""
	}
	if strings.ToUpper(name) == name { // HTTP
		return strings.ToLower(name)
	}
	return strings.ToLower(name[:1]) + name[1:]
}

// The patterns of the values the loader parses itself. They are written
// for ECMA-262, the regular expressions of JSON Schema.
const (
	durationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
	sizePattern     = `^[0-9]+(\.[0-9]+)?\s*([KkMmGgTtPpEe][Ii]?[Bb]?|[Bb])?$`
	envPattern      = `^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$`
)

// schemaForType gives the types with a form of their own their schema.
func schemaForType(t reflect.Type) *jsonschema.Schema {
	enum := func(values ...any) *jsonschema.Schema { return &jsonschema.Schema{Type: "string", Enum: values} }
	switch t {
	case reflect.TypeFor[Duration]():
		return &jsonschema.Schema{Type: "string", Pattern: durationPattern, Examples: []any{"10s", "1m30s", "500ms"}}
	case reflect.TypeFor[ByteSize]():
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "integer", Minimum: "1"},
			{Type: "string", Pattern: sizePattern},
		}, Examples: []any{"5MiB", "5MB", 5242880}}
	case reflect.TypeFor[yaml.Node]():
		return &jsonschema.Schema{} // fields and on: refine writes them
	case reflect.TypeFor[SlotLostAction]():
		return enum(SlotLostStop, SlotLostRebootstrap)
	case reflect.TypeFor[PublicationMode]():
		return enum(PublicationManaged, PublicationExisting)
	case reflect.TypeFor[RelationType]():
		return enum(BelongsTo, HasOne, HasMany)
	case reflect.TypeFor[Numeric]():
		return enum(NumericString, NumericNumber)
	case reflect.TypeFor[JSONMapping]():
		return enum(JSONStored, JSONFlattened, JSONObject)
	}
	return nil
}

// refine adds what reflection cannot know: the shapes the loader decodes
// by hand, the names Validate accepts, the defaults, and ${VAR} wherever a
// value is restricted.
func refine(s *jsonschema.Schema) error {
	defs := s.Definitions
	prop := func(def, key string) *jsonschema.Schema {
		p, ok := defs[def].Properties.Get(key)
		if !ok {
			panic(fmt.Sprintf("schema: %s has no property %s", def, key))
		}
		return p
	}
	sources, _ := s.Properties.Get("sources")
	sources.PropertyNames = &jsonschema.Schema{Pattern: sourceName.String()}
	sources.MinProperties = ptr(uint64(1))
	views, _ := s.Properties.Get("views")
	views.MinItems = ptr(uint64(1))
	prop("source", "slot").Pattern = identifier.String()
	prop("source", "publication").Pattern = identifier.String()
	prop("view", "name").Pattern = indexName.String()
	prop("sink", "urls").MinItems = ptr(uint64(1))
	prop("sink", "urls").Items.Pattern = `^(https?://|\$\{)`
	columns := func(p *jsonschema.Schema) {
		p.AnyOf = []*jsonschema.Schema{
			{Type: "null"},
			{Type: "array", Items: &jsonschema.Schema{Type: "string", MinLength: ptr(uint64(1))}, MinItems: ptr(uint64(1))},
			{Type: "object", AdditionalProperties: &jsonschema.Schema{Type: "string"}, MinProperties: ptr(uint64(1))},
		}
		p.Examples = []any{[]string{"id", "status"}, map[string]string{"email": "contact_email"}}
	}
	columns(prop("view", "fields"))
	columns(prop("relation", "fields"))
	on := prop("relation", "on")
	on.Type, on.AdditionalProperties, on.MinProperties = "object", &jsonschema.Schema{Type: "string"}, ptr(uint64(1))
	on.Examples = []any{map[string]string{"consumer_id": "id"}}
	for _, key := range []string{"shards", "bulk_actions", "concurrency"} {
		for _, def := range []string{"indexSettings", "sink"} {
			if p, ok := defs[def].Properties.Get(key); ok {
				p.Minimum = "1"
			}
		}
	}
	prop("indexSettings", "replicas").Minimum = "0"

	if err := setDefaults(s); err != nil {
		return err
	}
	prop("source", "slot").Description += ` Default: "projector_<source name>".`
	prop("source", "publication").Description += ` Default: "projector_<source name>".`
	env := &jsonschema.Schema{Type: "string", Pattern: envPattern, Description: "An environment variable, expanded at start: ${VAR} or ${VAR:-default}."}
	defs["envReference"] = env
	walkSchema(s, allowEnv)
	return nil
}

// setDefaults writes the value each key takes when the file leaves it out,
// as Effective prints it, from Default and the view defaults.
func setDefaults(s *jsonschema.Schema) error {
	cfg := Default()
	cfg.Views = []View{{Numeric: NumericString, Settings: DefaultIndexSettings()}}
	cfg.Sources = map[string]Source{"s": {PublicationMode: PublicationManaged}}
	data, err := cfg.Effective()
	if err != nil {
		return err
	}
	var defaults map[string]any
	if err := yaml.Unmarshal(data, &defaults); err != nil {
		return err
	}
	apply := func(def string, values map[string]any) {
		for key, v := range values {
			p, ok := s.Definitions[def].Properties.Get(key)
			if !ok {
				continue
			}
			switch v.(type) {
			case bool, int, float64:
				p.Default = v
			case string:
				if v != "" {
					p.Default = v
				}
			}
		}
	}
	for _, def := range []string{"sink", "state", "http", "capture", "readiness", "shutdown", "log"} {
		apply(def, defaults[def].(map[string]any))
	}
	view := defaults["views"].([]any)[0].(map[string]any)
	apply("view", view)
	apply("indexSettings", view["settings"].(map[string]any))
	apply("source", map[string]any{"publication_mode": defaults["sources"].(map[string]any)["s"].(map[string]any)["publication_mode"]})
	return nil
}

// allowEnv lets every restricted value (a number, a boolean, a choice, a
// pattern) be written as ${VAR} too, which the loader expands first.
func allowEnv(p *jsonschema.Schema) {
	restricted := p.Type == "integer" || p.Type == "boolean" || len(p.Enum) > 0 || (p.Type == "string" && p.Pattern != "")
	if !restricted && !(len(p.AnyOf) > 0 && p.Type == "" && p.AnyOf[0].Type != "null") {
		return
	}
	inner := *p
	inner.Description, inner.Default, inner.Examples = "", nil, nil
	alternatives := []*jsonschema.Schema{&inner}
	if len(p.AnyOf) > 0 {
		alternatives = p.AnyOf
	}
	*p = jsonschema.Schema{
		Description: p.Description, Default: p.Default, Examples: p.Examples,
		AnyOf: append(alternatives, &jsonschema.Schema{Ref: "#/$defs/envReference"}),
	}
}

// walkSchema calls fn on the schema of every property, map value and list
// item below s, children first.
func walkSchema(s *jsonschema.Schema, fn func(*jsonschema.Schema)) {
	var walk func(*jsonschema.Schema, bool)
	walk = func(s *jsonschema.Schema, isValue bool) {
		if s == nil || s.Ref != "" {
			return
		}
		for _, name := range sortedKeys(s.Definitions) {
			walk(s.Definitions[name], false)
		}
		if s.Properties != nil {
			for p := s.Properties.Oldest(); p != nil; p = p.Next() {
				walk(p.Value, true)
			}
		}
		walk(s.Items, true)
		if s.AdditionalProperties != nil && s.AdditionalProperties != jsonschema.FalseSchema {
			walk(s.AdditionalProperties, true)
		}
		if isValue {
			fn(s)
		}
	}
	walk(s, false)
}

func sortedKeys(defs jsonschema.Definitions) []string {
	keys := make([]string, 0, len(defs))
	for k := range defs {
		if k != "envReference" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func ptr[T any](v T) *T { return &v }

// fieldComments maps "Type.Field" to the doc comment of every field of the
// package's structs, exported or not, and "Type." to the type's. Go field
// names in a struct's comments become their YAML keys, so that the
// descriptions speak of what users write.
func fieldComments(dir string) (map[string]string, error) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				decl, ok := n.(*ast.GenDecl)
				if !ok || decl.Tok != token.TYPE {
					return true
				}
				for _, spec := range decl.Specs {
					ts := spec.(*ast.TypeSpec)
					doc := ts.Doc
					if doc == nil {
						doc = decl.Doc
					}
					out[ts.Name.Name+"."] = typeComment(ts.Name.Name, oneLine(doc.Text()))
					if st, ok := ts.Type.(*ast.StructType); ok {
						structComments(ts.Name.Name, st, out)
					}
				}
				return false
			})
		}
	}
	return out, nil
}

// typeComment keeps the first sentence of a type's comment, without the
// name of an unexported type starting it.
func typeComment(name, text string) string {
	if i := strings.Index(text, ". "); i >= 0 {
		text = text[:i+1]
	}
	rest, ok := strings.CutPrefix(text, name+" is ")
	if !ok || ast.IsExported(name) {
		return text
	}
	return strings.ToUpper(rest[:1]) + rest[1:]
}

// structComments records the comments of a struct's fields, with the
// struct's Go field names replaced by their YAML keys.
func structComments(typ string, st *ast.StructType, out map[string]string) {
	keys := map[string]string{}
	for _, field := range st.Fields.List {
		if field.Tag == nil {
			continue
		}
		key, _, _ := strings.Cut(reflect.StructTag(strings.Trim(field.Tag.Value, "`")).Get("yaml"), ",")
		for _, name := range field.Names {
			if key != "" && key != "-" {
				keys[name.Name] = key
			}
		}
	}
	var names []string
	for name := range keys {
		names = append(names, regexp.QuoteMeta(name))
	}
	slices.Sort(names)
	goName := regexp.MustCompile(`\b(` + strings.Join(names, "|") + `)\b`)
	for _, field := range st.Fields.List {
		text := field.Doc.Text()
		if text == "" {
			text = field.Comment.Text()
		}
		if len(keys) > 0 {
			text = goName.ReplaceAllStringFunc(text, func(name string) string { return keys[name] })
		}
		for _, name := range field.Names {
			out[typ+"."+name.Name] = oneLine(text)
		}
	}
}

var spaces = regexp.MustCompile(`\s+`)

// oneLine joins a comment's lines.
func oneLine(s string) string { return strings.TrimSpace(spaces.ReplaceAllString(s, " ")) }
