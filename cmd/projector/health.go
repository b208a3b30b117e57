package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/projector-dev/projector/config"
)

// healthOptions are the flags of projector health.
type healthOptions struct {
	live    bool
	url     string
	timeout time.Duration
}

func newHealthCommand(g *globals) *cobra.Command {
	o := &healthOptions{}
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Ask a running projector whether it is ready (or alive), for container health checks",
		Long: `health asks the projector serving http.listen of the configuration whether it
is ready: it GETs /readyz (with --live, /healthz) and exits 0 when the answer
is 200 and 1 otherwise, printing what projector answered. It needs no
database or search engine, only the configuration's http.listen; an address
that listens on every interface (":9464", "0.0.0.0:9464") is asked on
loopback. --url asks another address instead of reading the configuration.

/readyz fails while an initial snapshot runs, a source is not streaming or
lag exceeds readiness.max_lag; /healthz only says that the process answers.
A check that restarts what it finds unhealthy should use --live, so that a
long initial snapshot is never restarted.`,
		Example: `  projector health -c /etc/projector/projector.yaml
  projector health -c projector.yaml --live
  projector health --url http://10.0.0.7:9464`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := o.url
			if base == "" {
				cfg, err := config.Load(g.configFile)
				if err != nil {
					return err
				}
				base, err = listenURL(cfg.HTTP.Listen)
				if err != nil {
					return err
				}
			}
			path := "/readyz"
			if o.live {
				path = "/healthz"
			}
			return probe(cmd.Context(), cmd.OutOrStdout(), strings.TrimSuffix(base, "/")+path, o.timeout)
		},
	}
	g.addConfigFlag(cmd)
	cmd.Flags().BoolVar(&o.live, "live", false, "ask /healthz (the process answers) instead of /readyz (the views are current)")
	cmd.Flags().StringVar(&o.url, "url", "", "base URL of projector's HTTP server (default: from http.listen of the configuration)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

// listenURL turns http.listen into the URL a process on the same host
// reaches it at: a listener on every interface answers on loopback.
func listenURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("http.listen %q: %w; write it like 127.0.0.1:9464", listen, err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// probe GETs url and reports an answer other than 200 as an error that
// carries what projector said, so a health log shows why.
func probe(ctx context.Context, out io.Writer, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check of %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: projector does not answer at %s: %w; is it running, and is http.listen its address?", url, err)
	}
	defer resp.Body.Close()
	// /readyz answers one line; more than this is not projector.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return fmt.Errorf("health check: read the answer of %s: %w", url, err)
	}
	said := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s answered %s: %s", url, resp.Status, said)
	}
	fmt.Fprintf(out, "OK    %s: %s\n", url, said)
	return nil
}
