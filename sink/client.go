package sink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// Flavour is the search engine product behind the configured URLs.
type Flavour string

// The products projector writes to.
const (
	Elasticsearch Flavour = "elasticsearch"
	OpenSearch    Flavour = "opensearch"
)

// Options says how to reach the search engine.
type Options struct {
	URLs     []string
	Username string
	Password string
	APIKey   string // base64 "id:key", as Elasticsearch issues it
	// CACert is a PEM bundle that replaces the system roots when set.
	CACert             []byte
	InsecureSkipVerify bool
	// Timeout bounds each request; zero means 60 seconds.
	Timeout time.Duration
	Gzip    bool
}

// Client speaks the Elasticsearch REST API to Elasticsearch 8/9 or
// OpenSearch 2/3. Both accept the same requests for everything projector
// does; the difference is that Elasticsearch's client insists on the
// product header, which OpenSearch does not send.
type Client struct {
	API     *esapi.API
	Flavour Flavour
	Version string
	// Transport performs raw requests without the product check.
	Transport elastictransport.Interface
}

// Connect asks GET / which product answers and returns a client for it.
// For Elasticsearch the official client's product check stays on.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	es, err := newElasticClient(opts)
	if err != nil {
		return nil, err
	}
	info, header, err := rootInfo(ctx, es.Transport)
	if err != nil {
		return nil, fmt.Errorf("connect to search engine %s: %w", redactURLs(opts.URLs), err)
	}
	c := &Client{Version: info.Version.Number, Transport: es.Transport}
	switch {
	case info.Version.Distribution == "opensearch":
		c.Flavour = OpenSearch
		c.API = esapi.New(es.Transport)
	case header.Get("X-Elastic-Product") == "Elasticsearch":
		c.Flavour = Elasticsearch
		c.API = es.API
	default:
		return nil, fmt.Errorf("connect to search engine %s: the server (version %q, tagline %q) is neither Elasticsearch "+
			"(no X-Elastic-Product header) nor OpenSearch; projector supports Elasticsearch 8/9 and OpenSearch 2/3",
			redactURLs(opts.URLs), info.Version.Number, info.Tagline)
	}
	return c, nil
}

type rootResponse struct {
	Tagline string `json:"tagline"`
	Version struct {
		Number       string `json:"number"`
		Distribution string `json:"distribution"`
	} `json:"version"`
}

func rootInfo(ctx context.Context, tp elastictransport.Interface) (rootResponse, http.Header, error) {
	var info rootResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return info, nil, err
	}
	res, err := tp.Perform(req)
	if err != nil {
		return info, nil, fmt.Errorf("GET /: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return info, nil, fmt.Errorf("GET /: read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return info, nil, fmt.Errorf("GET /: %s (check the URL and credentials)", res.Status)
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return info, nil, fmt.Errorf("GET /: answer is not a search engine's JSON: %w", err)
	}
	return info, res.Header, nil
}

func newElasticClient(opts Options) (*elasticsearch.Client, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("search engine: no URLs configured")
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify} //nolint:gosec // opt-in
	if len(opts.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(opts.CACert) {
			return nil, errors.New("search engine: the CA certificate is not valid PEM")
		}
		tlsConf.RootCAs = pool
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = 32
	// Responses are compressed only where requests are (sink.gzip, for a
	// network where bytes cost more than CPU): otherwise Go's transport
	// would ask for gzip, and the search engine would compress every bulk
	// response for projector to decompress, CPU on both sides for a
	// loopback or LAN hop that does not need it.
	tr.DisableCompression = !opts.Gzip
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses:           opts.URLs,
		Username:            opts.Username,
		Password:            opts.Password,
		APIKey:              opts.APIKey,
		Transport:           tr,
		CompressRequestBody: opts.Gzip,
		// The bulk pipeline decides what to retry and for how long.
		DisableRetry: true,
	})
	if err != nil {
		return nil, fmt.Errorf("search engine %s: %w", redactURLs(opts.URLs), err)
	}
	return es, nil
}

// redactURLs hides passwords embedded in URLs so they never reach a log.
func redactURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			out[i] = "(unparsable URL)"
			continue
		}
		out[i] = u.Redacted()
	}
	return fmt.Sprint(out)
}
