package config

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzLoad feeds arbitrary files to the loader: it must never panic, and
// whatever it accepts must validate and print, and its effective
// configuration must load back to the same.
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
	f.Add("sources: {a: {dsn: 'host=h password=$$x', slot: s}}\nviews: [{name: v, root: {source: a, table: 't.u'}, fields: {'on': 'yes', c$$1: 'd$$1'}, json: {'a$$b': object}}]\nsink: {urls: ['http://h:9200/$${X}']}\n")
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
		out, err := cfg.Effective()
		if err != nil {
			t.Fatalf("accepted a config that does not print: %v", err)
		}
		again, err := newLoader("effective.yaml", env, noFiles).parse(out)
		if err != nil {
			t.Fatalf("the effective configuration does not load: %v\n%s", err, out)
		}
		opts := cmp.Options{cmpopts.EquateEmpty(), cmpopts.IgnoreTypes(Pos{}), cmpopts.IgnoreFields(Config{}, "File"), cmpopts.IgnoreUnexported(Config{})}
		// Secrets print as "xxxxx", so they load back as that.
		want := *cfg
		want.Sources = map[string]Source{}
		for name, src := range cfg.Sources {
			src.DSN = redactDSN(src.DSN)
			want.Sources[name] = src
		}
		want.Sink = cfg.Sink.redacted()
		if diff := cmp.Diff(&want, again, opts); diff != "" {
			t.Fatalf("the effective configuration loads differently (-accepted +reloaded):\n%s\n%s", diff, out)
		}
	})
}
