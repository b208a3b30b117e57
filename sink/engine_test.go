package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// connect returns a client for the search engine at url.
func connect(t *testing.T, url string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Connect(ctx, Options{URLs: []string{url}})
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	return c
}

// testLogger writes to the test's output, shown for failures and -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testSettings suit the single-node test engine.
var testSettings = IndexSettings{Shards: 1, Replicas: 0, RefreshInterval: "1s"}

// stored is one document as the engine holds it.
type stored struct {
	Found   bool            `json:"found"`
	ID      string          `json:"_id"`
	Version int64           `json:"_version"`
	Source  json.RawMessage `json:"_source"`
}

// mget reads documents in real time (no refresh needed), in chunks.
func mget(search *testbed.Search, index string, ids []string) (map[string]stored, error) {
	out := make(map[string]stored, len(ids))
	for start := 0; start < len(ids); start += 1000 {
		body, _ := json.Marshal(map[string]any{"ids": ids[start:min(start+1000, len(ids))]})
		res, err := search.Do(http.MethodPost, "/"+index+"/_mget", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		var parsed struct{ Docs []stored }
		if err := json.Unmarshal(res, &parsed); err != nil {
			return nil, fmt.Errorf("read _mget answer: %w", err)
		}
		for _, d := range parsed.Docs {
			out[d.ID] = d
		}
	}
	return out, nil
}

// ackLog records acknowledgements of numbered submissions.
type ackLog struct {
	mu    sync.Mutex
	order []int
}

func (a *ackLog) ack(n int) func() {
	return func() {
		a.mu.Lock()
		a.order = append(a.order, n)
		a.mu.Unlock()
	}
}

func (a *ackLog) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.order)
}

// waitAcks polls until want acks arrived, then checks each submission
// 0..want-1 was acknowledged exactly once.
func (a *ackLog) waitAcks(t *testing.T, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for a.len() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acks arrived within %s", a.len(), want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.order) != want {
		t.Fatalf("%d acks, want exactly %d", len(a.order), want)
	}
	seen := map[int]bool{}
	for _, n := range a.order {
		if n < 0 || n >= want || seen[n] {
			t.Fatalf("acks %v, want each of 0..%d once", a.order, want-1)
		}
		seen[n] = true
	}
}

func newIndex(t *testing.T, c *Client, alias string, fields []Field) {
	t.Helper()
	if _, err := c.EnsureIndex(context.Background(), alias, 1, Mapping(fields, c.Flavour), testSettings); err != nil {
		t.Fatalf("EnsureIndex %s: %v", alias, err)
	}
}
