package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzLoad feeds arbitrary files to the loader: it must never panic, and
// whatever it accepts must validate and print.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile(examplePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	f.Add("sources: {a: {dsn: ${X}}}\nviews: [{name: v, root: {source: a, table: t}, fields: {c: f}}]\nsink: {urls: [http://h:9200]}\n")
	f.Add("x: &a {b: *a}\n<<: *a\n")
	f.Add("sink: &a {<<: *a}\n")
	f.Add("sink: &a [{<<: *a}]\nviews: &b [{fields: *b, on: *b}]\n")
	f.Add("views: [{relations: [{on: [1], fields: 3}]}]")
	env := func(k string) (string, bool) { return "v", k != "UNSET" }
	noFiles := func(string) ([]byte, error) { return nil, errors.New("no files while fuzzing") }
	f.Fuzz(func(t *testing.T, data string) {
		cfg, err := newLoader("fuzz.yaml", env, noFiles).parse([]byte(data))
		if err != nil {
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
		_ = cfg.String()
		_ = cfg.TablesBySource()
	})
}
