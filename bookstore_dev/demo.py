"""`make demo`: a scripted tour of the Bookstore against a running local cloud (`make run`), each
request followed by its trace as a waterfall.

It recycles the environments first, so the first order shows every function's cold start; then a
warm order, a declined card, an out-of-stock order and an unknown book. Each request carries its
own `traceparent`, as an instrumented client would send it, so its trace can be found and shown.

    python -m bookstore_dev.demo [--url http://127.0.0.1:3000] [--traces .local/telemetry/traces.jsonl]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bookstore_dev.clients import DEFAULT_CREDENTIALS, admin_auth
from localcloud.traceview import DEFAULT_FILE, Trace, read_traces, render_text

CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/30", "cvv": "123"}
DECLINED = {**CARD, "numero": "4000000000000002"}


def traced_post(api: httpx.Client, path: str, body: dict[str, Any]) -> tuple[str, httpx.Response]:
    trace_id = secrets.token_hex(16)
    response = api.post(path, json=body, headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    return trace_id, response


def wait_for_trace(traces_file: Path, trace_id: str, timeout_s: float = 10) -> Trace | None:
    """The trace once its spans stop arriving (every function flushes before it answers)."""
    deadline, seen = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline:
        found = next((trace for trace in read_traces([traces_file]) if trace.trace_id == trace_id), None) if traces_file.exists() else None
        if found is not None and len(found.spans) == seen:
            return found
        seen = len(found.spans) if found else -1
        time.sleep(0.3)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--traces", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--console", default="http://127.0.0.1:3001", help="the local cloud's console, for each trace's link")
    parser.add_argument("--credentials", type=Path, default=DEFAULT_CREDENTIALS, help="the local cloud's admin identity")
    args = parser.parse_args(argv)
    try:
        admin = admin_auth(args.credentials)
    except RuntimeError as error:
        print(f"demo: {error}; start the local cloud with `make run`", file=sys.stderr)
        return 2
    # Signed as the admin: the tour adds a book (a catalogue write); the buyers' routes take it too.
    with httpx.Client(base_url=args.url, timeout=60, auth=admin) as api:
        try:
            api.post("/_localcloud/recycle").raise_for_status()
        except httpx.HTTPError as error:
            print(f"demo: no local cloud answers on {args.url} ({error}); start it with `make run`", file=sys.stderr)
            return 2
        book = api.post("/livros", json={"titulo": "Tour", "autor": "Bookstore", "preco": "42.00", "estoque": 2}).json()
        tour = [
            ("a cold order: every function starts an execution environment", {"livro_id": book["id"], "quantidade": 1, "cartao": CARD}),
            ("the same order again, warm: no init spans", {"livro_id": book["id"], "quantidade": 1, "cartao": CARD}),
            ("a declined card: 402, the stock released", {"livro_id": 1, "quantidade": 1, "cartao": DECLINED}),
            ("out of stock: 409, nothing charged", {"livro_id": book["id"], "quantidade": 5, "cartao": CARD}),
            ("an unknown book: 404, nothing recorded", {"livro_id": 987654321, "quantidade": 1, "cartao": CARD}),
        ]
        for title, body in tour:
            trace_id, response = traced_post(api, "/ordens", body)
            answer = response.json()
            summary = ", ".join(f"{key}={answer[key]}" for key in ("status", "motivo", "valor_total", "message") if key in answer)
            print(f"\n=== {title}\n    POST /ordens -> {response.status_code} {summary}")
            trace = wait_for_trace(args.traces, trace_id)
            print(render_text(trace, color=sys.stdout.isatty()) if trace else f"    (trace {trace_id} not found in {args.traces})")
            print(f"    in the console, with its logs: {args.console}/traces/{trace_id}")
    print(f"\nSee them again in the console ({args.console}), with `make traces`, or: make traces ARGS='--last 5 --html t.html'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
