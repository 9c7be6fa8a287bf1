"""python -m localcloud.sam_local [options]

The real `sam local start-api` (and, with --lambda-port, `sam local start-lambda`), on a Docker
engine — the one that answers, or else the project's own (localcloud.docker.engine) — in the
Lambda Python 3.12 image, the official one or the stand-in built here (localcloud.docker.lambda_image),
with what the functions need beside them, as the local cloud runs it: a PostgreSQL server
(embedded), moto's server as the AWS APIs, the OTLP receiver and the console. Nothing else is
needed (no `make up`). Everything listens on 127.0.0.1; the containers reach it through
host.docker.internal, relayed from the Docker bridge (localcloud.docker.bridge).

It knows nothing of the application: the start-up hooks (`--startup module:function`) make its
databases and secrets, as in the local cloud; `--env-vars` and `--parameter-overrides` go to
sam local as they are. sam local runs with fixed test credentials and region, never the
shell's. Ready when every sam local answers; Ctrl-C stops sam local (which removes its
containers), the services, and the engine if it was started here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from moto.server import ThreadedMotoServer

from localcloud import template as templates
from localcloud.__main__ import parse_overrides
from localcloud.cloud import LOCAL_CREDENTIAL, StartupContext, check_port_free, run_startup_hooks, start_receiver, startup_hook
from localcloud.console import HOST as CONSOLE_HOST
from localcloud.console import start_console
from localcloud.docker import engine as engines
from localcloud.docker import lambda_image
from localcloud.docker.bridge import Relay, bridge_address
from localcloud.errors import LocalCloudError
from localcloud.lifetime import run_in_foreground, stop_child, terminated_with, wait_ready
from localcloud.postgres import DatabaseServer, EmbeddedPostgres

HOST = "127.0.0.1"
# What the containers call this machine (sam local adds it with --add-host … :host-gateway).
CONTAINERS_REACH = "host.docker.internal"
READY_TIMEOUT_S = 600  # sam local creates every function's container before it listens (EAGER)
STOP_TIMEOUT_S = 60
LAMBDA_CONTAINERS = "label=sam.cli.container.type=lambda"
STOPPED = "sam local: stopped (sam local and its containers, the services, and the engine if it was ours)"
# What sam local runs with, whatever the shell has (the session file lists them for other SAM CLI commands).
SAM_ENVIRONMENT = ("DOCKER_HOST", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION", "SAM_CLI_TELEMETRY")
# The shell's AWS settings never reach sam local: it passes its region and credentials into every container.
AWS_SHELL = re.compile(r"^AWS_")


class SamLocal:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._stops: list[Callable[[], None]] = []
        self._postgres: EmbeddedPostgres | None = None
        self._relay: Relay | None = None
        self.engine: engines.Engine | None = None
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        args = self.args
        ports = [("API", args.port), ("AWS emulator", args.aws_port), ("OTLP receiver", args.otlp_port), ("console", args.console_port)]
        ports += [("Lambda API", args.lambda_port)] if args.lambda_port else []
        for name, port in ports:
            check_port_free(HOST, port, name)
        hooks = [(spec, startup_hook(spec)) for spec in args.startup]
        engine, stop_engine = engines.find_or_start(args.docker_dir, _say)
        self.engine = engine
        self._stops.append(stop_engine)
        if engine.owned:  # on a system engine, other sessions' containers are not ours to remove
            self._stops.append(self._remove_containers)
            self._remove_containers()  # left by a run that was killed outright
        image = lambda_image.ensure(engine, args.docker_dir / "build", _say)
        _say(f"  Lambda image: {lambda_image.IMAGE} ({image})")

        bridge = bridge_address(engine)
        if bridge is not None:
            self._relay = Relay(*bridge)
            self._stops.append(self._relay.close)
        self._stops.append(start_receiver(HOST, args.otlp_port, args.telemetry_dir, dies_with_us=True))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines would drown the functions'
        moto = ThreadedMotoServer(ip_address=HOST, port=args.aws_port, verbose=False)
        moto.start()
        self._stops.append(moto.stop)
        for port in (args.port, args.aws_port, args.otlp_port):  # what the functions call (start-lambda is for clients here)
            self._relayed(port)

        context = StartupContext(
            args.template, dict(args.parameter_overrides), templates.REGION, f"http://{HOST}:{args.aws_port}", _say, self._database
        )
        run_startup_hooks(hooks, context)
        self._stops.append(start_console(args.telemetry_dir, args.console_port))

        environment = self._sam_environment()
        build_dir = args.state_dir / "sam-build"
        _say("  sam build…")
        built = subprocess.run(  # noqa: S603 - SAM CLI, our arguments
            [sam_executable(), "build", "--template-file", str(args.template), "--build-dir", str(build_dir)],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            raise LocalCloudError(f"sam build failed: {(built.stderr.strip().splitlines() or ['?'])[-1]}")
        _compile(build_dir)
        invoked = ["--template", str(build_dir / "template.yaml"), *self._common_options()]
        # start-api: every function's container created before it listens, one per function, kept
        # warm; start-lambda (for SDK clients and tests): each created at its first invocation, then kept.
        api = ["local", "start-api", "--host", HOST, "--port", str(args.port), *invoked, "--warm-containers", "EAGER"]
        self._start_sam(api, args.port, environment)
        if args.lambda_port:
            functions = ["local", "start-lambda", "--host", HOST, "--port", str(args.lambda_port), *invoked, "--warm-containers", "LAZY"]
            self._start_sam(functions, args.lambda_port, environment)
        self._write_session(invoked, environment, image)
        _say(
            f"\nsam local start-api is ready at http://{HOST}:{args.port} (Docker, {image} Lambda image; no IAM: see the README)"
            + (f"\n  sam local start-lambda  http://{HOST}:{args.lambda_port}" if args.lambda_port else "")
            + f"\n  console         http://{CONSOLE_HOST}:{args.console_port}"
            + f"\n  OTLP receiver   http://{HOST}:{args.otlp_port} -> {args.telemetry_dir}/*.jsonl (make traces)"
            + f"\n  AWS emulator    http://{HOST}:{args.aws_port} (moto)"
            + "\n  Ctrl-C stops sam local, its containers and everything above\n"
        )

    def wait(self) -> int:
        """Until one sam local exits: its code."""
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    return process.returncode
            time.sleep(0.5)

    def stop(self) -> None:
        failed = False
        for process in reversed(self.processes):
            stop_child(process, signal.SIGINT, STOP_TIMEOUT_S)  # sam local's own shutdown: its containers removed
        for stop in reversed(self._stops):
            try:
                stop()
            except BaseException as error:  # a part failing (or a Ctrl-C) must not leave the others running
                failed = True
                print(f"sam local: stopping failed: {error}", file=sys.stderr)
        if self._stops and not failed:
            _say(STOPPED)
        self._stops.clear()

    def _write_session(self, options: list[str], environment: dict[str, str], image: str) -> None:
        """How to run more of SAM CLI against this session (`sam local invoke`, say): its options,
        engine and credentials, in <state-dir>/session.json while it runs."""
        session = {
            "pid": os.getpid(),
            "image": image,
            "engine": {
                "host": environment["DOCKER_HOST"],
                "owned": bool(self.engine and self.engine.owned),
                "data_root": str(self.engine.data_root) if self.engine and self.engine.data_root else None,
            },
            "sam_options": options,  # for `sam local invoke`, as start-api and start-lambda are given them
            "environment": {name: environment[name] for name in SAM_ENVIRONMENT},
        }
        path = self.args.state_dir / "session.json"
        path.write_text(json.dumps(session, indent=2))
        self._stops.append(lambda: path.unlink(missing_ok=True))

    def _relayed(self, port: int) -> None:
        if self._relay is not None:
            try:
                self._relay.add(port)
            except OSError as error:
                raise LocalCloudError(f"port {port} is busy on the Docker bridge ({self._relay.address}): {error.strerror}") from None

    def _database(self) -> DatabaseServer:
        if self._postgres is None:
            postgres = EmbeddedPostgres(self.args.state_dir / "postgres")
            self._stops.insert(1, postgres.stop)  # after the engine's containers are gone, before the engine
            postgres.start()
            self._postgres = postgres
            self._relayed(postgres.server.port)
        server = self._postgres.server
        return DatabaseServer(server.admin_conninfo, server.host, server.port, reach=(CONTAINERS_REACH, server.port))

    def _common_options(self) -> list[str]:
        args = self.args
        options = ["--region", templates.REGION, "--skip-pull-image"]
        options += ["--add-host", f"{CONTAINERS_REACH}:host-gateway"]
        if args.env_vars:
            options += ["--env-vars", str(args.env_vars)]
        if args.parameter_overrides:
            options += ["--parameter-overrides", *(f"{name}={value}" for name, value in args.parameter_overrides.items())]
        return options

    def _sam_environment(self) -> dict[str, str]:
        """The shell's environment less its AWS settings, with the test credentials and region
        sam local passes into the containers; and the engine."""
        assert self.engine is not None
        fixed = {
            **self.engine.environment(),
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIAL,
            "AWS_REGION": templates.REGION,
            "AWS_DEFAULT_REGION": templates.REGION,
            "SAM_CLI_TELEMETRY": "0",
        }
        assert set(fixed) == set(SAM_ENVIRONMENT)
        return session_environment(fixed)

    def _start_sam(self, arguments: list[str], port: int, environment: dict[str, str]) -> None:
        _say(f"  sam {' '.join(arguments[:2])} on {HOST}:{port} (each function's container first)…")
        # Its own process group, so that a Ctrl-C reaches us first and we stop it in order; SIGTERM
        # when we die (kill -9 included). sam local removes its containers on SIGINT.
        process = subprocess.Popen(  # noqa: S603 - SAM CLI, our arguments
            [sam_executable(), *arguments], env=environment, start_new_session=True, preexec_fn=terminated_with(os.getpid())
        )
        self.processes.append(process)
        wait_ready(process, lambda: _listens(port), f"sam {' '.join(arguments[:2])}", READY_TIMEOUT_S)

    def _remove_containers(self) -> None:
        """No Lambda container of sam local's is left behind (sam local removes its own on a clean stop)."""
        if self.engine is None:
            return
        listed = engines.run_docker(self.engine.host, "ps", "--all", "--quiet", "--filter", LAMBDA_CONTAINERS, timeout=30)
        leftover = listed.stdout.decode().split()
        if leftover:
            engines.run_docker(self.engine.host, "rm", "--force", *leftover, timeout=120)


def _compile(build_dir: Path) -> None:
    """The build's modules compiled to bytecode, as a production package ships them: each new
    container starts from the image, so whatever it compiles at import is lost with it — seconds
    of every cold start (a container's file system keeps nothing). Hash-checked: a .pyc whose
    source changed is recompiled, whatever the copy did to the files' times."""
    command = [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "checked-hash", str(build_dir)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our build folder
    if result.returncode != 0:
        raise LocalCloudError(f"compiling the build failed: {(result.stdout.strip().splitlines() or ['?'])[-1]}")


def _listens(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def _say(line: str) -> None:
    print(line, flush=True)


def invoke(argv: list[str]) -> int:
    """`sam local invoke FUNCTION` against a running session: its build, engine, overrides and
    credentials, from <state-dir>/session.json (a schedule's function, which start-api never runs)."""
    parser = argparse.ArgumentParser(prog="python -m localcloud.sam_local invoke", description=invoke.__doc__)
    parser.add_argument("function", help="the function's logical id (ReconciliarOrdensFunction)")
    parser.add_argument("--event", type=Path, help="the event (JSON file); default: an empty one")
    parser.add_argument("--state-dir", type=Path, default=Path(".local/sam-local"))
    args = parser.parse_args(argv)
    session_file = args.state_dir / "session.json"
    try:
        session = json.loads(session_file.read_text())
        running = Path(f"/proc/{int(session['pid'])}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        running = b""
    if b"localcloud.sam_local" not in running:  # none, or a file left by a run killed outright (its pid reused)
        print(f"sam local: no make sam-local is running here ({session_file}): start it first", file=sys.stderr)
        return 1
    event = ["--event", str(args.event.resolve())] if args.event else ["--no-event"]
    command = [sam_executable(), "local", "invoke", args.function, *event, *session["sam_options"]]
    return subprocess.run(command, env=session_environment(session["environment"]), check=False).returncode  # noqa: S603


def sam_executable() -> str:
    """SAM CLI, as installed beside this interpreter (the project's virtualenv)."""
    return str(Path(sys.executable).parent / "sam")


def session_environment(fixed: dict[str, str]) -> dict[str, str]:
    """The shell's environment with none of its AWS settings or Docker context, and `fixed` (the
    engine, the test credentials and region) instead; this interpreter's bin first on PATH, where
    sam build looks for python3.12."""
    environment = {name: value for name, value in os.environ.items() if not AWS_SHELL.match(name) and name != "DOCKER_CONTEXT"}
    return {**environment, **fixed, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["invoke"]:
        return invoke(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m localcloud.sam_local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    parser.add_argument("--port", type=int, default=3000, help="sam local start-api (default 3000)")
    parser.add_argument("--lambda-port", type=int, default=0, help="also sam local start-lambda on this port (default: not)")
    parser.add_argument("--aws-port", type=int, default=4566, help="the AWS emulator, moto (default 4566)")
    parser.add_argument("--otlp-port", type=int, default=4318, help="OTLP/HTTP receiver (default 4318)")
    parser.add_argument("--console-port", type=int, default=3001, help="the console (default 3001)")
    parser.add_argument("--state-dir", type=Path, default=Path(".local/sam-local"), help="PostgreSQL data, the build, the session file")
    parser.add_argument("--docker-dir", type=Path, default=Path(".local/docker"), help="the project's own Docker engine (its images kept)")
    parser.add_argument("--telemetry-dir", type=Path, default=Path(".local/telemetry"))
    parser.add_argument("--env-vars", type=Path, help="sam local's --env-vars file")
    parser.add_argument("--startup", action="append", default=[], metavar="MODULE:FUNCTION")
    parser.add_argument("--parameter-overrides", action="append", default=[], help="the template's parameters, for sam local and the hooks")
    args = parser.parse_args(argv)
    args.parameter_overrides = parse_overrides(args.parameter_overrides)
    args.state_dir = args.state_dir.resolve()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    args.telemetry_dir = args.telemetry_dir.resolve()
    args.docker_dir = args.docker_dir.resolve()
    args.env_vars = args.env_vars.resolve() if args.env_vars else None
    args.template = args.template.resolve()
    return run_in_foreground(SamLocal(args), "sam local", "sam local")


if __name__ == "__main__":
    sys.exit(main())
