"""The console's pages: a small server-rendered Flask app; htmx (vendored, `static/`) refreshes
the lists and charts in place and sends the cloud's switches. No build step, no script of ours.

The console is this machine's operator's: it listens on loopback, answers only requests whose
`Host` names it (a DNS-rebinding page cannot read it) and takes actions only from its own pages
(an `HX-Request` header, which a cross-site form cannot send without a preflight it never gets).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask
from flask import Response, abort, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from localcloud.console import charts
from localcloud.console.load import LoadGenerator
from localcloud.console.store import LogQuery, TelemetryStore, TraceQuery, walk
from localcloud.errors import LocalCloudError

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
STATES = ("initializing", "busy", "idle", "frozen")
SAMPLE_EVERY_S = 2.0
SEVERITIES = {"": 0, "INFO": 9, "WARN": 13, "ERROR": 17}
Control = dict[str, Callable[..., dict[str, Any]]]
SECURITY_HEADERS = {
    # Our pages, our stylesheet, the vendored htmx; the bars' positions are inline styles.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class EnvironmentSampler:
    """The cloud's environments by state, every two seconds, for the chart of environments alive."""

    def __init__(self, status: Callable[[], dict[str, Any]], keep: int = 3600) -> None:
        self.samples: deque[tuple[int, dict[str, int]]] = deque(maxlen=keep)
        self._status = status
        self._stopped = threading.Event()

    def sample(self) -> None:
        states = dict.fromkeys(STATES, 0)
        for environments in self._status().values():
            for environment in environments:
                states[environment["state"]] = states.get(environment["state"], 0) + 1
        self.samples.append((time.time_ns(), states))

    def start(self) -> Callable[[], None]:
        def run() -> None:
            while not self._stopped.wait(SAMPLE_EVERY_S):
                self.sample()

        self.sample()
        threading.Thread(target=run, name="console-sampler", daemon=True).start()
        return self._stopped.set


def create_app(
    store: TelemetryStore,
    port: int,
    control: Control | None = None,
    load: LoadGenerator | None = None,
    sampler: EnvironmentSampler | None = None,
) -> flask.Flask:
    """The console on `port` (the Host header must name it), reading `store`; `control` (the
    cloud's control actions), `load` and `sampler` add the cloud's page and its environments
    chart; without them it shows telemetry only (files a Collector wrote, say)."""
    app = flask.Flask(__name__, static_folder=str(Path(__file__).parent / "static"))
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    app.jinja_env.filters["clock"] = _clock
    app.jinja_env.filters["number"] = charts.describe
    app.jinja_env.globals["has_cloud"] = control is not None

    @app.before_request
    def guard() -> Response | None:
        if request.remote_addr not in LOOPBACK or request.host not in hosts:
            return Response("The console answers this machine only, at 127.0.0.1 or localhost", status=403, mimetype="text/plain")
        if request.method == "POST":
            origin = request.headers.get("Origin")
            site = request.headers.get("Sec-Fetch-Site", "same-origin")
            if (
                request.headers.get("HX-Request") != "true"
                or (origin is not None and origin.removeprefix("http://") not in hosts)
                or site not in {"same-origin", "none"}
            ):
                return Response("The console's actions come from its own pages", status=403, mimetype="text/plain")
        store.refresh()
        return None

    @app.after_request
    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/")
    def home() -> WerkzeugResponse:
        return flask.redirect("/traces")

    # --- traces ------------------------------------------------------------------------------

    def trace_query() -> TraceQuery:
        return TraceQuery(
            service=request.args.get("service", ""),
            route=request.args.get("route", ""),
            status=request.args.get("status", "").strip(),
            errors_only=request.args.get("errors") == "on",
            min_ms=_number(request.args.get("min_ms"), 0.0),
            cold_only=request.args.get("cold") == "on",
        )

    @app.get("/traces")
    def traces() -> str:
        return render_template("traces.html", services=store.services(), routes=store.routes(), query=trace_query(), page="traces")

    @app.get("/traces/rows")
    def trace_rows() -> str:
        return render_template("trace_rows.html", traces=store.traces(trace_query()))

    @app.get("/traces/<trace_id>")
    def trace(trace_id: str) -> str:
        found = store.trace(trace_id)
        if found is None:
            abort(404, f"no trace {trace_id} in the telemetry files (yet: each function exports after its answer)")
        rows = list(walk(found))
        logs = sorted(store.log_records(LogQuery(trace_id=trace_id, limit=1000)), key=lambda record: record.time_ns)
        logs_by_span: dict[str, list[Any]] = {}
        for record in logs:
            logs_by_span.setdefault(record.span_id, []).append(record)
        services = sorted({span.service for span, _, _ in rows})
        return render_template(
            "trace.html",
            trace=found,
            rows=rows,
            logs=logs,
            logs_by_span=logs_by_span,
            colors={service: index for index, service in enumerate(services)},
            selected=request.args.get("span", ""),
            start_ns=found.start_ns,
            total_ns=max(found.end_ns - found.start_ns, 1),
            page="traces",
        )

    # --- logs --------------------------------------------------------------------------------

    def log_query() -> LogQuery:
        return LogQuery(
            service=request.args.get("service", ""),
            min_severity=SEVERITIES.get(request.args.get("severity", ""), 0),
            text=request.args.get("text", ""),
            trace_id=request.args.get("trace", "").strip(),
        )

    @app.get("/logs")
    def logs() -> str:
        return render_template("logs.html", services=store.services(), severities=SEVERITIES, query=log_query(), page="logs")

    @app.get("/logs/rows")
    def log_rows() -> str:
        return render_template("log_rows.html", records=store.log_records(log_query()))

    # --- metrics -------------------------------------------------------------------------------

    @app.get("/metrics")
    def metrics() -> str:
        return render_template("metrics.html", windows=charts.WINDOWS, window=_window(), page="metrics")

    @app.get("/metrics/panel")
    def metrics_panel() -> str:
        window = _window()
        window_s = charts.WINDOWS[window]
        buckets = charts.Buckets.ending(time.time_ns(), window_s)
        snapshot = store.since(buckets.start_ns)
        lambda_charts = charts.lambda_charts(snapshot, buckets)
        if sampler is not None:
            lambda_charts.append(charts.environment_chart(sampler.samples, buckets))
        return render_template(
            "metrics_panel.html",
            red=charts.red_table(snapshot.invocations, window_s),
            red_charts=charts.red_charts(snapshot, buckets),
            lambda_charts=lambda_charts,
            metric_charts=charts.metric_charts(snapshot, buckets),
            buckets=buckets,
            window=window,
            refresh_s=charts.REFRESH_S[window],
        )

    # --- the local cloud ---------------------------------------------------------------------

    if control is not None:
        cloud_actions(app, control, load)
    return app


def cloud_actions(app: flask.Flask, control: Control, load: LoadGenerator | None) -> None:
    """The cloud's page: functions and environments, recycle, feature flags, platform faults, load."""

    def live(message: str = "", status: int = 200) -> tuple[str, int]:
        described = load.describe() if load else None
        return render_template(
            "cloud_live.html", functions=control["status"](), load=described, message=message, failed=status >= 400
        ), status

    def controls(message: str = "", status: int = 200) -> tuple[str, int]:
        flags = _described(control["flags"])
        return render_template(
            "cloud_controls.html",
            flags=flags if isinstance(flags, dict) else {},
            flags_error=flags if isinstance(flags, str) else "",
            faults=control["faults"]().get("faults", []),
            message=message,
            failed=status >= 400,
        ), status

    Panel = Callable[[str, int], tuple[str, int]]

    def act(action: Callable[[], Any], done: str, panel: Panel = controls) -> tuple[str, int]:
        try:
            action()
        except LocalCloudError as error:
            return panel(str(error), error.status)
        return panel(done, 200)

    @app.get("/cloud")
    def cloud() -> str:
        return render_template("cloud.html", page="cloud")

    @app.get("/cloud/live")
    def cloud_live() -> tuple[str, int]:
        return live()

    @app.get("/cloud/controls")
    def cloud_controls() -> tuple[str, int]:
        return controls()

    @app.post("/cloud/recycle")
    def recycle() -> tuple[str, int]:
        return act(control["recycle"], "recycled: the next requests start cold", live)

    @app.post("/cloud/flag")
    def flag() -> tuple[str, int]:
        assignment = f"{request.form.get('name', '')}={request.form.get('variant', '')}"
        return act(lambda: control["flag"](assignment), f"feature flag {assignment}")

    @app.post("/cloud/fault")
    def fault() -> tuple[str, int]:
        spec = request.form.get("spec", "").strip()
        return act(lambda: control["fault"](spec), f"fault {spec} on")

    @app.post("/cloud/faults-off")
    def faults_off() -> tuple[str, int]:
        return act(control["faults-off"], "every fault off, every feature flag back to its file's variant")

    if load is not None:

        @app.post("/cloud/load/start")
        def load_start() -> tuple[str, int]:
            return act(load.start, "load generator started", live)

        @app.post("/cloud/load/stop")
        def load_stop() -> tuple[str, int]:
            return act(load.stop, "load generator stopped", live)


def _described(describe: Callable[[], dict[str, Any]]) -> dict[str, Any] | str:
    try:
        return describe()
    except LocalCloudError as error:  # no --flags, or a flags file being edited by hand
        return str(error)


def _window() -> str:
    window = request.args.get("window", "5m")
    return window if window in charts.WINDOWS else "5m"


def _number(text: str | None, default: float) -> float:
    try:
        value = float(text or default)
    except ValueError:
        return default
    return value if value >= 0 and math.isfinite(value) else default


def _clock(time_ns: int) -> str:
    try:
        return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).astimezone().strftime("%H:%M:%S.%f")[:-3]
    except (ValueError, OverflowError, OSError):  # a time no clock shows (a file no SDK wrote): the number
        return str(time_ns)
