package config

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Effective returns the configuration as a YAML file: every key with the
// value projector uses, defaults written out, in the file's order. Secrets
// never appear: a password or API key written in the file is replaced by
// "xxxxx", and one read from a file (password_file, api_key_file, a
// source's password_file) is left out, the key naming its file saying
// where it comes from. Without secrets in the file, Load reads the output
// back to the same configuration.
func (c *Config) Effective() ([]byte, error) {
	f, err := c.effective()
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := doc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode the effective configuration: %w", err)
	}
	escapeDollars(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode the effective configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the effective configuration: %w", err)
	}
	return buf.Bytes(), nil
}

// effectiveFile is the top level of the file Effective writes, in the order
// of the reference (docs/configuration.md).
type effectiveFile struct {
	Sources   yaml.Node       `yaml:"sources"`
	Sink      Sink            `yaml:"sink"`
	State     State           `yaml:"state"`
	HTTP      HTTP            `yaml:"http"`
	Admin     Admin           `yaml:"admin"`
	Capture   Capture         `yaml:"capture"`
	Readiness Readiness       `yaml:"readiness"`
	Shutdown  Shutdown        `yaml:"shutdown"`
	Log       Log             `yaml:"log"`
	Views     []effectiveView `yaml:"views"`
}

// effectiveView is a view as Effective writes it.
type effectiveView struct {
	Name      string                 `yaml:"name"`
	Root      rawTable               `yaml:"root"`
	Fields    *yaml.Node             `yaml:"fields,omitempty"`
	Relations []effectiveRelation    `yaml:"relations,omitempty"`
	Numeric   Numeric                `yaml:"numeric"`
	JSON      map[string]JSONMapping `yaml:"json,omitempty"`
	Settings  IndexSettings          `yaml:"settings"`
}

// effectiveRelation is a relation as Effective writes it.
type effectiveRelation struct {
	Name      string              `yaml:"name"`
	Type      RelationType        `yaml:"type"`
	Table     rawTable            `yaml:",inline"`
	On        *yaml.Node          `yaml:"on"`
	Fields    *yaml.Node          `yaml:"fields,omitempty"`
	Relations []effectiveRelation `yaml:"relations,omitempty"`
}

func (c *Config) effective() (effectiveFile, error) {
	f := effectiveFile{
		Sources: yaml.Node{Kind: yaml.MappingNode},
		Sink:    c.Sink.redacted(), State: c.State, HTTP: c.HTTP, Admin: c.Admin, Capture: c.Capture,
		Readiness: c.Readiness, Shutdown: c.Shutdown, Log: c.Log,
		Views: []effectiveView{},
	}
	if c.Sink.PasswordFile != "" {
		f.Sink.Password = ""
	}
	if c.Sink.APIKeyFile != "" {
		f.Sink.APIKey = ""
	}
	for _, name := range c.sourceNames() {
		src := c.Sources[name]
		if src.PasswordFile != "" {
			src.DSN = withoutPassword(src.DSN)
		}
		src.DSN = redactDSN(src.DSN)
		var v yaml.Node
		if err := v.Encode(src); err != nil {
			return effectiveFile{}, fmt.Errorf("encode source %q: %w", name, err)
		}
		f.Sources.Content = append(f.Sources.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, &v)
	}
	for _, v := range c.Views {
		f.Views = append(f.Views, effectiveView{
			Name: v.Name, Root: writtenTable(v.Root), Fields: fieldsNode(v.Fields, v.AllColumns),
			Relations: effectiveRelations(v.Relations), Numeric: v.Numeric, JSON: v.JSON, Settings: v.Settings,
		})
	}
	return f, nil
}

func effectiveRelations(rels []Relation) []effectiveRelation {
	var out []effectiveRelation
	for _, r := range rels {
		on := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		for _, p := range r.On {
			on.Content = append(on.Content, scalar(p.Parent), scalar(p.Related))
		}
		out = append(out, effectiveRelation{
			Name: r.Name, Type: r.Type, Table: writtenTable(r.Table), On: on,
			Fields: fieldsNode(r.Fields, r.AllColumns), Relations: effectiveRelations(r.Relations),
		})
	}
	return out
}

func writtenTable(t TableRef) rawTable {
	if t.IsEntity() {
		return rawTable{Source: t.Source, Entity: t.Name}
	}
	return rawTable{Source: t.Source, Schema: t.Schema, Table: t.Name}
}

// fieldsNode writes fields as a list when no column is renamed and as a map
// of column: field name otherwise; nil leaves the key out, which copies
// every column.
func fieldsNode(fields []Field, all bool) *yaml.Node {
	if all {
		return nil
	}
	renamed := false
	for _, f := range fields {
		renamed = renamed || f.Column != f.Name
	}
	if !renamed {
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, f := range fields {
			n.Content = append(n.Content, scalar(f.Column))
		}
		return n
	}
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for _, f := range fields {
		n.Content = append(n.Content, scalar(f.Column), scalar(f.Name))
	}
	return n
}

// scalar is a string node, quoted by the encoder when YAML would read it as
// something else.
func scalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// escapeDollars writes every "$" in a value as "$$", so that Load, which
// expands ${VAR} references in values (not in keys), reads back the value
// itself.
func escapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			n.Value = strings.ReplaceAll(n.Value, "$", "$$")
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			escapeDollars(n.Content[i])
		}
	default:
		for _, c := range n.Content {
			escapeDollars(c)
		}
	}
}

// withoutPassword removes from a DSN the password Load put into it from a
// password file, so that the printed DSN is the one written in the file.
func withoutPassword(dsn string) string {
	if isURLDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn
		}
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		return u.String()
	}
	params, err := parseKeywordValue(dsn)
	if err != nil {
		return dsn
	}
	var b strings.Builder
	last := 0
	for _, p := range params {
		if p.key != "password" {
			continue
		}
		// The key is the last "password" before the value.
		start := strings.LastIndex(dsn[:p.start], p.key)
		b.WriteString(dsn[last:start])
		last = p.end
	}
	b.WriteString(dsn[last:])
	return strings.TrimSpace(b.String())
}
