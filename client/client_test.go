package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLSN(t *testing.T) {
	for _, s := range []string{"0/0", "16/B374D848", "FFFFFFFF/FFFFFFFF"} {
		lsn, err := ParseLSN(s)
		if err != nil || lsn.String() != s {
			t.Errorf("ParseLSN(%q) = %s, %v; want it back", s, lsn, err)
		}
	}
	for _, s := range []string{"", "16", "x/1", "1/x", "1/100000000"} {
		if _, err := ParseLSN(s); err == nil {
			t.Errorf("ParseLSN(%q) accepted", s)
		}
	}
}

func TestWait(t *testing.T) {
	var got *http.Request
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(status)
		if status == http.StatusOK {
			w.Write([]byte(`{"view":"orders_v","waited_seconds":0.3,"durable_seconds":0.25,"searchable_seconds":0.05}`))
			return
		}
		w.Write([]byte(`{"error":"no view named \"x\""}`))
	}))
	defer srv.Close()
	c := New(srv.URL+"/", "tok")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	waited, err := c.WaitTimed(ctx, "orders_v", "orders", 0x16B3748)
	if err != nil {
		t.Fatal(err)
	}
	if waited.Durable != 250*time.Millisecond || waited.Searchable != 50*time.Millisecond {
		t.Errorf("phases = %+v, want 250 ms durable and 50 ms searchable", waited)
	}
	q := got.URL.Query()
	if got.URL.Path != "/v1/wait" || q.Get("view") != "orders_v" || q.Get("source") != "orders" || q.Get("lsn") != "0/16B3748" ||
		got.Header.Get("Authorization") != "Bearer tok" {
		t.Errorf("request = %s %v %v", got.URL, q, got.Header)
	}
	if d, err := time.ParseDuration(q.Get("timeout")); err != nil || d > 1500*time.Millisecond || d < time.Second {
		t.Errorf("timeout = %q, want the context's remaining time", q.Get("timeout"))
	}
	status = http.StatusGatewayTimeout
	if err := c.Wait(context.Background(), "orders_v", "orders", 1); !errors.Is(err, ErrTimeout) {
		t.Errorf("504: %v, want ErrTimeout", err)
	}
	if d := got.URL.Query().Get("timeout"); d != DefaultTimeout.String() {
		t.Errorf("timeout without a deadline = %s, want %s", d, DefaultTimeout)
	}
	status = http.StatusNotFound
	var se *StatusError
	if err := c.Wait(context.Background(), "x", "orders", 1); !errors.As(err, &se) || se.Code != 404 || se.Message != `no view named "x"` {
		t.Errorf("404: %v", err)
	}
}
