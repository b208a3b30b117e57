package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Load reads the configuration file at path, expands ${VAR} references from
// the environment, reads secret files, applies defaults and validates the
// result. It returns every problem it finds at once, joined, each prefixed
// with the file, line and column to fix. It never connects anywhere.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	l := newLoader(path, os.LookupEnv, os.ReadFile)
	return l.parse(data)
}

// document is the top level of the file as written. Its field comments are
// the descriptions of the JSON Schema (projector.schema.json).
type document struct {
	// Sources are the service databases projector replicates from, by the
	// name views refer to them with.
	Sources map[string]Source `yaml:"sources" jsonschema:"required"`
	// Sink is the Elasticsearch or OpenSearch cluster the views are written
	// to.
	Sink Sink `yaml:"sink" jsonschema:"required"`
	// State is where projector keeps what it must remember across restarts.
	State State `yaml:"state"`
	// HTTP is the server for /metrics, /healthz and /readyz.
	HTTP HTTP `yaml:"http"`
	// Admin is the admin API, off unless admin.token_file is set.
	Admin Admin `yaml:"admin"`
	// Capture holds choices about the replication streams.
	Capture Capture `yaml:"capture"`
	// Readiness decides when /readyz reports ready.
	Readiness Readiness `yaml:"readiness"`
	// Shutdown bounds how long projector drains on SIGTERM.
	Shutdown Shutdown `yaml:"shutdown"`
	// Log configures projector's own log output.
	Log Log `yaml:"log"`
	// Views are the document types projector maintains, one index alias
	// each.
	Views []rawView `yaml:"views" jsonschema:"required"`
}

// loader turns the bytes of one file into a Config, collecting problems
// instead of stopping at the first.
type loader struct {
	file      string
	lookup    func(string) (string, bool)
	readFile  func(string) ([]byte, error)
	errs      []error
	positions map[string]Pos
	// values maps a line to the values written on it, to name the key in
	// the decoder's messages, which give only a line.
	values map[int][]value
	// merged records the "<<" merges already checked.
	merged map[mergeKey]bool
}

// value is one value node and its YAML path.
type value struct {
	path string
	kind yaml.Kind
	// text is a scalar's value as the decoder sees it: expanded.
	text string
	pos  Pos
}

func newLoader(file string, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) *loader {
	return &loader{
		file:      file,
		lookup:    lookup,
		readFile:  readFile,
		positions: map[string]Pos{},
		values:    map[int][]value{},
		merged:    map[mergeKey]bool{},
	}
}

// parse runs every loading step; it validates only a file that decoded
// cleanly, since checks on half-decoded values would mislead.
func (l *loader) parse(data []byte) (*Config, error) {
	cfg := Default()
	cfg.File = l.file
	root, err := l.root(data)
	if err != nil {
		return nil, err
	}
	if root != nil {
		l.visit(root, "")
		l.checkKeys(root, reflect.TypeFor[document](), "")
		l.decode(root, &cfg)
	}
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	cfg.positions = l.positions
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// root parses the YAML and returns its top-level mapping, or nil for an
// empty file.
func (l *loader) root(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, l.syntaxError(data, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, l.pos(root).Errorf("the configuration is %s; it must be a map with keys such as sources, sink and views", describe(root))
	}
	return root, nil
}

// decode fills cfg from the file, on top of the defaults already in it.
func (l *loader) decode(root *yaml.Node, cfg *Config) {
	d := document{
		Sink: cfg.Sink, State: cfg.State, HTTP: cfg.HTTP, Admin: cfg.Admin, Capture: cfg.Capture,
		Readiness: cfg.Readiness, Shutdown: cfg.Shutdown, Log: cfg.Log,
	}
	if err := root.Decode(&d); err != nil {
		l.decodeError(err)
	}
	cfg.Sink, cfg.State, cfg.HTTP, cfg.Capture = d.Sink, d.State, d.HTTP, d.Capture
	cfg.Admin = d.Admin
	cfg.Readiness, cfg.Shutdown, cfg.Log = d.Readiness, d.Shutdown, d.Log
	l.sinkSecrets(&cfg.Sink)
	l.httpSecrets(&cfg.HTTP)
	l.adminSecrets(&cfg.Admin)
	l.sources(root, d.Sources, cfg)
	for i, rv := range d.Views {
		cfg.Views = append(cfg.Views, l.view(rv, fmt.Sprintf("views[%d]", i)))
	}
}

// pos is where a node was written.
func (l *loader) pos(n *yaml.Node) Pos {
	return Pos{File: l.file, Line: n.Line, Column: n.Column}
}
