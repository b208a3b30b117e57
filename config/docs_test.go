package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const referencePath = "../docs/configuration.md"

// placeholders name the keys of the maps whose keys the user chooses, as
// the reference writes them.
var placeholders = map[string]string{"sources": "<name>", "event_types": "<table>", "json": "<field>",
	"events": "<entity>", "fields": "<field>", "on": "<type>", "set": "<field>"}

// keyPaths lists every key the loader accepts, as the reference writes
// them: "sink.timeout", "sources.<name>.dsn", "views[].relations[].on".
// Relations nested in relations take the same keys and are not repeated.
func keyPaths() []string {
	var out []string
	var walk func(t reflect.Type, path, key string, seen []reflect.Type)
	walk = func(t reflect.Type, path, key string, seen []reflect.Type) {
		if path != "" {
			out = append(out, path)
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t == nodeType || slicesContains(seen, t):
		case t.Kind() == reflect.Struct:
			fields := yamlFields(t)
			for _, name := range sortedFieldNames(t) {
				walk(fields[name], joinPath(path, name), name, append(seen, t))
			}
		case t.Kind() == reflect.Map:
			walk(t.Elem(), path+"."+placeholders[key], "", seen)
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !slicesContains(seen, t.Elem()):
			walk(t.Elem(), path+"[]", "", seen)
		}
	}
	walk(reflect.TypeFor[document](), "", "", nil)
	return out
}

// sortedFieldNames returns the YAML keys of struct t in declaration order,
// inline structs' keys where they are inlined.
func sortedFieldNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-" || !f.IsExported():
		case strings.Contains(opts, "inline"):
			out = append(out, sortedFieldNames(f.Type)...)
		default:
			out = append(out, name)
		}
	}
	return out
}

func slicesContains(ts []reflect.Type, t reflect.Type) bool {
	for _, s := range ts {
		if s == t {
			return true
		}
	}
	return false
}

// referenceRows reads the reference's tables: key to the default column.
func referenceRows(t *testing.T) (string, map[string]string) {
	t.Helper()
	data, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|[^|]*\\|([^|]*)\\|")
	rows := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	return string(data), rows
}

// TestReferenceCoversEveryKey: docs/configuration.md has a row for every
// key the loader accepts (a heading for the top-level ones) and no row for
// a key it refuses.
func TestReferenceCoversEveryKey(t *testing.T) {
	doc, rows := referenceRows(t)
	keys := keyPaths()
	if len(keys) < 60 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
		if !strings.Contains(k, ".") && !strings.Contains(k, "[") {
			if !strings.Contains(doc, "## `"+k+"`") {
				t.Errorf("%s: no section for %q; add a \"## `%s`\" heading", referencePath, k, k)
			}
			continue
		}
		if _, ok := rows[k]; !ok {
			t.Errorf("%s: no row for %q; add \"| `%s` | type | default | example | what it does |\"", referencePath, k, k)
		}
	}
	for k := range rows {
		if !known[k] {
			t.Errorf("%s: a row for %q, which the loader does not accept", referencePath, k)
		}
	}
}

// TestReferenceDefaults: the defaults the reference gives are those
// projector uses, as config print shows them.
func TestReferenceDefaults(t *testing.T) {
	_, rows := referenceRows(t)
	cfg := Default()
	cfg.Views = []View{{Numeric: NumericString, Settings: DefaultIndexSettings(), Root: TableRef{Schema: "public"}}}
	cfg.Sources = map[string]Source{"<name>": {Slot: "projector_<name>", Publication: "projector_<name>", PublicationMode: PublicationManaged,
		Snapshot: SourceSnapshot{Mode: SnapshotAuto, ChunkRows: DefaultChunkRows}}}
	data, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	var defaults map[string]any
	if err := yaml.Unmarshal(data, &defaults); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	var flatten func(path string, v any)
	flatten = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				flatten(joinPath(path, k), e)
			}
		case []any:
			for _, e := range v {
				flatten(path+"[]", e)
			}
		case string:
			if v != "" {
				want[path] = v
			}
		case nil:
		default:
			want[path] = strings.TrimSpace(string(must(yaml.Marshal(v))))
		}
	}
	flatten("", defaults)
	if len(want) < 20 {
		t.Fatalf("found only %d defaults: %v", len(want), want)
	}
	for key, value := range want {
		if got, ok := rows[key]; ok && got != "`"+value+"`" {
			t.Errorf("%s: %s defaults to %q, not %q; correct its row", referencePath, key, value, got)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
