"""python -m localcloud.localstack_host --localstack-python PYTHON [options]

LocalStack (community, 4.14.0) on this machine without Docker, in the foreground, with what the
Docker path runs beside it in containers: a PostgreSQL server (embedded) and an OTLP receiver
(the local cloud's, writing the Collector `file` exporter's JSON lines). Ctrl-C stops all three.

LocalStack runs in its own virtualenv (PYTHON: Python 3.13, localstack/host/requirements.txt) with
the local cloud's runtime executor (localcloud.localstack_executor): each Lambda execution
environment is a process running the real runtime client. Its settings are the compose file's
LocalStack environment, less what only Docker needs. Once it is ready, the start-up hooks run as
in the local cloud (`--startup module:function`: databases, roles, secrets in LocalStack), and
`<state-dir>/session.env` tells the deploy script where the functions reach LocalStack and the
receiver from their processes (localstack/docker-path.sh reads it while this runs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from localcloud import packaging
from localcloud import template as templates
from localcloud.__main__ import parse_overrides
from localcloud.cloud import StartupContext, check_port_free, run_startup_hooks, start_receiver, startup_hook
from localcloud.errors import LocalCloudError
from localcloud.lambda_init import PYTHON_VARIABLE, RUNTIME_DIR_VARIABLE
from localcloud.lifetime import run_in_foreground, stop_child, terminated_with, wait_ready
from localcloud.postgres import DatabaseServer, EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_PATH = ROOT / "localstack" / "host" / "plugin"  # the executor's entry point (a .dist-info)
HOST = "127.0.0.1"
READY_TIMEOUT_S = 120
# Settings of the compose file's LocalStack that only mean something with Docker.
DOCKER_ONLY = re.compile(r"^(LAMBDA_DOCKER_|DOCKER_|LOCALSTACK_AUTH_TOKEN$)")
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def localstack_environment(compose_file: Path, port: int, state_dir: Path, runtime_dir: Path) -> dict[str, str]:
    """LocalStack's environment: the compose file's settings for it (interpolated from ours, as
    compose does), less Docker's, plus what running on a host without Docker takes."""
    compose = yaml.safe_load(compose_file.read_text())
    settings = compose["services"]["localstack"]["environment"]
    environment = {
        name: INTERPOLATION.sub(lambda match: os.environ.get(match[1]) or match[2] or "", str(value))
        for name, value in settings.items()
        if not DOCKER_ONLY.match(name)
    }
    return {
        **{name: value for name, value in os.environ.items() if not name.startswith("AWS_")},
        **environment,
        "GATEWAY_LISTEN": f"{HOST}:{port}",
        # /.dockerenv (a CI container, say) would make LocalStack believe it runs in its own image.
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(state_dir / "filesystem"),
        "DNS_ADDRESS": "0",  # its DNS server would bind port 53, which needs root; nothing here uses it
        "SKIP_SSL_CERT_DOWNLOAD": "1",  # plain http on loopback: no certificate to fetch
        "DISABLE_EVENTS": "1",  # no analytics
        "LAMBDA_RUNTIME_EXECUTOR": "localcloud",
        PYTHON_VARIABLE: packaging.runtime_python(),
        RUNTIME_DIR_VARIABLE: str(runtime_dir),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(PLUGIN_PATH)]),
    }


def ready(endpoint: str) -> bool:
    """LocalStack's readiness as the compose healthcheck reads it: the READY stage completed and
    no ready hook ended in error (`completed` alone says true even then). A failed hook raises."""
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/init/ready", timeout=2) as answer:  # noqa: S310 - loopback
            state: dict[str, Any] = json.load(answer)
    except (OSError, ValueError):
        return False
    failed = [script["name"] for script in state.get("scripts", []) if script.get("state") == "ERROR"]
    if failed:
        raise LocalCloudError(f"LocalStack's ready hooks failed: {', '.join(failed)}")
    return state.get("completed") is True


class LocalStackHost:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.endpoint = f"http://{HOST}:{args.port}"
        self.session_file: Path = args.state_dir / "session.env"
        self._stops: list[Callable[[], None]] = []
        self._postgres: EmbeddedPostgres | None = None
        self._wrote_session = False
        self.localstack: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = self.args
        for name, port in (("LocalStack", args.port), ("OTLP receiver", args.otlp_port)):
            check_port_free(HOST, port, name)
        hooks = [(spec, startup_hook(spec)) for spec in args.startup]
        runtime_dir = packaging.install(packaging.RUNTIME_REQUIREMENTS, args.build_dir / "runtime", hashed=True)
        self._stops.append(start_receiver(HOST, args.otlp_port, args.telemetry_dir, dies_with_us=True))
        self._start_localstack(localstack_environment(args.compose_file, args.port, args.state_dir, runtime_dir))
        context = StartupContext(args.template, dict(args.parameter_overrides), templates.REGION, self.endpoint, _say, self._database)
        run_startup_hooks(hooks, context)
        self._write_session()
        _say(
            f"\nLocalStack is ready at {self.endpoint}, without Docker: Lambda environments run as processes here."
            f"\n  OTLP receiver  http://{HOST}:{args.otlp_port} -> {args.telemetry_dir}/*.jsonl (make traces)"
            f"\n  Now, in another terminal: make deploy        (Ctrl-C here stops LocalStack, PostgreSQL and the receiver)\n"
        )

    def wait(self) -> int:
        assert self.localstack is not None
        return self.localstack.wait()

    def stop(self) -> None:
        if self._wrote_session:  # else it may be a running session's (a second make localstack that failed)
            self.session_file.unlink(missing_ok=True)
        for stop in reversed(self._stops):
            try:
                stop()
            except BaseException as error:  # a part failing (or a Ctrl-C) must not leave the others running
                print(f"localstack host: stopping failed: {error}", file=sys.stderr)
        self._stops.clear()

    def _start_localstack(self, environment: dict[str, str]) -> None:
        command = [self.args.localstack_python, "-m", "localstack.runtime.main"]
        # Its own process group: Ctrl-C reaches us, and we stop it (and its environments) in order.
        # SIGTERM when we die (kill -9 included), so that it stops its environments rather than outlive us.
        self.localstack = process = subprocess.Popen(  # noqa: S603
            command, env=environment, cwd=self.args.state_dir, start_new_session=True, preexec_fn=terminated_with(os.getpid())
        )

        self._stops.append(lambda: stop_child(process))
        wait_ready(process, lambda: ready(self.endpoint), "LocalStack", READY_TIMEOUT_S)

    def _database(self) -> DatabaseServer:
        if self._postgres is None:
            postgres = EmbeddedPostgres(self.args.state_dir / "postgres")
            # Stopped last (after LocalStack, whose functions use it), and even if interrupted while starting.
            self._stops.insert(0, postgres.stop)
            postgres.start()
            self._postgres = postgres
        return self._postgres.server

    def _write_session(self) -> None:
        lines = [
            f"# Written by python -m localcloud.localstack_host (pid {os.getpid()}) while it runs; read by localstack/docker-path.sh",
            f"LOCALSTACK_HOST_PID={os.getpid()}",
            "# Where the functions, processes on this host, reach LocalStack and the OTLP receiver.",
            f"FUNCTIONS_REACH_LOCALSTACK={self.endpoint}",
            f"FUNCTIONS_REACH_COLLECTOR=http://{HOST}:{self.args.otlp_port}",
            "# Where make deploy deploys to, and where the OTLP receiver writes its JSON lines.",
            f"LOCALSTACK_HOST_ENDPOINT={self.endpoint}",
            f"TELEMETRY_DIR={self.args.telemetry_dir}",
        ]
        # NAME=value lines, read (not sourced) by docker-path.sh; replaced whole, never half-written.
        partial = self.session_file.with_suffix(".partial")
        partial.write_text("\n".join(lines) + "\n")
        partial.replace(self.session_file)
        self._wrote_session = True


def _directory(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _say(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.localstack_host", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--localstack-python", required=True, help="the interpreter of LocalStack's virtualenv")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--compose-file", type=Path, default=ROOT / "localstack" / "docker-compose.yml", help="LocalStack's settings")
    parser.add_argument("--port", type=int, default=4566, help="LocalStack's gateway (default 4566)")
    parser.add_argument("--otlp-port", type=int, default=4318, help="OTLP/HTTP receiver (default 4318)")
    parser.add_argument("--state-dir", type=Path, default=Path(".local/localstack"))
    parser.add_argument("--build-dir", type=Path, default=Path(".local/build"), help="where the runtime client is installed")
    parser.add_argument("--telemetry-dir", type=Path, default=Path(".local/telemetry"))
    parser.add_argument("--startup", action="append", default=[], metavar="MODULE:FUNCTION")
    parser.add_argument("--parameter-overrides", action="append", default=[], help="the template's parameters, for the hooks")
    args = parser.parse_args(argv)
    args.parameter_overrides = parse_overrides(args.parameter_overrides)
    args.state_dir = _directory(args.state_dir.resolve())
    args.localstack_python = str(Path(args.localstack_python).absolute())
    args.build_dir, args.telemetry_dir = args.build_dir.resolve(), args.telemetry_dir.resolve()
    return run_in_foreground(LocalStackHost(args), "localstack host", "LocalStack")


if __name__ == "__main__":
    sys.exit(main())
