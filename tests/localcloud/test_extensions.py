"""Lambda extensions in the local cloud: external ones from a layer's `extensions/`, internal ones
registered from the runtime's process, the Extensions API's phases and the Telemetry API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.process import LocalCloudProcess, Report, wait_until
from tests.localcloud.test_lifecycle import get, process_state, states

FIXTURES = Path(__file__).resolve().parent / "extension_fixtures"
EXTENSION_WORK_MS = 400  # as the template sets it for ExternalFunction (and internal.py works)


@pytest.fixture(scope="module")
def record_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extension-records")


@pytest.fixture(scope="module")
def cloud(record_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    process = LocalCloudProcess(
        FIXTURES / "template.yaml", tmp_path_factory.mktemp("extensions-state"), "--parameter-overrides", f"RecordDir={record_dir}"
    )
    try:
        yield process.wait_ready()
    finally:
        process.stop()


def report_for(cloud: LocalCloudProcess, function: str, request_id: str, mark: int) -> Report:
    """The REPORT line of one invocation (it comes when the invocation ends, extensions included)."""
    return wait_until(
        lambda: next((report for report in cloud.reports(function, mark) if report.request_id == request_id), None),
        f"the REPORT of {request_id}",
    )


def records(record_dir: Path, prefix: str) -> list[dict[str, Any]]:
    """What the fixture extensions (or the runtime) wrote, every process of that kind, in order of time."""
    found = []
    for path in record_dir.glob(f"{prefix}*.jsonl"):
        text = path.read_text(encoding="utf-8")
        found += [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]
    return sorted(found, key=lambda entry: entry["at_ms"])


def worked(record_dir: Path, prefix: str, request_id: str) -> bool:
    return any(entry["kind"] == "worked" and entry["request_id"] == request_id for entry in records(record_dir, prefix))


def telemetry_events(record_dir: Path) -> list[dict[str, Any]]:
    return [event for entry in records(record_dir, "recorder") if entry["kind"] == "telemetry" for event in entry["events"]]


def test_the_response_leaves_before_the_extension_ends_and_report_counts_its_time(cloud: LocalCloudProcess, record_dir: Path) -> None:
    # Given a warm function whose layer has an external extension working 400 ms after each invocation
    warm = get(cloud, "/external").json()["pid"]
    wait_until(lambda: states(cloud, "ExternalFunction").get(warm) == "frozen", "the environment frozen")
    mark = cloud.mark()

    # When a client calls it
    response = get(cloud, "/external")

    # Then the answer arrives while the extension is still at work on that invocation
    assert response.status_code == 200
    request_id = response.json()["request_id"]
    assert not worked(record_dir, "recorder", request_id)
    pid = response.json()["pid"]
    assert states(cloud, "ExternalFunction")[pid] == "busy"
    # And the invocation ends after the extension: REPORT counts its time, Duration and billing include it
    report = report_for(cloud, "ExternalFunction", request_id, mark)
    assert worked(record_dir, "recorder", request_id)
    # (the extension starts at INVOKE, beside the handler, which is quick: most of it comes after)
    assert report.duration_ms >= EXTENSION_WORK_MS
    assert report.post_runtime_ms is not None
    assert report.duration_ms / 2 < report.post_runtime_ms < report.duration_ms
    # And only then is the environment frozen, extension included
    wait_until(lambda: states(cloud, "ExternalFunction")[pid] == "frozen", "the environment frozen after its extension")
    assert process_state(pid) == "T"


def test_the_extension_gets_invoke_with_the_request_and_its_deadline(cloud: LocalCloudProcess, record_dir: Path) -> None:
    # When the function is called
    response = get(cloud, "/external")
    request_id = response.json()["request_id"]

    # Then its extension received INVOKE for that request, with the function's ARN and an absolute deadline
    wait_until(lambda: worked(record_dir, "recorder", request_id), "the extension's work on the request")
    event = next(
        entry["event"]
        for entry in records(record_dir, "recorder")
        if entry["kind"] == "event" and entry["event"].get("requestId") == request_id
    )
    assert event["eventType"] == "INVOKE"
    assert event["invokedFunctionArn"].endswith(":function:ExternalFunction")
    assert 0 < event["deadlineMs"] - time.time() * 1000 <= 3000
    registration = next(entry["registration"] for entry in records(record_dir, "recorder") if entry["kind"] == "registered")
    assert registration["functionName"] in {"ExternalFunction", "SlowExtensionFunction", "FailingExtensionFunction"}


def test_the_telemetry_api_delivers_the_platform_events_and_the_function_logs(cloud: LocalCloudProcess, record_dir: Path) -> None:
    # Given a cold environment with a telemetry-subscribed extension
    cloud.control("recycle")

    # When it serves a request, and then another: an invocation's platform.report is made once the
    # extension has asked for its next event, when the environment freezes; as on AWS, it is
    # delivered when the environment runs again
    first = get(cloud, "/external").json()
    request_id = first["request_id"]
    wait_until(lambda: states(cloud, "ExternalFunction").get(first["pid"]) == "frozen", "the environment frozen")
    assert get(cloud, "/external").json()["pid"] == first["pid"]

    # Then the extension receives the init's events, the invocation's and the function's log line
    def seen() -> dict[str, dict[str, Any]] | None:
        events = telemetry_events(record_dir)
        mine = {event["type"]: event for event in events if event["record"] == {} or _about(event, request_id)}
        inits = [event for event in events if event["type"].startswith("platform.init")]
        if "platform.report" not in mine:
            return None
        return {**mine, **{event["type"]: event for event in inits}}

    found = wait_until(seen, "the invocation's platform.report delivered", timeout_s=15)
    assert {"platform.initStart", "platform.initRuntimeDone", "platform.initReport", "platform.start", "platform.runtimeDone"} <= set(found)
    assert found["platform.initReport"]["record"]["metrics"]["durationMs"] > 0
    runtime_done = found["platform.runtimeDone"]["record"]
    assert runtime_done["status"] == "success"
    assert [span["name"] for span in runtime_done["spans"]] == ["responseLatency", "responseDuration", "runtimeOverhead"]
    metrics = found["platform.report"]["record"]["metrics"]
    assert metrics["durationMs"] >= EXTENSION_WORK_MS
    assert metrics["billedDurationMs"] >= metrics["durationMs"]
    assert metrics["memorySizeMB"] == 128
    logs = [event["record"] for event in telemetry_events(record_dir) if event["type"] == "function"]
    assert f"quick handler for {request_id}" in logs


def _about(event: dict[str, Any], request_id: str) -> bool:
    record = event["record"]
    return (isinstance(record, dict) and record.get("requestId") == request_id) or record == f"quick handler for {request_id}"


def test_recycling_sends_sigterm_to_the_runtime_and_shutdown_to_the_extension(cloud: LocalCloudProcess, record_dir: Path) -> None:
    # Given a warm environment with an external extension subscribed to SHUTDOWN
    pid = get(cloud, "/external").json()["pid"]
    wait_until(lambda: states(cloud, "ExternalFunction").get(pid) == "frozen", "the environment idle")
    asked = time.time() * 1000

    # When the environments are recycled
    cloud.control("recycle")

    # Then the runtime got SIGTERM, and the extension SHUTDOWN with reason and a deadline 2 s on
    wait_until(lambda: process_state(pid) is None, "the runtime ended")
    assert any(entry["kind"] == "sigterm" for entry in records(record_dir, f"runtime-{pid}"))
    shutdowns = [
        entry["event"]
        for entry in records(record_dir, "recorder")
        if entry["kind"] == "event" and entry["event"]["eventType"] == "SHUTDOWN" and entry["at_ms"] >= asked
    ]
    assert shutdowns
    assert shutdowns[-1]["shutdownReason"] == "spindown"
    assert 0 < shutdowns[-1]["deadlineMs"] - asked <= 2500


def test_an_extension_past_the_functions_timeout_ends_the_environment(cloud: LocalCloudProcess) -> None:
    # Given a function (timeout 1 s) whose extension works 5 s after each invocation
    mark = cloud.mark()

    # When it is called: the runtime answers at once
    response = get(cloud, "/slow-extension")
    assert response.status_code == 200
    pid = response.json()["pid"]

    # Then the invocation times out in its post-runtime phase, and the environment is ended
    report = report_for(cloud, "SlowExtensionFunction", response.json()["request_id"], mark)
    assert "Status: timeout" in report.line
    wait_until(lambda: process_state(pid) is None, "the environment ended")
    # And the next request gets a new one
    assert get(cloud, "/slow-extension").json()["pid"] != pid


def test_an_extension_init_error_fails_the_init_and_says_why(cloud: LocalCloudProcess) -> None:
    mark = cloud.mark()

    # When a function whose extension reports an init error is called
    response = get(cloud, "/failing-extension")

    # Then the request fails as an init failure does, naming the extension's error type
    assert response.status_code == 502
    cloud.wait_for("Extension.ConfigInvalid", mark)
    cloud.wait_for("INIT_REPORT", mark)


def test_an_internal_extension_works_after_the_response_and_may_not_ask_for_shutdown(cloud: LocalCloudProcess, record_dir: Path) -> None:
    mark = cloud.mark()

    # When a function with an internal extension is called
    response = get(cloud, "/internal")

    # Then its registration for SHUTDOWN was refused as AWS refuses it
    body = response.json()
    assert body["refused"]["status"] == 403
    assert body["refused"]["body"]["errorType"] == "Extension.InvalidEventType"
    # And the extension's work on the request ends after the answer, inside the invocation
    assert not worked(record_dir, "internal", body["request_id"])
    report = report_for(cloud, "InternalFunction", body["request_id"], mark)
    assert worked(record_dir, "internal", body["request_id"])
    assert report.duration_ms >= EXTENSION_WORK_MS
    assert report.post_runtime_ms is not None
    assert report.duration_ms / 2 < report.post_runtime_ms < report.duration_ms


def test_registering_after_the_init_is_refused(cloud: LocalCloudProcess) -> None:
    response = get(cloud, "/internal?register=late")
    late = response.json()["late"]
    assert late["status"] == 403
    assert late["body"]["errorType"] == "Extension.RegistrationClosed"
