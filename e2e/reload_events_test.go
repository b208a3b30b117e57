package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/internal/testbed"
)

// TestReloadAddsViewOverEvents adds, with SIGHUP, a second view over an
// entity of messages. The source publishes events, so copying its tables
// cannot build the view; the entity is folded again from the state's
// event log instead, while the source keeps its slot: the new view gets
// every order folded from all of its events, and the other view of the
// source keeps its index version (no version is even created for it
// ahead of the restart). Taking the source again from a fresh snapshot,
// as a reload did before, would lose every message sent until then.
func TestReloadAddsViewOverEvents(t *testing.T) {
	eo := newEventOrders(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rng := rand.New(rand.NewPCG(22, 7))
	d := startDaemon(t, eo.cfgPath, eo.addr)
	d.waitReady(2 * time.Minute)
	for range 120 {
		eo.step(ctx, t, rng)
	}
	eventually(t, time.Minute, func() bool { return cmp.Equal(eo.expected(), eo.documents(t)) },
		func() string { return cmp.Diff(eo.expected(), eo.documents(t)) })
	history := eo.search.Index("order_history")
	historyIndex := aliasTarget(t, eo.search, history)

	cfg, err := os.ReadFile(eo.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	added := string(cfg) + `
  - name: order_states
    root: { source: orders, entity: order }
    settings: { replicas: 0 }
`
	if err := os.WriteFile(eo.cfgPath, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	logged := len(d.out.String())
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("send SIGHUP: %v", err)
	}
	eventually(t, time.Minute, func() bool {
		n, _ := sample(d.metrics(), "projector_config_reloads_total", map[string]string{"result": "ok"})
		return n == 1
	}, func() string { return "the reload was not applied:\n" + d.out.String()[logged:] })
	// The service keeps publishing while the view is added.
	for range 40 {
		eo.step(ctx, t, rng)
	}
	states := eo.search.Index("order_states")
	waitAlias(t, eo.search, states, states+"_v1")
	want := func() map[string]any {
		out := eo.expected()
		for id, doc := range out {
			doc := maps.Clone(doc.(map[string]any))
			delete(doc, "consumer")
			out[id] = doc
		}
		return out
	}
	eventually(t, 2*time.Minute, func() bool { return cmp.Equal(want(), indexDocuments(eo.search, states)) },
		func() string { return cmp.Diff(want(), indexDocuments(eo.search, states)) })
	eventually(t, time.Minute, func() bool { return cmp.Equal(eo.expected(), eo.documents(t)) },
		func() string { return cmp.Diff(eo.expected(), eo.documents(t)) })

	after := d.out.String()[logged:]
	for _, line := range []string{"created slot", "taking a fresh snapshot", "from fresh snapshots"} {
		if strings.Contains(after, line) {
			t.Errorf("adding a view took the orders source again (%q) instead of folding from its event log:\n%s", line, after)
		}
	}
	if !strings.Contains(after, "entity folded again from its event log") {
		t.Errorf("projector does not say it folded the entity again from its event log:\n%s", after)
	}
	if got := aliasTarget(t, eo.search, history); got != historyIndex {
		t.Errorf("adding a view moved the other view's alias %s from %s to %s", history, historyIndex, got)
	}
	if body, err := eo.search.Do("GET", "/"+history+"_v2", nil); err == nil {
		t.Errorf("an index version %s_v2 was created for the other view, which is not rebuilt: %.200s", history, body)
	}
	if v, _ := sample(d.metrics(), "projector_event_fold_errors_total", map[string]string{"entity": "order"}); v != 0 {
		t.Errorf("%v fold errors, want none", v)
	}
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}

// indexDocuments reads every document of index (or alias) by _id, or nil
// when it cannot.
func indexDocuments(search *testbed.Search, index string) map[string]any {
	search.Refresh()
	body, err := search.Do("POST", "/"+index+"/_search", strings.NewReader(`{"size": 10000}`))
	if err != nil {
		return nil
	}
	var res struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return nil
	}
	out := map[string]any{}
	for _, h := range res.Hits.Hits {
		out[h.ID] = h.Source
	}
	return out
}
