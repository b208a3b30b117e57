package e2e

import (
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/projector-dev/projector/config"
)

// TestChangedReducerRefoldsFromTheEventLog: the orders service publishes
// its events as messages, or through an outbox whose rows it deletes in
// the same transaction, so PostgreSQL keeps none of them. projector keeps
// them in its state's event log; after a SIGKILL and a restart with a
// changed reducer, the view's next index version holds every order folded
// again from all of its events with the new reducer, equal to the test's
// own fold, and events published afterwards fold onto it. The events
// published while projector is stopped for the change are only in the
// slot, which the source keeps: they fold after the logged ones.
func TestChangedReducerRefoldsFromTheEventLog(t *testing.T) {
	for _, messages := range []bool{false, true} {
		t.Run(map[bool]string{false: "deleted outbox", true: "messages"}[messages], func(t *testing.T) {
			eo := newEventOrders(t, messages)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			rng := rand.New(rand.NewPCG(22, map[bool]uint64{false: 5, true: 6}[messages]))
			d := startDaemon(t, eo.cfgPath, eo.addr)
			d.waitReady(2 * time.Minute)
			for i := range 200 {
				eo.step(ctx, t, rng)
				if i == 100 {
					if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
						t.Errorf("projector survived SIGKILL")
					}
					d = startDaemon(t, eo.cfgPath, eo.addr)
				}
			}
			approved := 0
			for _, o := range eo.model {
				if o.state == "APPROVED" {
					approved++
				}
			}
			if approved == 0 || len(eo.model) < 10 {
				t.Fatalf("the workload left %d orders, %d approved; the reducer change would show too little", len(eo.model), approved)
			}
			eventually(t, time.Minute, func() bool { return cmp.Equal(eo.expected(), eo.documents(t)) },
				func() string { return cmp.Diff(eo.expected(), eo.documents(t)) })
			if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
				t.Fatalf("projector exit: %v", err)
			}

			// The reducer changes; the test folds every event again the
			// same way: approved orders are "OK" now.
			cfg, err := os.ReadFile(eo.cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			changed := strings.Replace(string(cfg), `OrderApproved:  { set: { state: '"APPROVED"' } }`, `OrderApproved:  { set: { state: '"OK"' } }`, 1)
			if changed == string(cfg) {
				t.Fatal("the reducer to change is not in the configuration")
			}
			if err := os.WriteFile(eo.cfgPath, []byte(changed), 0o600); err != nil {
				t.Fatal(err)
			}
			eo.approved = "OK"
			for _, o := range eo.model {
				if o.state == "APPROVED" {
					o.state = "OK"
				}
			}
			// The service keeps publishing while projector is stopped for
			// the change: on orders already present and on new ones. These
			// events are only in the slot (the outbox rows are deleted),
			// and fold with the new reducer after the logged ones.
			before := len(eo.model)
			for range 60 {
				eo.step(ctx, t, rng)
			}
			if eo.nextOrder <= before {
				t.Fatalf("no order was created while projector was stopped")
			}
			d = startDaemon(t, eo.cfgPath, eo.addr)
			d.waitReady(2 * time.Minute)
			eventually(t, 2*time.Minute, func() bool { return cmp.Equal(eo.expected(), eo.documents(t)) },
				func() string { return cmp.Diff(eo.expected(), eo.documents(t)) })
			// The source kept its slot: no new slot, no snapshot of the
			// outbox; and the consumers table the view joins, which the
			// state holds with every column the view reads, was not
			// copied either.
			for _, line := range []string{"created slot", "from fresh snapshots"} {
				if strings.Contains(d.out.String(), line) {
					t.Errorf("projector took the orders source again (%q) instead of folding from its event log:\n%s", line, d.out.String())
				}
			}
			if n, _ := sample(d.metrics(), "projector_snapshot_rows_total", map[string]string{"source": "orders"}); n != 0 {
				t.Errorf("%v rows of the orders source copied again, want none", n)
			}
			if n, _ := sample(d.metrics(), "projector_snapshot_rows_total", map[string]string{"source": "consumers", "table": "public.consumers"}); n != 0 {
				t.Errorf("%v rows of consumers, which the state holds, copied again for the new index version; want none", n)
			}
			for range 50 {
				eo.step(ctx, t, rng)
			}
			eventually(t, 2*time.Minute, func() bool { return cmp.Equal(eo.expected(), eo.documents(t)) },
				func() string { return cmp.Diff(eo.expected(), eo.documents(t)) })
			body, err := eo.search.Do("GET", "/_alias/"+eo.search.Index("order_history"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), eo.search.Index("order_history")+"_v2") {
				t.Errorf("the alias does not point to the next index version: %s", body)
			}
			if !strings.Contains(d.out.String(), "entity folded again from its event log") {
				t.Errorf("projector does not say it folded the entity again from its event log:\n%s", d.out.String())
			}
			if v, _ := sample(d.metrics(), "projector_event_fold_errors_total", map[string]string{"entity": "order"}); v != 0 {
				t.Errorf("%v fold errors, want none", v)
			}

			// verify cannot read these events from PostgreSQL, and says
			// what it checked instead of reporting the view clean.
			loaded, err := config.Load(eo.cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			rep := runVerify(t, loaded)
			if len(rep.Views) != 1 {
				t.Fatalf("verify reported %d views, want order_history", len(rep.Views))
			}
			v := rep.Views[0]
			if messages && (!strings.Contains(v.Unchecked, "logical decoding messages") || !strings.Contains(v.Unchecked, "no document of the view was compared")) {
				t.Errorf("verify of an entity of messages: %+v, want it reported as not checked", v)
			}
			if !messages && (!strings.Contains(v.Note, "keeps them in its state's event log") || v.Extra == 0) {
				t.Errorf("verify of an entity of a deleted outbox: %+v, want the documents counted as drift with a note", v)
			}
			if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
				t.Errorf("projector exit: %v", err)
			}
		})
	}
}
