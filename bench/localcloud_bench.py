"""`make bench`: latency through the local cloud, a benchmark (numbers to read), not a test.

- warm latency, p50 and p99, of `GET /livros/{id}` and `POST /ordens` as a client sees it;
- the cold start of every function: Init Duration from its REPORT line, and the latency of the
  request that paid for it.

Results go to bench/results/localcloud.json and are printed as a table.
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

from localcloud.process import ROOT, LocalCloudProcess

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


def warm_latency(api: httpx.Client, name: str, call: Callable[[], httpx.Response], requests: int) -> dict[str, Any]:
    for _ in range(10):  # warm every environment the path uses
        call()
    samples = [timed(call) for _ in range(requests)]
    return {"route": name, "requests": requests, "p50_ms": percentile(samples, 0.5), "p99_ms": percentile(samples, 0.99)}


def cold_starts(cloud: LocalCloudProcess, api: httpx.Client, rounds: int) -> list[dict[str, Any]]:
    book = api.post("/livros", json={"titulo": "Bench", "preco": "10.00", "estoque": 1_000_000}).json()
    order = api.post("/ordens", json={"livro_id": book["id"], "quantidade": 1, "cartao": CARD}).json()
    requests: dict[str, Callable[[], httpx.Response]] = {
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
    }
    results = []
    for function, call in requests.items():
        inits, latencies = [], []
        for _ in range(rounds):
            cloud.control("recycle")
            mark = cloud.mark()
            latencies.append(timed(call))
            report = next(report for report in cloud.reports(function, mark, expected=1) if report.cold)
            assert report.init_duration_ms is not None
            inits.append(report.init_duration_ms)
        results.append(
            {
                "function": function,
                "rounds": rounds,
                "init_ms_median": statistics.median(inits),
                "cold_request_ms_median": statistics.median(latencies),
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="warm requests per route")
    parser.add_argument("--cold-rounds", type=int, default=5, help="cold starts measured per function")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bookstore-bench-") as state:
        cloud = LocalCloudProcess(ROOT / "template.yaml", Path(state), "--no-watch").wait_ready()
        try:
            with httpx.Client(base_url=cloud.url, timeout=60) as api:
                book = api.post("/livros", json={"titulo": "Warm", "preco": "10.00", "estoque": 1_000_000}).json()
                order_body = {"livro_id": book["id"], "quantidade": 1, "cartao": CARD}
                warm = [
                    warm_latency(api, "GET /livros/{id}", lambda: api.get(f"/livros/{book['id']}"), args.requests),
                    warm_latency(api, "POST /ordens", lambda: api.post("/ordens", json=order_body), args.requests),
                ]
                cold = cold_starts(cloud, api, args.cold_rounds)
        finally:
            cloud.stop()

    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(), "platform": platform.platform()},
        "warm": warm,
        "cold": cold,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "localcloud.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| route (warm, through the local cloud) | p50 ms | p99 ms |\n|---|---:|---:|")
    for row in warm:
        print(f"| `{row['route']}` | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |")
    print("\n| function | Init Duration ms (median) | cold request ms (median) |\n|---|---:|---:|")
    for row in cold:
        print(f"| {row['function']} | {row['init_ms_median']:.0f} | {row['cold_request_ms_median']:.0f} |")
    print(f"\nwritten to {RESULTS / 'localcloud.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
