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
