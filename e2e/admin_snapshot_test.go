package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
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
