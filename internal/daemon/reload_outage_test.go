package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
	"github.com/projector-dev/projector/transform"
	"github.com/projector-dev/projector/transform/state"
)

// TestPrepareIndicesWaitsForTheSearchEngine loses the search engine
// between connecting to it and looking up the views' indices, as when it
// goes down while a reload restarts the pipeline: the run waits for it, as
// start-up does, rather than fail and stop projector.
func TestPrepareIndicesWaitsForTheSearchEngine(t *testing.T) {
	search := testbed.NewSearch(t)
	proxy := testbed.NewProxy(t, strings.TrimPrefix(search.URL, "http://"))
	cfg := loadConfig(t, fmt.Sprintf(`
sources:
  shop: { dsn: "postgres://u@127.0.0.1:1/shop" }
sink: { urls: ["http://%s"], index_prefix: %s }
views:
  - name: orders
    root: { source: shop, table: orders }
    fields: [id]
    settings: { replicas: 0 }
`, proxy.Addr(), search.Prefix))
	orders := capture.Table{Schema: "public", Name: "orders"}
	schema := transform.Schema{"shop": {orders: {Table: orders,
		Columns: []capture.Column{{Name: "id", Type: "int8", Base: "int8"}}, Key: []string{"id"}}}}
	views, err := transform.Compile(cfg.Views, schema)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, err := connectSink(ctx, cfg.Sink, log)
	if err != nil {
		t.Fatal(err)
	}

	proxy.Cut()
	restored := time.AfterFunc(2*time.Second, proxy.Restore)
	defer restored.Stop()
	p := &pipeline{cfg: cfg, client: client, schema: schema, views: views, store: store, log: log}
	if err := p.prepareIndices(ctx, cfg, nil, log); err != nil {
		t.Fatalf("preparing the indices while the search engine was down failed: %v", err)
	}
	if got, want := p.indices["orders"].Target, search.Index("orders")+"_v1"; got != want {
		t.Errorf("view orders writes to %s, want %s", got, want)
	}
}

// TestRebuiltAliasMovesAfterSearchEngineOutage fails the move of a
// rebuilt view's alias with the search engine down, as a busy engine that
// does not refresh the new index in time does: the view stays on its
// current index and its alias moves once the engine answers, instead of
// the move being given up for the rest of the run.
func TestRebuiltAliasMovesAfterSearchEngineOutage(t *testing.T) {
	search := testbed.NewSearch(t)
	proxy := testbed.NewProxy(t, strings.TrimPrefix(search.URL, "http://"))
	cfg := loadConfig(t, fmt.Sprintf(`
sources:
  menu: { dsn: "postgres://u@127.0.0.1:1/menu" }
sink: { urls: ["http://%s"], index_prefix: %s }
views:
  - name: dishes
    root: { source: menu, table: dishes }
`, proxy.Addr(), search.Prefix))
	log := slog.New(slog.DiscardHandler)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, err := connectSink(ctx, cfg.Sink, log)
	if err != nil {
		t.Fatal(err)
	}
	alias := search.Index("dishes")
	mapping, settings := map[string]any{"properties": map[string]any{}}, sink.IndexSettings{Shards: 1}
	if _, err := client.EnsureIndex(ctx, alias, 1, mapping, settings); err != nil {
		t.Fatal(err)
	}
	if err := client.CreateIndexVersion(ctx, alias, 2, mapping, settings); err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	dishes := capture.Table{Schema: "public", Name: "dishes"}
	if err := store.SetChunkProgress("menu", []capture.TableProgress{{Table: dishes, Rows: 1, Chunks: 1, Done: true}}); err != nil {
		t.Fatal(err)
	}
	vi := &viewIndex{view: "dishes", sources: []string{"menu"}, copies: map[string][]capture.Table{"menu": {dishes}},
		IndexVersion: sink.IndexVersion{Alias: alias, From: sink.IndexName(alias, 1), Target: sink.IndexName(alias, 2)}}
	p := &pipeline{cfg: cfg, client: client, store: store, rebuilds: []*viewIndex{vi}, log: log}

	proxy.Cut()
	restored := time.AfterFunc(2*time.Second, proxy.Restore)
	defer restored.Stop()
	if err := p.watchRebuilds(ctx, nil, nil, log); err != nil {
		t.Fatalf("moving the alias while the search engine was down failed: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the alias did not move once the search engine was back")
	}
	body, err := search.Do("GET", "/_alias/"+alias, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), sink.IndexName(alias, 2)) || strings.Contains(string(body), sink.IndexName(alias, 1)+`"`) {
		t.Errorf("alias %s: %s, want it on %s only", alias, body, sink.IndexName(alias, 2))
	}
}
