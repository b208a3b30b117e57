package sink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// benchDocs are 1000 typical documents: a short id and a few hundred
// bytes of source.
func benchDocs() []Document {
	docs := make([]Document, 1000)
	for i := range docs {
		src := fmt.Sprintf(`{"id":%d,"customer":{"name":"Customer %d","email":"c%d@example.com"},`+
			`"lines":[{"sku":"A-%d","qty":2,"price":"12.50"},{"sku":"B-%d","qty":1,"price":"3.99"}],`+
			`"status":"shipped","updated_at":"2026-01-02T03:04:05.123456Z"}`, i, i, i, i, i)
		docs[i] = Document{Index: "orders_v3", ID: fmt.Sprint(i), Version: int64(1000 + i), Source: json.RawMessage(src)}
	}
	return docs
}

// BenchmarkEncodeBulk compares the bulk encoder with marshalling each
// action line from a map, as a generic client would; compare their B/op
// and allocs/op.
func BenchmarkEncodeBulk(b *testing.B) {
	docs := benchDocs()
	b.Run("encoder", func(b *testing.B) {
		var e encoder
		b.ReportAllocs()
		for b.Loop() {
			e.reset()
			for i := range docs {
				if err := e.add(&docs[i], true); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.SetBytes(int64(len(e.bytes())))
	})
	b.Run("json.Marshal", func(b *testing.B) {
		var buf bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			for i := range docs {
				d := &docs[i]
				line, err := json.Marshal(map[string]any{"index": map[string]any{
					"_index": d.Index, "_id": d.ID, "version": d.Version, "version_type": "external",
				}})
				if err != nil {
					b.Fatal(err)
				}
				buf.Write(line)
				buf.WriteByte('\n')
				buf.Write(d.Source)
				buf.WriteByte('\n')
			}
		}
		b.SetBytes(int64(buf.Len()))
	})
}
