// Package client lets an application read its own writes in projector's
// views: after a transaction commits, CommitPosition reads a WAL position
// at or past its commit, and (*Client).Wait returns once a view holds
// every change of that source up to the position and answers searches
// with them.
//
//	// after tx.Commit(ctx) on the orders database:
//	lsn, err := client.CommitPosition(ctx, conn)
//	...
//	err = projector.Wait(ctx, "order_history", "orders", lsn)
//	// a search on order_history now finds the order
//
// Wait calls the daemon's admin API (GET /v1/wait), which must be
// configured (admin.token_file, and for applications preferably
// admin.wait_token_file). See README, "Reading your own writes", for the
// precise guarantee.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// LSN is a PostgreSQL WAL position, written like 16/B374D848.
type LSN uint64

// String writes lsn as PostgreSQL does.
func (lsn LSN) String() string { return fmt.Sprintf("%X/%X", uint64(lsn)>>32, uint32(lsn)) }

// ParseLSN reads a position written like 16/B374D848.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("WAL position %q: want two hexadecimal numbers separated by /, like 16/B374D848", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("WAL position %q: %w", s, err)
	}
	return LSN(h<<32 | l), nil
}

// Querier runs a query returning one row: *pgx.Conn, *pgxpool.Pool and
// pgx.Tx all do.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CommitPosition returns a WAL position at or past the commit of every
// transaction that committed on the server before the call: call it after
// Commit returned, on a connection to the same server (the primary the
// source's DSN names; positions of different servers do not compare).
//
// It reads pg_current_wal_insert_lsn(), the end of the WAL inserted so
// far, which is global to the server: once COMMIT has returned, the
// transaction's commit record was inserted, so the position is at or past
// its end — also under synchronous_commit = off, where
// pg_current_wal_lsn() (the end of the WAL written out) may still be
// before it. The position may be further on, past other sessions' work;
// waiting on it then waits for those too, which costs at most the time
// the stream takes to pass them.
func CommitPosition(ctx context.Context, conn Querier) (LSN, error) {
	var s string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&s); err != nil {
		return 0, fmt.Errorf("read the commit position: %w", err)
	}
	return ParseLSN(s)
}

// Client calls a projector daemon's admin API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the admin API at baseURL (like
// http://127.0.0.1:9466) that sends token: the content of
// admin.wait_token_file, or of admin.token_file.
func New(baseURL, token string) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{}}
}

// WithHTTPClient makes c send its requests through hc.
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	cc := *c
	cc.http = hc
	return &cc
}

// ErrTimeout is Wait's error when the view did not have the position in
// time: the change may still arrive. The caller decides whether to read
// without it, wait again, or report it.
var ErrTimeout = errors.New("the view did not reach the position in time")

// StatusError is an answer of the admin API other than success or
// timeout: a bad request (400), a wrong token (401), an unknown view or
// source (404), a stopped view (409), a failed refresh (502), a daemon
// that is not running its pipeline (503).
type StatusError struct {
	Code    int
	Message string
}

// Error says what projector answered.
func (e *StatusError) Error() string {
	return fmt.Sprintf("projector answered %d: %s", e.Code, e.Message)
}

// DefaultTimeout is how long Wait waits when ctx has no deadline.
const DefaultTimeout = 5 * time.Second

// maxTimeout is the longest wait the daemon accepts.
const maxTimeout = time.Minute

// Wait returns once every change of source up to lsn is durable in view
// and visible to searches on its alias, or ErrTimeout when ctx's deadline
// (DefaultTimeout without one, a minute at most) passes first. source is
// the source's name in projector's configuration, and lsn must come from
// that source's server (CommitPosition).
func (c *Client) Wait(ctx context.Context, view, source string, lsn LSN) error {
	_, err := c.WaitTimed(ctx, view, source, lsn)
	return err
}

// Waited is where a visible wait spent its time, as the daemon measured
// it: Durable until the index had acknowledged every change up to the
// position (the write's own lag), then Searchable for the refresh that
// made them visible. Their sum is the wait's time inside projector.
type Waited struct {
	Durable, Searchable time.Duration
}

// WaitTimed is Wait, also saying where the wait's time went: for an
// application that watches its read-your-writes latency.
func (c *Client) WaitTimed(ctx context.Context, view, source string, lsn LSN) (Waited, error) {
	timeout := DefaultTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = time.Until(deadline)
	}
	timeout = min(timeout, maxTimeout)
	if timeout <= 0 {
		return Waited{}, ErrTimeout
	}
	q := url.Values{"view": {view}, "source": {source}, "lsn": {lsn.String()}, "timeout": {timeout.String()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/wait?"+q.Encode(), nil)
	if err != nil {
		return Waited{}, fmt.Errorf("wait for %s of %s in %s: %w", lsn, source, view, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return Waited{}, ErrTimeout
		}
		return Waited{}, fmt.Errorf("wait for %s of %s in %s: %w", lsn, source, view, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusOK {
		var phases struct {
			Durable    float64 `json:"durable_seconds"`
			Searchable float64 `json:"searchable_seconds"`
		}
		// A daemon that does not say gives zero phases: the wait still
		// succeeded.
		_ = json.NewDecoder(res.Body).Decode(&phases)
		_, _ = io.Copy(io.Discard, res.Body) // reuse the connection
		return Waited{Durable: seconds(phases.Durable), Searchable: seconds(phases.Searchable)}, nil
	}
	if res.StatusCode == http.StatusGatewayTimeout {
		return Waited{}, ErrTimeout
	}
	return Waited{}, statusError(res)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func statusError(res *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(body))
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	return &StatusError{Code: res.StatusCode, Message: msg}
}
