package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/projector-dev/projector/client"
)

// TestClientErrorsHideTokens: an application whose token is wrong, or a
// prefix or extension of the right one, gets a 401 whose error, as the
// client package renders it, names the key to fix and carries neither
// the token it sent nor the right ones; nor does the daemon's log.
func TestClientErrorsHideTokens(t *testing.T) {
	f := newFake()
	f.advance(100)
	url, logs := newTestServer(t, f)
	for _, sent := range []string{"", "wr0ng-t0ken-sent", adminToken[:8], waitToken + "-x", " " + adminToken} {
		err := client.New(url, sent).Wait(context.Background(), "orders_v", "orders", 0x10)
		var se *client.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Fatalf("wait with token %q: %v, want a 401", sent, err)
		}
		if !strings.Contains(err.Error(), "admin.wait_token_file") {
			t.Errorf("wait with a wrong token: %v; want it to name the token's key", err)
		}
		for _, secret := range []string{"t0ken", sent} {
			if secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("wait with token %q: the error %q shows a token", sent, err)
			}
		}
	}
	if strings.Contains(logs.String(), "t0ken") {
		t.Errorf("the log shows a token: %s", logs)
	}
}
