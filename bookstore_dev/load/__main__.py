"""`make load`: Locust's buyers against the Bookstore on this machine's local cloud, headless and
bounded by default, then a summary.

    python -m bookstore_dev.load                                 8 users for 60 s on http://127.0.0.1:3000
    python -m bookstore_dev.load --users 16 --run-time 2m
    python -m bookstore_dev.load --web                           Locust's web UI on http://127.0.0.1:8089
    make load ARGS="--users 16 --run-time 2m"

Locust runs as its own process (`python -m locust`): it monkey-patches the standard library with
gevent, which belongs nowhere else. Its statistics (CSV), the requests log (one JSON line per
request, with its trace id) and stats.json stay in --out (.local/load) after the run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from bookstore_dev.clients import DEFAULT_CREDENTIALS
from bookstore_dev.load import common
from bookstore_dev.load.summary import render
from bookstore_dev.template import ROOT
from localcloud.lifetime import terminated_with

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"


def locust_command(args: argparse.Namespace) -> list[str]:
    out: Path = args.out
    command = [sys.executable, "-m", "locust", "--locustfile", str(LOCUSTFILE), "--host", args.host]
    command += ["--users", str(args.users), "--spawn-rate", str(args.spawn_rate), "--run-time", args.run_time]
    command += ["--csv", str(out / common.STATS_PREFIX), "--only-summary"]
    # With a JSON file, Locust leaves its wide end-of-run tables unprinted: the summary below says the same, by route.
    command += ["--json-file", str(out / "stats")]
    command += ["--admin-credentials", str(args.credentials.resolve()), "--requests-log", str(out / common.REQUESTS_LOG)]
    if args.profile:
        command += ["--admin-profile", args.profile]
    if args.web:
        # Loopback only, started at once and bounded like a headless run; the page stays up for a
        # while after it (--autoquit) to be read, or until Ctrl-C.
        command += ["--web-host", "127.0.0.1", "--web-port", str(args.web_port), "--autostart", "--autoquit", str(args.autoquit)]
    else:
        command += ["--headless"]
    return command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bookstore_dev.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-H", "--host", default=common.DEFAULT_HOST, help=f"the local cloud (default {common.DEFAULT_HOST}; loopback only)")
    parser.add_argument("-u", "--users", type=int, default=8, help="concurrent buyers (default 8)")
    parser.add_argument("-r", "--spawn-rate", type=float, default=2, help="buyers started per second (default 2): gradual cold starts")
    parser.add_argument("-t", "--run-time", default="60s", help="how long, e.g. 60s, 2m (default 60s)")
    parser.add_argument("--web", action="store_true", help="Locust's web UI on 127.0.0.1 (the run starts at once)")
    parser.add_argument("--web-port", type=int, default=8089)
    parser.add_argument("--autoquit", type=int, default=300, help="with --web: seconds the UI stays up after the run (default 300)")
    parser.add_argument("--out", type=Path, default=Path(".local/load"), help="where the statistics and requests log go (.local/load)")
    parser.add_argument("--credentials", type=Path, default=DEFAULT_CREDENTIALS, help="the local cloud's admin identity, for the set-up")
    parser.add_argument("--profile", help="its profile (default: the file's only one)")
    args = parser.parse_args(argv)
    if not common.is_loopback(args.host):
        print(common.refusal(args.host), file=sys.stderr)
        return 2
    if args.users < 1:
        parser.error("--users must be at least 1")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in (*args.out.glob(f"{common.STATS_PREFIX}_*.csv"), args.out / common.REQUESTS_LOG, args.out / "stats.json"):
        stale.unlink(missing_ok=True)  # a summary of this run only
    # Locust ends with us, even when we are killed outright (the console's Stop, a killed cloud).
    locust = subprocess.Popen(locust_command(args), cwd=ROOT, preexec_fn=terminated_with(os.getpid()))  # noqa: S603 - our locustfile; prctl only
    # Ctrl-C reaches Locust too (same process group), which stops and writes its statistics: wait for it, then summarise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code = locust.wait()
    summary = render(args.out)
    if summary is None:
        return code or 1  # a refusal or a failed set-up, which Locust's process said in one line
    print(summary, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
