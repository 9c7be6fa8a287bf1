"""The summary `make load` prints at the end: Locust's own figures by route (its CSV stats:
requests/s, p50, p95, p99, failures), its errors by route, and the requests log by journey.
No Locust import: it reads the files Locust wrote."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

from bookstore_dev.load import common


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as file:
            return list(csv.DictReader(file))
    except FileNotFoundError:
        return []


def _requests(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _route(row: dict[str, str]) -> str:
    return f"{row['Type']} {row['Name']}".strip() if row["Name"] != "Aggregated" else "all routes"


def render(out: Path) -> str | None:
    """The summary of the run whose files are in `out` (Locust's CSV, the requests log); None
    when Locust counted nothing (a run that never started)."""
    stats = _rows(out / f"{common.STATS_PREFIX}_stats.csv")
    if not stats:
        return None
    lines = ["", "Load summary (Locust's statistics, by route; times in ms)", ""]
    header = f"{'route':<24}{'requests':>10}{'failures':>10}{'req/s':>9}{'p50':>8}{'p95':>8}{'p99':>8}"
    lines += [header, "-" * len(header)]
    for row in stats:
        lines.append(
            f"{_route(row):<24}{row['Request Count']:>10}{row['Failure Count']:>10}{float(row['Requests/s']):>9.1f}"
            f"{row['50%']:>8}{row['95%']:>8}{row['99%']:>8}"
        )
    requests = _requests(out / common.REQUESTS_LOG)
    if requests:
        made, unexpected = Counter(r["journey"] for r in requests), Counter(r["journey"] for r in requests if not r["ok"])
        lines += ["", f"{'journey':<40}{'requests':>10}{'unexpected answers':>20}"]
        lines += [f"{journey:<40}{made[journey]:>10}{unexpected[journey]:>20}" for journey in common.JOURNEYS if made[journey]]
    failures = _rows(out / f"{common.STATS_PREFIX}_failures.csv")
    lines += ["", "errors by route: none" if not failures else "errors by route:"]
    lines += [f"  {row['Method']} {row['Name']}: {row['Occurrences']}× {row['Error']}" for row in failures]
    answered = [r for r in requests if r["status"]]
    if answered:
        slowest = max(answered, key=lambda r: r["ms"])
        lines += [
            "",
            f"slowest: {slowest['route']} ({slowest['journey']}), {slowest['ms']:.0f} ms, trace {slowest['trace_id']}",
            f'  make traces ARGS="--trace {slowest["trace_id"]}"  (the local cloud\'s telemetry of `make run`)',
        ]
    return "\n".join(lines)
