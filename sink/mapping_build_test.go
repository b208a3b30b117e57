package sink

import (
	"testing"
)

func orderShape() ViewShape {
	return ViewShape{
		View: "orders",
		Fields: []Field{
			{Name: "id", Type: ColumnType("bigint", ColumnOptions{})},
			{Name: "total", Type: ColumnType("numeric", ColumnOptions{Numeric: NumericAsKeyword})},
			{Name: "lines", Type: RelationType("has_many"), Fields: []Field{{Name: "sku", Type: ColumnType("text", ColumnOptions{})}}},
		},
	}
}

// TestFingerprintIsStable pins the fingerprints of one shape: a change of
// the hash's input would give every existing index another fingerprint and
// rebuild every view on upgrade.
func TestFingerprintIsStable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*ViewShape)
		want   string
	}{
		{"plain", func(*ViewShape) {}, "fd2f0d6091b682b2"},
		{"numeric as number", func(s *ViewShape) { s.NumericAsNumber = true }, "5565740a767af5dc"},
		{"id scheme 2", func(s *ViewShape) { s.IDScheme = 2 }, "b8e530a7b4204a34"},
		// The view's name and its key field are not part of the shape.
		{"other name and key field", func(s *ViewShape) { s.View, s.KeyField = "sales", "k" }, "fd2f0d6091b682b2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shape := orderShape()
			tc.change(&shape)
			if got := Fingerprint(shape); got != tc.want {
				t.Errorf("Fingerprint = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFingerprintFollowsTheShape changes one part of the shape at a time:
// each needs a new index version.
func TestFingerprintFollowsTheShape(t *testing.T) {
	base := Fingerprint(orderShape())
	for name, change := range map[string]func(*ViewShape){
		"field added":        func(s *ViewShape) { s.Fields = append(s.Fields, Field{Name: "note", Type: Text}) },
		"field renamed":      func(s *ViewShape) { s.Fields[0].Name = "order_id" },
		"field type changed": func(s *ViewShape) { s.Fields[1].Type = Double },
		"nested field":       func(s *ViewShape) { s.Fields[2].Fields[0].Name = "code" },
		"numeric as number":  func(s *ViewShape) { s.NumericAsNumber = true },
		"id scheme":          func(s *ViewShape) { s.IDScheme = 3 },
	} {
		shape := orderShape()
		shape.Fields[2].Fields = append([]Field(nil), shape.Fields[2].Fields...)
		change(&shape)
		if Fingerprint(shape) == base {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
}

// TestViewMapping checks what the mapping carries besides the fields: the
// key field of hashed ids and the fingerprint FingerprintOf reads back.
func TestViewMapping(t *testing.T) {
	shape := orderShape()
	shape.KeyField = "projector_key"
	mapping, fp := ViewMapping(shape, OpenSearch)
	if fp != Fingerprint(shape) {
		t.Errorf("fingerprint %s, want %s", fp, Fingerprint(shape))
	}
	props := mapping["properties"].(map[string]any)
	key, _ := props["projector_key"].(map[string]any)
	if key["type"] != "keyword" || key["ignore_above"] != 8191 {
		t.Errorf("key field mapping = %v, want a keyword with ignore_above 8191", props["projector_key"])
	}
	for _, f := range []string{"id", "total", "lines"} {
		if props[f] == nil {
			t.Errorf("mapping lacks field %s: %v", f, props)
		}
	}
	if got := FingerprintOf(mapping["_meta"].(map[string]any)); got != fp {
		t.Errorf("FingerprintOf(_meta) = %q, want %q", got, fp)
	}
	meta := mapping["_meta"].(map[string]any)["projector"].(map[string]any)
	if meta["view"] != "orders" {
		t.Errorf("_meta.projector.view = %v, want orders", meta["view"])
	}

	shape.KeyField = ""
	mapping, _ = ViewMapping(shape, OpenSearch)
	if _, ok := mapping["properties"].(map[string]any)["projector_key"]; ok {
		t.Error("mapping has a key field without ViewShape.KeyField")
	}
}

func TestFingerprintOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta map[string]any
		want string
	}{
		{"none", nil, ""},
		{"someone else's", map[string]any{"owner": "app"}, ""},
		{"not a string", map[string]any{"projector": map[string]any{"fingerprint": 7}}, ""},
		{"projector's", map[string]any{"projector": map[string]any{"fingerprint": "abc"}}, "abc"},
	} {
		if got := FingerprintOf(tc.meta); got != tc.want {
			t.Errorf("%s: FingerprintOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
