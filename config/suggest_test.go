package config

import "testing"

func TestSuggestKey(t *testing.T) {
	sink := []string{"api_key", "api_key_file", "bulk_actions", "bulk_bytes", "ca_cert_file", "concurrency", "flush_interval",
		"gzip", "index_prefix", "insecure_skip_verify", "password", "password_file", "timeout", "urls", "username"}
	source := []string{"dsn", "event_types", "password_file", "publication", "publication_mode", "slot"}
	relation := []string{"fields", "name", "on", "relations", "schema", "source", "table", "type"}
	top := []string{"capture", "http", "log", "readiness", "shutdown", "sink", "sources", "state", "views"}
	tests := []struct {
		key   string
		valid []string
		want  string
	}{
		{"slot_name", source, "slot"},
		{"url", sink, "urls"},
		{"url", source, "dsn"},
		{"hosts", sink, "urls"},
		{"publication_name", source, "publication"},
		{"user", sink, "username"},
		{"Bulk-Actions", sink, "bulk_actions"},
		{"bulk_action", sink, "bulk_actions"},
		{"flush_intreval", sink, "flush_interval"},
		{"timeuot", sink, "timeout"},
		{"sink_urls", sink, "urls"},
		{"kind", relation, "type"},
		{"columns", relation, "fields"},
		{"source", top, "sources"},
		{"view", top, "views"},
		{"colour", sink, ""},
		{"x", sink, ""},
		{"slot_name", sink, ""},
	}
	for _, tt := range tests {
		if got := suggestKey(tt.key, tt.valid); got != tt.want {
			t.Errorf("suggestKey(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"url", "urls", 1},
		{"urls", "url", 1},
		{"timeuot", "timeout", 1},
		{"slot", "slto", 1},
		{"kitten", "sitting", 3},
		{"", "gzip", 4},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
