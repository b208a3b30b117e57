package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/projector-dev/projector/config"
)

func TestDiffConfigs(t *testing.T) {
	base := func() *config.Config {
		return &config.Config{
			File:        "projector.yaml",
			Sources:     map[string]config.Source{"menu": {Name: "menu", DSN: "postgres://a/menu", Slot: "menu"}},
			SourceNames: []string{"menu"},
			Sink:        config.Sink{URLs: []string{"http://search:9200"}, IndexPrefix: "p_", BulkActions: 1000},
			State:       config.State{Dir: "/var/lib/projector"},
			HTTP:        config.HTTP{Listen: "127.0.0.1:9090"},
			Log:         config.Log{Format: "json", Level: "info"},
			Views: []config.View{{Name: "dishes", Root: config.TableRef{Source: "menu", Schema: "public", Name: "dishes"},
				Fields: []config.Field{{Column: "id"}}, Pos: config.Pos{File: "projector.yaml", Line: 10, Column: 5}}},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(c *config.Config)
		want   configDiff
	}{
		{name: "nothing", change: func(*config.Config) {}},
		{name: "moved in the file", change: func(c *config.Config) { c.Views[0].Pos.Line = 20 }},
		{name: "log settings are not reloaded", change: func(c *config.Config) { c.Log.Level = "debug" }},
		{name: "view added", change: func(c *config.Config) {
			v := c.Views[0]
			v.Name = "dish_names"
			c.Views = append(c.Views, v)
		}, want: configDiff{addedViews: []string{"dish_names"}}},
		{name: "view changed", change: func(c *config.Config) {
			c.Views[0].Fields = append(c.Views[0].Fields, config.Field{Column: "name"})
		}, want: configDiff{changedViews: []string{"dishes"}}},
		{name: "view removed", change: func(c *config.Config) { c.Views = nil },
			want: configDiff{removedViews: []string{"dishes"}}},
		{name: "source added", change: func(c *config.Config) {
			c.Sources["shop"] = config.Source{Name: "shop", DSN: "postgres://a/shop", Slot: "shop"}
			c.SourceNames = append(c.SourceNames, "shop")
		}, want: configDiff{addedSources: []string{"shop"}}},
		{name: "source removed", change: func(c *config.Config) {
			c.Sources = map[string]config.Source{}
			c.SourceNames = nil
		}, want: configDiff{removedSources: []string{"menu"}}},
		{name: "source password rotated", change: func(c *config.Config) {
			c.Sources["menu"] = config.Source{Name: "menu", DSN: "postgres://b/menu", Slot: "menu"}
		}, want: configDiff{changedSettings: []string{"sources.menu"}}},
		{name: "sink tuning", change: func(c *config.Config) { c.Sink.BulkActions = 500 },
			want: configDiff{changedSettings: []string{"sink"}}},
		{name: "slot renamed", change: func(c *config.Config) {
			c.Sources["menu"] = config.Source{Name: "menu", DSN: "postgres://a/menu", Slot: "menu2"}
		}, want: configDiff{fixed: []string{"sources.menu.slot"}}},
		{name: "process settings", change: func(c *config.Config) {
			c.State.Dir = "/tmp/state"
			c.HTTP.Listen = ":9091"
			c.Sink.IndexPrefix = "q_"
		}, want: configDiff{fixed: []string{"state.dir", "http.listen", "sink.index_prefix"}}},
		{name: "admin API token rotated", change: func(c *config.Config) {
			c.Admin.Token = "another"
		}, want: configDiff{fixed: []string{"admin.token_file"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := base()
			tc.change(cur)
			got := diffConfigs(base(), cur)
			for _, f := range []struct {
				what      string
				got, want []string
			}{
				{"views added", got.addedViews, tc.want.addedViews},
				{"views changed", got.changedViews, tc.want.changedViews},
				{"views removed", got.removedViews, tc.want.removedViews},
				{"sources added", got.addedSources, tc.want.addedSources},
				{"sources removed", got.removedSources, tc.want.removedSources},
				{"settings changed", got.changedSettings, tc.want.changedSettings},
				{"fixed keys", got.fixed, tc.want.fixed},
			} {
				if !slices.Equal(f.got, f.want) {
					t.Errorf("%s: %q, want %q", f.what, f.got, f.want)
				}
			}
			if got.empty() != tc.want.empty() {
				t.Errorf("empty() = %v, want %v", got.empty(), tc.want.empty())
			}
		})
	}
}

func TestSnapshotSources(t *testing.T) {
	cfg := &config.Config{SourceNames: []string{"menu", "shop"}, Views: []config.View{
		{Name: "orders", Root: config.TableRef{Source: "shop", Name: "orders"},
			Relations: []config.Relation{{Name: "dish", Table: config.TableRef{Source: "menu", Name: "dishes"}}}},
		{Name: "dishes", Root: config.TableRef{Source: "menu", Name: "dishes"}},
	}}
	if got := snapshotSources(cfg, []string{"orders"}); !slices.Equal(got, []string{"menu", "shop"}) {
		t.Errorf("sources of orders: %q, want [menu shop] in file order", got)
	}
	if got := snapshotSources(cfg, []string{"dishes"}); !slices.Equal(got, []string{"menu"}) {
		t.Errorf("sources of dishes: %q, want [menu]", got)
	}
	if got := snapshotSources(cfg, nil); len(got) != 0 {
		t.Errorf("sources of no view: %q", got)
	}
}

// TestReloadCutShortStaysPending checks that a reload request taken while
// the run of the pipeline ends (here while its check waits for a source
// that does not answer) is not lost: the next run decides it without
// another SIGHUP.
func TestReloadCutShortStaysPending(t *testing.T) {
	// A source that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	running := fmt.Sprintf(`
sources:
  menu: { dsn: "postgres://u@%s/menu" }
sink: { urls: ["http://127.0.0.1:1"] }
views:
  - name: dishes
    root: { source: menu, table: dishes }
`, ln.Addr())
	cfg := loadConfig(t, running)
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(cfg.File, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Checking an added view reads the source's catalog.
	write(running + `
  - name: dish_names
    root: { source: menu, table: dishes }
`)
	log := slog.New(slog.DiscardHandler)
	set, err := newMetricSet(prometheus.NewRegistry(), cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	reload := make(chan struct{}, 1)
	proc := &process{cfg: cfg, opts: Options{Reload: reload}, health: newHealth(set.daemon, cfg, log), metrics: set, log: log}
	restart := func(err error) { t.Errorf("the pipeline was restarted for %v", err) }

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		proc.watchReloads(ctx, nil, restart)
	}()
	reload <- struct{}{}
	select {
	case c := <-accepted:
		accepted <- c
	case <-time.After(30 * time.Second):
		t.Fatal("the reload did not read the source's catalog")
	}
	cancel() // the run ends while the reload is checked
	<-done

	// The file is now broken: the next run rejects it without a new request.
	write(strings.Replace(running, "root:", "rooot:", 1))
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	done = make(chan struct{})
	go func() {
		defer close(done)
		proc.watchReloads(ctx, nil, restart)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(set.reload.rejected) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the reload request cut short by the end of a run was lost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := testutil.ToFloat64(set.reload.ok); n != 0 {
		t.Errorf("%g reloads counted ok, want none", n)
	}
}
