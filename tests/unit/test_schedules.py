"""The local cloud's schedules: read from the template's events, delivered as EventBridge would."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from bookstore_dev.template import TEMPLATE
from localcloud import template as cloud_template
from localcloud.errors import LocalCloudError
from localcloud.schedules import Schedule, Scheduler, schedules

NOW = datetime(2026, 11, 29, 14, 0, 5, tzinfo=UTC)


def test_bookstores_reconciler_runs_every_minute_from_its_templates_schedule_event() -> None:
    template = cloud_template.load(TEMPLATE, {})
    assert [(s.name, s.kind, s.period_s) for s in template.schedules] == [("ReconciliarOrdensFunction.ACadaMinuto", "Schedule", 60)]


def test_a_schedule_rule_delivers_eventbridges_scheduled_event_document() -> None:
    (schedule,) = schedules("Fn", {"Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(5 minutes)"}}})
    event = json.loads(schedule.payload(NOW, "us-east-1"))
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-11-29T14:00:05Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/FnTick"]
    assert event["detail"] == {}
    assert schedule.period_s == 300


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ({"Type": "Schedule", "Properties": {"Schedule": "rate(1 hour)", "Input": '{"a": 1}'}}, {"a": 1}),
        ({"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 day)", "Input": '{"b": 2}'}}, {"b": 2}),
        ({"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 day)"}}, {}),
    ],
)
def test_an_events_input_is_delivered_instead_of_the_default_document(event: dict[str, Any], payload: dict[str, Any]) -> None:
    (schedule,) = schedules("Fn", {"Tick": event})
    assert json.loads(schedule.payload(NOW, "us-east-1")) == payload


@pytest.mark.parametrize(
    "properties",
    [
        {"Schedule": "cron(0 12 * * ? *)"},  # cron: not computed locally
        {"Schedule": "rate(1 minutes)"},  # AWS refuses the plural for 1
        {"Schedule": "rate(2 minute)"},  # and the singular for more
        {"Schedule": "rate(1 minute)", "Enabled": False},
        {"Schedule": "rate(1 minute)", "State": "DISABLED"},
    ],
)
def test_cron_malformed_and_disabled_schedules_run_only_when_triggered(properties: dict[str, Any]) -> None:
    (schedule,) = schedules("Fn", {"Tick": {"Type": "Schedule", "Properties": properties}})
    assert schedule.period_s is None


def test_an_input_that_is_not_json_stops_the_start_with_the_events_name() -> None:
    with pytest.raises(LocalCloudError, match=r"Fn\.Tick: Input must be JSON"):
        schedules("Fn", {"Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 hour)", "Input": "{nope"}}})


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.ran = threading.Semaphore(0)

    def __call__(self, function: str, event: bytes) -> dict[str, Any]:
        self.calls.append((function, event))
        self.ran.release()
        return {"outcome": "response", "response": {}}


def every_minute() -> Schedule:
    return Schedule("Fn", "Tick", "Schedule", "rate(1 minute)", enabled=True, input=None)


def test_a_schedule_runs_one_period_after_start_then_each_period_counted_from_when_it_was_due() -> None:
    # Given a rate(1 minute) schedule started at t=1000
    recorder = Recorder()
    scheduler = Scheduler([every_minute()], recorder, "us-east-1", lambda _: None)
    scheduler.plan(1000.0)
    # When the clock is just before it, Then nothing runs and the next run is still due at 1060
    assert scheduler.tick(1059.9) == 1060.0
    assert recorder.calls == []
    # When it is reached 2 s late, Then it runs once, and the next is due at 1120 (not 1122)
    assert scheduler.tick(1062.0) == 1120.0
    assert recorder.ran.acquire(timeout=10)
    assert [function for function, _ in recorder.calls] == ["Fn"]
    # When the clock jumps three periods (a suspended laptop), Then it runs once, not three times
    assert scheduler.tick(1300.0) == 1360.0
    assert recorder.ran.acquire(timeout=10)
    assert len(recorder.calls) == 2


def test_triggering_runs_a_schedule_now_by_function_or_full_name_and_an_unknown_one_is_an_error() -> None:
    recorder = Recorder()
    scheduler = Scheduler([every_minute()], recorder, "us-east-1", lambda _: None)
    assert scheduler.trigger("Fn")["schedule"] == "Fn.Tick"
    assert scheduler.trigger("Fn.Tick")["outcome"] == "response"
    with pytest.raises(LocalCloudError, match=r"Fn\.Tick"):
        scheduler.trigger("Other")
