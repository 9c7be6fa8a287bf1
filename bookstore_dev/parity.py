"""`make parity`: one template, three clouds. One scripted run against each of the local cloud,
LocalStack without Docker and the real `sam local start-api`, one after the other (each started as
a person starts it, then stopped), printed as one side-by-side table and saved as JSON
(bench/results/parity.json; `--markdown FILE` writes the table too).

The script, the same on every cloud: a cold list, an order (every function of its chain cold), a
warm order, a declined card, bad input, an anonymous call to an internal route and a signed one.
For each step: the status, the latency the client saw, the SERVER spans of its trace (named by
route), their `faas.coldstart`, the init spans, and the `Init Duration` of the REPORT lines it
caused. The contract rows (statuses but the anonymous call's, span names, cold then warm) must
agree: tests/samlocal/test_parity.py checks it.

    python -m bookstore_dev.parity [--clouds localcloud,localstack,samlocal] [--out FILE] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bookstore_dev.clouds import CLOUDS, Cloud, cloud_names, runnable
from bookstore_dev.template import ROOT
from localcloud.process import wait_until
from localcloud.traceview import Trace
from tests.support.bookstore import CARD_APPROVED, CARD_DECLINED

RESULTS = ROOT / "bench" / "results" / "parity.json"
TIMEOUT_S = 120
BOOK = 1  # the start-up hook's first sample book
REPORT = re.compile(r"REPORT RequestId: (?P<id>[\w-]+)(?P<rest>.*)")
INIT_DURATION = re.compile(r"Init Duration: ([\d.]+) ms")
# REPORT comes when an invocation ends, its extensions' work included: a moment after its spans.
REPORT_TIMEOUT_S = 15
# The steps whose outcome is the HTTP contract's, the same on every cloud (the anonymous call's
# depends on whether the cloud enforces AWS_IAM, which is the row that says it).
CONTRACT_STEPS = ("cold list", "order", "warm order", "declined card", "bad input", "signed internal call")
ANONYMOUS = "anonymous internal call"
# Telemetry arrives after the response (the extension exports then): a trace is read once its spans stop changing.
SETTLED_S = 2.0


@dataclass
class Step:
    name: str
    status: int
    latency_ms: float
    servers: list[str] = field(default_factory=list)  # the SERVER spans of its trace, by route, sorted
    coldstart: dict[str, bool] = field(default_factory=dict)  # each SERVER span's faas.coldstart
    init_spans: int = 0
    init_duration_ms: list[float] = field(default_factory=list)  # from the REPORT lines it caused
    body: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass
class Run:
    cloud: str
    steps: list[Step]
    iam_enforced: bool
    started_s: float  # from the command to serving


def scripted_run(cloud: Cloud, started_s: float) -> Run:
    books, orders, payments = cloud.url("cadastro-de-livros"), cloud.url("ordem-de-compra"), cloud.url("pagamento")
    order = {"livro_id": BOOK, "quantidade": 1, "cartao": CARD_APPROVED}
    plan: list[tuple[str, str, str, dict[str, Any]]] = [
        ("cold list", "GET", f"{books}/livros", {}),
        ("order", "POST", f"{orders}/ordens", {"json": order}),
        ("warm order", "POST", f"{orders}/ordens", {"json": order}),
        ("declined card", "POST", f"{orders}/ordens", {"json": {**order, "cartao": CARD_DECLINED}}),
        ("bad input", "POST", f"{orders}/ordens", {"json": {**order, "quantidade": 0}}),
        (ANONYMOUS, "POST", f"{payments}/pagamentos", {"json": {"ordem_id": str(uuid.uuid4()), "valor": "1.00", "cartao": CARD_APPROVED}}),
    ]
    steps: list[tuple[Step, str]] = []
    with httpx.Client(timeout=TIMEOUT_S) as client:
        for name, method, url, request in plan:
            steps.append(_step(cloud, client, name, method, url, request))
        paid = steps[1][0].body.get("pagamento_id", "0")
        signed = _step(cloud, client, "signed internal call", "GET", f"{payments}/pagamentos/{paid}", {"auth": cloud.admin})
        steps.append(signed)
    for step, trace_id in steps:
        trace = _settled_trace(cloud, trace_id, served=step.status != 403)  # a door's 403 runs no function
        servers = [span for span in trace.spans if span.kind == "server"]
        step.servers = sorted(span.name for span in servers)
        step.coldstart = {span.name: bool(span.attributes.get("faas.coldstart")) for span in servers}
        step.init_spans = sum(1 for span in trace.spans if span.name == "init")
        step.init_duration_ms = _init_durations(cloud, {str(span.attributes.get("faas.invocation_id")) for span in servers})
    anonymous = next(step for step, _ in steps if step.name == ANONYMOUS)
    return Run(cloud.name, [step for step, _ in steps], anonymous.status == 403, started_s)


def _step(cloud: Cloud, client: httpx.Client, name: str, method: str, url: str, request: dict[str, Any]) -> tuple[Step, str]:
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    started = time.perf_counter()
    response = client.request(method, url, headers=headers, **request)
    latency_ms = (time.perf_counter() - started) * 1000
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    step = Step(name, response.status_code, round(latency_ms, 1), body=body if isinstance(body, dict) else {})
    return step, trace_id


def _init_durations(cloud: Cloud, invocations: set[str]) -> list[float]:
    """The Init Duration of each of these invocations' REPORT lines that has one (a cold start)."""

    def reported() -> dict[str, str] | None:
        lines = {match["id"]: match["rest"] for match in REPORT.finditer(cloud.output()) if match["id"] in invocations}
        return lines if set(lines) >= invocations else None

    try:
        lines = wait_until(reported, "the REPORT lines of the step's invocations", timeout_s=REPORT_TIMEOUT_S)
    except TimeoutError:  # said, and the table shows the ones that came
        lines = {match["id"]: match["rest"] for match in REPORT.finditer(cloud.output()) if match["id"] in invocations}
        print(f"parity: {cloud.name} printed no REPORT line for {sorted(invocations - set(lines))}", file=sys.stderr)
    return sorted(float(found[1]) for rest in lines.values() if (found := INIT_DURATION.search(rest)))


def _settled_trace(cloud: Cloud, trace_id: str, served: bool) -> Trace:
    """The trace once it holds a SERVER span and no span misses its parent (when a function
    `served` the step), and its spans have then stopped arriving for a moment."""
    seen: list[tuple[int, float]] = []

    def settled() -> Trace | None:
        trace = Trace(trace_id, [span for span in cloud.spans() if span.trace_id == trace_id])
        if served and (not any(span.kind == "server" for span in trace.spans) or trace.orphans()):
            return None
        now = time.monotonic()
        if not seen or seen[-1][0] != len(trace.spans):
            seen.append((len(trace.spans), now))
            return None
        return trace if now - seen[-1][1] >= SETTLED_S else None

    return wait_until(settled, f"trace {trace_id} settled", timeout_s=60)


def contract(run: Run) -> dict[str, Any]:
    """What must be the same on every cloud."""
    steps = {step.name: step for step in run.steps}
    rows: dict[str, Any] = {f"{name}: status": steps[name].status for name in CONTRACT_STEPS}
    rows |= {f"{name}: SERVER spans": steps[name].servers for name in CONTRACT_STEPS}
    rows["cold list: cold start"] = all(steps["cold list"].coldstart.values()) and bool(steps["cold list"].coldstart)
    rows["order: every function cold"] = all(steps["order"].coldstart.values()) and bool(steps["order"].coldstart)
    rows["order: init spans"] = steps["order"].init_spans
    # Not here: whether the warm order found every environment idle. The local cloud's may still be
    # exporting the last order's telemetry after its answer, and start another (README "Parity").
    return rows


def disagreements(contracts: dict[str, dict[str, Any]]) -> list[str]:
    """The contract rows on which the clouds do not all agree."""
    keys = next(iter(contracts.values()), {})
    return [key for key in keys if len({json.dumps(rows.get(key)) for rows in contracts.values()}) > 1]


def table(runs: list[Run]) -> str:
    """One side-by-side markdown table: a row per step and measure, a column per cloud."""
    lines = ["| step | measure | " + " | ".join(run.cloud for run in runs) + " |", "|---|---|" + "---|" * len(runs)]

    def row(step: str, measure: str, values: list[str]) -> None:
        lines.append(f"| {step} | {measure} | " + " | ".join(values) + " |")

    row("start", "from the command to serving (s)", [f"{run.started_s:.0f}" for run in runs])
    row("IAM", "AWS_IAM enforced", ["yes" if run.iam_enforced else "**no**" for run in runs])
    for index, name in enumerate(step.name for step in runs[0].steps):
        steps = [run.steps[index] for run in runs]
        row(name, "status", [str(step.status) for step in steps])
        row(name, "latency (ms)", [f"{step.latency_ms:.0f}" for step in steps])
        row(name, "SERVER spans", ["<br>".join(step.servers) or "—" for step in steps])
        row(name, "faas.coldstart", [_coldstart(step) for step in steps])
        row(name, "init spans", [str(step.init_spans) for step in steps])
        row(name, "REPORT Init Duration (ms)", [", ".join(f"{value:.0f}" for value in step.init_duration_ms) or "—" for step in steps])
    return "\n".join(lines)


def _coldstart(step: Step) -> str:
    values = set(step.coldstart.values())
    return "—" if not values else "true" if values == {True} else "false" if values == {False} else "mixed"


def run_clouds(names: list[str]) -> list[Run]:
    runs = []
    for name in runnable(names, "parity"):
        print(f"parity: starting {name}…", file=sys.stderr, flush=True)
        started = time.monotonic()
        with CLOUDS[name]() as cloud:
            runs.append(scripted_run(cloud, time.monotonic() - started))
        print(f"parity: {name} done", file=sys.stderr, flush=True)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bookstore_dev.parity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clouds", default=",".join(CLOUDS), help=f"which, in order (default {','.join(CLOUDS)})")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"the JSON results (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--markdown", type=Path, help="also write the table there")
    args = parser.parse_args(argv)
    try:
        names = cloud_names(args.clouds)
    except ValueError as error:
        parser.error(str(error))
    runs = run_clouds(names)
    if not runs:
        print("parity: no cloud can run here", file=sys.stderr)
        return 1
    rendered = table(runs)
    print(rendered)
    document = {
        "machine": {"platform": platform.platform(), "cpus": _cpus(), "python": platform.python_version()},
        "runs": [{**asdict(run), "steps": [{k: v for k, v in asdict(step).items() if k != "body"} for step in run.steps]} for run in runs],
        "contract": {run.cloud: contract(run) for run in runs},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    if args.markdown:
        args.markdown.write_text(rendered + "\n")
    disagree = disagreements({run.cloud: contract(run) for run in runs})
    if disagree:
        print(f"parity: the clouds disagree on {disagree}", file=sys.stderr)
        return 1
    return 0


def _cpus() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
