package deploy_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// finalStage returns the instructions of the Dockerfile's last stage, the
// image that ships.
func finalStage(t *testing.T) []string {
	t.Helper()
	lines := dockerfile(t)
	last := -1
	for i, line := range lines {
		if strings.HasPrefix(line, "FROM ") {
			last = i
		}
	}
	if last < 0 {
		t.Fatal("Dockerfile: no FROM")
	}
	return lines[last:]
}

// instruction returns the arguments of the stage's last instruction named
// name, as Docker applies the last one.
func instruction(stage []string, name string) (string, bool) {
	found, ok := "", false
	for _, line := range stage {
		if rest, cut := strings.CutPrefix(line, name+" "); cut {
			found, ok = strings.TrimSpace(rest), true
		}
	}
	return found, ok
}

// TestImageUserWorkdirAndHealthcheck checks what Kubernetes and the default
// configuration need from the image: a numeric non-root user (runAsNonRoot
// cannot verify a user name), a working directory it owns (the default
// state.dir is relative), and a health check that runs projector health
// against the configuration the image runs with.
func TestImageUserWorkdirAndHealthcheck(t *testing.T) {
	stage := finalStage(t)
	if user, _ := instruction(stage, "USER"); user != "65532:65532" {
		t.Errorf("final stage USER is %q, want 65532:65532 (numeric, so runAsNonRoot can check it)", user)
	}
	workdir, ok := instruction(stage, "WORKDIR")
	if !ok {
		t.Fatal("final stage has no WORKDIR: the default state.dir ./var/state would resolve under / and not be writable")
	}
	owned := slices.ContainsFunc(stage, func(line string) bool {
		f := strings.Fields(line)
		return len(f) > 0 && f[0] == "COPY" && slices.Contains(f, "--chown=65532:65532") && f[len(f)-1] == workdir
	})
	if !owned {
		t.Errorf("WORKDIR %s is not created owned by 65532:65532 (a COPY --chown=65532:65532 to it)", workdir)
	}
	hc, ok := instruction(stage, "HEALTHCHECK")
	if !ok {
		t.Fatal("final stage has no HEALTHCHECK")
	}
	_, cmd, ok := strings.Cut(hc, "CMD ")
	var args []string
	if !ok || json.Unmarshal([]byte(cmd), &args) != nil {
		t.Fatalf("HEALTHCHECK %q: want CMD in exec form (the image has no shell)", hc)
	}
	if len(args) < 2 || args[0] != "/projector" || args[1] != "health" {
		t.Errorf("HEALTHCHECK runs %q, want /projector health", args)
	}
	if i := slices.Index(args, "-c"); i < 0 || i+1 >= len(args) || args[i+1] != imageConfigPath(t) {
		t.Errorf("HEALTHCHECK %q does not read the configuration the image runs with (%s)", args, imageConfigPath(t))
	}
}
