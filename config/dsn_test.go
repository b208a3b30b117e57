package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestRedactedDSN(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://app:s3cret@db:5432/orders", "postgres://app:xxxxx@db:5432/orders"},
		{"postgresql://app:s3cret@db/orders?sslmode=require", "postgresql://app:xxxxx@db/orders?sslmode=require"},
		{"postgres://app@db/orders?password=s3cret&sslmode=disable", "postgres://app@db/orders?password=xxxxx&sslmode=disable"},
		{"postgres://app:p%40ss@h1:5432,h2:5433/orders", "postgres://app:xxxxx@h1:5432,h2:5433/orders"},
		{"postgres://app@db/orders", "postgres://app@db/orders"},
		{"host=db password=s3cret dbname=orders", "host=db password=xxxxx dbname=orders"},
		{"host=db password = 's3 cr\\'et' dbname=orders", "host=db password = xxxxx dbname=orders"},
		{"host=db sslpassword=k3y password=pw", "host=db sslpassword=xxxxx password=xxxxx"},
		{"host=db dbname=orders", "host=db dbname=orders"},
		{"host=db password='never closed", "xxxxx"},
		{"postgres://app:s3cret@db:port/%zz", "xxxxx"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			if got := (Source{DSN: tt.dsn}).RedactedDSN(); got != tt.want {
				t.Fatalf("RedactedDSN(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
		})
	}
}

func FuzzRedactedDSN(f *testing.F) {
	for _, s := range []string{"s3cret", "a b", `it's`, `back\slash`, "@:/?#", ""} {
		f.Add(s)
	}
	quote := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	f.Fuzz(func(t *testing.T, password string) {
		kv := "host=db password='" + quote.Replace(password) + "' dbname=orders"
		if got := redactDSN(kv); got != "host=db password=xxxxx dbname=orders" {
			t.Fatalf("redactDSN(%q) = %q", kv, got)
		}
		u := "postgres://" + url.UserPassword("app", password).String() + "@db/orders"
		if got := redactDSN(u); got != "postgres://app:xxxxx@db/orders" {
			t.Fatalf("redactDSN(%q) = %q", u, got)
		}
	})
}

func TestWithPassword(t *testing.T) {
	tests := []struct{ dsn, password, want, err string }{
		{dsn: "postgres://app@db/orders", password: "p@ss word", want: "postgres://app:p%40ss%20word@db/orders"},
		{dsn: "host=db dbname=orders", password: `it's\`, want: `host=db dbname=orders password='it\'s\\'`},
		{dsn: "postgres://app:old@db/orders", password: "new", err: "the DSN already has a password"},
		{dsn: "postgres://app@db/orders?password=old", password: "new", err: "the DSN already has a password"},
		{dsn: "host=db password=old", password: "new", err: "the DSN already has a password"},
		{dsn: "host='db", password: "new", err: "the DSN cannot be parsed: a quoted value is not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.dsn, func(t *testing.T) {
			got, err := withPassword(tt.dsn, tt.password)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("withPassword(%q) error = %v, want %q", tt.dsn, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("withPassword(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
			}
			if problem := dsnProblem(got); problem != "" {
				t.Fatalf("pgconn rejects %q: %s", got, problem)
			}
		})
	}
}

func TestDSNProblemHidesPasswords(t *testing.T) {
	for dsn, secret := range map[string]string{
		"postgres://app:hunter2@db:port/orders":              "hunter2",
		"postgres://app:hun%zzter2@db/orders":                "zz",
		"postgres://app:hunter2@db/orders?sslmode=sometimes": "hunter2",
		"host=db hunter2 dbname=orders":                      "hunter2",
		"host=db password=hunter2 port=http":                 "hunter2",
		"host=db password='hunter2":                          "hunter2",
	} {
		problem := dsnProblem(dsn)
		if problem == "" || strings.Contains(problem, secret) {
			t.Errorf("dsnProblem(%q) = %q; want a problem that does not repeat the password", dsn, problem)
		}
	}
}

func TestPrintingHidesSecrets(t *testing.T) {
	cfg := Default()
	cfg.Sources["orders"] = Source{Name: "orders", DSN: "postgres://app:hunter2@db/orders", Slot: "s", Publication: "p"}
	cfg.SourceNames = []string{"orders"}
	cfg.Sink.URLs = []string{"https://elastic:hunter2@search:9200"}
	cfg.Sink.Username = "elastic"
	cfg.Sink.Password = "hunter2"
	cfg.Sink.APIKey = "hunter2"
	var logged strings.Builder
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("loaded", "config", cfg, "source", cfg.Sources["orders"], "sink", cfg.Sink)
	logger.Info("loaded", "config", &cfg)
	outputs := map[string]string{"slog": logged.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outputs[verb+" config"] = fmt.Sprintf(verb, cfg)
		outputs[verb+" *config"] = fmt.Sprintf(verb, &cfg)
		outputs[verb+" source"] = fmt.Sprintf(verb, cfg.Sources["orders"])
		outputs[verb+" sink"] = fmt.Sprintf(verb, cfg.Sink)
		outputs[verb+" map"] = fmt.Sprintf(verb, cfg.Sources)
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s prints a secret: %s", name, out)
		}
		if !strings.Contains(out, "xxxxx") {
			t.Errorf("%s does not show that a secret was hidden: %s", name, out)
		}
	}
}
