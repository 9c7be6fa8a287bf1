"""`make localstack` + `make deploy`, as a person runs them: LocalStack 4.14.0 on this machine (no
Docker; the local cloud's runtime executor), the template deployed by localstack/deploy.sh with SAM
CLI, and an order placed through LocalStack's API Gateway URLs. What this proves that the local
cloud's tests do not: the stack CloudFormation creates from template.yaml in LocalStack works, on
LocalStack's Lambda (its environment variables, its code packages without layers, its invoke path)."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import psutil
import pytest

from bookstore_dev import template
from bookstore_dev.services import services
from bookstore_dev.startup import HOOK
from localcloud.net import free_port
from localcloud.process import wait_until
from localcloud.traceview import Span, spans_written

ROOT = template.ROOT
DEPLOY = ROOT / "localstack" / "deploy.sh"
# make test-localstack names it; relative to the repository, as the Makefile's paths are
LOCALSTACK_PYTHON = ROOT / os.environ.get("LOCALSTACK_PYTHON", ".local/localstack/venv/bin/python")
CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/30", "cvv": "123"}
URL_LINE = re.compile(r"^  (?P<service>\S+)\s+(?P<url>http://\S+/_aws/execute-api/\S+)$", re.MULTILINE)


@dataclass
class LocalStackSession:
    process: subprocess.Popen[str]
    endpoint: str
    state_dir: Path
    telemetry_dir: Path
    log: Path

    @property
    def session_file(self) -> Path:
        return self.state_dir / "session.env"

    def spans(self) -> list[Span]:
        return spans_written(self.telemetry_dir / "traces.jsonl")

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStackSession]:
    """`make localstack` (its ports and state in a temporary folder), once its session file says it is ready."""
    if not LOCALSTACK_PYTHON.exists():
        pytest.fail(f"{LOCALSTACK_PYTHON} is missing: make test-localstack (or make localstack-install) creates LocalStack's venv")
    base = tmp_path_factory.mktemp("localstack")
    port, otlp_port = free_port(), free_port()
    log = base / "localstack.log"
    command = [
        sys.executable, "-m", "localcloud.localstack_host",
        "--localstack-python", str(LOCALSTACK_PYTHON),
        "--port", str(port), "--otlp-port", str(otlp_port),
        "--state-dir", str(base / "state"), "--telemetry-dir", str(base / "telemetry"), "--build-dir", str(base / "build"),
        "--startup", HOOK,
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, text=True)  # noqa: S603
    session = LocalStackSession(process, f"http://127.0.0.1:{port}", base / "state", base / "telemetry", log)
    try:
        wait_until(lambda: session.session_file.exists() or process.poll() is not None, "LocalStack ready", timeout_s=240)
        assert process.poll() is None, session.output()[-3000:]
        yield session
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C, as a person stops it
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def deployed(localstack: LocalStackSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """`make deploy` against it: each service.name and its API's base URL, as the script prints them."""
    environment = {
        **os.environ,
        "PYTHON": sys.executable,
        "SAM": str(Path(sys.executable).parent / "sam"),
        "LOCALSTACK_ENDPOINT": localstack.endpoint,
        "LOCALSTACK_SESSION": str(localstack.session_file),
        "BUILD_DIR": str(tmp_path_factory.mktemp("localstack-build")),
    }
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):  # the tests' own fake identity is not a shell's preset
        environment.pop(name, None)
    result = subprocess.run(["bash", str(DEPLOY)], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603, S607
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # the traces' file of this session's receiver (its --telemetry-dir), as the session file names it
    assert f"Traces: {localstack.telemetry_dir}/traces.jsonl," in result.stdout
    return {match["service"]: match["url"] for match in URL_LINE.finditer(result.stdout)}


@pytest.mark.timeout(1200)
def test_an_order_through_localstacks_api_gateway_concludes_and_its_trace_holds_the_three_services(
    localstack: LocalStackSession, deployed: dict[str, str]
) -> None:
    # Given the template deployed into LocalStack, each API at the URL make deploy printed
    assert set(deployed) == {service.name for service in services()}
    catalogue, orders = deployed["cadastro-de-livros"], deployed["ordem-de-compra"]
    livro = httpx.get(f"{catalogue}/livros", timeout=60).json()[0]
    # When a buyer orders a book through LocalStack's URL, as an instrumented client would (its own traceparent)
    trace_id = secrets.token_hex(16)
    response = httpx.post(
        f"{orders}/ordens",
        json={"livro_id": livro["id"], "quantidade": 1, "cartao": CARD},
        headers={"Idempotency-Key": f"localstack-{trace_id}", "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        timeout=120,
    )
    # Then the order concludes: stock reserved in Cadastro de Livros, paid in Pagamento
    assert response.status_code == 201, response.text
    ordem = response.json()
    assert ordem["status"] == "CONCLUIDA"
    assert httpx.get(f"{orders}/ordens/{ordem['id']}", timeout=60).json()["status"] == "CONCLUIDA"
    assert httpx.get(f"{catalogue}/livros/{livro['id']}", timeout=60).json()["estoque"] == livro["estoque"] - 1
    # And its trace, continued from the client's, holds the three services, their cold starts included
    names = {service.name for service in services()}

    def trace() -> list[Span] | None:
        spans = [span for span in localstack.spans() if span.trace_id == trace_id]
        return spans if {span.service for span in spans} >= names and any(span.name == "init" for span in spans) else None

    spans = wait_until(trace, f"trace {trace_id} with spans of {sorted(names)}", timeout_s=30)
    assert {span.service for span in spans if span.name == "init"} == names
    # And LocalStack stored each environment's lines in CloudWatch Logs, as from its containers (aws logs tail works)
    logs = boto3.client(
        "logs", endpoint_url=localstack.endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    groups = [group["logGroupName"] for group in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]]
    orders_group = next(group for group in groups if "CriarOrdemFunction" in group)
    lines = [event["message"] for event in logs.filter_log_events(logGroupName=orders_group)["events"]]
    assert any(line.startswith("REPORT RequestId: ") and "Init Duration" in line for line in lines), lines
    assert not [line for line in lines if CARD["numero"] in line or CARD["cvv"] in line.split()]


def test_a_second_make_localstack_refused_by_the_port_check_leaves_the_running_ones_session(localstack: LocalStackSession) -> None:
    # Given make localstack running, its session file written
    session = localstack.session_file.read_text()
    # When a second one starts on the same ports and state
    port = localstack.endpoint.rsplit(":", 1)[1]
    command = [
        sys.executable, "-m", "localcloud.localstack_host", "--localstack-python", str(LOCALSTACK_PYTHON),
        "--port", port, "--state-dir", str(localstack.state_dir), "--telemetry-dir", str(localstack.telemetry_dir),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    # Then it refuses, naming the busy port, and the running session's file stays for make deploy
    assert result.returncode == 1
    assert f"port {port} (LocalStack) is busy" in result.stderr
    assert localstack.session_file.read_text() == session


def test_ctrl_c_stops_localstack_its_environments_postgres_and_the_receiver_and_removes_the_session(localstack: LocalStackSession) -> None:
    # Given make localstack running, with warm execution environments (the order above started them)
    family = psutil.Process(localstack.process.pid).children(recursive=True)
    commands = [" ".join(process.cmdline()) for process in family]
    assert any("localstack.runtime.main" in command for command in commands)
    assert any("awslambdaric" in command for command in commands)
    family.append(psutil.Process(int((localstack.state_dir / "postgres" / "postmaster.pid").read_text().split()[0])))
    # When a person presses Ctrl-C
    localstack.process.send_signal(signal.SIGINT)
    # Then it ends cleanly, and with it LocalStack, every environment, the receiver and PostgreSQL
    assert localstack.process.wait(timeout=90) == 0, localstack.output()[-3000:]
    wait_until(lambda: not any(alive(process) for process in family), "every process of the session ended", timeout_s=30)
    # And make deploy no longer finds a session to deploy into
    assert not localstack.session_file.exists()


def alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def test_localstacks_ready_hooks_run_and_one_that_fails_stops_make_localstack(tmp_path: Path) -> None:
    # Given two ready hooks where LocalStack (on a host, under FILESYSTEM_ROOT) looks for them: one succeeds, one fails
    hooks = tmp_path / "state" / "filesystem" / "etc" / "localstack" / "init" / "ready.d"
    hooks.mkdir(parents=True)
    ran = tmp_path / "ran"
    (hooks / "01-succeeds.sh").write_text(f"#!/bin/sh\necho ran > {ran}\n")
    (hooks / "02-fails.sh").write_text("#!/bin/sh\nexit 3\n")
    for hook in hooks.iterdir():
        hook.chmod(0o755)
    # When make localstack starts
    command = [
        sys.executable, "-m", "localcloud.localstack_host", "--localstack-python", str(LOCALSTACK_PYTHON),
        "--port", str(free_port()), "--otlp-port", str(free_port()),
        "--state-dir", str(tmp_path / "state"), "--telemetry-dir", str(tmp_path / "telemetry"), "--build-dir", str(tmp_path / "build"),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)  # noqa: S603
    # Then the hooks ran, as in the community image
    assert ran.read_text() == "ran\n"
    # And the failed one stops it, named (LocalStack's own /_localstack/init/ready says "completed" even so)
    assert result.returncode == 1
    assert "ready hooks failed: 02-fails.sh" in result.stderr
    assert not (tmp_path / "state" / "session.env").exists()
