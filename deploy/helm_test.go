package deploy_test

import (
	"bytes"
	"context"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	chart       = "helm/projector"
	chartCI     = "helm/projector/ci/example-values.yaml"
	helmRelease = "projector" // contains the chart's name, so objects are named projector
)

// TestHelmLint runs helm lint on the chart with the values CI uses.
func TestHelmLint(t *testing.T) {
	helm := tool(t, "helm")
	t.Log(run(t, ".", nil, helm, "lint", "--strict", chart, "-f", chartCI))
}

// helmTemplate renders the chart with the CI values and extra --set
// arguments.
func helmTemplate(t *testing.T, set ...string) []byte {
	t.Helper()
	helm := tool(t, "helm")
	args := []string{"template", helmRelease, chart, "-f", chartCI}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return []byte(run(t, ".", nil, helm, args...))
}

// TestHelmTemplate renders the chart, validates every object with
// kubeconform and checks the StatefulSet it makes as the standalone
// example is checked: its configuration loads, one replica, state on a
// claim, probes, security context, Service; and no Secret.
func TestHelmTemplate(t *testing.T) {
	out := helmTemplate(t)
	kubeconform(t, out, "-")
	all := decodeManifests(t, "helm template", out)
	checkStandalone(t, all, "projector")
	noSecret(t, "the chart", all)
	for _, kind := range []string{"ServiceMonitor", "PodMonitor", "PrometheusRule"} {
		findObject(t, all, kind, "projector")
	}
	checkPrometheusRule(t, out)
}

// checkPrometheusRule checks that the chart's PrometheusRule holds the
// groups of prometheus/alerts.yml, unchanged.
func checkPrometheusRule(t *testing.T, rendered []byte) {
	t.Helper()
	var want struct {
		Groups any `yaml:"groups"`
	}
	decodeYAML(t, "prometheus/alerts.yml", &want)
	dec := yaml.NewDecoder(bytes.NewReader(rendered))
	for {
		var obj struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Groups any `yaml:"groups"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("the chart renders no PrometheusRule (%v)", err)
		}
		if obj.Kind == "PrometheusRule" {
			if !reflect.DeepEqual(obj.Spec.Groups, want.Groups) {
				t.Error("the chart's PrometheusRule differs from prometheus/alerts.yml")
			}
			return
		}
	}
}

// TestChartAlertsAreTheRules: the chart cannot read files outside its
// directory, so it carries a copy of the alert rules; it must stay equal.
func TestChartAlertsAreTheRules(t *testing.T) {
	if !bytes.Equal(readFile(t, "helm/projector/files/alerts.yml"), readFile(t, "prometheus/alerts.yml")) {
		t.Error("helm/projector/files/alerts.yml differs from prometheus/alerts.yml; copy it: cp deploy/prometheus/alerts.yml deploy/helm/projector/files/alerts.yml")
	}
}

// TestHelmTemplateWithoutPersistence renders the chart with an emptyDir
// for the state, which must still validate.
func TestHelmTemplateWithoutPersistence(t *testing.T) {
	out := helmTemplate(t, "persistence.enabled=false", "serviceMonitor.enabled=false", "podMonitor.enabled=false")
	kubeconform(t, out, "-")
	sts := findObject(t, decodeManifests(t, "helm template", out), "StatefulSet", "projector")
	if len(sts.Spec.VolumeClaimTemplates) != 0 {
		t.Error("persistence.enabled=false still claims a volume")
	}
	if !slices.ContainsFunc(sts.Spec.Template.Spec.Volumes, func(v podVolume) bool {
		return v.Name == "state" && v.EmptyDir != nil
	}) {
		t.Error("persistence.enabled=false mounts no emptyDir for the state")
	}
}

// TestHelmRequiredValues checks that the chart refuses, with the fix,
// values it cannot run: no configuration, no image, a secret key without
// the Secret.
func TestHelmRequiredValues(t *testing.T) {
	helm := tool(t, "helm")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no configuration", []string{"--set", "image.repository=r"}, "config.sources is not set"},
		{"no image", []string{"-f", chartCI, "--set", "image.repository="}, "image.repository is not set"},
		{"no secret name", []string{"-f", chartCI, "--set", "secrets.existingSecret="}, "secrets.existingSecret is empty"},
		{"unquoted on", []string{"-f", chartCI, "-f", "testdata/helm-unquoted-on.yaml"}, `Quote the relation's on key`},
		{"mistyped value", []string{"-f", chartCI, "--set", "secret.existingSecret=projector"}, "additional properties 'secret' not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			args := append([]string{"template", helmRelease, chart}, tt.args...)
			out, err := exec.CommandContext(ctx, helm, args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Errorf("helm %q: error %v, output\n%s\nwant a failure saying %q", args, err, out, tt.want)
			}
		})
	}
}
