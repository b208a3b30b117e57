package sink

import (
	"encoding/json"
	"testing"
)

func TestColumnType(t *testing.T) {
	tests := []struct {
		pgType string
		opts   ColumnOptions
		want   FieldType
	}{
		{"text", ColumnOptions{}, Text},
		{"character varying(40)", ColumnOptions{}, Text},
		{"uuid", ColumnOptions{}, Keyword},
		{"integer", ColumnOptions{}, Long},
		{"int8", ColumnOptions{}, Long},
		{"double precision", ColumnOptions{}, Double},
		{"numeric(12,2)", ColumnOptions{}, Keyword},
		{"numeric", ColumnOptions{Numeric: NumericAsDouble}, Double},
		{"decimal(10, 3)", ColumnOptions{Numeric: NumericAsScaled}, ScaledFloat},
		{"timestamp(3) with time zone", ColumnOptions{}, Date},
		{"timestamptz", ColumnOptions{}, Date},
		{"date", ColumnOptions{}, Date},
		{"time without time zone", ColumnOptions{}, Keyword},
		{"boolean", ColumnOptions{}, Boolean},
		{"jsonb", ColumnOptions{}, Stored},
		{"json", ColumnOptions{JSON: JSONStored}, Stored},
		{"jsonb", ColumnOptions{JSON: JSONFlattened}, Flattened},
		{"jsonb", ColumnOptions{JSON: JSONObject}, Object},
		{"jsonb[]", ColumnOptions{}, Stored},
		{"hstore", ColumnOptions{}, Flattened},
		{"bytea", ColumnOptions{}, Binary},
		{"xml", ColumnOptions{}, Text},
		{"money", ColumnOptions{}, Keyword},
		{"integer[]", ColumnOptions{}, Long},
		{"_text", ColumnOptions{}, Text},
		{"order_status", ColumnOptions{}, Keyword},
	}
	for _, tt := range tests {
		if got := ColumnType(tt.pgType, tt.opts); got != tt.want {
			t.Errorf("ColumnType(%q, %+v) = %s, want %s", tt.pgType, tt.opts, got, tt.want)
		}
	}
}

func TestRelationType(t *testing.T) {
	for kind, want := range map[string]FieldType{"has_many": Nested, "belongs_to": Object, "has_one": Object} {
		if got := RelationType(kind); got != want {
			t.Errorf("RelationType(%q) = %s, want %s", kind, got, want)
		}
	}
}

func TestMapping(t *testing.T) {
	fields := []Field{
		{Name: "title", Type: Text},
		{Name: "id", Type: Keyword},
		{Name: "price", Type: ScaledFloat},
		{Name: "attrs", Type: Flattened},
		{Name: "extra", Type: Object},
		{Name: "doc", Type: Stored},
		{Name: "blob", Type: Binary},
		{Name: "score", Type: Double},
		{Name: "customer", Type: Object, Fields: []Field{{Name: "name", Type: Text}}},
		{Name: "lines", Type: Nested, Fields: []Field{{Name: "qty", Type: Long}, {Name: "at", Type: Date}}},
	}
	tests := []struct {
		flavour Flavour
		want    string
	}{
		{Elasticsearch, `{"dynamic":false,"properties":{` +
			`"attrs":{"type":"flattened"},` +
			`"blob":{"type":"binary"},` +
			`"customer":{"properties":{"name":{"fields":{"keyword":{"ignore_above":256,"type":"keyword"}},"type":"text"}},"type":"object"},` +
			`"doc":{"enabled":false,"type":"object"},` +
			`"extra":{"dynamic":true,"type":"object"},` +
			`"id":{"ignore_above":8191,"type":"keyword"},` +
			`"lines":{"properties":{"at":{"ignore_malformed":true,"type":"date"},"qty":{"type":"long"}},"type":"nested"},` +
			`"price":{"ignore_malformed":true,"scaling_factor":100,"type":"scaled_float"},` +
			`"score":{"ignore_malformed":true,"type":"double"},` +
			`"title":{"fields":{"keyword":{"ignore_above":256,"type":"keyword"}},"type":"text"}}}`},
		{OpenSearch, `{"dynamic":false,"properties":{` +
			`"attrs":{"type":"flat_object"},` +
			`"blob":{"type":"binary"},` +
			`"customer":{"properties":{"name":{"fields":{"keyword":{"ignore_above":256,"type":"keyword"}},"type":"text"}},"type":"object"},` +
			`"doc":{"enabled":false,"type":"object"},` +
			`"extra":{"dynamic":true,"type":"object"},` +
			`"id":{"ignore_above":8191,"type":"keyword"},` +
			`"lines":{"properties":{"at":{"ignore_malformed":true,"type":"date"},"qty":{"type":"long"}},"type":"nested"},` +
			`"price":{"ignore_malformed":true,"scaling_factor":100,"type":"scaled_float"},` +
			`"score":{"ignore_malformed":true,"type":"double"},` +
			`"title":{"fields":{"keyword":{"ignore_above":256,"type":"keyword"}},"type":"text"}}}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(Mapping(fields, tt.flavour))
		if err != nil {
			t.Fatalf("marshal mapping: %v", err)
		}
		if string(got) != tt.want {
			t.Errorf("Mapping for %s:\n got %s\nwant %s", tt.flavour, got, tt.want)
		}
	}
}
