"""The console's charts: telemetry cut into time buckets, each point with the trace it came from
(an exemplar), laid out for the SVG the page draws — each exemplar point is a link to its trace.

RED per route comes from the SERVER spans (every invocation has one); cold starts and Init Duration
from the cold starts' `init` spans; memory from the platform's `REPORT` (its `lambda invoke` span);
every metric the functions export gets a chart of its own, by its attributes.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from localcloud.console.store import Invocation, MetricPoint, Sample, Snapshot

WINDOWS = {"5m": 300, "15m": 900, "1h": 3600}
REFRESH_S = {"5m": 5, "15m": 15, "1h": 30}  # a bucket is 5, 15 or 60 s: redrawn about once a bucket
BUCKETS = 60
MAX_SERIES = 8  # a chart's series beyond these (the largest kept) are summed as "other"
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 600, 170, 48, 8, 10, 22
TIME_UNITS = {"ms", "s", "us", "ns"}


@dataclass(frozen=True)
class Buckets:
    start_ns: int
    size_s: float
    count: int = BUCKETS

    @classmethod
    def ending(cls, now_ns: int, window_s: int) -> Buckets:
        size_s = window_s / BUCKETS
        # Aligned on the bucket size, so a point stays in its bucket from one refresh to the next.
        end_ns = (now_ns // int(size_s * 1e9) + 1) * int(size_s * 1e9)
        return cls(end_ns - int(window_s * 1e9), size_s)

    def index(self, time_ns: int) -> int | None:
        index = int((time_ns - self.start_ns) // int(self.size_s * 1e9))
        return index if 0 <= index < self.count else None


@dataclass(frozen=True)
class Item:
    """One observation: its series, time, value and where it came from."""

    series: str
    time_ns: int
    value: float
    trace_id: str = ""
    span_id: str = ""


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: float
    bucket: int
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class Series:
    name: str
    color: int
    points: list[Point]

    @property
    def polyline(self) -> str:
        return " ".join(f"{point.x:.1f},{point.y:.1f}" for point in self.points)


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    unit: str
    series: list[Series]
    y_max: float
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom_y: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not self.series


Reduce = Callable[[list[float]], float]


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def chart(chart_id: str, title: str, unit: str, buckets: Buckets, items: Iterable[Item], reduce: Reduce) -> Chart:
    """Items into buckets by series; each bucket's value is `reduce` of its values and its
    exemplar the item with the largest value (the slowest request, the biggest payment) of
    those with a trace to show."""
    cells: dict[str, dict[int, list[Item]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        index = buckets.index(item.time_ns)
        if index is not None:
            cells[item.series][index].append(item)
    if len(cells) > MAX_SERIES:
        ranked = sorted(cells, key=lambda name: -sum(len(found) for found in cells[name].values()))
        for name in ranked[MAX_SERIES - 1 :]:
            for index, found in cells.pop(name).items():
                cells["other"][index].extend(found)
    values = {name: {index: reduce([item.value for item in found]) for index, found in cells[name].items()} for name in cells}
    y_max = _nice(max((value for by_bucket in values.values() for value in by_bucket.values()), default=0.0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    series = []
    for color, name in enumerate(sorted(cells)):
        points = []
        for index in range(buckets.count):
            value = values[name].get(index, 0.0)
            found = cells[name].get(index, [])
            exemplar = max((item for item in found if item.trace_id), key=lambda item: item.value, default=None)
            points.append(
                Point(
                    x=LEFT + plot_width * (index + 0.5) / buckets.count,
                    y=TOP + plot_height * (1 - value / y_max),
                    value=value,
                    bucket=index,
                    trace_id=exemplar.trace_id if exemplar else "",
                    span_id=exemplar.span_id if exemplar else "",
                )
            )
        series.append(Series(name, color, points))
    return Chart(chart_id, title, unit, series, y_max)


def _nice(value: float) -> float:
    """The chart's top: 1, 2 or 5 times a power of ten, at or above the largest value."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def count(values: list[float]) -> float:
    return float(len(values))


def red_charts(snapshot: Snapshot, buckets: Buckets) -> list[Chart]:
    invocations = snapshot.invocations
    per_second = 1 / buckets.size_s

    def items(selected: Iterable[Invocation]) -> list[Item]:
        # Valued by duration: a bucket's exemplar is its slowest request.
        return [Item(item.route, item.time_ns, item.duration_ms, item.trace_id, item.span_id) for item in selected]

    every, errors = items(invocations), items(item for item in invocations if item.error)
    return [
        chart("rate", "Requests per second, by route", "req/s", buckets, every, lambda values: len(values) * per_second),
        chart("errors", "Errors (5xx or error status), by route", "errors", buckets, errors, count),
        chart("p95", "Duration p95, by route", "ms", buckets, every, lambda values: percentile(values, 0.95)),
    ]


def lambda_charts(snapshot: Snapshot, buckets: Buckets) -> list[Chart]:
    def items(samples: list[Sample]) -> list[Item]:
        return [Item(sample.series, sample.time_ns, sample.value, sample.trace_id, sample.span_id) for sample in samples]

    return [
        chart("cold-starts", "Cold starts, by function", "starts", buckets, items(snapshot.inits), count),
        chart("init-duration", "Init Duration (the init span), by function", "ms", buckets, items(snapshot.inits), max),
        chart("memory", "Max Memory Used (REPORT), by function", "MB", buckets, items(snapshot.reports), max),
    ]


def metric_charts(snapshot: Snapshot, buckets: Buckets) -> list[Chart]:
    """A chart per metric the functions export: a sum's increase per bucket, a histogram's sum
    per bucket (its mean, for durations); series by the points' attributes."""
    by_name: dict[str, list[MetricPoint]] = defaultdict(list)
    for point in snapshot.points:
        by_name[point.name].append(point)
    charts = []
    for name, points in sorted(by_name.items()):
        keys = sorted({key for point in points for key, _ in point.attributes})
        histogram = any(point.total for point in points)
        mean = histogram and points[0].unit in TIME_UNITS
        items = []
        for point in points:
            label = " / ".join(str(value) for _, value in point.attributes) or name
            exemplar = point.exemplars[0] if point.exemplars else None
            value = (point.total / point.count if point.count else 0.0) if mean else point.total if histogram else point.count
            items.append(Item(label, point.time_ns, value, exemplar.trace_id if exemplar else "", exemplar.span_id if exemplar else ""))
        what = "mean" if mean else "sum" if histogram else "increase"
        title = f"{name} ({what}{', by ' + ', '.join(keys) if keys else ''})"
        charts.append(chart(f"metric-{name}", title, points[0].unit, buckets, items, _mean if mean else sum))
    return charts


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class RouteRed:
    route: str
    requests: int
    rate: float
    errors: int
    p50: float
    p95: float
    p99: float

    @property
    def error_share(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


def red_table(invocations: list[Invocation], window_s: float) -> list[RouteRed]:
    by_route: dict[str, list[Invocation]] = defaultdict(list)
    for invocation in invocations:
        by_route[invocation.route].append(invocation)
    rows = []
    for route, found in sorted(by_route.items()):
        durations = [item.duration_ms for item in found]
        rows.append(
            RouteRed(
                route,
                len(found),
                len(found) / window_s,
                sum(item.error for item in found),
                percentile(durations, 0.5),
                percentile(durations, 0.95),
                percentile(durations, 0.99),
            )
        )
    return rows


def environment_chart(samples: Sequence[tuple[int, dict[str, int]]], buckets: Buckets) -> Chart:
    """Environments alive by state, as the console sampled them (the last sample of each bucket)."""
    items = [Item(state, time_ns, float(number)) for time_ns, states in samples for state, number in states.items()]
    return chart("environments", "Execution environments alive, by state", "environments", buckets, items, _last)


def _last(values: list[float]) -> float:
    return values[-1]


def describe(value: Any) -> str:
    return f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
