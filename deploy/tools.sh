#!/usr/bin/env bash
# tools.sh installs what the deployment checks (`make deploy-check`, and
# `go test ./deploy/`) run, into a cache directory outside the repository:
#
#   promtool      checks the alert rules and runs their unit tests
#                 (Go module github.com/prometheus/prometheus/cmd/promtool)
#   helm          lints and renders the chart (Go module helm.sh/helm/v3/cmd/helm)
#   kubeconform   validates the rendered manifests against JSON schemas
#                 (Go module github.com/yannh/kubeconform/cmd/kubeconform)
#
# and the JSON schemas kubeconform needs, from package registries (the
# schemas' own repositories are not reachable from every build machine):
#
#   kubernetes-json-schema/v$K8S-standalone-strict/
#       the Kubernetes API's schemas in strict form (unknown fields are
#       errors), from the PyPI package kubernetes-validate, which ships
#       them generated from the Kubernetes OpenAPI specification. Its
#       files refer to one shared _definitions.json by an absolute URL;
#       the copy made here refers to it by a relative path, so that
#       kubeconform resolves it on disk.
#   kubernetes-json-schema/monitoring.coreos.com/
#       PodMonitor, ServiceMonitor and PrometheusRule (Prometheus Operator
#       custom resources), from the CRDs in the Go module
#       github.com/prometheus-operator/prometheus-operator, converted to
#       strict JSON schemas as kubeconform's openapi2jsonschema does.
#
# Each step is skipped when its result is already in the cache. Versions
# are pinned here; change one and the step runs again.
#
# Usage: deploy/tools.sh [bin|schemas|all]   (default all)
# Prints nothing but errors and what it installs. PROJECTOR_TOOLS sets the
# cache directory (default ~/.cache/projector).
set -euo pipefail

PROMETHEUS_VERSION=v0.316.0      # Prometheus 3.16's Go module version
HELM_VERSION=v3.22.0
KUBECONFORM_VERSION=v0.7.0
K8S_SCHEMA_VERSION=1.37.0        # kubernetes-validate release = Kubernetes minor it covers
PROMETHEUS_OPERATOR_VERSION=v0.85.0

command -v go >/dev/null || { echo "tools.sh: go is required to install the tools" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || {
	echo "tools.sh: python3 with pip is required to fetch the Kubernetes schemas (apt-get install python3-pip)" >&2
	exit 1
}

CACHE=${PROJECTOR_TOOLS:-$HOME/.cache/projector}
BIN=$CACHE/bin
SCHEMAS=$CACHE/kubernetes-json-schema

# goinstall PKG VERSION NAME [GO FLAGS] installs PKG@VERSION as $BIN/NAME,
# once.
goinstall() {
	local pkg=$1 version=$2 name=$3
	shift 3
	local stamp=$BIN/.$name-$version
	if [[ -x $BIN/$name && -e $stamp ]]; then
		return
	fi
	echo "tools.sh: installing $name $version (go install $pkg@$version)" >&2
	mkdir -p "$BIN"
	# Outside the repository, so that its go.mod is neither read nor changed.
	(cd / && GOBIN=$BIN GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install "$@" "$pkg@$version")
	rm -f "$BIN/.$name-"*
	touch "$stamp"
}

bins() {
	# remove_all_sd leaves out the service discovery plugins and their cloud
	# SDKs, which rule checks and tests do not use, from the build.
	goinstall github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS_VERSION" promtool -tags remove_all_sd
	goinstall helm.sh/helm/v3/cmd/helm "$HELM_VERSION" helm
	goinstall github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION" kubeconform
}

k8s_schemas() {
	local dir=$SCHEMAS/v$K8S_SCHEMA_VERSION-standalone-strict
	if [[ -e $dir/.complete ]]; then
		return
	fi
	echo "tools.sh: installing Kubernetes $K8S_SCHEMA_VERSION JSON schemas (PyPI kubernetes-validate==$K8S_SCHEMA_VERSION)" >&2
	local tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	python3 -m pip download --quiet --no-deps --only-binary=:all: \
		"kubernetes-validate==$K8S_SCHEMA_VERSION" -d "$tmp"
	# One version at a time: the checks use the only one there is.
	rm -rf "$SCHEMAS"/v*-standalone-strict
	mkdir -p "$dir"
	python3 - "$tmp"/kubernetes_validate-*.whl "$K8S_SCHEMA_VERSION" "$dir" <<'EOF'
import json, sys, zipfile

wheel, version, out = sys.argv[1:]
prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
shared = "/api/_definitions.json#"


def relative(node):
    """Rewrites refs to the shared definitions as relative paths."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(shared):
            node["$ref"] = "_definitions.json#" + ref[len(shared):]
        for v in node.values():
            relative(v)
    elif isinstance(node, list):
        for v in node:
            relative(v)


count = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or not name.endswith(".json"):
            continue
        schema = json.loads(z.read(name))
        # Without the $id, refs resolve against the file's own path.
        schema.pop("$id", None)
        relative(schema)
        with open(out + "/" + name[len(prefix):], "w") as f:
            json.dump(schema, f)
        count += 1
if count < 100:
    sys.exit(f"{wheel}: only {count} schemas under {prefix}")
EOF
	touch "$dir/.complete"
}

crd_schemas() {
	local dir=$SCHEMAS/monitoring.coreos.com
	local crds=(podmonitors servicemonitors prometheusrules)
	local stamp=$dir/.prometheus-operator-$PROMETHEUS_OPERATOR_VERSION-${#crds[@]}
	if [[ -e $stamp ]]; then
		return
	fi
	echo "tools.sh: installing PodMonitor, ServiceMonitor and PrometheusRule schemas (Go module github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION)" >&2
	local moddir
	moddir=$(cd / && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
	rm -rf "$dir"
	mkdir -p "$dir"
	local files=()
	for crd in "${crds[@]}"; do
		files+=("$moddir/jsonnet/prometheus-operator/$crd-crd.json")
	done
	python3 - "$dir" "${files[@]}" <<'EOF'
import json, sys


def strict(node):
    """Forbids fields the schema does not declare, as kubeconform's -strict
    expects: every object with properties and no additionalProperties."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)


out = sys.argv[1]
for path in sys.argv[2:]:
    with open(path) as f:
        crd = json.load(f)
    kind = crd["spec"]["names"]["kind"].lower()
    for version in crd["spec"]["versions"]:
        schema = version["schema"]["openAPIV3Schema"]
        strict(schema)
        with open(f"{out}/{kind}_{version['name']}.json", "w") as f:
            json.dump(schema, f)
EOF
	touch "$stamp"
}

case ${1:-all} in
bin) bins ;;
schemas)
	k8s_schemas
	crd_schemas
	;;
all)
	bins
	k8s_schemas
	crd_schemas
	;;
*)
	echo "usage: $0 [bin|schemas|all]" >&2
	exit 2
	;;
esac
