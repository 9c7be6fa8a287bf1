"""Starts and stops everything the local cloud runs, in order, and nothing is left behind.

The local cloud knows nothing of the application it runs. What an application needs before its
functions can work — databases, schemas, secrets, seed data — is handed to it as start-up hooks
(`--startup module:function`), each called once with a `StartupContext`: the template, the local
AWS endpoint, and a PostgreSQL server started on demand.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from localcloud import flags, packaging
from localcloud import template as templates
from localcloud.apigateway import ApiGateway
from localcloud.console import HOST as CONSOLE_HOST
from localcloud.console import start_console
from localcloud.console.load import LoadGenerator
from localcloud.environment import FunctionSpec, InvocationReport
from localcloud.errors import Conflict, LocalCloudError
from localcloud.flags import FlagsFile
from localcloud.iam import CREDENTIALS_FILE, AccessControl, Principal
from localcloud.lifetime import terminated_with
from localcloud.net import free_port
from localcloud.platform_faults import PlatformFaults
from localcloud.pool import FunctionPool, Throttled
from localcloud.postgres import DatabaseServer, EmbeddedPostgres, existing_server
from localcloud.schedules import Scheduler

# moto accepts any credentials; these say where they come from.
LOCAL_CREDENTIAL = "local"


@dataclass(frozen=True)
class Options:
    template: Path
    state_dir: Path  # .local: PostgreSQL data, installed packages, telemetry files
    host: str = "127.0.0.1"
    port: int = 3000
    otlp_port: int = 4318
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    env_vars: Path | None = None
    freeze: bool = True
    max_environments: int = 5  # per function, unless the template reserves concurrency: sized for a laptop
    idle_timeout_s: float = 600.0
    throttle_wait_s: float = 5.0  # at the concurrency limit, how long a request waits before a 429
    watch: bool = True
    database_url: str | None = None  # an existing PostgreSQL (superuser) instead of the embedded one
    build_dir: Path | None = None  # installed packages; default state_dir/build
    otlp_endpoint: str | None = None  # where the functions export; default the local receiver
    startup: tuple[str, ...] = ()  # hooks, "module:function", called with a StartupContext before serving
    schedules: bool = True  # run the template's rate() schedules on their own (triggering them always works)
    admin_profile: str = "localcloud-admin"  # the admin identity's profile in STATE_DIR/admin-credentials
    flags: Path | None = None  # a flagd flag-definition file the functions read (see localcloud.flags)
    console_port: int | None = None  # the console (localcloud.console), always on 127.0.0.1 (the command's default: 3001)


@dataclass(frozen=True)
class StartupContext:
    """What a start-up hook gets: the template being served, the local AWS (moto's server), a
    way to print, a PostgreSQL server (started on the first call to `database`), and a way to
    give the console a load generator."""

    template: Path
    parameter_overrides: dict[str, str]  # the template's parameters as the cloud was given them
    region: str
    aws_endpoint: str
    log: Callable[[str], None]
    _database: Callable[[], DatabaseServer]
    api_url: str = ""  # where the API will answer
    state_dir: Path | None = None  # the cloud's (its admin-credentials file is there); None outside the local cloud
    _offer_load: Callable[[list[str]], None] | None = None

    def database(self) -> DatabaseServer:
        return self._database()

    def offer_load(self, command: list[str]) -> None:
        """The console's Start button will run `command` (its Stop sends it SIGINT); ignored where there is no console."""
        if self._offer_load is not None:
            self._offer_load(command)

    def client(self, service: str) -> Any:
        """A boto3 client of the local AWS."""
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.aws_endpoint,
            region_name=self.region,
            aws_access_key_id=LOCAL_CREDENTIAL,
            aws_secret_access_key=LOCAL_CREDENTIAL,
        )


class Console:
    """One writer for everything: function output and Lambda's lines, prefixed by the function."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def for_function(self, name: str) -> Any:
        return lambda text: self.line(f"[{name}] {text}")


class LocalCloud:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.console = Console()
        self.pools: dict[str, FunctionPool] = {}
        self.gateway: ApiGateway | None = None
        self.scheduler: Scheduler | None = None
        self.flags: FlagsFile | None = None
        self.platform_faults = PlatformFaults(self.pools, self.console.line)
        self.access: AccessControl | None = None
        self.admin: Principal | None = None
        self.aws_endpoint: str | None = None
        self._database: DatabaseServer | None = None
        self._postgres_lock = threading.Lock()
        self._stops: list[Any] = []
        self._stopped = threading.Event()
        self._load_command: list[str] = []

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    @property
    def admin_credentials(self) -> Path:
        return self.options.state_dir / CREDENTIALS_FILE

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        options = self.options
        # Request lines of moto's and the gateway's web servers would drown Lambda's own lines.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        for name, port in (("API", options.port), ("OTLP receiver", options.otlp_port)):
            check_port_free(options.host, port, name)
        if options.console_port is not None:
            check_port_free(CONSOLE_HOST, options.console_port, "console")
        hooks = [(spec, startup_hook(spec)) for spec in options.startup]  # a misnamed hook stops us before anything runs
        otlp_endpoint = options.otlp_endpoint or f"http://{options.host}:{options.otlp_port}"
        template = templates.load(options.template, {"OtlpEndpoint": otlp_endpoint, **options.parameter_overrides})
        env_vars = templates.read_env_vars_file(options.env_vars)
        self.access = AccessControl.from_template(template.resources, templates.REGION)
        self.admin = self.access.admin(self.admin_credentials, options.admin_profile)
        build = options.build_dir or options.state_dir / "build"
        runtime_dir = packaging.install(packaging.RUNTIME_REQUIREMENTS, build / "runtime", hashed=True)

        self._on_stop(self._start_receiver())
        moto_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        moto.start()
        self._on_stop(moto.stop)
        self.aws_endpoint = f"http://127.0.0.1:{moto_port}"
        context = StartupContext(
            options.template,
            dict(options.parameter_overrides),
            templates.REGION,
            self.aws_endpoint,
            self.console.line,
            self.database,
            api_url=self.url,
            state_dir=options.state_dir,
            _offer_load=self._offer_load,
        )
        run_startup_hooks(hooks, context)

        injected = {"AWS_ENDPOINT_URL": self.aws_endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint}
        if options.flags is not None:
            self.flags = FlagsFile(options.flags, options.state_dir / "flags.flagd.json")
            injected[flags.ENVIRONMENT_VARIABLE] = str(self.flags.live)
        python = packaging.runtime_python()
        for function in template.functions.values():
            code = templates.code_path(template, function.codeuri)
            layer_paths: list[Path] = []
            extensions: list[Path] = []
            for layer in function.layers:
                content = templates.code_path(template, layer.codeuri)
                layer_paths += [content, packaging.install(content / "requirements.txt", build / "layers" / layer.name)]
                extensions += packaging.extensions(content)
            function_requirements = code / "requirements.txt"
            if function_requirements.exists() and packaging.has_requirements(function_requirements):
                layer_paths.insert(0, packaging.install(function_requirements, build / "functions" / function.name))
            role = self.access.roles[function.name]  # its execution role's credentials, as Lambda gives them
            spec = FunctionSpec(
                name=function.name,
                handler=function.handler or "",
                memory_mb=function.memory or 128,
                timeout_s=float(function.timeout or 3),
                python=python,
                python_path=(code, *layer_paths, runtime_dir),
                task_root=code,
                environment=templates.environment(template, function, env_vars, self.url, {**injected, **role.environment()}),
                region=templates.REGION,
                extensions=tuple(extensions),
            )
            self.pools[function.name] = FunctionPool(
                spec,
                template.reserved_concurrency.get(function.name, options.max_environments),
                self.console.for_function(function.name),
                options.freeze,
                options.throttle_wait_s,
                template.provisioned_concurrency.get(function.name, 0),
            )
        self._on_stop(self._close_pools, first=True)

        self.platform_faults.receiver = None if options.otlp_endpoint else f"http://{options.host}:{options.otlp_port}"
        self.scheduler = Scheduler(template.schedules, self._invoke_event, templates.REGION, self.console.line)
        if options.schedules:
            self._on_stop(self.scheduler.start(), first=True)
        control = {
            "recycle": self.recycle,
            "status": self.status,
            "schedule": self.trigger,
            "flags": self._describe_flags,
            "flag": self._set_flag,
            "flags-off": self._flags_off,
            "fault": self._add_fault,
            "faults": self.platform_faults.describe,
            "faults-off": self._faults_off,
        }
        self.gateway = ApiGateway(template.api, self._run, control, self.access)
        try:
            server = self.gateway.serve(options.host, options.port)
        except OSError as error:  # taken since the check at start-up
            raise LocalCloudError(f"port {options.port} (API) is busy on {options.host}: {error.strerror}") from None
        server.start()
        self._on_stop(server.stop, first=True)
        if options.console_port is not None:
            load = LoadGenerator(self._load_command, self.console.line) if self._load_command else None
            self._on_stop(start_console(options.state_dir / "telemetry", options.console_port, control, load), first=True)
        threading.Thread(target=self._reap, name="reaper", daemon=True).start()
        if options.watch:
            from localcloud.watch import watch

            code_dirs = {templates.code_path(template, function.codeuri) for function in template.functions.values()}
            code_dirs |= {templates.code_path(template, layer.codeuri) for f in template.functions.values() for layer in f.layers}
            self._on_stop(watch(sorted(code_dirs), self._code_changed), first=True)
        self._provision()
        self._banner(template)

    def _offer_load(self, command: list[str]) -> None:
        self._load_command = list(command)

    def database(self) -> DatabaseServer:
        """The PostgreSQL server of this cloud: the one `--database-url` names, or an embedded one
        started now (once). It lives here, beside moto, as the local stand-in for RDS: a generic
        service any SAM application may ask for, started only for those that do."""
        if self._database is None:
            if self.options.database_url:
                self._database = existing_server(self.options.database_url)
            else:
                postgres = EmbeddedPostgres(self.options.state_dir / "postgres")
                try:
                    postgres.start()
                except RuntimeError as error:
                    raise LocalCloudError(f"PostgreSQL did not start: {_first_line(error)}") from error
                self._on_stop(lambda: self._stop_postgres(postgres))
                self._database = postgres.server
                threading.Thread(target=self._supervise, args=(postgres,), name="postgres-supervisor", daemon=True).start()
            self.console.line(f"  PostgreSQL on {self._database.host}:{self._database.port}")
        return self._database

    def _provision(self) -> None:
        """The template's provisioned concurrency, initialised before the first request."""
        counts = {name: pool.provisioned for name, pool in self.pools.items() if pool.provisioned}
        if counts:
            started = time.monotonic()
            ready = sum(self.provision_each(counts).values())
            self.console.line(f"local cloud: {ready} provisioned environments initialised in {time.monotonic() - started:.1f} s")

    def provision_each(self, counts: dict[str, int]) -> dict[str, int]:
        """`provision` for several functions side by side: how many started, by function."""
        with ThreadPoolExecutor(max_workers=max(1, len(counts))) as executor:
            return dict(zip(counts, executor.map(self.provision, counts, counts.values()), strict=True))

    def provision(self, function: str, count: int) -> int:
        """Starts `count` environments of `function` ahead of its requests (provisioned concurrency)."""
        return self.pools[function].provision(count)

    def _supervise(self, postgres: EmbeddedPostgres) -> None:
        """Restarts the embedded PostgreSQL when it dies, as RDS would recover an instance: its
        crash recovery replays the log, and the functions answer 503 meanwhile."""
        while not self._stopped.wait(1.0):
            with self._postgres_lock:  # a stop of the cloud waits for a restart under way, then stops it
                if self._stopped.is_set() or postgres.running():
                    continue
                self.console.line("local cloud: PostgreSQL stopped unexpectedly; restarting it (the functions answer 503 meanwhile)")
                if not self._restart(postgres):
                    return

    def _restart(self, postgres: EmbeddedPostgres) -> bool:
        deadline = time.monotonic() + 60
        while True:
            try:
                postgres.start()
            except RuntimeError as error:
                # Backends of the dead server may hold its shared memory for a moment.
                if time.monotonic() > deadline or self._stopped.is_set():
                    self.console.line(f"local cloud: PostgreSQL did not restart: {_first_line(error)}")
                    return False
                time.sleep(1.0)
                continue
            self.console.line("local cloud: PostgreSQL restarted")
            return True

    def _stop_postgres(self, postgres: EmbeddedPostgres) -> None:
        with self._postgres_lock:
            postgres.stop()

    def _run(self, function: str, event: bytes) -> InvocationReport:
        return self.platform_faults.invoke(function, lambda hold: self.pools[function].invoke(event, hold))

    def _invoke_event(self, function: str, event: bytes) -> dict[str, Any]:
        """An invocation that is not an API request (a schedule's): how it went, and what it answered."""
        try:
            report = self._run(function, event)
        except Throttled:
            return {"outcome": "throttled"}
        try:
            response: Any = json.loads(report.body)
        except ValueError:
            response = report.body.decode(errors="replace")
        return {"outcome": report.outcome.value, "response": response}

    def trigger(self, schedule: str | None = None) -> dict[str, Any]:
        """Runs one of the template's schedules now (`Function.Event`, or the function's name)."""
        assert self.scheduler is not None
        if schedule is None:
            raise LocalCloudError(f"name a schedule: {', '.join(sorted(self.scheduler.schedules)) or 'the template has none'}")
        return self.scheduler.trigger(schedule)

    def _flags(self) -> FlagsFile:
        if self.flags is None:
            raise Conflict("this cloud was started without --flags: no feature flags to show or change")
        return self.flags

    def _describe_flags(self) -> dict[str, Any]:
        return self._flags().describe()

    def _set_flag(self, assignment: str | None = None) -> dict[str, Any]:
        described = self._flags().set(assignment or "")
        self.console.line(f"local cloud: feature flag {assignment}")
        return described

    def _add_fault(self, spec: str | None = None) -> dict[str, Any]:
        return self.platform_faults.add(spec or "")

    def _faults_off(self) -> dict[str, Any]:
        """Every platform fault off, and every feature flag back to its file's variant: all as it was."""
        # The flags first: whatever else fails, `faults-off` puts them back.
        described = {"flags": self.flags.reset()} if self.flags is not None else {}
        described["platform"] = self.platform_faults.clear()
        self.console.line("local cloud: every fault off" + (", every feature flag back to its variant" if self.flags else ""))
        return described

    def _flags_off(self) -> dict[str, Any]:
        described = self._flags().reset()
        self.console.line("local cloud: every feature flag back to its variant in " + str(self._flags().source))
        return described

    def recycle(self) -> dict[str, Any]:
        ended = sum(pool.recycle() for pool in self.pools.values())
        self.console.line(f"local cloud: recycled environments ({ended} ended); the next requests start cold")
        return {"recycled": ended}

    def status(self) -> dict[str, Any]:
        """Every execution environment of each function, with its state (initializing, busy, idle, frozen)."""
        return {
            name: [{"number": env.number, "pid": env.pid, "state": env.state} for env in pool.environments]
            for name, pool in self.pools.items()
        }

    def _on_stop(self, stop: Callable[[], None], first: bool = False) -> None:
        """Registers what `stop` ends (`first`: before what is registered already). Once the cloud
        is stopping (a SIGTERM during the start-up), it is ended at once and the start-up ends."""
        if self._stopped.is_set():
            stop()
            raise LocalCloudError("stopped during start-up")
        if first:
            self._stops.insert(0, stop)
        else:
            self._stops.append(stop)

    def stop(self) -> None:
        self._stopped.set()
        for stop in self._stops:
            try:
                stop()
            except Exception as error:
                print(f"local cloud: while stopping: {type(error).__name__}: {error}", file=sys.stderr)
        self._stops.clear()

    def _start_receiver(self) -> Callable[[], None]:
        options = self.options
        # Started by the thread that starts the cloud (the main one), it dies with the cloud, kill -9 included.
        return start_receiver(options.host, options.otlp_port, options.state_dir / "telemetry", dies_with_us=True)

    def _close_pools(self) -> None:
        for pool in self.pools.values():
            pool.close()

    def _reap(self) -> None:
        while not self._stopped.wait(1.0):
            for pool in self.pools.values():
                pool.reap_idle(self.options.idle_timeout_s)

    def _code_changed(self, path: Path) -> None:
        self.console.line(f"local cloud: {path.relative_to(self.options.template.parent)} changed")
        self.recycle()

    def _banner(self, template: templates.CloudTemplate) -> None:
        line = self.console.line
        line(f"SAM local cloud on {self.url} ({template.path.name})")
        for route in sorted(template.api.routes, key=lambda route: (route.path, route.methods)):
            for method in route.methods:
                line(f"  {method:6} {self.url}{route.path:34} -> {route.function_name}")
        assert self.scheduler is not None
        for schedule in self.scheduler.schedules.values():
            when = "on its own" if self.options.schedules and schedule.period_s else "when triggered"
            trigger = f"python -m localcloud schedule {schedule.function} --port {self.options.port}"
            line(f"  {schedule.expression:40} -> {schedule.name} ({when}; now: {trigger})")
        closed = sorted({f"{method} {path}" for (_, method, path), door in (self.access.doors if self.access else {}).items() if door.iam})
        if closed and self.admin is not None:
            line(f"  AWS_IAM (signed requests only): {', '.join(closed)}")
            line(f"  admin: profile {self.options.admin_profile} in {self.admin_credentials}, or")
            line(
                f'    curl --aws-sigv4 "aws:amz:{templates.REGION}:execute-api" --user "{self.admin.access_key}:$SECRET" {self.url}/…'
                f"  (SECRET: aws_secret_access_key in that file)"
            )
        if self.options.console_port is not None:
            line(f"  console: http://{CONSOLE_HOST}:{self.options.console_port}  (traces, logs, metrics, environments, faults, load)")
        telemetry = self.options.state_dir / "telemetry"
        line(f"  telemetry: OTLP on http://{self.options.host}:{self.options.otlp_port} -> {telemetry}/{{traces,metrics,logs}}.jsonl")
        line(
            f"  environments: up to {self.options.max_environments} per function, freeze {'on' if self.options.freeze else 'off'}, "
            f"idle ones end after {self.options.idle_timeout_s:g} s"
        )
        line(f"Ctrl-C stops everything. `python -m localcloud recycle --port {self.options.port}` makes the next requests cold.")

    def wait(self) -> None:
        # Not `_stopped.wait()`: that holds the Event's lock at moments, and a signal handler that
        # stops the cloud (sets `_stopped`) would then deadlock the main thread in itself.
        while not self._stopped.is_set():
            time.sleep(0.2)


def check_port_free(host: str, port: int, what: str) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise LocalCloudError(f"port {port} ({what}) is busy on {host}: {error.strerror}; free it or pass another port") from None


def startup_hook(spec: str) -> Callable[[StartupContext], None]:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):  # the hook's own module (or package) is missing
            raise LocalCloudError(f"start-up hook {spec!r} not found ({error}); give it as module:function") from None
        raise LocalCloudError(f"start-up hook {spec!r} could not be imported: {error}") from None
    except (ImportError, ValueError) as error:
        raise LocalCloudError(f"start-up hook {spec!r} could not be imported: {_first_line(error)}") from None
    hook: Callable[[StartupContext], None] | None = getattr(module, attribute, None)
    if hook is None:
        missing = f"no {attribute or 'function'} in {module_name}"
        raise LocalCloudError(f"start-up hook {spec!r} not found ({missing}); give it as module:function")
    return hook


def run_startup_hooks(hooks: list[tuple[str, Callable[[StartupContext], None]]], context: StartupContext) -> None:
    for hook, run in hooks:
        try:
            run(context)
        except LocalCloudError:
            raise
        except Exception as error:  # the application's start-up failed: say which hook and why, in one line
            raise LocalCloudError(f"start-up hook {hook} failed: {type(error).__name__}: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0]


def start_receiver(host: str, port: int, directory: Path, *, dies_with_us: bool = False) -> Callable[[], None]:
    """The OTLP receiver in a process of its own, as a Collector would run (see otlp.main), once
    it listens; returns what stops it. `dies_with_us`: it gets SIGTERM when this process dies,
    kill -9 included (the kernel sends it when the thread that started it ends: start it from
    the main thread)."""
    command = [sys.executable, "-m", "localcloud.otlp", "--host", host, "--port", str(port), "--dir", str(directory)]
    if dies_with_us:
        command += ["--parent", str(os.getpid())]
    preexec = terminated_with(os.getpid()) if dies_with_us else None
    process = subprocess.Popen(command, preexec_fn=preexec)  # noqa: S603 - our own module

    def stop() -> None:
        process.terminate()
        process.wait(timeout=30)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalCloudError(f"the OTLP receiver exited ({process.returncode}) before listening on port {port}")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return stop
        time.sleep(0.05)
    stop()
    raise LocalCloudError(f"the OTLP receiver did not listen on port {port} within 30 s")
