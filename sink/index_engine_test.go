package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestSwapAliasKeepsSearchesAnswering builds version 1 of an index, then
// version 2 with another mapping, and swaps the alias while a loop keeps
// searching it.
func TestSwapAliasKeepsSearchesAnswering(t *testing.T) {
	search := testbed.NewSearch(t)
	c := connect(t, search.URL)
	ctx := context.Background()
	alias := search.Index("products")

	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 0 {
		t.Fatalf("CurrentVersion of a missing alias = %d, %v; want 0, nil", v, err)
	}
	v1 := Mapping([]Field{{Name: "name", Type: Keyword}}, c.Flavour)
	created, err := c.EnsureIndex(ctx, alias, 1, v1, testSettings)
	if err != nil || !created {
		t.Fatalf("EnsureIndex v1 = %v, %v; want created", created, err)
	}
	if created, err := c.EnsureIndex(ctx, alias, 1, v1, testSettings); err != nil || created {
		t.Fatalf("EnsureIndex v1 again = %v, %v; want it to find the index", created, err)
	}
	fill(t, c, alias, 50)
	search.Refresh()

	var searches, failures atomic.Int64
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := countHits(search, alias); err != nil {
				failures.Add(1)
				t.Errorf("search on %s during the swap: %v", alias, err)
			}
			searches.Add(1)
		}
	}()
	stopSearching := sync.OnceFunc(func() {
		close(stop)
		<-stopped
	})
	defer stopSearching()
	waitFor(t, func() bool { return searches.Load() >= 10 }, "searches on version 1")

	v2 := Mapping([]Field{{Name: "name", Type: Text}}, c.Flavour)
	if created, err := c.EnsureIndex(ctx, alias, 2, v2, testSettings); err != nil || !created {
		t.Fatalf("EnsureIndex v2 = %v, %v; want created", created, err)
	}
	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 1 {
		t.Fatalf("CurrentVersion before the swap = %d, %v; want 1 (the alias waits for the swap)", v, err)
	}
	fill(t, c, IndexName(alias, 2), 60)
	search.Refresh()

	if err := c.SwapAlias(ctx, alias, IndexName(alias, 1), IndexName(alias, 2)); err != nil {
		t.Fatalf("SwapAlias: %v", err)
	}
	after := searches.Load()
	waitFor(t, func() bool { return searches.Load() >= after+10 }, "searches on version 2")
	stopSearching()

	if v, err := c.CurrentVersion(ctx, alias); err != nil || v != 2 {
		t.Fatalf("CurrentVersion after the swap = %d, %v; want 2", v, err)
	}
	if _, err := search.Do(http.MethodHead, "/"+IndexName(alias, 1), nil); err == nil {
		t.Error("version 1 still exists after the swap")
	}
	mapping, err := search.Do(http.MethodGet, "/"+alias+"/_mapping", nil)
	if err != nil {
		t.Fatalf("read mapping: %v", err)
	}
	var m map[string]struct {
		Mappings struct {
			Properties map[string]struct{ Type string }
		}
	}
	if err := json.Unmarshal(mapping, &m); err != nil || m[IndexName(alias, 2)].Mappings.Properties["name"].Type != "text" {
		t.Errorf("alias mapping %s, want version 2's text field", mapping)
	}
	t.Logf("%d searches, %d failed", searches.Load(), failures.Load())
}

// fill writes n documents through a writer and waits for the ack.
func fill(t *testing.T, c *Client, index string, n int) {
	t.Helper()
	w, err := NewWriter(c, WriterOptions{}, nil, testLogger(t))
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	var docs []Document
	for i := range n {
		docs = append(docs, Document{Index: index, ID: strconv.Itoa(i), Version: 1,
			Source: json.RawMessage(fmt.Sprintf(`{"name":"product %d"}`, i))})
	}
	acks := &ackLog{}
	if err := w.Submit(ctx, docs, acks.ack(0)); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	acks.waitAcks(t, 1, time.Minute)
}

// countHits searches the alias and fails on errors, failed shards or no
// hits.
func countHits(search *testbed.Search, alias string) error {
	res, err := search.Do(http.MethodGet, "/"+alias+"/_search?size=0&track_total_hits=true", nil)
	if err != nil {
		return err
	}
	var r struct {
		Shards struct{ Failed int } `json:"_shards"`
		Hits   struct {
			Total struct{ Value int }
		}
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return fmt.Errorf("read answer %s: %w", res, err)
	}
	if r.Shards.Failed > 0 || r.Hits.Total.Value == 0 {
		return fmt.Errorf("%d failed shards, %d hits: %s", r.Shards.Failed, r.Hits.Total.Value, res)
	}
	return nil
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
