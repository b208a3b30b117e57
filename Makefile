# projector: the two commands users need are `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
PKGS  ?= ./...
# How many inputs each fuzz target tries inside `make test`. A count rather
# than a duration: with a duration, Go 1.26's fuzz coordinator can report
# "context deadline exceeded" as a failure when the time runs out while a
# worker is busy (go.dev/issue/75804), which fails the run with no crasher.
FUZZTIME ?= 50000x
FUZZMINIMIZETIME ?= 200x
# FuzzRandomRows decodes, maps and checks a whole row of every supported
# type per input, some 60 inputs a second on a CI machine: at FUZZTIME it
# alone took 13 of CI's minutes, so it tries fewer inputs than the others.
# Each input is a seed of 64 random bits, so fewer inputs still search new
# rows on every run.
FUZZTIME_RANDOMROWS ?= 5000x

# The PostgreSQL version matrix (`make matrix`): the major versions it
# runs on, each a server of its own on port 55NN started by
# `deploy/local/pg.sh up --version NN`, and what it runs on each: the
# capture package's tests, the end-to-end test of the reference views and
# the one of failover slots.
# `make test` runs the same on the oldest and the newest, MATRIX_EDGES.
PG_VERSIONS  ?= 13 14 15 16 17 18
MATRIX_EDGES ?= 13 18
MATRIX_E2E   ?= ^(TestViewsExampleStaysEqualToTheJoin|TestFailoverSlotSetting)$$

# The longest a package's tests may run under the race detector in `make
# test`: the end-to-end package alone takes about 20 minutes on a loaded
# 2-core machine, and a timeout only ever means a hung test.
RACE_TIMEOUT ?= 40m

# The end-to-end tests `make test` runs once more without the race
# detector, which slows the stream several times: their lag goals (the
# other views' written lag p99 during a reload) are checked only there.
NORACE_E2E ?= ^TestReloadWhileRunning$$

.PHONY: all build testbed test unit fuzz demo bench down clean matrix matrix-run deploy-check

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/projector ./cmd/projector

# testbed starts two PostgreSQL servers (5433, 5434) and an OpenSearch node
# (9200) on loopback; both scripts are idempotent.
testbed:
	deploy/local/pg.sh up
	deploy/local/search.sh up

# test runs vet, the deployment checks, every unit and integration test
# with the race detector, the end-to-end tests of NORACE_E2E without it (their
# latency goals hold only there), a short run of every fuzz target, and the
# version matrix on the oldest and the newest supported PostgreSQL.
test: testbed
	$(GO) vet $(PKGS)
	$(MAKE) deploy-check
	$(MAKE) es8
	PROJECTOR_TEST_ES8=$(ES8_URL) $(GO) test -race -count=1 -timeout $(RACE_TIMEOUT) $(PKGS)
	PROJECTOR_TEST_SEARCH=$(ES8_URL) $(GO) test -race -count=1 -timeout 10m -run '$(ES8_E2E)' ./e2e/
	$(GO) test -count=1 -timeout 10m -run '$(NORACE_E2E)' ./e2e/
	$(MAKE) fuzz
	$(MAKE) matrix-run VERSIONS="$(MATRIX_EDGES)"

# test-es8 runs the sink conformance suite and one end-to-end test (a
# snapshot, streaming and counts over four views) on a real Elasticsearch 8
# node, which it starts with `deploy/local/search.sh up --engine
# elasticsearch` on port 9201, beside OpenSearch on 9200; `make down` stops
# it. docs/search-engines.md says what runs on which engine. A node that
# cannot start fails the run under CI=true; elsewhere the tests are skipped
# with a warning.
ES8_URL ?= http://127.0.0.1:9201
ES8_E2E ?= ^TestDocumentKeys$$
.PHONY: test-es8 es8
# es8 starts the node; `make test` runs every package with it configured, so
# the conformance suite runs on it there, and then the end-to-end test.
es8:
	@if ! deploy/local/search.sh up --engine elasticsearch; then \
	  if [ "$$CI" = true ]; then echo "es8: the Elasticsearch 8 node did not start" >&2; exit 1; fi; \
	  echo "es8: WARNING: the Elasticsearch 8 node did not start; its tests are skipped" >&2; \
	fi
test-es8: es8
	PROJECTOR_TEST_ES8=$(ES8_URL) $(GO) test -race -count=1 -timeout 10m -run Conformance ./sink/
	PROJECTOR_TEST_SEARCH=$(ES8_URL) $(GO) test -race -count=1 -timeout 10m -run '$(ES8_E2E)' ./e2e/

# matrix runs the capture tests and the end-to-end tests of MATRIX_E2E on
# every supported PostgreSQL version. Under CI=true a version that cannot be
# started or reached fails the run instead of being skipped.
matrix:
	deploy/local/search.sh up
	$(MAKE) matrix-run VERSIONS="$(PG_VERSIONS)"

# matrix-run is matrix without starting the search engine, for VERSIONS.
matrix-run:
	@set -e; for v in $(VERSIONS); do \
	  echo "== PostgreSQL $$v"; \
	  deploy/local/pg.sh up --version $$v; \
	  dsn="postgres://postgres@127.0.0.1:55$$v/postgres?sslmode=disable"; \
	  export PROJECTOR_TEST_PG="$$dsn" PROJECTOR_TEST_PG2="$$dsn" PG_BINDIR="$$(deploy/local/pg.sh bindir --version $$v)"; \
	  $(GO) test -race -count=1 -timeout 15m ./capture/; \
	  $(GO) test -race -count=1 -timeout 15m -run '$(MATRIX_E2E)' ./e2e/; \
	done

# deploy-check installs promtool, helm, kubeconform and the schemas they
# validate against (deploy/tools.sh, cached under ~/.cache/projector), then
# runs the checks of deploy/: promtool check rules and test rules, helm lint,
# helm template and the manifests through kubeconform -strict, the
# dashboard's coverage of every metric, the image and the manifests. CI=true
# makes a missing tool a failure rather than a skip. It needs no server.
deploy-check:
	deploy/tools.sh
	CI=true $(GO) test -count=1 -timeout 10m ./deploy/

fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    n='$(FUZZTIME)'; if [ "$$f" = FuzzRandomRows ]; then n='$(FUZZTIME_RANDOMROWS)'; fi; \
	    echo "fuzz $$pkg $$f ($$n)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $$n -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; \
	  done; \
	done

# demo runs the food-delivery demo on the test bed and leaves it running.
demo: testbed
	deploy/local/demo.sh up

# bench measures projector against its physical limits (docs/benchmarks.md).
bench: testbed
	$(GO) run ./bench/cmd/projector-bench -out docs/benchmarks.md $(BENCH_FLAGS)

# down stops every service the test bed started; data stays in .testbed/.
down:
	-deploy/local/demo.sh stop
	-deploy/local/search.sh down
	-deploy/local/search.sh down --engine elasticsearch
	-deploy/local/pg.sh down
	-for v in $(PG_VERSIONS); do deploy/local/pg.sh down --version $$v; done

# clean also removes the test bed's data.
clean: down
	rm -rf .testbed bin

# chaos runs the full fault-injection suite (docs/reliability.md): five
# SIGKILLs, a 30 s search-engine outage, a PostgreSQL restart, terminated
# walsenders, a lost state directory and bad inputs. `make test` runs its
# short form.
.PHONY: chaos
chaos: testbed
	$(GO) test -tags chaos -race -count=1 -timeout 30m -run Chaos -v ./e2e/
