"""Bookstore on each of its three local clouds, started as a person starts it, for the tools that
compare them (`make parity`, `make bench`) and the tests: the local cloud (`make run`), LocalStack
without Docker (`make localstack` + `make deploy`) and the real `sam local start-api`
(`make sam-local`). Each is a context manager that yields a `Cloud` once it serves, and stops it
(Ctrl-C, as in a terminal) when the block ends."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bookstore_dev.clients import admin_auth, any_signature
from bookstore_dev.services import services
from bookstore_dev.startup import HOOK
from bookstore_dev.template import ROOT
from localcloud import template as templates
from localcloud.docker import engine as engines
from localcloud.net import free_port
from localcloud.process import BUILD_DIR, wait_until
from localcloud.traceview import Span, spans_written

SAM_LOCAL_READY = "sam local start-api is ready"
# A new machine installs Debian's engine and builds the stand-in image before sam local starts: minutes.
SAM_LOCAL_READY_TIMEOUT_S = 900
LOCALSTACK_PYTHON = ROOT / ".local" / "localstack" / "venv" / "bin" / "python"
DEPLOYED_URL = re.compile(r"^  (?P<service>\S+)\s+(?P<url>http://\S+/_aws/execute-api/\S+)$", re.MULTILINE)


@dataclass(eq=False)  # hashable by identity: one running cloud
class Cloud:
    name: str
    urls: dict[str, str]  # each service.name's base URL
    telemetry_dir: Path
    log: Path  # everything the cloud printed (Lambda's START/END/REPORT lines included)
    admin: httpx.Auth  # signs as the cloud's admin (where IAM is not enforced, any signature)
    state_dir: Path
    process: subprocess.Popen[bytes]
    extra: dict[str, str] = field(default_factory=dict)  # what else it serves (sam local's start-lambda URL…)

    def url(self, service: str) -> str:
        return self.urls[service]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def spans(self) -> list[Span]:
        return spans_written(self.telemetry_dir / "traces.jsonl")

    def stop(self) -> int:
        """As Ctrl-C in a terminal: SIGINT to its process group (make and what it runs)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


def _started(command: list[str], log: Path, environment: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        # Its own process group, as a terminal's foreground job: stop() sends the group Ctrl-C's SIGINT.
        return subprocess.Popen(  # noqa: S603 - our own commands
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, env=environment
        )


def _serving(cloud: Cloud, ready: Callable[[], bool], what: str, timeout_s: float) -> Cloud:
    try:
        wait_until(lambda: ready() or cloud.process.poll() is not None, what, timeout_s)
    except TimeoutError:
        cloud.stop()
        raise
    if cloud.process.poll() is not None:
        raise RuntimeError(f"{cloud.name} exited ({cloud.process.returncode}):\n{cloud.output()[-4000:]}")
    return cloud


def _every_service(url: str) -> dict[str, str]:
    return {service.name: url for service in services()}


@contextmanager
def local_cloud(base: Path | None = None, *extra: str) -> Iterator[Cloud]:
    """`make run`: the local cloud, with its own ports and state."""
    with _base(base, "local-cloud") as folder:
        port, otlp_port, console_port = free_port(), free_port(), free_port()
        state = folder / "state"
        command = [sys.executable, "-m", "localcloud", "--template", str(ROOT / "template.yaml"), "--state-dir", str(state)]
        command += ["--port", str(port), "--otlp-port", str(otlp_port), "--console-port", str(console_port), "--no-watch"]
        command += ["--build-dir", str(BUILD_DIR)]  # the packages installed once, shared with the tests
        command += ["--startup", HOOK, "--flags", str(ROOT / "flags" / "bookstore.flagd.json"), *extra]
        log = folder / "local-cloud.log"
        cloud = Cloud(
            "local cloud",
            _every_service(f"http://127.0.0.1:{port}"),
            state / "telemetry",
            log,
            any_signature(templates.REGION),
            state,
            _started(command, log),
        )
        try:
            _serving(cloud, lambda: " local cloud on http" in cloud.output(), "the local cloud ready", 300)
            cloud.admin = admin_auth(state / "admin-credentials")
            yield cloud
        finally:
            cloud.stop()


@contextmanager
def localstack(base: Path | None = None) -> Iterator[Cloud]:
    """`make localstack` then `make deploy`: LocalStack 4.14 without Docker, the template deployed into it."""
    if not LOCALSTACK_PYTHON.exists():
        raise RuntimeError(f"{LOCALSTACK_PYTHON} is missing: make localstack-install creates LocalStack's venv")
    with _base(base, "localstack") as folder:
        port, otlp_port = free_port(), free_port()
        state, telemetry = folder / "state", folder / "telemetry"
        command = [sys.executable, "-m", "localcloud.localstack_host", "--localstack-python", str(LOCALSTACK_PYTHON)]
        command += ["--port", str(port), "--otlp-port", str(otlp_port), "--state-dir", str(state), "--telemetry-dir", str(telemetry)]
        command += ["--build-dir", str(BUILD_DIR), "--startup", HOOK]
        log = folder / "localstack.log"
        cloud = Cloud("LocalStack", {}, telemetry, log, any_signature(templates.REGION), state, _started(command, log))
        try:
            _serving(cloud, (state / "session.env").exists, "LocalStack ready", 300)
            environment = {
                **{name: value for name, value in os.environ.items() if name not in {"AWS_REGION", "AWS_DEFAULT_REGION"}},
                "PYTHON": sys.executable,
                "SAM": str(Path(sys.executable).parent / "sam"),
                "LOCALSTACK_ENDPOINT": f"http://127.0.0.1:{port}",
                "LOCALSTACK_SESSION": str(state / "session.env"),
                "BUILD_DIR": str(folder / "deploy-build"),
                # sam build looks for python3.12 on PATH: this environment's interpreter is that one (as the Makefile says)
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
            deploy = ["bash", str(ROOT / "localstack" / "deploy.sh")]
            deployed = subprocess.run(deploy, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
            if deployed.returncode != 0:
                raise RuntimeError(f"make deploy failed:\n{deployed.stdout[-3000:]}{deployed.stderr[-3000:]}")
            cloud.urls = {match["service"]: match["url"] for match in DEPLOYED_URL.finditer(deployed.stdout)}
            cloud.extra["endpoint"] = f"http://127.0.0.1:{port}"
            yield cloud
        finally:
            cloud.stop()


@contextmanager
def sam_local(base: Path | None = None, *, lambda_port: bool = False) -> Iterator[Cloud]:
    """`make sam-local`: the real sam local start-api on Docker, its ports and state in `base`."""
    with _base(base, "sam-local") as folder:
        port, aws_port, otlp_port, console_port = (free_port() for _ in range(4))
        state, telemetry = folder / "state", folder / "telemetry"
        arguments = f"--console-port {console_port} --telemetry-dir {telemetry}"
        extra = {}
        if lambda_port:
            extra["lambda_url"] = f"http://127.0.0.1:{(functions_port := free_port())}"
            arguments += f" --lambda-port {functions_port}"
        command = ["make", "--no-print-directory", "sam-local", f"SAM_LOCAL_PORT={port}", f"SAM_LOCAL_AWS_PORT={aws_port}"]
        command += [f"SAM_LOCAL_OTLP_PORT={otlp_port}", f"SAM_LOCAL_STATE={state}", f"ARGS={arguments}"]
        log = folder / "sam-local.log"
        url = f"http://127.0.0.1:{port}"
        cloud = Cloud(
            "sam local", _every_service(url), telemetry, log, any_signature(templates.REGION), state, _started(command, log), extra
        )
        try:
            yield _serving(cloud, lambda: SAM_LOCAL_READY in cloud.output(), "make sam-local ready", SAM_LOCAL_READY_TIMEOUT_S)
        finally:
            cloud.stop()


@contextmanager
def _base(base: Path | None, name: str) -> Iterator[Path]:
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
        yield base
        return
    with tempfile.TemporaryDirectory(prefix=f"bookstore-{name}-") as folder:
        yield Path(folder)


# By the name `make parity` and `make bench` take them.
CLOUDS: dict[str, Callable[[], AbstractContextManager[Cloud]]] = {
    "localcloud": local_cloud,
    "localstack": localstack,
    "samlocal": sam_local,
}


def cloud_names(text: str) -> list[str]:
    """`--clouds a,b`: the names, in order, each one of CLOUDS (ValueError otherwise)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if unknown := sorted(set(names) - set(CLOUDS)):
        raise ValueError(f"unknown clouds {unknown}; choose among {sorted(CLOUDS)}")
    return names


def why_not(name: str) -> str | None:
    """Why that cloud cannot run on this machine (said, and the cloud left out), or None."""
    if name == "samlocal":
        return engines.why_none_can_run()
    if name == "localstack" and not LOCALSTACK_PYTHON.exists():
        return f"{LOCALSTACK_PYTHON} is missing (make localstack-install)"
    return None


def runnable(names: list[str], who: str) -> list[str]:
    """The clouds of `names` that can run here; each one left out is said on stderr, with why."""
    kept = []
    for name in names:
        if reason := why_not(name):
            print(f"{who}: {name} left out: {reason}", file=sys.stderr)
        else:
            kept.append(name)
    return kept
