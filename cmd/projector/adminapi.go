package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/admin"
)

// adminAPI calls the admin API of the projector running with the same
// configuration.
type adminAPI struct {
	base  string
	token string
	http  *http.Client
}

// errNoDaemon says that no projector answers on admin.listen: the
// commands that also work offline then do.
var errNoDaemon = errors.New("no projector answers on admin.listen")

// newAdminAPI returns a client of the configured admin API, or nil when
// the configuration has none.
func newAdminAPI(cfg *config.Config) (*adminAPI, error) {
	if !cfg.Admin.Enabled() {
		return nil, nil
	}
	base, err := listenURL(cfg.Admin.Listen)
	if err != nil {
		return nil, err
	}
	return &adminAPI{base: base, token: cfg.Admin.Token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends a request and decodes a 2xx answer into out; another answer
// is an error carrying what projector said, and a refused connection is
// errNoDaemon.
func (a *adminAPI) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("%w (%s): is projector run running?", errNoDaemon, a.base)
		}
		return fmt.Errorf("%s %s%s: %w", method, a.base, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s %s%s: %w", method, a.base, path, err)
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("projector answered %s: %s", res.Status, msg)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("read the answer of %s %s%s: %w", method, a.base, path, err)
	}
	return nil
}

// views returns the status of every view.
func (a *adminAPI) views(ctx context.Context) ([]admin.View, error) {
	var res struct {
		Views []admin.View `json:"views"`
	}
	err := a.do(ctx, http.MethodGet, "/v1/views", nil, &res)
	return res.Views, err
}

// view returns one view's status.
func (a *adminAPI) view(ctx context.Context, name string) (admin.View, error) {
	var v admin.View
	err := a.do(ctx, http.MethodGet, "/v1/views/"+name, nil, &v)
	return v, err
}
