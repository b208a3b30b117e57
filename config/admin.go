package config

import "fmt"

// Admin is the admin API: view status, rebuilds, stopping and resuming
// views, ad-hoc snapshots and the read-your-writes wait. It is off unless
// token_file is set, and it listens on its own port, apart from the
// metrics, so that exposing /metrics never exposes the controls.
type Admin struct {
	// Listen is the host:port of the admin API. The default is loopback
	// only: the API changes what projector does, so reaching it from
	// elsewhere is a choice to write down.
	Listen string `yaml:"listen"`
	// TokenFile is a file holding the bearer token every request must
	// send (Authorization: Bearer …). Setting it turns the admin API on.
	TokenFile string `yaml:"token_file"`
	// WaitTokenFile, when set, holds a second token that is accepted by
	// GET /v1/wait alone, for applications that wait for their own
	// writes but must not rebuild or stop views. Without it /v1/wait
	// takes the admin token.
	WaitTokenFile string `yaml:"wait_token_file"`
	// BulkRefresh makes a wait ask the next bulk request of the view's
	// one-shard index to carry refresh=true, and refresh the index itself
	// only when none is sent soon, instead of always sending a refresh
	// request (README, "Read your own writes"). Off by default until it
	// is measured faster on a quiet machine.
	BulkRefresh bool `yaml:"bulk_refresh"`
	// Token is the content of TokenFile, read by Load.
	Token string `yaml:"-"`
	// WaitToken is the content of WaitTokenFile, read by Load.
	WaitToken string `yaml:"-"`
}

// Enabled reports whether the admin API is configured.
func (a Admin) Enabled() bool { return a.TokenFile != "" }

// String hides the tokens.
func (a Admin) String() string {
	return fmt.Sprintf("{Listen:%s TokenFile:%s WaitTokenFile:%s}", a.Listen, a.TokenFile, a.WaitTokenFile)
}

// GoString keeps %#v from printing the tokens.
func (a Admin) GoString() string { return a.String() }

// adminSecrets reads the admin API's tokens.
func (l *loader) adminSecrets(a *Admin) {
	if a.TokenFile != "" {
		a.Token = l.secret(a.TokenFile, "admin.token_file")
	}
	if a.WaitTokenFile != "" {
		a.WaitToken = l.secret(a.WaitTokenFile, "admin.wait_token_file")
	}
}

// admin checks the admin API's keys.
func (v *validator) admin() {
	a := v.c.Admin
	if !validListen(a.Listen) {
		v.add("admin.listen", "%q is not host:port; write it like 127.0.0.1:9466", a.Listen)
	}
	if a.WaitTokenFile != "" && a.TokenFile == "" {
		v.add("admin.wait_token_file", "is set without admin.token_file; the admin API is off until token_file names the admin token's file")
	}
	if a.Enabled() && a.Listen == v.c.HTTP.Listen {
		v.add("admin.listen", "%q is http.listen too; give the admin API its own port, e.g. 127.0.0.1:9466", a.Listen)
	}
	if a.Token != "" && a.Token == a.WaitToken {
		v.add("admin.wait_token_file", "holds the admin token; write a different token into it, or leave wait_token_file out to wait with the admin token")
	}
}
