"""`make bench`: latency through the local cloud, a benchmark (numbers to read), not a test.

Two local clouds run side by side, one with OpenTelemetry on and one with
`OTEL_SDK_DISABLED=true`, and every measurement alternates between them, so both see the same
machine at the same moment:

- warm latency, p50 and p99, of `GET /livros/{id}` and `POST /ordens` as a client sees it;
- the cold start of every function: Init Duration from its REPORT line, and the latency of the
  request that paid for it;
- the cost of OpenTelemetry: cold-start and warm `POST /ordens` p50, on against off.

Results go to bench/results/localcloud.json and are printed as tables.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bookstore_dev.clients import admin_auth
from bookstore_dev.startup import HOOK
from bookstore_dev.template import ROOT
from localcloud.process import LocalCloudProcess

CARD = {"numero": "4111111111111111", "titular": "Bench", "validade": "12/39", "cvv": "123"}
RESULTS = ROOT / "bench" / "results"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    return elapsed


def warm_latency(name: str, calls: dict[str, Callable[[], httpx.Response]], requests: int) -> dict[str, Any]:
    """p50/p99 per configuration, the requests of the configurations interleaved."""
    for call in calls.values():
        for _ in range(10):  # warm every environment the path uses
            call()
    samples: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(requests):
        for label, call in calls.items():
            samples[label].append(timed(call))
    return {
        "route": name,
        "requests": requests,
        **{f"{label}_p50_ms": percentile(values, 0.5) for label, values in samples.items()},
        **{f"{label}_p99_ms": percentile(values, 0.99) for label, values in samples.items()},
    }


def cold_requests(api: httpx.Client) -> dict[str, Callable[[], httpx.Response]]:
    """One request per function, each reaching it (and only the first of a chain is measured)."""
    book = api.post("/livros", json={"titulo": "Bench", "preco": "10.00", "estoque": 1_000_000}).json()
    order = api.post("/ordens", json={"livro_id": book["id"], "quantidade": 1, "cartao": CARD}).json()
    return {
        "CriarLivroFunction": lambda: api.post("/livros", json={"titulo": "Cold", "preco": "1.00", "estoque": 1}),
        "ListarLivrosFunction": lambda: api.get("/livros", params={"limit": 5}),
        "ObterLivroFunction": lambda: api.get(f"/livros/{book['id']}"),
        "ReservarEstoqueFunction": lambda: api.post(
            f"/livros/{book['id']}/reservas", json={"ordem_id": str(uuid.uuid4()), "quantidade": 1}
        ),
        "LiberarReservaFunction": lambda: api.delete(f"/livros/{book['id']}/reservas/{order['id']}"),
        "CriarOrdemFunction": lambda: api.post("/ordens", json={"livro_id": book["id"], "quantidade": 1, "cartao": CARD}),
        "ObterOrdemFunction": lambda: api.get(f"/ordens/{order['id']}"),
        "CriarPagamentoFunction": lambda: api.post("/pagamentos", json={"ordem_id": str(uuid.uuid4()), "valor": "10.00", "cartao": CARD}),
        "ObterPagamentoFunction": lambda: api.get(f"/pagamentos/{order['pagamento_id']}"),
        "CancelarPagamentoFunction": lambda: api.post("/pagamentos/cancelamentos", json={"ordem_id": str(uuid.uuid4())}),
    }


def cold_starts(clouds: dict[str, tuple[LocalCloudProcess, httpx.Client]], rounds: int) -> list[dict[str, Any]]:
    requests = {label: cold_requests(api) for label, (_, api) in clouds.items()}
    results = []
    for function in requests["otel_on"]:
        inits: dict[str, list[float]] = {label: [] for label in clouds}
        latencies: dict[str, list[float]] = {label: [] for label in clouds}
        for _ in range(rounds):
            for label, (cloud, _) in clouds.items():
                cloud.control("recycle")
                mark = cloud.mark()
                latencies[label].append(timed(requests[label][function]))
                report = next(report for report in cloud.reports(function, mark, expected=1) if report.cold)
                assert report.init_duration_ms is not None
                inits[label].append(report.init_duration_ms)
        row: dict[str, Any] = {"function": function, "rounds": rounds}
        for label in clouds:
            row[f"{label}_init_ms"] = statistics.median(inits[label])
            row[f"{label}_cold_request_ms"] = statistics.median(latencies[label])
        row["init_ratio"] = row["otel_on_init_ms"] / row["otel_off_init_ms"]
        row["cold_request_ratio"] = row["otel_on_cold_request_ms"] / row["otel_off_cold_request_ms"]
        results.append(row)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="warm requests per route")
    parser.add_argument("--cold-rounds", type=int, default=5, help="cold starts measured per function")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bookstore-bench-") as state:
        on = LocalCloudProcess(ROOT / "template.yaml", Path(state) / "on", "--no-watch", "--startup", HOOK)
        off = LocalCloudProcess(
            ROOT / "template.yaml", Path(state) / "off", "--no-watch", "--startup", HOOK, "--parameter-overrides", "OtelSdkDisabled=true"
        )
        try:
            on.wait_ready()
            off.wait_ready()
            # Signed as each cloud's admin: the cold starts include the closed routes (the buyers' ones take it too).
            admin_on, admin_off = admin_auth(on.admin_credentials), admin_auth(off.admin_credentials)
            with (
                httpx.Client(base_url=on.url, timeout=60, auth=admin_on) as api_on,
                httpx.Client(base_url=off.url, timeout=60, auth=admin_off) as api_off,
            ):
                clouds = {"otel_on": (on, api_on), "otel_off": (off, api_off)}
                books = {
                    label: api.post("/livros", json={"titulo": "Warm", "preco": "10.00", "estoque": 1_000_000}).json()
                    for label, (_, api) in clouds.items()
                }

                def get_book(label: str) -> Callable[[], httpx.Response]:
                    api = clouds[label][1]
                    return lambda: api.get(f"/livros/{books[label]['id']}")

                def place_order(label: str) -> Callable[[], httpx.Response]:
                    api, body = clouds[label][1], {"livro_id": books[label]["id"], "quantidade": 1, "cartao": CARD}
                    return lambda: api.post("/ordens", json=body)

                warm = [
                    warm_latency("GET /livros/{id}", {label: get_book(label) for label in clouds}, args.requests),
                    warm_latency("POST /ordens", {label: place_order(label) for label in clouds}, args.requests),
                ]
                cold = cold_starts(clouds, args.cold_rounds)
        finally:
            on.stop()
            off.stop()

    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "warm": warm,
        "cold": cold,
    }
    summary = {
        "init_ratio_median": statistics.median(row["init_ratio"] for row in cold),
        "cold_request_ratio_median": statistics.median(row["cold_request_ratio"] for row in cold),
        "warm_order_p50_overhead": warm[1]["otel_on_p50_ms"] / warm[1]["otel_off_p50_ms"] - 1,
    }
    results["summary"] = summary
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "localcloud.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| route (warm) | OTel on p50 | p99 | OTel off p50 | p99 |\n|---|---:|---:|---:|---:|")
    for row in warm:
        print(
            f"| `{row['route']}` | {row['otel_on_p50_ms']:.1f} ms | {row['otel_on_p99_ms']:.1f} ms "
            f"| {row['otel_off_p50_ms']:.1f} ms | {row['otel_off_p99_ms']:.1f} ms |"
        )
    print("\n| function | Init Duration on | off | ratio | cold request on | off | ratio |\n|---|---:|---:|---:|---:|---:|---:|")
    for row in cold:
        print(
            f"| {row['function']} | {row['otel_on_init_ms']:.0f} ms | {row['otel_off_init_ms']:.0f} ms | {row['init_ratio']:.2f}x "
            f"| {row['otel_on_cold_request_ms']:.0f} ms | {row['otel_off_cold_request_ms']:.0f} ms | {row['cold_request_ratio']:.2f}x |"
        )
    print(
        f"\nOpenTelemetry costs {summary['init_ratio_median']:.2f}x on Init Duration, {summary['cold_request_ratio_median']:.2f}x on "
        f"the cold request and {summary['warm_order_p50_overhead']:+.0%} on the warm POST /ordens p50 (medians)."
    )
    print(f"written to {RESULTS / 'localcloud.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
