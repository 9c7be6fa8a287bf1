# Bookstore: the commands a person types. `make run` brings it up, `make test` tests it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
PIP_VERSION := 25.3
# sam build looks for python3.12 on PATH; the environment's interpreter is that one.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export SAM_CLI_TELEMETRY := 0

.PHONY: help install localstack localstack-install run console livro recycle flags flag fault faults faults-off exercise reconcile traces demo load bench up deploy down logs sam-local sam-invoke parity test test-unit test-integration test-localcloud test-localstack test-samlocal static lint typecheck template build check lock clean openapi fuzz

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements-dev.txt
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	@touch $@

install: $(BIN)/.installed ## Create .venv and install the locked dependencies

# The local cloud's admin identity, in .local/admin-credentials (AWS shared-credentials format).
ADMIN_PROFILE := bookstore-admin
# The functions' feature flags (flagd's format), every one off: make flags / flag / faults-off change them live.
FLAGS := flags/bookstore.flagd.json

run: install ## Run the whole Bookstore on the local cloud, http://127.0.0.1:3000, its console on http://127.0.0.1:3001 (Ctrl-C stops it)
	$(PY) -m localcloud --startup bookstore_dev.startup:start --admin-profile $(ADMIN_PROFILE) --flags $(FLAGS) $(ARGS)

livro: install ## Against a running `make run`, as its admin: add a book (ARGS='--titulo "Dom Casmurro" --preco 39.90 --estoque 10')
	$(PY) -m bookstore_dev.admin --profile $(ADMIN_PROFILE) livro $(ARGS)

recycle: install ## End every execution environment of a running local cloud: the next requests start cold
	$(PY) -m localcloud recycle $(ARGS)

test: test-unit test-integration test-localcloud test-localstack test-samlocal ## Run every test (each starts what it needs)

test-unit: install ## Unit tests: no network, AWS through moto
	$(PY) -m pytest tests/unit

test-integration: install ## Integration tests: real PostgreSQL, handlers over HTTP
	$(PY) -m pytest tests/integration

test-localcloud: install ## Local cloud tests: `python -m localcloud` driven over HTTP
	$(PY) -m pytest tests/localcloud

test-samlocal: localstack-install ## sam local tests: make sam-local (the real start-api and start-lambda, on Docker), every route, traces, invoke, stop; make parity's run
	$(PY) -m pytest tests/samlocal

test-localstack: localstack-install ## LocalStack tests: make localstack + make deploy, an order through LocalStack's API Gateway
	LOCALSTACK_PYTHON=$(LOCALSTACK_VENV)/bin/python $(PY) -m pytest tests/localstack

flags: install ## Against a running `make run`: each feature flag (fault), its variant and the others
	$(PY) -m localcloud flags

flag: install ## Against a running `make run`: one flag to a variant, live (ARGS=paymentFailure=50%)
	$(PY) -m localcloud flag $(ARGS)

fault: install ## Against a running `make run`: a platform fault, live (ARGS='CriarPagamentoFunction:delay=2000@50', see README)
	$(PY) -m localcloud fault $(ARGS)

faults: install ## Against a running `make run`: the platform faults on
	$(PY) -m localcloud faults

faults-off: install ## Against a running `make run`: every fault off, platform faults and feature flags
	$(PY) -m localcloud faults-off

exercise: install ## Against a running `make run`: "something is wrong — find it", faults picked by a seed (ARGS="--seed 7 --rounds 3 --minutes 5")
	$(PY) -m bookstore_dev.exercise $(ARGS)

reconcile: install ## Against a running `make run`: run the order reconciler now, instead of at its next minute
	$(PY) -m localcloud schedule ReconciliarOrdensFunction $(ARGS)

# `make test` runs the same properties and fuzzing, bounded and derandomized (the `bounded` profile).
fuzz: install ## Longer, random fuzzing: the properties, then schemathesis on every route of the local cloud (profile `fuzz`)
	$(PY) -m pytest tests/unit/test_properties.py --hypothesis-profile=fuzz $(ARGS)
	$(PY) -m pytest tests/integration/test_fuzz.py --hypothesis-profile=fuzz $(ARGS)

console: install ## The console alone, on telemetry files (the Docker path's Collector writes .local/telemetry): http://127.0.0.1:3001
	$(PY) -m localcloud.console $(ARGS)

traces: install ## The latest traces as waterfalls (ARGS="--last 3 --html traces.html" for a page)
	$(PY) -m localcloud.traceview $(ARGS)

demo: install ## Against a running `make run`: a scripted tour, cold and warm, each trace printed
	$(PY) -m bookstore_dev.demo $(ARGS)

load: install ## Against a running `make run`: Locust's buyers, 8 users for 60 s, then a summary (ARGS="--users 16 --run-time 2m", ARGS=--web)
	$(PY) -m bookstore_dev.load --profile $(ADMIN_PROFILE) $(ARGS)

parity: localstack-install ## One scripted run against the local cloud, LocalStack and sam local, side by side (bench/results/parity.json)
	$(PY) -m bookstore_dev.parity $(ARGS)

bench: localstack-install ## Benchmarks (not tests): latency and cold starts through the local cloud, then the three clouds side by side
	$(PY) -m bench.localcloud_bench
	$(PY) -m bench.clouds_bench

# --- LocalStack without Docker (see README "LocalStack without Docker") -----------------------
# LocalStack 4.14 needs Python 3.13 (it imports warnings.deprecated): its own venv, from its lock.
LOCALSTACK_VENV := .local/localstack/venv
$(LOCALSTACK_VENV)/.installed: localstack/host/requirements.txt
	@test -x $(LOCALSTACK_VENV)/bin/python || { python=$$(scripts/find-python 3.13) && "$$python" -m venv $(LOCALSTACK_VENV); }
	$(LOCALSTACK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r localstack/host/requirements.txt
	@touch $@

localstack-install: install $(LOCALSTACK_VENV)/.installed ## Create LocalStack's venv (Python 3.13) from localstack/host/requirements.txt

localstack: localstack-install ## LocalStack 4.14 without Docker on :4566, PostgreSQL and an OTLP receiver beside it (Ctrl-C stops all); then make deploy
	$(PY) -m localcloud.localstack_host --localstack-python $(LOCALSTACK_VENV)/bin/python --startup bookstore_dev.startup:start $(ARGS)

# --- The Docker path (needs Docker; see README "Four ways to run Bookstore") ---------------
COMPOSE := docker compose -f localstack/docker-compose.yml
# Stopping and reading logs need no password, but compose interpolates the whole file first and
# refuses a missing ${POSTGRES_PASSWORD:?…}: without localstack/.env (deleted, or a fresh clone),
# down and logs still work. The value is never used (the shell's, or .env's, wins when set).
COMPOSE_WITHOUT_ENV := POSTGRES_PASSWORD=$${POSTGRES_PASSWORD:-not-needed-to-stop-or-read-logs} $(COMPOSE)
# LocalStack keeps no state across restarts, so every `make up` provisions again, from the host
# and from template.yaml: roles (their passwords rotate), databases, migrations, secrets.
up: install ## Docker: start PostgreSQL, LocalStack, the Collector, Jaeger and the Grafana stack (Grafana on :3300), then provision the template's services
	localstack/env.sh
	mkdir -p .local/telemetry
	$(COMPOSE) up -d --wait
	PYTHON=$(PY) localstack/provision.sh

deploy: install ## Build and deploy template.yaml into LocalStack (make localstack, or make up on Docker), print the API URLs (ARGS="ProvisionedConcurrency=1")
	PYTHON=$(PY) localstack/deploy.sh $(ARGS)

down: ## Docker: stop the containers (add ARGS=-v to delete the database volume)
	$(COMPOSE_WITHOUT_ENV) down $(ARGS)

logs: ## Docker: follow the containers' logs
	$(COMPOSE_WITHOUT_ENV) logs -f $(ARGS)

# --- sam local (the real one, on Docker: see README "sam local start-api") ---------------------
# localcloud.sam_local starts what the functions need beside sam local, on 127.0.0.1, relayed to
# the containers at host.docker.internal: the AWS emulator (SAM_LOCAL_AWS_PORT), the OTLP receiver
# (SAM_LOCAL_OTLP_PORT), PostgreSQL, and the console on 3001. The env-vars file sets every variable
# each function declares, explicitly: sam local lets a shell variable of the same name
# (OTEL_SERVICE_NAME, AWS_ENDPOINT_URL…) replace a template value, but not an --env-vars one.
SAM_LOCAL_PORT ?= 3000
SAM_LOCAL_AWS_PORT ?= 4566
SAM_LOCAL_OTLP_PORT ?= 4318
SAM_LOCAL_STATE ?= .local/sam-local
SAM_LOCAL_REACH := http://host.docker.internal
# DependencyTimeoutSeconds=12: SAM CLI 1.170 starts a new container at the first call of some
# functions despite EAGER (GET /livros/{id}, POST /livros/{id}/reservas), building its image first:
# 6-7 s on a 2-core laptop, against the 8 s of LocalStack's containers (README "sam local start-api").
SAM_LOCAL_PARAMETERS := OtlpEndpoint=$(SAM_LOCAL_REACH):$(SAM_LOCAL_OTLP_PORT) AwsEndpointUrl=$(SAM_LOCAL_REACH):$(SAM_LOCAL_AWS_PORT) DependencyTimeoutSeconds=12

sam-local: install ## The real `sam local start-api` on :3000 (Docker: the engine that answers, else its own), everything it needs beside it (Ctrl-C stops all)
	@mkdir -p $(SAM_LOCAL_STATE)
	$(PY) -m bookstore_dev.services sam-local-env --url $(SAM_LOCAL_REACH):$(SAM_LOCAL_PORT) \
		--parameter-overrides $(SAM_LOCAL_PARAMETERS) > $(SAM_LOCAL_STATE)/env-vars.json
	$(PY) -m localcloud.sam_local --startup bookstore_dev.startup:start --state-dir $(SAM_LOCAL_STATE) \
		--port $(SAM_LOCAL_PORT) --aws-port $(SAM_LOCAL_AWS_PORT) --otlp-port $(SAM_LOCAL_OTLP_PORT) \
		--env-vars $(SAM_LOCAL_STATE)/env-vars.json --parameter-overrides "$(SAM_LOCAL_PARAMETERS)" $(ARGS)

sam-invoke: install ## Against a running `make sam-local`: sam local invoke with its build and settings (ARGS=ReconciliarOrdensFunction, ARGS="F --event e.json")
	$(PY) -m localcloud.sam_local invoke --state-dir $(SAM_LOCAL_STATE) $(ARGS)

lint: install ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install ## mypy (strict); each function's folder and layer is a root, read from the template
	MYPYPATH="$$($(PY) -m bookstore_dev.services paths | paste -sd:)" $(BIN)/mypy .

template: install ## cfn-lint and sam validate --lint on template.yaml
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --template-file template.yaml

build: install ## sam build, without a container
	$(BIN)/sam build --template-file template.yaml

static: lint typecheck template build ## Every check that is not a test

check: static test ## Every check: lint, types, template, build, tests

openapi: install ## Regenerate docs/openapi/<Api>.json from the handlers' routes and models (a unit test fails when stale)
	$(PY) -m bookstore_dev.openapi

lock: ## Re-resolve the lock files (needs uv)
	uv pip compile --quiet --python-version 3.12 --prerelease=if-necessary --generate-hashes requirements-dev.in -o requirements-dev.txt
	uv pip compile --quiet --python-version 3.12 --python-platform x86_64-manylinux_2_28 --prerelease=if-necessary \
		layers/shared/requirements.in -c requirements-dev.txt -o layers/shared/requirements.txt
	uv pip compile --quiet --python-version 3.12 --python-platform x86_64-manylinux_2_28 --generate-hashes \
		localcloud/runtime-requirements.in -c requirements-dev.txt -o localcloud/runtime-requirements.txt
	uv pip compile --quiet --python-version 3.13 --python-platform x86_64-manylinux_2_28 --generate-hashes \
		localstack/host/requirements.in -o localstack/host/requirements.txt

clean: ## Remove the environment, build output and local data
	rm -rf $(VENV) .aws-sam .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
