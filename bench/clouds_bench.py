"""`make bench`'s comparison of the three clouds, measured in one run: the local cloud, LocalStack
without Docker and the real `sam local start-api`, each started as a person starts it
(bookstore_dev.clouds), one after the other, with the template's default telemetry (`extension`).

For each: the cold start as a client sees it — the first `GET /livros/{id}` (one function cold)
and then the first `POST /ordens` (its chain cold but for the book lookup, warm by then) — then warm `GET /livros/{id}` and `POST /ordens`,
p50 and p99 over `--requests` each, sequential, after a few to warm up. Results go to
bench/results/clouds.json and are printed as a markdown table.

    python -m bench.clouds_bench [--clouds localcloud,localstack,samlocal] [--requests 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any

import httpx

from bench.load import percentile, timed
from bookstore_dev.clouds import CLOUDS, Cloud, cloud_names, runnable
from bookstore_dev.template import ROOT
from tests.support.bookstore import order

BOOK = 1  # the start-up hook's first sample book, for the cold GET; orders use a book of their own, whose stock outlasts them
WARM_UP = 5
RESULTS = ROOT / "bench" / "results" / "clouds.json"


def compare(names: list[str], requests: int) -> list[dict[str, Any]]:
    rows = []
    for name in runnable(names, "bench"):
        print(f"bench: {name}…", file=sys.stderr, flush=True)
        with CLOUDS[name]() as cloud:
            rows.append(measure(cloud, requests))
    return rows


def measure(cloud: Cloud, requests: int) -> dict[str, Any]:
    books, orders = cloud.url("cadastro-de-livros"), cloud.url("ordem-de-compra")
    with httpx.Client(base_url=books, timeout=120) as catalogue, httpx.Client(base_url=orders, timeout=120) as buyer:
        cold_get_ms = timed(lambda: catalogue.get(f"/livros/{BOOK}"))
        with httpx.Client(base_url=books, timeout=120, auth=cloud.admin) as admin:
            book = admin.post("/livros", json={"titulo": "Bench", "preco": "10.00", "estoque": 1_000_000})
        livro_id = _ok(book).json()["id"]
        cold_order_ms = timed(lambda: order(buyer, livro_id))
        row: dict[str, Any] = {"cloud": cloud.name, "requests": requests, "cold_get_ms": cold_get_ms, "cold_order_ms": cold_order_ms}
        for route, call in (
            ("get", lambda: catalogue.get(f"/livros/{livro_id}")),
            ("order", lambda: order(buyer, livro_id)),
        ):
            for _ in range(WARM_UP):
                timed(call)
            samples = [timed(call) for _ in range(requests)]
            row[f"warm_{route}_p50_ms"] = percentile(samples, 0.5)
            row[f"warm_{route}_p99_ms"] = percentile(samples, 0.99)
    return row


def _ok(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:200]}")
    return response


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| cloud | cold GET /livros/{id} | cold POST /ordens | warm GET p50 | p99 | warm order p50 | p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['cloud']} | {row['cold_get_ms']:.0f} ms | {row['cold_order_ms']:.0f} ms | {row['warm_get_p50_ms']:.1f} ms | "
            f"{row['warm_get_p99_ms']:.1f} ms | {row['warm_order_p50_ms']:.1f} ms | {row['warm_order_p99_ms']:.1f} ms |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.clouds_bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clouds", default=",".join(CLOUDS), help=f"which, in order (default {','.join(CLOUDS)})")
    parser.add_argument("--requests", type=int, default=100, help="warm requests per route and cloud (default 100)")
    args = parser.parse_args(argv)
    try:
        names = cloud_names(args.clouds)
    except ValueError as error:
        parser.error(str(error))
    rows = compare(names, args.requests)
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "clouds": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(rows)
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
