package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAdminSnapshotRepairsTamperedDocuments edits one document and deletes
// another in the view's index by hand, then asks the running daemon for an
// ad-hoc snapshot of the table: the chunked copy writes both back, and the
// view ends without drift, while the other view keeps streaming.
func TestAdminSnapshotRepairsTamperedDocuments(t *testing.T) {
	fx := newAdminFixture(t, 500)
	alias := fx.search.Index("orders")
	if _, err := fx.search.Do("DELETE", "/"+alias+"/_doc/7", nil); err != nil {
		t.Fatalf("delete a document by hand: %v", err)
	}
	if _, err := fx.search.Do("POST", "/"+alias+"/_update/8", strings.NewReader(`{"doc": {"note": "edited by hand"}}`)); err != nil {
		t.Fatalf("edit a document by hand: %v", err)
	}
	waitDoc(t, fx.search, alias, "8", func(d map[string]any) bool { return d["note"] == "edited by hand" })

	if code, body := fx.post(t, "/v1/snapshot", fx.waitToken, `{"source": "shop", "table": "public.orders"}`); code != http.StatusUnauthorized {
		t.Errorf("snapshot with the wait token: %d %s, want 401", code, body)
	}
	if code, body := fx.post(t, "/v1/snapshot", fx.token, `{"source": "shop", "table": "public.nothing"}`); code != http.StatusNotFound {
		t.Errorf("snapshot of a table no view reads: %d %s, want 404", code, body)
	}
	if code, body := fx.post(t, "/v1/snapshot", fx.token, `{"source": "shop", "table": "public.orders"}`); code != http.StatusAccepted {
		t.Fatalf("POST /v1/snapshot: %d %s, want 202", code, body)
	}
	waitDoc(t, fx.search, alias, "7", func(d map[string]any) bool { return d["note"] == "order 7" })
	waitDoc(t, fx.search, alias, "8", func(d map[string]any) bool { return d["note"] == "order 8" })

	// The whole view by name, while the other source streams.
	fx.menu.Exec(`INSERT INTO dishes VALUES (100001, 'during the snapshot')`)
	if code, body := fx.post(t, "/v1/snapshot", fx.token, `{"view": "orders"}`); code != http.StatusAccepted {
		t.Fatalf("POST /v1/snapshot of a view: %d %s, want 202", code, body)
	}
	waitDoc(t, fx.search, fx.search.Index("dishes"), "100001", func(map[string]any) bool { return true })
	verifyViews(t, fx.config, nil, "orders", "dishes")
}

// TestAdminSnapshotStaysReady: while an ad-hoc snapshot copies a table
// again, the daemon serves its views and /readyz answers 200, naming the
// copy and how far it is; the admin status shows the source copying while
// the view streams.
func TestAdminSnapshotStaysReady(t *testing.T) {
	fx := newAdminFixture(t, 500)
	// Hold the copy at its first chunk: its SELECT waits for this lock.
	ctx := context.Background()
	tx, err := fx.shop.Connect().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // rolled back below; this is for an early end
	if _, err := tx.Exec(ctx, `LOCK TABLE orders IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatalf("hold the copy: %v", err)
	}
	if code, body := fx.post(t, "/v1/snapshot", fx.token, `{"source": "shop", "table": "public.orders"}`); code != http.StatusAccepted {
		t.Fatalf("POST /v1/snapshot: %d %s, want 202", code, body)
	}
	const copying = "source shop: copying again on request public.orders"
	var seen int
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		code, body, err := fx.d.get("/readyz")
		if err != nil {
			t.Fatal(err)
		}
		if code != http.StatusOK {
			t.Fatalf("/readyz during an ad-hoc snapshot: %d %s, want 200", code, body)
		}
		if strings.Contains(body, copying) {
			seen++
		}
	}
	if seen == 0 {
		t.Errorf("/readyz never named the copy (%q) while it was held", copying)
	}
	code, body := fx.call(t, "GET", "/v1/views/orders", fx.token)
	var v struct {
		State   string `json:"state"`
		Sources []struct {
			Snapshotting bool `json:"snapshotting"`
		} `json:"sources"`
	}
	if err := json.Unmarshal([]byte(body), &v); code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/views/orders: %d %s (%v)", code, body, err)
	}
	if v.State != "streaming" || len(v.Sources) != 1 || !v.Sources[0].Snapshotting {
		t.Errorf("GET /v1/views/orders during an ad-hoc snapshot: %s; want streaming, its source snapshotting", body)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() bool {
		code, body, err := fx.d.get("/readyz")
		return err == nil && code == http.StatusOK && !strings.Contains(body, "copying")
	}, func() string { _, body, _ := fx.d.get("/readyz"); return "the copy never ended: " + body })
	verifyViews(t, fx.config, nil, "orders", "dishes")
}

// post sends a JSON body to the admin API with token.
func (fx *adminFixture) post(t *testing.T, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", fx.admin+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(res.Body) //nolint:errcheck // the status says enough when the body is cut
	return res.StatusCode, out.String()
}
