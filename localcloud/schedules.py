"""The template's `Schedule` and `ScheduleV2` events, delivered as EventBridge would.

A `Schedule` event (an EventBridge rule) invokes its function with EventBridge's "Scheduled Event"
document, or with the event's `Input` instead when it has one; a `ScheduleV2` event (EventBridge
Scheduler) with its `Input`, or `{}` (Scheduler's "default notification" is not documented
further). `rate(N unit)` expressions run on their own, the first time one period after start, as
a new rule does; `cron(...)` expressions, and events with `Enabled: false` or `State: DISABLED`,
run only when triggered (`python -m localcloud schedule NAME`). A run that fails is not retried:
Lambda would retry an asynchronous invocation twice, the local cloud waits for the next period.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from localcloud.errors import LocalCloudError, NotFound

ACCOUNT = "123456789012"  # what SAM and moto use for the local account
RATE = re.compile(r"^rate\((?P<value>[1-9][0-9]*) (?P<unit>minutes?|hours?|days?)\)$")
SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    function: str  # logical id
    event: str  # the event's name under the function's Events
    kind: str  # Schedule | ScheduleV2
    expression: str
    enabled: bool
    input: str | None  # JSON text delivered instead of the default document

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"

    @property
    def period_s(self) -> float | None:
        """Seconds between runs for an enabled `rate(...)`; None when it runs only when triggered."""
        match = RATE.match(self.expression)
        if not match or not self.enabled:
            return None
        unit = match["unit"].removesuffix("s")
        if (match["value"] == "1") != (match["unit"] == unit):  # AWS: "1 minute", "5 minutes"
            return None
        return int(match["value"]) * SECONDS[unit]

    def payload(self, now: datetime, region: str) -> bytes:
        if self.input is not None:
            return self.input.encode()
        if self.kind == "ScheduleV2":
            return b"{}"
        document = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": [f"arn:aws:events:{region}:{ACCOUNT}:rule/{self.function}{self.event}"],
            "detail": {},
        }
        return json.dumps(document).encode()


def schedules(function: str, events: dict[str, Any] | None) -> list[Schedule]:
    """A function's schedule events, from its `Events` as SAM reads them."""
    found = []
    for name, event in (events or {}).items():
        kind = event.get("Type")
        if kind not in {"Schedule", "ScheduleV2"}:
            continue
        properties = event.get("Properties") or {}
        expression = properties.get("Schedule" if kind == "Schedule" else "ScheduleExpression")
        if not isinstance(expression, str):
            raise LocalCloudError(f"{function}.{name}: a {kind} event needs its expression as a string")
        enabled = properties.get("Enabled", True) is not False and properties.get("State", "ENABLED") != "DISABLED"
        payload = properties.get("Input")
        if payload is not None:
            try:
                json.loads(payload)
            except (TypeError, ValueError):
                raise LocalCloudError(f"{function}.{name}: Input must be JSON text") from None
        found.append(Schedule(function, name, kind, expression, enabled, payload))
    return found


# Invokes a function with an event; answers what the function answered and how it went.
Invoke = Callable[[str, bytes], dict[str, Any]]


class Scheduler:
    """Runs each timed schedule once per period, in a thread of its own, and any schedule on demand."""

    def __init__(self, all_schedules: list[Schedule], invoke: Invoke, region: str, log: Callable[[str], None]) -> None:
        self.schedules = {schedule.name: schedule for schedule in all_schedules}
        self._invoke = invoke
        self._region = region
        self._log = log
        self._stopped = threading.Event()
        self._due: dict[str, float] = {}

    def find(self, name: str) -> Schedule:
        """A schedule by `Function.Event`, or by function when it has exactly one."""
        if name in self.schedules:
            return self.schedules[name]
        of_function = [schedule for schedule in self.schedules.values() if schedule.function == name]
        if len(of_function) == 1:
            return of_function[0]
        known = ", ".join(sorted(self.schedules)) or "none"
        raise NotFound(f"no single schedule named {name!r} (the template's: {known})")

    def trigger(self, name: str) -> dict[str, Any]:
        """Runs a schedule now, as its next period would, and answers how the run went."""
        return self._run(self.find(name))

    def plan(self, now: float) -> None:
        """Each timed schedule is first due one period after `now`, as a new rule's is."""
        self._due = {name: now + period for name, s in self.schedules.items() if (period := s.period_s) is not None}

    def start(self) -> Callable[[], None]:
        self.plan(time.monotonic())
        if self._due:
            threading.Thread(target=self._loop, name="scheduler", daemon=True).start()
        return self._stopped.set

    def tick(self, now: float) -> float | None:
        """Runs (in threads of their own, as EventBridge invokes asynchronously) the schedules due
        at `now`; returns when the next one is due."""
        for name, due in self._due.items():
            if due <= now:
                schedule = self.schedules[name]
                assert schedule.period_s is not None
                # The next period counts from when this one was due, as a rule's does, not from now.
                self._due[name] = due + schedule.period_s * max(1, int((now - due) // schedule.period_s) + 1)
                threading.Thread(target=self._run, args=(schedule,), name=f"schedule {name}", daemon=True).start()
        return min(self._due.values(), default=None)

    def _loop(self) -> None:
        next_due = self.tick(time.monotonic())
        while next_due is not None and not self._stopped.wait(max(0.0, next_due - time.monotonic())):
            next_due = self.tick(time.monotonic())

    def _run(self, schedule: Schedule) -> dict[str, Any]:
        result = self._invoke(schedule.function, schedule.payload(datetime.now(UTC), self._region))
        self._log(f"local cloud: schedule {schedule.name} ({schedule.expression}) ran: {result['outcome']}")
        return {"schedule": schedule.name, **result}
