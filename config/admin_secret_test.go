package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminTokenFileErrors: a token file that cannot be read, or holds
// nothing, is refused with its key, its place in the configuration and
// its path, and no error shows what a token file holds (here the wait
// token file, readable, beside an unreadable admin token file).
func TestAdminTokenFileErrors(t *testing.T) {
	dir := t.TempDir()
	wait := filepath.Join(dir, "wait.token")
	if err := os.WriteFile(wait, []byte("wa1t-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.token")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, file, want string }{
		{"a directory", dir, "admin.token_file: read " + dir + ": is a directory; check the path and that projector may read it"},
		{"missing", filepath.Join(dir, "nothing"), "admin.token_file: open " + filepath.Join(dir, "nothing") + ": no such file or directory"},
		{"empty", empty, "admin.token_file: " + empty + " is empty; write the secret into it"},
	}
	if os.Geteuid() != 0 { // root reads whatever the mode says
		locked := filepath.Join(dir, "locked.token")
		if err := os.WriteFile(locked, []byte("adm1n-s3cret\n"), 0o000); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, file, want string }{"not readable", locked,
			"admin.token_file: open " + locked + ": permission denied; check the path and that projector may read it"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, path, err := loadEdited(t, func(s string) string {
				return s + "admin:\n  token_file: " + tc.file + "\n  wait_token_file: " + wait + "\n"
			}, exampleEnv)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), path+":") {
				t.Errorf("error %v does not say where in %s", err, path)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %v shows a token", err)
			}
		})
	}
}
