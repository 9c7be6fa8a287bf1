"""python -m localcloud [options]      run the local cloud in the foreground (Ctrl-C stops it)
python -m localcloud recycle         end every execution environment: the next requests start cold
python -m localcloud status          list every execution environment and its state
python -m localcloud schedule NAME   run one of the template's schedules now (Function.Event, or the function)
python -m localcloud flags           the functions' feature flags (with --flags FILE): each one's variant
python -m localcloud flag NAME=VARIANT   one flag to one of its variants, live
python -m localcloud flags-off       every flag back to FILE's variant
python -m localcloud fault SPEC      a platform fault, live: TARGET:KIND[=VALUE][@PERCENT] (see localcloud.platform_faults)
python -m localcloud faults          the platform faults on
python -m localcloud faults-off      every platform fault off, and every flag back to FILE's variant

The template (template.yaml in the current directory by default) is the list of functions and
routes. What the application needs at start-up (databases, secrets, seed data) comes from the
hooks given with --startup module:function (see localcloud.cloud.StartupContext)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from localcloud.cloud import LocalCloud, Options
from localcloud.errors import LocalCloudError


def parse_overrides(values: list[str]) -> dict[str, str]:
    overrides = {}
    for item in values:
        for pair in item.split():
            name, separator, value = pair.partition("=")
            if not separator:
                raise LocalCloudError(f"--parameter-overrides takes Name=Value pairs, not {pair!r}")
            overrides[name.removeprefix("ParameterKey=")] = value
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localcloud", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = ["serve", "recycle", "status", "schedule", "flags", "flag", "flags-off", "faults", "fault", "faults-off"]
    parser.add_argument("command", nargs="?", default="serve", choices=commands)
    parser.add_argument("name", nargs="?", help="schedule: which one; flag: name=variant")
    parser.add_argument("--template", "-t", type=Path, default=Path("template.yaml"), help="default ./template.yaml, as sam local")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", "-p", type=int, default=3000, help="API port (default 3000, as sam local)")
    parser.add_argument("--otlp-port", type=int, default=4318, help="OTLP/HTTP receiver port (default 4318)")
    parser.add_argument("--otlp-endpoint", help="send the functions' telemetry there instead (a Collector, Jaeger…)")
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="Name=Value", help="as sam local")
    parser.add_argument("--env-vars", "-n", type=Path, help="JSON file of environment overrides, in the sam local format")
    parser.add_argument("--no-freeze", dest="freeze", action="store_false", help="keep environments running between invocations")
    parser.add_argument("--max-environments", type=int, default=5, help="per function, unless reserved concurrency says (default 5)")
    parser.add_argument("--throttle-wait", type=float, default=5.0, help="seconds a request waits for a free environment at the limit")
    parser.add_argument("--idle-timeout", type=float, default=600.0, help="seconds before an idle environment ends (default 600)")
    parser.add_argument("--no-watch", dest="watch", action="store_false", help="no hot reload on code changes")
    parser.add_argument("--no-schedules", dest="schedules", action="store_false", help="run schedules only when triggered")
    parser.add_argument("--admin-profile", default="localcloud-admin", help="profile of the admin identity in STATE_DIR/admin-credentials")
    parser.add_argument("--state-dir", type=Path, default=Path(".local"), help="data, packages and telemetry (default ./.local)")
    parser.add_argument("--build-dir", type=Path, help="where the environments' packages are installed (default STATE_DIR/build)")
    parser.add_argument("--flags", type=Path, help="a flagd flag-definition file: the functions' feature flags (see flags, flag)")
    parser.add_argument("--console-port", type=int, default=3001, help="the console, on 127.0.0.1 (default 3001)")
    parser.add_argument("--no-console", dest="console", action="store_false", help="no console")
    parser.add_argument("--database-url", help="use this PostgreSQL (a superuser DSN) instead of the embedded one")
    parser.add_argument(
        "--startup", action="append", default=[], metavar="MODULE:FUNCTION", help="a start-up hook (repeatable), see StartupContext"
    )
    args = parser.parse_args(argv)
    if (args.name is not None) != (args.command in {"schedule", "flag", "fault"}):
        parser.error(
            "only schedule, flag and fault take an argument (flag NAME=VARIANT, fault TARGET:KIND[=VALUE][@PERCENT]), and they need one"
        )

    try:
        if args.command != "serve":
            return control(args.command, args.host, args.port, args.name)
        options = Options(
            template=args.template.resolve(),
            state_dir=args.state_dir.resolve(),
            host=args.host,
            port=args.port,
            otlp_port=args.otlp_port,
            parameter_overrides=parse_overrides(args.parameter_overrides),
            env_vars=args.env_vars,
            freeze=args.freeze,
            max_environments=args.max_environments,
            idle_timeout_s=args.idle_timeout,
            throttle_wait_s=args.throttle_wait,
            watch=args.watch,
            database_url=args.database_url,
            build_dir=args.build_dir.resolve() if args.build_dir else None,
            otlp_endpoint=args.otlp_endpoint,
            startup=tuple(args.startup),
            schedules=args.schedules,
            admin_profile=args.admin_profile,
            flags=args.flags.resolve() if args.flags else None,
            console_port=args.console_port if args.console else None,
        )
        cloud = LocalCloud(options)
        signalled: list[int] = []

        def on_signal(signum: int, frame: object) -> None:
            # Once: a second Ctrl-C while stopping would run stop() inside stop(), and stop() sets
            # an Event (a lock) the interrupted stop() may hold — the OTLP receiver was found
            # deadlocked that way in its own handler.
            if not signalled:
                signalled.append(signum)
                cloud.stop()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        cloud.start()
        cloud.wait()
        return 0
    except LocalCloudError as error:
        print(f"local cloud: error: {error}", file=sys.stderr)
        return 2


def control(command: str, host: str, port: int, name: str | None = None) -> int:
    path = f"/_localcloud/{command}" + (f"/{urllib.parse.quote(name, safe='')}" if name else "")
    request = urllib.request.Request(f"http://{host}:{port}{path}", method="POST", data=b"")
    try:
        # A schedule's run lasts as long as its function may (a minute or more).
        with urllib.request.urlopen(request, timeout=None if command == "schedule" else 10) as response:  # noqa: S310 - our own loopback control URL
            print(json.dumps(json.load(response), indent=2, ensure_ascii=False))
    except urllib.error.HTTPError as error:
        raise LocalCloudError(json.load(error).get("message", str(error))) from None
    except OSError as error:
        raise LocalCloudError(f"no local cloud answers on {host}:{port} ({error})") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
