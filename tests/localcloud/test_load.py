"""`make load`'s generator, headless and short, against Bookstore on the local cloud: its summary,
its traces in the cloud's telemetry, and the data consistent after it. Locust runs as its own
process (`python -m bookstore_dev.load`), as `make load` starts it: its gevent monkey-patching
never enters this test process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from bookstore_dev.load import common
from bookstore_dev.template import ROOT
from localcloud.process import LocalCloudProcess
from localcloud.traceview import Span
from tests.support.cloud import assert_consistent

ROUTES = ("GET /livros", "GET /livros/{id}", "POST /ordens")
SET_UP = re.compile(r"set-up: book (\d+) \(estoque (\d+)\) for orders, book (\d+) \(estoque 0\)")


def test_a_short_headless_run_reports_every_route_and_its_traces_reach_the_cloud(
    bookstore_cloud: LocalCloudProcess, tmp_path: Path
) -> None:
    # Given Bookstore on the local cloud, and its admin identity for the generator's set-up
    out = tmp_path / "load"
    # When the generator runs headless, 4 buyers for 15 s (its own bound), as `make load ARGS=…` would
    run = subprocess.run(  # noqa: S603 - our own module, on a loopback URL
        [sys.executable, "-m", "bookstore_dev.load", "--host", bookstore_cloud.url, "--users", "4", "--spawn-rate", "4",
         "--run-time", "15s", "--out", str(out), "--credentials", str(bookstore_cloud.admin_credentials)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    # Then it ends by itself with no unexpected answer (Locust's exit code counts every failure)
    assert run.returncode == 0, run.stdout + run.stderr
    # And its summary has each route's figures, each journey, and no error
    summary = run.stdout
    assert "Load summary" in summary, summary
    for route in ROUTES:
        assert re.search(rf"^{re.escape(route)} +\d+ +0 +[\d.]+ +\d+ +\d+ +\d+$", summary, re.MULTILINE), summary
    for journey in common.JOURNEYS:
        assert re.search(rf"^{re.escape(journey)} +\d+ +0$", summary, re.MULTILINE), summary
    assert "errors by route: none" in summary
    # And no card number reached what it printed or wrote
    written = summary + run.stderr + "".join(path.read_text() for path in out.iterdir())
    assert "4111111111111111" not in written
    assert "4000000000000002" not in written

    # And every request it sent started a trace of its own, whose SERVER span the cloud's telemetry holds
    requests = [json.loads(line) for line in (out / common.REQUESTS_LOG).read_text().splitlines()]
    assert {request["journey"] for request in requests} == set(common.JOURNEYS)
    assert all(request["ok"] for request in requests)
    sent = {(request["trace_id"], request["span_id"]): request["route"] for request in requests}
    assert len({trace_id for trace_id, _ in sent}) == len(requests)  # one trace per request, never reused

    def served(spans: list[Span]) -> dict[tuple[str, str], str]:
        """The SERVER spans whose parent is a span the generator sent: its request's function."""
        return {
            (span.trace_id, span.parent_id): span.name
            for span in spans
            if span.kind == "server" and (span.trace_id, span.parent_id) in sent
        }

    spans = bookstore_cloud.wait_for_spans(lambda spans: served(spans).keys() == sent.keys(), timeout_s=60)
    # And each of them is named after the route template the generator named its request after
    assert served(spans) == sent

    # And the three databases still agree once nothing is left PENDENTE (the load's books and every order)
    found = SET_UP.search(run.stderr)
    assert found, run.stderr
    in_stock, stock, sold_out = int(found[1]), int(found[2]), int(found[3])
    assert_consistent(bookstore_cloud, {in_stock: stock, sold_out: 0})
