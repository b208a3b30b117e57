package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadAdmin: the admin API is off without a token file, its tokens
// are read from their files, and no way of printing the configuration
// shows them.
func TestLoadAdmin(t *testing.T) {
	cfg, _, err := loadEdited(t, func(s string) string { return s }, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Enabled() || cfg.Admin.Listen != "127.0.0.1:9466" {
		t.Errorf("admin without the section = %v (enabled %v), want off on 127.0.0.1:9466", cfg.Admin, cfg.Admin.Enabled())
	}
	dir := t.TempDir()
	token, wait := filepath.Join(dir, "admin.token"), filepath.Join(dir, "wait.token")
	if err := os.WriteFile(token, []byte("adm1n-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wait, []byte("wa1t-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err = loadEdited(t, func(s string) string {
		return s + "admin:\n  token_file: " + token + "\n  wait_token_file: " + wait + "\n"
	}, exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Admin.Enabled() || cfg.Admin.Token != "adm1n-secret" || cfg.Admin.WaitToken != "wa1t-secret" {
		t.Errorf("admin = enabled %v, tokens %q %q; want on with both files' content", cfg.Admin.Enabled(), cfg.Admin.Token, cfg.Admin.WaitToken)
	}
	eff, err := cfg.Effective()
	if err != nil {
		t.Fatal(err)
	}
	for _, printed := range []string{cfg.String(), fmt.Sprintf("%#v", *cfg), fmt.Sprintf("%+v", cfg.Admin), string(eff)} {
		if strings.Contains(printed, "secret") {
			t.Errorf("the configuration prints an admin token: %s", printed)
		}
	}
}

func TestValidateAdmin(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(token, []byte("same"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, block, want string
	}{
		{"bad listen", "admin:\n  listen: nowhere\n  token_file: " + token + "\n",
			`admin.listen: "nowhere" is not host:port`},
		{"listen shared with http", "admin:\n  listen: 127.0.0.1:9464\n  token_file: " + token + "\n",
			`admin.listen: "127.0.0.1:9464" is http.listen too`},
		{"wait token without admin token", "admin:\n  wait_token_file: " + token + "\n",
			"admin.wait_token_file: is set without admin.token_file"},
		{"same token twice", "admin:\n  token_file: " + token + "\n  wait_token_file: " + token + "\n",
			"admin.wait_token_file: holds the admin token"},
		{"missing token file", "admin:\n  token_file: /nonexistent/admin.token\n",
			"admin.token_file: open /nonexistent/admin.token: no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, path, err := loadEdited(t, func(s string) string { return s + tc.block }, exampleEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), path+":") {
				t.Errorf("error %v does not say where in %s", err, path)
			}
		})
	}
}
