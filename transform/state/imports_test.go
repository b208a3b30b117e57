package state

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestOnlyStateImportsPebble keeps the storage engine behind this
// package's API: no other package of the module, nor its tests, may import
// it.
func TestOnlyStateImportsPebble(t *testing.T) {
	const self = "github.com/projector-dev/projector/transform/state"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "github.com/projector-dev/projector/...").Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("go list: %v\n%s", err, exit.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	packages := 0
	for {
		var pkg struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&pkg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("read go list output: %v", err)
		}
		packages++
		if pkg.ImportPath == self {
			continue
		}
		for _, imp := range slices.Concat(pkg.Imports, pkg.TestImports, pkg.XTestImports) {
			if strings.HasPrefix(imp, "github.com/cockroachdb/pebble") {
				t.Errorf("%s imports %s: only %s may use the storage engine", pkg.ImportPath, imp, self)
			}
		}
	}
	if packages < 10 {
		t.Fatalf("go list found %d packages of the module; the check would miss importers", packages)
	}
}
