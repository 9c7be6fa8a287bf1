"""`make bench`: latency and throughput through the local cloud, a benchmark (numbers to read), not a test.

One local cloud per telemetry mode runs side by side, and every measurement alternates between
them, so all see the same machine at the same moment (`--modes`, default all three):

- `off`: OpenTelemetry off (`OtelSdkDisabled=true`);
- `flush`: spans, metrics and logs flushed before the response (`TelemetryExport=flush`);
- `extension`: exported after the response by a Lambda internal extension (`TelemetryExport=extension`).

Against them, the limit: the same handlers called in one process behind the same API Gateway app,
with no Lambda emulation and OpenTelemetry off (bench/inprocess_limit.py). Measured:

- warm latency, p50 and p99, of `GET /livros/{id}` and `POST /ordens` as a client sees it, the
  requests of the modes and of the limit interleaved;
- warm `POST /ordens` under load: throughput and p50/p99 at each `--concurrency` level, a
  closed loop of that many clients sending `--concurrent-requests` orders, every mode in turn at
  each level after bursts that leave no environment to start; answers >= 400 are counted as errors;
- the cold start of every function, `off` against the default on-mode (`extension` if measured,
  else `flush`): Init Duration from its REPORT line, and the latency of the request that paid for it.

Every warm figure is also given as a ratio to the limit's. Results go to
bench/results/localcloud.json and are printed as markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bench.inprocess_limit import in_process_limit
from bench.load import LoadResult, closed_loop, percentile, timed
from bookstore_dev.clients import admin_auth
from bookstore_dev.template import ROOT, load
from localcloud.process import LocalCloudProcess
from tests.support.bookstore import CARD_APPROVED, new_book, order
from tests.support.cloud import bookstore_cloud

RESULTS = ROOT / "bench" / "results"
# Each mode's parameter overrides.
MODES = {
    "off": {"OtelSdkDisabled": "true"},
    "flush": {"TelemetryExport": "flush"},
    "extension": {"TelemetryExport": "extension"},
}
OFF = "off"
LIMIT = "in_process"
STOCK = 1_000_000
# Bursts that may still start environments before a concurrency level is measured.
WARM_UP_BURSTS = 6


@dataclass(frozen=True)
class Target:
    """What a measurement sends requests to: one mode's local cloud, or the in-process limit."""

    label: str
    new_client: Callable[[], httpx.Client]  # unsigned, as buyers call the measured routes; one per caller (a connection each)
    book_id: int  # a book whose stock outlasts every order of the run
    cloud: LocalCloudProcess | None = None  # None: the limit, which has no execution environments

    def environments(self) -> int:
        assert self.cloud is not None
        return sum(len(environments) for environments in self.cloud.status().values())


def new_target(label: str, url: str, cloud: LocalCloudProcess | None = None) -> Target:
    """The target at `url`, with a book of its own; a cloud's admin creates it (POST /livros is
    closed), the limit has no AWS_IAM to close it."""
    auth = admin_auth(cloud.admin_credentials) if cloud is not None else None
    with httpx.Client(base_url=url, timeout=60, auth=auth) as admin:
        book = new_book(admin, estoque=STOCK)
    return Target(label, lambda: httpx.Client(base_url=url, timeout=60), book["id"], cloud)


def mode_overrides(mode: str, parameters: set[str]) -> dict[str, str]:
    """The mode's overrides, refused when the template lacks one: SAM ignores an unknown
    parameter, and the mode would silently measure the template's default instead."""
    overrides = MODES[mode]
    missing = sorted(name for name in overrides if name not in parameters)
    if not missing:
        return overrides
    if mode == "flush":
        return {}  # a template from before TelemetryExport: flushing before the response is all it does
    raise SystemExit(f"mode {mode}: template.yaml has no parameter {', '.join(missing)}; measure other --modes")


def warm_latency(name: str, calls: dict[str, Callable[[], httpx.Response]], requests: int) -> dict[str, Any]:
    """p50/p99 per target, the requests of the targets interleaved, and each as a ratio to the limit's."""
    for call in calls.values():
        for _ in range(10):  # warm every environment the path uses
            call()
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(requests):
        for label, call in calls.items():
            samples[label].append(timed(call))
    row: dict[str, Any] = {"route": name, "requests": requests}
    for label, values in samples.items():
        row[f"{label}_p50_ms"] = percentile(values, 0.5)
        row[f"{label}_p99_ms"] = percentile(values, 0.99)
    for label in calls:
        for stat in ("p50", "p99"):
            row[f"{label}_{stat}_to_limit"] = row[f"{label}_{stat}_ms"] / row[f"{LIMIT}_{stat}_ms"]
    return row


def place_order(book_id: int) -> Callable[[httpx.Client], httpx.Response]:
    return lambda client: order(client, book_id)


def warm_up(target: Target, concurrency: int) -> None:
    """Bursts of `concurrency` orders until one starts no new execution environment, so the
    measured run finds as many warm as it can use (bounded: a cloud still starting some after
    WARM_UP_BURSTS bursts is measured as it is, and said so)."""
    send = place_order(target.book_id)
    if target.cloud is None:
        closed_loop(target.new_client, send, concurrency, concurrency)
        return
    environments = target.environments()
    for _ in range(WARM_UP_BURSTS):
        closed_loop(target.new_client, send, concurrency, 2 * concurrency)
        environments, before = target.environments(), environments
        if environments == before:
            return
    print(f"note: {target.label} still started environments after {WARM_UP_BURSTS} bursts of {concurrency}", file=sys.stderr)


def load_row(label: str, result: LoadResult) -> dict[str, Any]:
    latencies = result.latencies_ms or [float("nan")]
    return {
        "target": label,
        "concurrency": result.concurrency,
        "requests": result.requests,
        "orders_per_s": result.succeeded_per_s,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "errors": sum(result.errors.values()),
        "errors_by_kind": dict(result.errors),
    }


def concurrency(targets: list[Target], levels: list[int], requests: int) -> list[dict[str, Any]]:
    """Warm `POST /ordens` under load, each level measured on every target in turn."""
    rows = []
    for level in levels:
        for target in targets:
            warm_up(target, level)
        for target in targets:
            before = target.environments() if target.cloud is not None else 0
            row = load_row(target.label, closed_loop(target.new_client, place_order(target.book_id), level, requests))
            # Cold starts inside the measured run, if the warm-up left any to make: they explain a p99.
            row["environments_started"] = target.environments() - before if target.cloud is not None else 0
            rows.append(row)
    return rows


def cold_requests(api: httpx.Client) -> dict[str, Callable[[], httpx.Response]]:
    """One request per function, each reaching it (and only the first of a chain is measured)."""
    book = api.post("/livros", json={"titulo": "Bench", "preco": "10.00", "estoque": 1_000_000}).json()
    placed = order(api, book["id"]).json()
    return {
        "CriarLivroFunction": lambda: api.post("/livros", json={"titulo": "Cold", "preco": "1.00", "estoque": 1}),
        "ListarLivrosFunction": lambda: api.get("/livros", params={"limit": 5}),
        "ObterLivroFunction": lambda: api.get(f"/livros/{book['id']}"),
        "ReservarEstoqueFunction": lambda: api.post(
            f"/livros/{book['id']}/reservas", json={"ordem_id": str(uuid.uuid4()), "quantidade": 1}
        ),
        "LiberarReservaFunction": lambda: api.delete(f"/livros/{book['id']}/reservas/{placed['id']}"),
        "CriarOrdemFunction": lambda: order(api, book["id"]),
        "ObterOrdemFunction": lambda: api.get(f"/ordens/{placed['id']}"),
        "CriarPagamentoFunction": lambda: api.post(
            "/pagamentos", json={"ordem_id": str(uuid.uuid4()), "valor": "10.00", "cartao": CARD_APPROVED}
        ),
        "ObterPagamentoFunction": lambda: api.get(f"/pagamentos/{placed['pagamento_id']}"),
        "CancelarPagamentoFunction": lambda: api.post("/pagamentos/cancelamentos", json={"ordem_id": str(uuid.uuid4())}),
    }


def cold_starts(clouds: dict[str, LocalCloudProcess], on: str, rounds: int) -> list[dict[str, Any]]:
    """Each function's cold start, `on` against `off`, rounds alternating between them. Signed as
    each cloud's admin: the cold starts include the closed routes."""
    apis = {
        label: httpx.Client(base_url=cloud.url, timeout=60, auth=admin_auth(cloud.admin_credentials)) for label, cloud in clouds.items()
    }
    try:
        requests = {label: cold_requests(api) for label, api in apis.items()}
        results = []
        for function in requests[OFF]:
            inits: dict[str, list[float]] = {label: [] for label in clouds}
            latencies: dict[str, list[float]] = {label: [] for label in clouds}
            for _ in range(rounds):
                for label, cloud in clouds.items():
                    cloud.control("recycle")
                    mark = cloud.mark()
                    latencies[label].append(timed(requests[label][function]))
                    report = next(report for report in cloud.reports(function, mark, expected=1) if report.cold)
                    assert report.init_duration_ms is not None
                    inits[label].append(report.init_duration_ms)
            row: dict[str, Any] = {"function": function, "rounds": rounds, "on_mode": on}
            for label in clouds:
                row[f"{label}_init_ms"] = statistics.median(inits[label])
                row[f"{label}_cold_request_ms"] = statistics.median(latencies[label])
            row["init_ratio"] = row[f"{on}_init_ms"] / row[f"{OFF}_init_ms"]
            row["cold_request_ratio"] = row[f"{on}_cold_request_ms"] / row[f"{OFF}_cold_request_ms"]
            results.append(row)
        return results
    finally:
        for api in apis.values():
            api.close()


def summarize(
    modes: list[str], on: str, warm: list[dict[str, Any]], load: list[dict[str, Any]], cold: list[dict[str, Any]]
) -> dict[str, Any]:
    get, orders = warm
    labels = [*modes, LIMIT]
    summary: dict[str, Any] = {
        "on_mode": on,  # the mode the overhead and the cold-start ratios are of, against off
        "init_ratio_median": statistics.median(row["init_ratio"] for row in cold),
        "cold_request_ratio_median": statistics.median(row["cold_request_ratio"] for row in cold),
        "warm_order_p50_overhead": orders[f"{on}_p50_ms"] / orders[f"{OFF}_p50_ms"] - 1,
        "warm_order_p50_ms": {label: orders[f"{label}_p50_ms"] for label in labels},
        "warm_order_p99_ms": {label: orders[f"{label}_p99_ms"] for label in labels},
        "warm_get_p50_ms": {label: get[f"{label}_p50_ms"] for label in labels},
        "warm_get_p99_ms": {label: get[f"{label}_p99_ms"] for label in labels},
        "warm_order_p50_to_limit": {mode: orders[f"{mode}_p50_ms"] / orders[f"{LIMIT}_p50_ms"] for mode in modes},
        "warm_get_p50_to_limit": {mode: get[f"{mode}_p50_ms"] / get[f"{LIMIT}_p50_ms"] for mode in modes},
        "concurrency_errors": {label: sum(row["errors"] for row in load if row["target"] == label) for label in labels},
    }
    for level in sorted({row["concurrency"] for row in load}):
        at_level = {row["target"]: row for row in load if row["concurrency"] == level}
        summary[f"orders_per_s_c{level}"] = {label: at_level[label]["orders_per_s"] for label in labels}
        summary[f"orders_per_s_c{level}_to_limit"] = {
            mode: at_level[mode]["orders_per_s"] / at_level[LIMIT]["orders_per_s"] for mode in modes
        }
    return summary


def print_tables(modes: list[str], on: str, warm: list[dict[str, Any]], load: list[dict[str, Any]], cold: list[dict[str, Any]]) -> None:
    print("| route (warm) | telemetry | p50 | p99 | p50 / limit | p99 / limit |\n|---|---|---:|---:|---:|---:|")
    for row in warm:
        for label in [*modes, LIMIT]:
            print(
                f"| `{row['route']}` | {label} | {row[f'{label}_p50_ms']:.1f} ms | {row[f'{label}_p99_ms']:.1f} ms "
                f"| {row[f'{label}_p50_to_limit']:.2f}x | {row[f'{label}_p99_to_limit']:.2f}x |"
            )
    limits = {row["concurrency"]: row for row in load if row["target"] == LIMIT}
    print(
        "\n| `POST /ordens` clients | telemetry | orders/s | / limit | p50 | p99 | errors | environments started |"
        "\n|---:|---|---:|---:|---:|---:|---:|---:|"
    )
    for row in load:
        errors = ", ".join(f"{count}× {kind}" for kind, count in sorted(row["errors_by_kind"].items())) or "0"
        print(
            f"| {row['concurrency']} | {row['target']} | {row['orders_per_s']:.1f} "
            f"| {row['orders_per_s'] / limits[row['concurrency']]['orders_per_s']:.2f}x "
            f"| {row['p50_ms']:.1f} ms | {row['p99_ms']:.1f} ms | {errors} | {row['environments_started']} |"
        )
    print(f"\n| function | Init Duration {on} | off | ratio | cold request {on} | off | ratio |\n|---|---:|---:|---:|---:|---:|---:|")
    for row in cold:
        print(
            f"| {row['function']} | {row[f'{on}_init_ms']:.0f} ms | {row[f'{OFF}_init_ms']:.0f} ms | {row['init_ratio']:.2f}x "
            f"| {row[f'{on}_cold_request_ms']:.0f} ms | {row[f'{OFF}_cold_request_ms']:.0f} ms | {row['cold_request_ratio']:.2f}x |"
        )


def comma_list(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    return lambda text: [kind(item.strip()) for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--modes", type=comma_list(str), default=list(MODES), help=f"telemetry modes, among {','.join(MODES)} (default all)"
    )
    parser.add_argument("--requests", type=int, default=300, help="warm requests per route and target")
    parser.add_argument("--concurrency", type=comma_list(int), default=[1, 4, 8, 16], help="clients of the load levels (default 1,4,8,16)")
    parser.add_argument("--concurrent-requests", type=int, default=200, help="orders per load level and target (default 200)")
    parser.add_argument("--cold-rounds", type=int, default=5, help="cold starts measured per function")
    args = parser.parse_args(argv)
    modes: list[str] = args.modes
    if unknown := [mode for mode in modes if mode not in MODES]:
        parser.error(f"unknown mode {', '.join(unknown)}: choose among {', '.join(MODES)}")
    if OFF not in modes or len(modes) < 2:
        parser.error("--modes needs off and at least one mode with telemetry on: every overhead is against off")
    on = "extension" if "extension" in modes else "flush"
    parameters = set(load()["Parameters"])
    overrides = {mode: mode_overrides(mode, parameters) for mode in modes}

    with tempfile.TemporaryDirectory(prefix="bookstore-bench-") as state:
        clouds: dict[str, LocalCloudProcess] = {}
        try:
            for mode in modes:
                pairs = [f"{name}={value}" for name, value in overrides[mode].items()]
                # As many environments per function as the most concurrent level has clients: none is throttled.
                extra = ["--max-environments", str(max(args.concurrency)), *(["--parameter-overrides", *pairs] if pairs else [])]
                clouds[mode] = bookstore_cloud(Path(state) / mode, *extra)
            for cloud in clouds.values():
                cloud.wait_ready()
            # Twice as many threads as clients: an order holds one while its calls to the other services take another.
            with in_process_limit(Path(state) / LIMIT, 2 * max(args.concurrency)) as limit, contextlib.ExitStack() as closing:
                targets = [*(new_target(mode, cloud.url, cloud) for mode, cloud in clouds.items()), new_target(LIMIT, limit)]
                apis = {target.label: closing.enter_context(target.new_client()) for target in targets}
                warm = [
                    warm_latency(
                        "GET /livros/{id}",
                        {target.label: partial(apis[target.label].get, f"/livros/{target.book_id}") for target in targets},
                        args.requests,
                    ),
                    warm_latency(
                        "POST /ordens",
                        {target.label: partial(order, apis[target.label], target.book_id) for target in targets},
                        args.requests,
                    ),
                ]
                load_rows = concurrency(targets, args.concurrency, args.concurrent_requests)
            cold = cold_starts({OFF: clouds[OFF], on: clouds[on]}, on, args.cold_rounds)
        finally:
            for cloud in clouds.values():
                cloud.stop()

    summary = summarize(modes, on, warm, load_rows, cold)
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "modes": {mode: overrides[mode] for mode in modes},
        "limit": "the handlers in one process behind the same API Gateway app, OpenTelemetry off (bench/inprocess_limit.py)",
        "warm": warm,
        "concurrency": load_rows,
        "cold": cold,
        "summary": summary,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "localcloud.json").write_text(json.dumps(results, indent=2) + "\n")
    print_tables(modes, on, warm, load_rows, cold)
    print(
        f"\nOpenTelemetry ({on}) costs {summary['init_ratio_median']:.2f}x on Init Duration, {summary['cold_request_ratio_median']:.2f}x "
        f"on the cold request and {summary['warm_order_p50_overhead']:+.0%} on the warm POST /ordens p50 (medians)."
    )
    print(f"written to {RESULTS / 'localcloud.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
