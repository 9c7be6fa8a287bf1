"""Reads OTLP JSON lines (the Collector `file` exporter's format, as the local cloud writes them)
and shows traces as waterfalls: in the terminal, or as one self-contained HTML page.

    python -m localcloud.traceview                       the latest 5 traces of .local/telemetry/traces.jsonl
    python -m localcloud.traceview --last 1 --html t.html   also write them as a page
    python -m localcloud.traceview --trace <trace id>    one trace
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path(__file__).resolve().parent.parent / ".local" / "telemetry" / "traces.jsonl"
KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_ERROR = 2
BAR_WIDTH = 40


@dataclass(slots=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    kind: str
    start_ns: int
    end_ns: int
    error: bool
    attributes: dict[str, Any]
    resource: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)  # (trace id, span id) of each linked span
    events: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)  # (name, attributes, time ns), in order
    status_message: str = ""
    children: list[Span] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def cold(self) -> bool:
        return self.attributes.get("faas.coldstart") is True

    @property
    def is_init(self) -> bool:
        return self.name == "init" and self.cold


@dataclass
class Trace:
    trace_id: str
    spans: list[Span]

    @property
    def start_ns(self) -> int:
        return min(span.start_ns for span in self.spans)

    @property
    def end_ns(self) -> int:
        return max(span.end_ns for span in self.spans)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    def roots(self) -> list[Span]:
        """Spans whose parent is not in the trace (the entry point, or an orphan), with children linked."""
        by_id = {span.span_id: span for span in self.spans}
        for span in self.spans:
            span.children = []
        roots: list[Span] = []
        for span in sorted(self.spans, key=lambda span: (span.start_ns, span.end_ns)):
            parent = by_id.get(span.parent_id)
            (parent.children if parent else roots).append(span)
        return roots

    def remote_parent(self) -> str:
        """The caller's span id when the trace came in with a `traceparent` from outside."""
        ids = {span.span_id for span in self.spans}
        entries = [span for span in self.spans if span.parent_id not in ids]
        first = min(entries, key=lambda span: span.start_ns, default=None)
        return first.parent_id if first is not None else ""

    def orphans(self) -> list[Span]:
        """Spans whose parent is missing: lost, or never linked (not the caller outside the trace)."""
        ids = {span.span_id for span in self.spans}
        remote = self.remote_parent()
        return [span for span in self.spans if span.parent_id and span.parent_id not in ids and span.parent_id != remote]


def _value(value: dict[str, Any]) -> Any:
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_value(item) for item in value["arrayValue"].get("values", [])]
    return None


def attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    # Keys interned: the console keeps many thousands of spans whose keys repeat.
    return {sys.intern(item["key"]): _value(item.get("value", {})) for item in items or []}


def spans_written(path: Path) -> list[Span]:
    """Every span a receiver has written to `path` so far (none before it exists)."""
    return [span for trace in read_traces([path]) for span in trace.spans] if path.exists() else []


def read_traces(paths: list[Path]) -> list[Trace]:
    """Every trace in the files, oldest first; a span seen twice (re-sent) counts once. A last
    line without its newline is still being written, and is left for the next read."""
    spans: dict[tuple[str, str], Span] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        for line in text[: text.rfind("\n") + 1].splitlines():
            if line.strip():
                spans.update(((span.trace_id, span.span_id), span) for span in spans_in(json.loads(line)))
    return group_traces(spans.values())


def group_traces(spans: Iterable[Span]) -> list[Trace]:
    """Spans grouped by trace, oldest trace first."""
    grouped: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        grouped[span.trace_id].append(span)
    return sorted((Trace(trace_id, members) for trace_id, members in grouped.items()), key=lambda trace: trace.start_ns)


def spans_in(document: dict[str, Any]) -> Iterator[Span]:
    """The spans of one export request in OTLP/JSON (a line of the Collector's `file` exporter)."""
    for resource_spans in document.get("resourceSpans", []):
        resource = attributes(resource_spans.get("resource", {}).get("attributes"))
        service = str(resource.get("service.name", "?"))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for raw in scope_spans.get("spans", []):
                yield Span(
                    trace_id=raw["traceId"],
                    span_id=raw["spanId"],
                    parent_id=raw.get("parentSpanId", ""),
                    name=raw.get("name", ""),
                    service=service,
                    kind=KINDS.get(int(raw.get("kind", 1)), "internal"),
                    start_ns=int(raw["startTimeUnixNano"]),
                    end_ns=int(raw["endTimeUnixNano"]),
                    error=int(raw.get("status", {}).get("code", 0)) == STATUS_ERROR,
                    attributes=attributes(raw.get("attributes")),
                    resource=resource,
                    links=[(link["traceId"], link["spanId"]) for link in raw.get("links", [])],
                    events=[
                        (event.get("name", ""), attributes(event.get("attributes")), int(event.get("timeUnixNano", 0)))
                        for event in raw.get("events", [])
                    ],
                    status_message=str(raw.get("status", {}).get("message", "")),
                )


def _markers(span: Span) -> str:
    markers = []
    if span.is_init or (span.kind == "server" and span.cold):
        markers.append("[cold start]")
    if span.error:
        markers.append("[error]")
    return " ".join(markers)


def render_text(trace: Trace, color: bool = False) -> str:
    """One trace as a waterfall: tree of spans, service, duration, and a bar on the trace's timeline."""
    services = sorted({span.service for span in trace.spans})
    lines = [f"trace {trace.trace_id}  {trace.duration_ms:.1f} ms  {len(trace.spans)} spans  {', '.join(services)}"]
    scale = BAR_WIDTH / max(trace.end_ns - trace.start_ns, 1)

    def walk(span: Span, depth: int) -> None:
        offset = int((span.start_ns - trace.start_ns) * scale)
        width = max(1, round((span.end_ns - span.start_ns) * scale))
        bar = " " * offset + "█" * min(width, BAR_WIDTH - offset)
        label = f"{'  ' * depth}{span.service}: {span.name}"
        markers = _markers(span)
        if color and span.error:
            markers = f"\033[31m{markers}\033[0m"
        elif color and markers:
            markers = f"\033[36m{markers}\033[0m"
        lines.append(f"  {label:<62.62} {span.duration_ms:9.1f} ms |{bar:<{BAR_WIDTH}}| {markers}".rstrip())
        lines.extend(f"  {'  ' * depth}  ↳ linked to trace {trace_id} (span {span_id})" for trace_id, span_id in span.links)
        for child in span.children:
            walk(child, depth + 1)

    for root in trace.roots():
        walk(root, 0)
    if remote := trace.remote_parent():
        lines.append(f"  (called from outside the trace: parent span {remote})")
    for orphan in trace.orphans():
        lines.append(f"  (orphan: {orphan.service}: {orphan.name} has parent {orphan.parent_id} outside the trace)")
    return "\n".join(lines)


def render_html(traces: list[Trace]) -> str:
    """A self-contained page (no network): the spans are embedded as JSON and drawn by the page's
    own script, so what the browser shows is what it rendered."""
    data = []
    for trace in traces:
        rows: list[dict[str, Any]] = []

        def walk(span: Span, depth: int, rows: list[dict[str, Any]] = rows, trace: Trace = trace) -> None:
            rows.append(
                {
                    "depth": depth,
                    "service": span.service,
                    "name": span.name,
                    "kind": span.kind,
                    "offset": (span.start_ns - trace.start_ns) / 1e6,
                    "duration": span.duration_ms,
                    "cold": bool(span.is_init or (span.kind == "server" and span.cold)),
                    "error": span.error,
                }
            )
            for child in span.children:
                walk(child, depth + 1)

        for root in trace.roots():
            walk(root, 0)
        data.append({"id": trace.trace_id, "duration": trace.duration_ms, "spans": rows})
    payload = json.dumps(data).replace("</", "<\\/")
    return _PAGE.replace("__DATA__", payload).replace("__TITLE__", html.escape(f"Traces ({len(traces)})"))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body { font: 13px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #fff; }
h1 { font-size: 18px; } h2 { font-size: 14px; margin: 28px 0 6px; font-family: ui-monospace, monospace; }
.legend span { display: inline-block; margin-right: 14px; }
.row { display: grid; grid-template-columns: 430px 96px 1fr; align-items: center; height: 22px; border-bottom: 1px solid #eef0f4; }
.label { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.service { color: #5b6478; }
.duration { text-align: right; padding-right: 10px; white-space: nowrap; font-family: ui-monospace, monospace; }
.lane { position: relative; height: 14px; background: #f6f7fa; }
.bar { position: absolute; top: 0; height: 14px; border-radius: 2px; min-width: 2px; }
.bar.cold { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.45) 0 4px, transparent 4px 8px); }
.bar.error { outline: 2px solid #d62828; }
.tag { font-size: 11px; padding: 0 5px; border-radius: 3px; margin-left: 6px; }
.tag.cold { background: #dff3ff; color: #05527a; } .tag.error { background: #fde2e2; color: #9b1c1c; }
</style></head><body>
<h1>__TITLE__</h1>
<p class="legend"><span><span class="tag cold">cold start</span> init of a new execution environment</span>
<span><span class="tag error">error</span> span with error status</span></p>
<div id="traces"></div>
<script>
const traces = __DATA__;
const palette = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d"];
const colors = {};
const color = (service) => colors[service] ??= palette[Object.keys(colors).length % palette.length];
const root = document.getElementById("traces");
for (const trace of traces) {
  const section = document.createElement("section");
  section.className = "trace";
  section.dataset.traceId = trace.id;
  const title = document.createElement("h2");
  title.textContent = `trace ${trace.id} · ${trace.duration.toFixed(1)} ms · ${trace.spans.length} spans`;
  section.appendChild(title);
  for (const span of trace.spans) {
    const row = document.createElement("div");
    row.className = "row span";
    const label = document.createElement("div");
    label.className = "label";
    label.style.paddingLeft = `${span.depth * 14}px`;
    label.innerHTML = `<span class="service"></span> <b></b>`;
    label.querySelector(".service").textContent = span.service + ":";
    label.querySelector("b").textContent = span.name;
    for (const [flag, text] of [["cold", "cold start"], ["error", "error"]]) {
      if (!span[flag]) continue;
      const tag = document.createElement("span");
      tag.className = `tag ${flag}`;
      tag.textContent = text;
      label.appendChild(tag);
    }
    const duration = document.createElement("div");
    duration.className = "duration";
    duration.textContent = `${span.duration.toFixed(1)} ms`;
    const lane = document.createElement("div");
    lane.className = "lane";
    const bar = document.createElement("div");
    bar.className = "bar" + (span.cold ? " cold" : "") + (span.error ? " error" : "");
    bar.style.left = `${(100 * span.offset) / Math.max(trace.duration, 0.001)}%`;
    bar.style.width = `${(100 * span.duration) / Math.max(trace.duration, 0.001)}%`;
    bar.style.background = color(span.service);
    bar.title = `${span.service}: ${span.name} (${span.kind}) ${span.duration.toFixed(2)} ms`;
    lane.appendChild(bar);
    row.append(label, duration, lane);
    section.appendChild(row);
  }
  root.appendChild(section);
}
document.body.dataset.rendered = String(document.querySelectorAll(".bar").length);
</script></body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "files", nargs="*", type=Path, default=[DEFAULT_FILE], help="OTLP JSON lines (default .local/telemetry/traces.jsonl)"
    )
    parser.add_argument("--last", type=int, default=5, help="how many of the latest traces (default 5)")
    parser.add_argument("--trace", help="show only this trace id")
    parser.add_argument("--html", type=Path, help="also write the traces as one self-contained HTML page")
    args = parser.parse_args(argv)
    missing = [path for path in args.files if not path.exists()]
    if missing:
        print(f"traceview: no such file: {missing[0]} (start the local cloud and send a request)", file=sys.stderr)
        return 2
    traces = read_traces(args.files)
    chosen = [trace for trace in traces if trace.trace_id == args.trace] if args.trace else traces[-args.last :]
    if not chosen:
        print("traceview: no trace found", file=sys.stderr)
        return 1
    for trace in chosen:
        print(render_text(trace, color=sys.stdout.isatty()))
        print()
    if args.html:
        args.html.write_text(render_html(chosen), encoding="utf-8")
        print(f"wrote {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
