package config

import (
	"fmt"
	"log/slog"
	"net/url"
)

// Sink is the Elasticsearch or OpenSearch cluster the views are written to.
type Sink struct {
	// URLs are the nodes' http(s) addresses; requests are spread over them.
	URLs []string `yaml:"urls" jsonschema:"required"`
	// Username is the user for HTTP basic authentication, with Password or
	// PasswordFile.
	Username string `yaml:"username"`
	// Password is the basic authentication password; prefer PasswordFile
	// or ${ENV} to keep it out of the file.
	Password string `yaml:"password"`
	// PasswordFile names a file holding Password, for secrets mounted as
	// files; it is read at start.
	PasswordFile string `yaml:"password_file"`
	// APIKey is the base64 "id:key" form, sent as "Authorization: ApiKey";
	// an alternative to Username and Password.
	APIKey string `yaml:"api_key"`
	// APIKeyFile names a file holding APIKey; it is read at start.
	APIKeyFile string `yaml:"api_key_file"`
	// CACertFile is a PEM bundle that replaces the system roots.
	CACertFile string `yaml:"ca_cert_file"`
	// InsecureSkipVerify accepts any TLS certificate the cluster presents:
	// for tests only, since it lets anyone on the path read and change the
	// documents.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Timeout bounds each request.
	Timeout Duration `yaml:"timeout"`
	// Gzip compresses request bodies and asks for compressed responses.
	Gzip bool `yaml:"gzip"`
	// BulkActions caps the documents in one bulk request; it is sent when
	// this or BulkBytes is reached, whichever comes first.
	BulkActions int `yaml:"bulk_actions"`
	// BulkBytes caps the size of one bulk request; it is sent when this or
	// BulkActions is reached, whichever comes first.
	BulkBytes ByteSize `yaml:"bulk_bytes"`
	// FlushInterval sends a partly filled bulk request after this long
	// (default 100ms): it bounds how long a change waits for company. A
	// change that finds its lane idle for this long is sent at once, so on
	// a quiet stream it adds nothing to the view lag; under load each lane
	// sends at most one partly filled request per interval.
	FlushInterval Duration `yaml:"flush_interval"`
	// Concurrency is how many bulk requests may be in flight at once.
	Concurrency int `yaml:"concurrency"`
	// IndexPrefix is put in front of every view's alias and index name, so
	// several deployments (or test runs) can share one cluster.
	IndexPrefix string `yaml:"index_prefix"`
}

// String describes the sink without its secrets.
func (s Sink) String() string {
	type plain Sink // drops the methods, so %+v does not recurse
	return fmt.Sprintf("%+v", plain(s.redacted()))
}

// GoString keeps %#v from printing secrets.
func (s Sink) GoString() string { return s.String() }

// LogValue keeps slog from printing secrets.
func (s Sink) LogValue() slog.Value {
	r := s.redacted()
	return slog.GroupValue(
		slog.Any("urls", r.URLs),
		slog.String("username", r.Username),
		slog.String("password", r.Password),
		slog.String("api_key", r.APIKey),
		slog.String("ca_cert_file", r.CACertFile),
		slog.Bool("insecure_skip_verify", r.InsecureSkipVerify),
		slog.String("timeout", r.Timeout.String()),
		slog.Bool("gzip", r.Gzip),
		slog.Int("bulk_actions", r.BulkActions),
		slog.String("bulk_bytes", r.BulkBytes.String()),
		slog.String("flush_interval", r.FlushInterval.String()),
		slog.Int("concurrency", r.Concurrency),
		slog.String("index_prefix", r.IndexPrefix),
	)
}

// redacted returns a copy safe to print: secrets become "xxxxx" and so do
// passwords written into the URLs.
func (s Sink) redacted() Sink {
	r := s
	r.URLs = make([]string, len(s.URLs))
	for i, raw := range s.URLs {
		r.URLs[i] = redactURL(raw)
	}
	if r.Password != "" {
		r.Password = redacted
	}
	if r.APIKey != "" {
		r.APIKey = redacted
	}
	return r
}

// redactURL hides the password of an http(s) URL; an unparsable URL is
// hidden entirely because its password cannot be located.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redacted
	}
	if _, ok := u.User.Password(); !ok {
		return raw // as written: u.String() may escape it differently
	}
	return u.Redacted()
}
