"""The local cloud's console: traces, logs and metrics live in the browser, and the cloud's own
state and switches (http://127.0.0.1:3001 beside `make run`; `python -m localcloud.console` on
files a Collector wrote).

    store.py     the telemetry files, followed as they grow (the Collector `file` exporter's format)
    charts.py    RED per route, cold starts, Init Duration, memory, each exported metric: buckets,
                 with an exemplar trace per point
    app.py       the pages (Flask, Jinja, vendored htmx), loopback only
    load.py      the load generator the cloud's page starts and stops
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from localcloud.apigateway import Server
from localcloud.console.app import Control, EnvironmentSampler, create_app
from localcloud.console.load import LoadGenerator
from localcloud.console.store import TelemetryStore
from localcloud.errors import LocalCloudError

HOST = "127.0.0.1"  # always: the console shows every request's telemetry and holds the cloud's switches


def start_console(directory: Path, port: int, control: Control | None = None, load: LoadGenerator | None = None) -> Callable[[], None]:
    """Serves the console of the telemetry files in `directory` on 127.0.0.1:`port`; returns what stops it."""
    sampler = EnvironmentSampler(control["status"]) if control else None
    app = create_app(TelemetryStore(directory), port, control, load, sampler)
    try:
        server = Server(app, HOST, port, "console").start()
    except OSError as error:
        raise LocalCloudError(f"port {port} (console) is busy on {HOST}: {error.strerror}; free it or pass --console-port") from None
    stop_sampler = sampler.start() if sampler else (lambda: None)

    def stop() -> None:
        stop_sampler()
        if load is not None:
            load.stop()
        server.stop()

    return stop
