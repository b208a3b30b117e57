package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// exampleFiles are the configuration files users copy from; each names the
// schema in its first line and must pass both the schema and the loader.
var exampleFiles = []string{
	"testdata/views-example.yaml",
	"../deploy/compose/projector.yaml",
	"../deploy/local/demo.yaml",
}

// exampleDocs are the documents whose ```yaml blocks that start with the
// schema line are complete configuration files.
var exampleDocs = []string{"../README.md", "../docs/configuration.md"}

const modeline = "# yaml-language-server: $schema="

// compileSchema compiles the embedded schema.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaURL)
	if err != nil {
		t.Fatalf("compile the schema: %v", err)
	}
	return sch
}

// validateYAML checks a YAML configuration against the schema, as an
// editor would: the YAML read as JSON, before ${VAR} expansion.
func validateYAML(sch *jsonschema.Schema, data []byte) error {
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// anyEnv gives every variable a value that fits where examples use it.
func anyEnv(name string) (string, bool) {
	switch {
	case strings.HasSuffix(name, "_DSN"):
		return "postgres://projector@127.0.0.1:5432/" + strings.ToLower(strings.TrimSuffix(name, "_DSN")), true
	case strings.HasSuffix(name, "_URL"):
		return "http://127.0.0.1:9200", true
	}
	return "value-of-" + name, true
}

// example is one configuration users copy from.
type example struct {
	name string
	dir  string // the directory relative schema references start from
	data []byte
}

func loadExamples(t *testing.T) []example {
	t.Helper()
	var out []example
	for _, f := range exampleFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, example{name: f, dir: filepath.Dir(f), data: data})
	}
	block := regexp.MustCompile("(?s)```yaml\n(" + regexp.QuoteMeta(modeline) + ".*?)```")
	for _, f := range exampleDocs {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blocks := block.FindAllSubmatch(data, -1)
		if len(blocks) == 0 {
			t.Errorf("%s has no complete configuration example (a ```yaml block starting with %q)", f, modeline)
		}
		for i, m := range blocks {
			out = append(out, example{name: f + " example " + itoa(i+1), dir: filepath.Dir(f), data: m[1]})
		}
	}
	return out
}

// TestExamplesMatchSchema: every example names the schema, passes it, and
// loads.
func TestExamplesMatchSchema(t *testing.T) {
	sch := compileSchema(t)
	schemaPath, err := filepath.Abs("projector.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range loadExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			first, _, _ := strings.Cut(string(ex.data), "\n")
			ref, ok := strings.CutPrefix(first, modeline)
			if !ok {
				t.Fatalf("the first line is %q, want %s followed by the schema's path or URL", first, modeline)
			}
			if ref != SchemaURL {
				if p, err := filepath.Abs(filepath.Join(ex.dir, ref)); err != nil || p != schemaPath {
					t.Errorf("%s%s does not lead to config/projector.schema.json", modeline, ref)
				}
			}
			if err := validateYAML(sch, ex.data); err != nil {
				t.Errorf("does not match the schema: %v", err)
			}
			secrets := func(string) ([]byte, error) { return []byte("secret"), nil }
			if _, err := newLoader(ex.name, anyEnv, secrets).parse(ex.data); err != nil {
				t.Errorf("does not load: %v", err)
			}
		})
	}
}

// TestSchemaRefuses: the schema catches the mistakes an editor should
// underline, and accepts ${VAR} wherever a value goes.
func TestSchemaRefuses(t *testing.T) {
	sch := compileSchema(t)
	base, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(string) string
		ok   bool
	}{
		{"the example", func(s string) string { return s }, true},
		{"unknown key", replace(t, "  dir: ./var/state", "  dir: ./var/state\n  size: 1"), false},
		{"slot_name", replace(t, `5433/orders" }`, `5433/orders", slot_name: x }`), false},
		{"no sink urls", replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  gzip: true`), false},
		{"no views", func(s string) string { return s[:strings.Index(s, "views:")] }, false},
		{"view without root", replace(t, "    root: { source: orders, table: orders }          # schema defaults to public; _id = primary key\n", ""), false},
		{"relation without on", replace(t, "        on: { restaurant_id: id }\n", ""), false},
		{"relation type", replace(t, "type: has_one", "type: has_few"), false},
		{"duration without unit", replace(t, "views:\n", "shutdown: { grace: 10 }\nviews:\n"), false},
		{"duration", replace(t, "views:\n", "shutdown: { grace: 1m30s }\nviews:\n"), true},
		{"size", replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]`+"\n  bulk_bytes: 5 MiB"), true},
		{"size unit", replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]`+"\n  bulk_bytes: 5XB"), false},
		{"bulk actions as text", replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]`+"\n  bulk_actions: many"), false},
		{"variables for values", replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["${SEARCH_URL}"]`+"\n  bulk_actions: ${BULK}\n  bulk_bytes: ${BYTES:-5MiB}\n  gzip: ${GZIP}\n  timeout: ${TIMEOUT}"), true},
		{"variable for a choice", replace(t, "views:\n", "capture: { on_slot_lost: \"${ON_SLOT_LOST:-stop}\" }\nviews:\n"), true},
		{"slot lost action", replace(t, "views:\n", "capture: { on_slot_lost: ignore }\nviews:\n"), false},
		{"source name", replace(t, "  deliveries:  {", "  Deliveries:  {"), false},
		{"fields as a map", replace(t, "fields: [name]\n      - name: line_items", "fields: { name: restaurant_name }\n      - name: line_items"), true},
		{"fields empty", replace(t, "fields: [quantity, price_cents]", "fields: []"), false},
		{"log level", replace(t, "views:\n", "log: { level: loud }\nviews:\n"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateYAML(sch, []byte(tt.edit(string(base))))
			var ve *jsonschema.ValidationError
			switch {
			case tt.ok && err != nil:
				t.Errorf("refused: %v", err)
			case !tt.ok && err == nil:
				t.Error("accepted")
			case !tt.ok && !errors.As(err, &ve):
				t.Errorf("refused for another reason: %v", err)
			}
		})
	}
}

// TestSchemaDescribesEveryKey: an editor shows a description for every key
// the loader accepts.
func TestSchemaDescribesEveryKey(t *testing.T) {
	var s map[string]any
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	check := func(where string, props map[string]any) {
		for key, p := range props {
			if d, _ := p.(map[string]any)["description"].(string); d == "" {
				t.Errorf("%s.%s has no description; write a doc comment on its field", where, key)
			}
		}
	}
	check("(top level)", s["properties"].(map[string]any))
	for name, def := range s["$defs"].(map[string]any) {
		if props, ok := def.(map[string]any)["properties"].(map[string]any); ok {
			check(name, props)
		}
	}
}
