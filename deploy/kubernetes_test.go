package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/projector-dev/projector/config"
)

// manifest is the part of a Kubernetes object the checks read.
type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Replicas    *int           `yaml:"replicas"`
		ServiceName string         `yaml:"serviceName"`
		Selector    map[string]any `yaml:"selector"` // a Service's labels, or a workload's matchLabels
		Ports       []servicePort  `yaml:"ports"`
		Template    struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		VolumeClaimTemplates []claimTemplate `yaml:"volumeClaimTemplates"`
	} `yaml:"spec"`
}

// servicePort is a port of a Service.
type servicePort struct {
	Name       string `yaml:"name"`
	TargetPort string `yaml:"targetPort"`
}

// claimTemplate is a StatefulSet's volumeClaimTemplates entry.
type claimTemplate struct {
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
}

// volumeMount is a container's volume mount.
type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
}

type podSpec struct {
	TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
		RunAsUser    int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	Containers []container `yaml:"containers"`
	Volumes    []podVolume `yaml:"volumes"`
}

// podVolume is a volume of a pod; an empty emptyDir ({}) decodes as
// non-nil.
type podVolume struct {
	Name     string    `yaml:"name"`
	EmptyDir *struct{} `yaml:"emptyDir"`
}

type container struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env             []envVar `yaml:"env"`
	ReadinessProbe  *probe   `yaml:"readinessProbe"`
	LivenessProbe   *probe   `yaml:"livenessProbe"`
	SecurityContext struct {
		ReadOnlyRootFilesystem bool `yaml:"readOnlyRootFilesystem"`
	} `yaml:"securityContext"`
	VolumeMounts []volumeMount `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string `yaml:"name"`
	ValueFrom *struct {
		SecretKeyRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

// manifests decodes every object of every manifest file under kubernetes/.
func manifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under kubernetes/ (%v)", err)
	}
	var all []manifest
	for _, f := range files {
		all = append(all, decodeManifests(t, f, readFile(t, f))...)
	}
	return all
}

// decodeManifests decodes the objects of a multi-document manifest.
func decodeManifests(t *testing.T, name string, data []byte) []manifest {
	t.Helper()
	var all []manifest
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var m manifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return all
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.Kind == "" && m.APIVersion == "" {
			continue // an empty document
		}
		if m.APIVersion == "" || m.Kind == "" || m.Metadata.Name == "" {
			t.Errorf("%s: an object lacks apiVersion, kind or metadata.name", name)
		}
		all = append(all, m)
	}
}

// findObject returns the object of kind named name.
func findObject(t *testing.T, all []manifest, kind, name string) manifest {
	t.Helper()
	for _, m := range all {
		if m.Kind == kind && m.Metadata.Name == name {
			return m
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return manifest{}
}

// projectorContainer returns the container named projector.
func projectorContainer(t *testing.T, pod podSpec) container {
	t.Helper()
	i := slices.IndexFunc(pod.Containers, func(c container) bool { return c.Name == "projector" })
	if i < 0 {
		t.Fatal("pod has no container named projector")
	}
	return pod.Containers[i]
}

// loadConfigMap loads the configuration a ConfigMap carries as projector
// would read it in the pod: the secret files it expects under secretDir
// are read from a temporary copy.
func loadConfigMap(t *testing.T, cm manifest, secretDir string) *config.Config {
	t.Helper()
	secrets := t.TempDir()
	copyFile(t, "compose/secrets/postgres_password", filepath.Join(secrets, "pg-password"))
	t.Setenv("ELASTIC_PASSWORD", "from-the-secret")
	return loadConfig(t, []byte(cm.Data["projector.yaml"]), secretDir+"/", secrets+"/")
}

// TestKubernetesStandalone checks the default Kubernetes example, the
// StatefulSet: one replica, state on a claim of its own, probes, the
// Service for the metrics and a security context the image satisfies.
func TestKubernetesStandalone(t *testing.T) {
	checkStandalone(t, manifests(t), "projector")
}

// checkStandalone checks the ConfigMap, StatefulSet and Service named name
// that run projector on its own.
func checkStandalone(t *testing.T, all []manifest, name string) {
	t.Helper()
	cfg := loadConfigMap(t, findObject(t, all, "ConfigMap", name), "/etc/projector/secrets")
	sts := findObject(t, all, "StatefulSet", name)
	if sts.Spec.Replicas == nil || *sts.Spec.Replicas != 1 {
		t.Error("StatefulSet projector: replicas must be 1: a slot serves one reader at a time")
	}
	pod := sts.Spec.Template.Spec
	checkPodSecurity(t, pod)
	c := projectorContainer(t, pod)
	checkPort(t, c, cfg.HTTP.Listen)
	checkProbe(t, "readinessProbe", c.ReadinessProbe, "/readyz")
	checkProbe(t, "livenessProbe", c.LivenessProbe, "/healthz")
	checkContainer(t, c)
	checkGrace(t, pod, cfg)

	claimed := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == cfg.State.Dir {
			claimed = slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(v claimTemplate) bool {
				return v.Metadata.Name == m.Name
			})
		}
	}
	if !claimed {
		t.Errorf("state.dir %s is not mounted from a volumeClaimTemplate: the state must outlive the pod", cfg.State.Dir)
	}

	svc := findObject(t, all, "Service", sts.Spec.ServiceName)
	for k, v := range svc.Spec.Selector {
		if value, _ := v.(string); sts.Spec.Template.Metadata.Labels[k] != value {
			t.Errorf("Service %s selects %s=%s, which the pod does not carry", svc.Metadata.Name, k, v)
		}
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p servicePort) bool {
		return p.Name == "metrics" && p.TargetPort == "metrics"
	}) {
		t.Errorf("Service %s has no port metrics targeting the container's port metrics", svc.Metadata.Name)
	}
}

// TestKubernetesSidecar checks the sidecar option: the application's
// readiness does not depend on the view, and its replicas can scale
// because every projector but one waits as a standby.
func TestKubernetesSidecar(t *testing.T) {
	all := manifests(t)
	cfg := loadConfigMap(t, findObject(t, all, "ConfigMap", "orders-api-projector"), "/etc/projector/secrets")
	pod := findObject(t, all, "Deployment", "orders-api").Spec.Template.Spec
	checkPodSecurity(t, pod)
	c := projectorContainer(t, pod)
	checkPort(t, c, cfg.HTTP.Listen)
	if c.ReadinessProbe != nil {
		t.Error("projector sidecar has a readinessProbe: the pod's readiness would wait for the view, taking the application out of its Service")
	}
	checkProbe(t, "livenessProbe", c.LivenessProbe, "/healthz")
	if !slices.Contains(c.Args, "--standby") {
		t.Errorf("projector sidecar runs %q without --standby: the projector of a second replica would exit", c.Args)
	}
	checkContainer(t, c)
	checkGrace(t, pod, cfg)
	mounted := slices.ContainsFunc(c.VolumeMounts, func(m volumeMount) bool {
		return m.MountPath == cfg.State.Dir && slices.ContainsFunc(pod.Volumes, func(v podVolume) bool {
			return v.Name == m.Name && v.EmptyDir != nil
		})
	})
	if !mounted {
		t.Errorf("state.dir %s is not a mounted emptyDir; the root filesystem is read-only, and a standby's state lives with its pod", cfg.State.Dir)
	}
}

// TestNoSecretInManifests checks that applying an example never replaces a
// real Secret: the manifests refer to Secrets created with kubectl.
func TestNoSecretInManifests(t *testing.T) {
	noSecret(t, "kubernetes/", manifests(t))
}

func noSecret(t *testing.T, where string, all []manifest) {
	t.Helper()
	for _, m := range all {
		if m.Kind == "Secret" {
			t.Errorf("%s holds Secret %s: applying it would overwrite the real one; reference it and show kubectl create secret instead", where, m.Metadata.Name)
		}
	}
}

// kubeconform validates manifests (files, or "-" for stdin) strictly
// against the Kubernetes and Prometheus Operator schemas deploy/tools.sh
// installs: an unknown field or a wrong type fails.
func kubeconform(t *testing.T, stdin []byte, files ...string) {
	t.Helper()
	bin := tool(t, "kubeconform")
	schemas := filepath.Join(toolsDir(t), "kubernetes-json-schema")
	k8s, err := filepath.Glob(filepath.Join(schemas, "v*-standalone-strict"))
	if err != nil || len(k8s) != 1 {
		missing(t, "no Kubernetes JSON schemas (one v*-standalone-strict directory) under "+schemas)
	}
	if _, err := os.Stat(filepath.Join(schemas, "monitoring.coreos.com", "podmonitor_v1.json")); err != nil {
		missing(t, "no Prometheus Operator schemas under "+schemas)
	}
	args := []string{"-strict", "-summary",
		"-schema-location", filepath.Join(k8s[0], "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
		"-schema-location", filepath.Join(schemas, "{{ .Group }}", "{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json")}
	out := run(t, ".", stdin, bin, append(args, files...)...)
	// Every object must have been validated: none skipped for want of a
	// schema.
	if !strings.Contains(out, "Skipped: 0") || strings.Contains(out, "Valid: 0,") {
		t.Errorf("kubeconform validated nothing or skipped objects:\n%s", out)
	}
	t.Log(out)
}

// TestKubeconform validates the manifests under kubernetes/.
func TestKubeconform(t *testing.T) {
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests under kubernetes/ (%v)", err)
	}
	kubeconform(t, nil, files...)
}

func checkPodSecurity(t *testing.T, pod podSpec) {
	t.Helper()
	if !pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.RunAsUser != 65532 {
		t.Error("pod securityContext: runAsNonRoot true and runAsUser 65532 (the image's user) are required")
	}
}

func checkContainer(t *testing.T, c container) {
	t.Helper()
	if !c.SecurityContext.ReadOnlyRootFilesystem {
		t.Error("projector container: readOnlyRootFilesystem is not true")
	}
	if !slices.ContainsFunc(c.Env, func(e envVar) bool {
		return e.Name == "ELASTIC_PASSWORD" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
	}) {
		t.Error("projector container: ELASTIC_PASSWORD does not come from a Secret")
	}
}

// checkGrace: projector exits within shutdown.grace and about a second; a
// shorter termination grace period ends in SIGKILL.
func checkGrace(t *testing.T, pod podSpec, cfg *config.Config) {
	t.Helper()
	grace, limit := time.Duration(cfg.Shutdown.Grace), time.Duration(pod.TerminationGracePeriodSeconds)*time.Second
	if limit < grace+5*time.Second {
		t.Errorf("terminationGracePeriodSeconds %s is not at least shutdown.grace %s plus 5s", limit, grace)
	}
}

func checkPort(t *testing.T, c container, listen string) {
	t.Helper()
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("http.listen %q: %v", listen, err)
	}
	for _, p := range c.Ports {
		if p.Name == "metrics" && port == strconv.Itoa(p.ContainerPort) {
			return
		}
	}
	t.Errorf("projector container has no port named metrics on %s (http.listen)", port)
}

func checkProbe(t *testing.T, name string, p *probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != "metrics" {
		t.Errorf("projector container: %s must GET %s on port metrics", name, path)
	}
}
