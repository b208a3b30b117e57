package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// reload loads data as a file of its own.
func reload(t *testing.T, data []byte) *Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "effective.yaml")
	cfg, err := newLoader(path, exampleEnv, os.ReadFile).parse(data)
	if err != nil {
		t.Fatalf("the effective configuration does not load: %v\n%s", err, data)
	}
	return cfg
}

// TestEffectiveReloads: what config print shows is a file that loads back
// to the same configuration, defaults included.
func TestEffectiveReloads(t *testing.T) {
	edits := map[string]func(string) string{
		"example": func(s string) string { return s },
		"every key": func(s string) string {
			s = replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200", "https://search:9200/"]
  gzip: true
  bulk_bytes: 1500
  flush_interval: 1m30s
  timeout: 2h
  index_prefix: test-`)(s)
			s = replace(t, `5433/orders" }`, `5433/orders", slot: s1, publication: p1, publication_mode: existing, event_types: { orders: { created: OrderPlaced } } }`)(s)
			s = replace(t, "views:\n", "capture: { on_slot_lost: rebootstrap, failover_slot: true, receive_timeout: 45s }\nreadiness: { max_lag: 0s }\nlog: { format: text, level: debug }\nviews:\n")(s)
			s = replace(t, "    root:", "    numeric: number\n    json: { payload: flattened }\n    settings: { shards: 3, replicas: 0, refresh_interval: 500ms }\n    root:")(s)
			s = replace(t, "        fields: [status, courier_name, delivered_at]\n", "")(s)
			return replace(t, "table: deliveries\n        on: { id: order_id }", "table: logistics.deliveries\n        on: { id: order_id, restaurant_id: \"yes\" }")(s)
		},
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			cfg, _, err := loadEdited(t, edit, exampleEnv)
			if err != nil {
				t.Fatal(err)
			}
			out, err := cfg.Effective()
			if err != nil {
				t.Fatal(err)
			}
			again := reload(t, out)
			opts := cmp.Options{cmpopts.EquateEmpty(), cmpopts.IgnoreTypes(Pos{}), cmpopts.IgnoreFields(Config{}, "File"), cmpopts.IgnoreUnexported(Config{})}
			if diff := cmp.Diff(cfg, again, opts); diff != "" {
				t.Errorf("reloaded configuration differs (-printed +reloaded):\n%s\n%s", diff, out)
			}
		})
	}
}

// TestEffectiveDefaults: keys the file leaves out are printed with their
// defaults.
func TestEffectiveDefaults(t *testing.T) {
	cfg, _, err := loadEdited(t, func(s string) string { return s }, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  timeout: 30s\n", "  bulk_actions: 1000\n", "  bulk_bytes: 5MiB\n", "  flush_interval: 100ms\n", "  concurrency: 2\n",
		"  on_slot_lost: stop\n", "  receive_timeout: 1m\n", "  max_lag: 1m\n", "  grace: 10s\n", "  format: json\n", "  level: info\n",
		"    slot: projector_orders\n", "    publication_mode: managed\n", "    numeric: string\n",
		"      shards: 1\n", "      replicas: 1\n", "      refresh_interval: 1s\n", "      schema: public\n",
		"    fields: {name: name, email: contact_email}\n", "        fields: [quantity, price_cents]\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the effective configuration lacks %q:\n%s", want, out)
		}
	}
}

// TestEffectiveHidesSecrets: no password, API key or token is printed,
// whether written in the file, in a DSN or read from a file.
func TestEffectiveHidesSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := map[string]func(string) string{
		"in the file": func(s string) string {
			s = replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://elastic:secret-url@127.0.0.1:9200"]
  username: elastic
  password: secret-sink`)(s)
			s = replace(t, `"postgres://postgres@127.0.0.1:5433/orders"`, `"postgres://postgres:secret-url-dsn@127.0.0.1:5433/orders?sslpassword=secret-ssl"`)(s)
			return replace(t, `"postgres://postgres@127.0.0.1:5433/consumers"`, `"host=127.0.0.1 port=5433 dbname=consumers password=secret-kv"`)(s)
		},
		"api key": replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]
  api_key: secret-key`),
		"from files": func(s string) string {
			s = replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]
  username: elastic
  password_file: `+write("sink", "secret-sink-file")+`
http:
  pprof: true
  pprof_token_file: `+write("token", "secret-token"))(s)
			s = replace(t, "http:\n  listen: 127.0.0.1:9464        # /metrics, /healthz, /readyz\n", "")(s)
			s = replace(t, `{ dsn: "postgres://postgres@127.0.0.1:5433/orders" }`, `{ dsn: "postgres://postgres@127.0.0.1:5433/orders", password_file: `+write("pg", "secret-pg-file")+` }`)(s)
			return replace(t, `{ dsn: "postgres://postgres@127.0.0.1:5433/consumers" }`, `{ dsn: "host=127.0.0.1 dbname=consumers", password_file: `+write("pg2", "secret-pg-kv")+` }`)(s)
		},
		"api key from a file": replace(t, `  urls: ["http://127.0.0.1:9200"]`, `  urls: ["http://127.0.0.1:9200"]
  api_key_file: `+write("key", "secret-key-file")),
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, _, err := loadEdited(t, edit, exampleEnv)
			if err != nil {
				t.Fatal(err)
			}
			out, err := cfg.Effective()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(out), "secret") {
				t.Errorf("the effective configuration shows a secret:\n%s", out)
			}
		})
	}
	t.Run("from files reloads", func(t *testing.T) {
		cfg, _, err := loadEdited(t, tests["from files"], exampleEnv)
		if err != nil {
			t.Fatal(err)
		}
		out, err := cfg.Effective()
		if err != nil {
			t.Fatal(err)
		}
		again := reload(t, out)
		for _, name := range []string{"orders", "consumers"} {
			if again.Sources[name].DSN != cfg.Sources[name].DSN {
				t.Errorf("source %s: DSN %q after reloading, want %q", name, again.Sources[name].RedactedDSN(), cfg.Sources[name].RedactedDSN())
			}
		}
		if again.Sink.Password != cfg.Sink.Password || again.HTTP.PprofToken != cfg.HTTP.PprofToken {
			t.Error("the secrets read from files differ after reloading")
		}
	})
}

func TestWithoutPassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u:pw@h/db?sslmode=disable", "postgres://u@h/db?sslmode=disable"},
		{"postgres://h/db", "postgres://h/db"},
		{"host=h dbname=db password='p w'", "host=h dbname=db"},
		{"password=x host=h", "host=h"},
		{"host=h sslpassword=s", "host=h sslpassword=s"},
	}
	for _, tt := range tests {
		if got := withoutPassword(tt.in); got != tt.want {
			t.Errorf("withoutPassword(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
