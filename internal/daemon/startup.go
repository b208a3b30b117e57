package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/ctxtime"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
)

// SinkOptions turns the sink configuration into client options, reading
// the CA bundle it names.
func SinkOptions(s config.Sink) (sink.Options, error) {
	opts := sink.Options{
		URLs: s.URLs, Username: s.Username, Password: s.Password, APIKey: s.APIKey,
		InsecureSkipVerify: s.InsecureSkipVerify, Timeout: time.Duration(s.Timeout), Gzip: s.Gzip,
	}
	if s.CACertFile != "" {
		pem, err := os.ReadFile(s.CACertFile)
		if err != nil {
			return opts, fmt.Errorf("read sink.ca_cert_file: %w", err)
		}
		opts.CACert = pem
	}
	return opts, nil
}

// connectSink waits for the search engine: at start-up it may simply not
// be up yet, which is worth waiting for, not failing on.
func connectSink(ctx context.Context, s config.Sink, log *slog.Logger) (*sink.Client, error) {
	opts, err := SinkOptions(s)
	if err != nil {
		return nil, err
	}
	client, err := retry(ctx, retryPolicy{what: "connect to the search engine", classify: sinkErrorClass, log: log},
		func() (*sink.Client, error) { return sink.Connect(ctx, opts) })
	if err != nil {
		return nil, fmt.Errorf("connect to the search engine: %w", err)
	}
	log.Info("search engine connected", "flavour", client.Flavour, "version", client.Version)
	return client, nil
}

// describeSources reads the catalog of every source for the tables its
// views use. A source that cannot be described for a reason retrying
// cannot fix (a wrong password, a missing database) is returned in failed
// rather than stopping the others.
func describeSources(ctx context.Context, cfg *config.Config, stopped func(source string) string,
	log *slog.Logger) (transform.Schema, map[string]error, error) {
	schema := transform.Schema{}
	failed := map[string]error{}
	byName := cfg.TablesBySource()
	for _, name := range cfg.SourceNames {
		refs, ok := byName[name]
		if !ok {
			continue // declared but unused by any view
		}
		if why := stopped(name); why != "" {
			failed[name] = errors.New(why) // already stopped for good, and logged
			continue
		}
		tables := make([]capture.Table, len(refs))
		for i, t := range refs {
			tables[i] = capture.Table{Schema: t.Schema, Name: t.Name}
		}
		src := cfg.Sources[name]
		infos, err := retry(ctx, retryPolicy{what: "describe source " + name, classify: capture.Classify, log: log},
			func() (map[capture.Table]*capture.TableInfo, error) { return describe(ctx, src, tables) })
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, err
			}
			failed[name] = err
			continue
		}
		schema[name] = infos
	}
	return schema, failed, nil
}

func describe(ctx context.Context, src config.Source, tables []capture.Table) (map[capture.Table]*capture.TableInfo, error) {
	conn, err := pgx.Connect(ctx, src.DSN)
	if err != nil {
		return nil, fmt.Errorf("connect to source %q (%s): %w", src.Name, src.RedactedDSN(), err)
	}
	defer conn.Close(context.Background())
	infos, err := capture.Describe(ctx, conn, tables)
	if err != nil {
		return nil, fmt.Errorf("describe tables of source %q: %w", src.Name, err)
	}
	return infos, nil
}

// retryPolicy names an operation retry repeats, for its log lines, and
// classifies its errors.
type retryPolicy struct {
	what     string
	classify func(error) capture.ErrorClass
	log      *slog.Logger
}

// retry repeats op while it fails for reasons that go away by themselves
// (a server still starting, a network blip), logging each failure, and a
// few times for errors that may or may not (see capture.Retrier); other
// errors, such as a wrong password, are returned at once.
func retry[T any](ctx context.Context, policy retryPolicy, op func() (T, error)) (T, error) {
	log, what := policy.log, policy.what
	r := capture.Retrier{MaxBackoff: 15 * time.Second, Classify: policy.classify}
	for {
		v, err := op()
		if err == nil || ctx.Err() != nil {
			return v, err
		}
		wait, stop := r.Next(err)
		if stop != nil {
			return v, stop
		}
		log.Warn("retrying: "+what, "error", err, "retry_in", wait.Round(time.Millisecond))
		if err := ctxtime.Sleep(ctx, wait); err != nil {
			return v, err
		}
	}
}

// sinkErrorClass retries only network errors of the search engine: its
// other errors (a refused login, a bad certificate) need a fix.
func sinkErrorClass(err error) capture.ErrorClass {
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return capture.Transient
	}
	return capture.Permanent
}
