"""What Lambda does with execution environments, as the local cloud reproduces it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from localcloud.process import LocalCloudProcess, wait_until


def get(cloud: LocalCloudProcess, path: str, timeout: float = 30) -> httpx.Response:
    return httpx.get(f"{cloud.url}{path}", timeout=timeout)


def process_state(pid: int) -> str | None:
    """The process's state letter (R running, S sleeping, T stopped), or None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def states(cloud: LocalCloudProcess, function: str) -> dict[int, str]:
    """The function's execution environments, by pid, with their state (as `python -m localcloud status` lists them)."""
    return {environment["pid"]: environment["state"] for environment in cloud.status()[function]}


def busy(cloud: LocalCloudProcess, function: str, at_least: int = 1) -> list[int] | None:
    """The pids of the function's environments running an invocation, if there are `at_least`."""
    pids = [pid for pid, state in states(cloud, function).items() if state == "busy"]
    return pids if len(pids) >= at_least else None


def test_first_request_is_cold_and_the_next_is_warm_in_the_same_environment(lifecycle_cloud: LocalCloudProcess) -> None:
    # Given no environment for the function
    lifecycle_cloud.control("recycle")
    mark = lifecycle_cloud.mark()
    # When it is called twice
    first, second = get(lifecycle_cloud, "/hello").json(), get(lifecycle_cloud, "/hello").json()
    # Then the first started an environment (Init Duration) and the second reused it
    reports = lifecycle_cloud.reports("HelloFunction", mark, expected=2)
    assert [report.cold for report in reports] == [True, False]
    assert reports[0].init_duration_ms is not None
    assert reports[0].init_duration_ms > 0
    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1
    # And the function saw the template's environment and the API Gateway event
    assert first["greeting"] == "ola"
    assert first["path"] == "/hello"
    assert all(f"RequestId: {report.request_id}" in line for report in reports for line in [report.line])


def test_lambda_lines_frame_every_invocation(lifecycle_cloud: LocalCloudProcess) -> None:
    mark = lifecycle_cloud.mark()
    request_id = get(lifecycle_cloud, "/hello").json()["request_id"]
    lifecycle_cloud.wait_for(f"REPORT RequestId: {request_id}", mark)
    lines = [line for line in lifecycle_cloud.since(mark) if request_id in line]
    assert [line.split("]", 1)[1].split()[0] for line in lines] == ["START", "END", "REPORT"]
    report = lines[-1]
    for field in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:"):
        assert field in report


def test_an_environment_is_frozen_between_invocations(lifecycle_cloud: LocalCloudProcess) -> None:
    # Given a warm environment that has answered
    pid = get(lifecycle_cloud, "/hello").json()["pid"]
    # Then, once the runtime asks for the next event, its process is stopped
    wait_until(lambda: process_state(pid) == "T", f"environment {pid} stopped")
    assert states(lifecycle_cloud, "HelloFunction")[pid] == "frozen"
    # And the next invocation thaws it and runs in it
    assert get(lifecycle_cloud, "/hello").json()["pid"] == pid


def test_parallel_requests_run_in_parallel_environments(lifecycle_cloud: LocalCloudProcess) -> None:
    # Given three slow requests at once
    with ThreadPoolExecutor(3) as pool:
        answers = [pool.submit(get, lifecycle_cloud, "/slow?seconds=1.5") for _ in range(3)]
        # Then three environments run an invocation at the same time
        running = wait_until(lambda: busy(lifecycle_cloud, "SlowFunction", 3), "three SlowFunction environments busy at once")
        pids = {answer.result().json()["pid"] for answer in answers}
    # And each request was answered by the environment that ran it
    assert set(running) == pids
    assert len(pids) == 3


def test_a_timeout_kills_the_environment_and_the_next_request_runs_in_another(lifecycle_cloud: LocalCloudProcess) -> None:
    # Given a warm environment
    warm_pid = get(lifecycle_cloud, "/slow?seconds=0").json()["pid"]
    mark = lifecycle_cloud.mark()
    # When an invocation runs past the function's 2 s Timeout
    response = get(lifecycle_cloud, "/slow?seconds=5")
    # Then the caller gets API Gateway's answer for a failed function, and Lambda's timeout line
    assert response.status_code == 502
    assert response.json() == {"message": "Internal server error"}
    lifecycle_cloud.wait_for("Task timed out after 2.00 seconds", mark)
    # And the environment that timed out is gone; the next request runs in another one
    assert process_state(warm_pid) is None  # the warm environment took the call and was killed
    assert get(lifecycle_cloud, "/slow?seconds=0").json()["pid"] != warm_pid
    killed = [report for report in lifecycle_cloud.reports("SlowFunction", mark, expected=1) if "Status: timeout" in report.line]
    assert len(killed) == 1


def test_an_import_error_fails_the_request_and_says_why(lifecycle_cloud: LocalCloudProcess) -> None:
    mark = lifecycle_cloud.mark()
    response = get(lifecycle_cloud, "/broken")
    assert response.status_code == 502
    lifecycle_cloud.wait_for("Runtime.ImportModuleError", mark)
    lifecycle_cloud.wait_for("a_package_the_function_does_not_ship", mark)
    # The next request tries a fresh environment, which fails the same way
    mark = lifecycle_cloud.mark()
    assert get(lifecycle_cloud, "/broken").status_code == 502
    lifecycle_cloud.wait_for("Phase: init Status: error", mark)


def test_a_crashed_environment_is_replaced(lifecycle_cloud: LocalCloudProcess) -> None:
    mark = lifecycle_cloud.mark()
    assert get(lifecycle_cloud, "/crash").status_code == 502
    lifecycle_cloud.wait_for("Runtime.ExitError", mark)
    assert get(lifecycle_cloud, "/crash").status_code == 502
    assert [report.cold for report in lifecycle_cloud.reports("CrashFunction", mark, expected=2)] == [True, True]


def test_past_reserved_concurrency_a_request_waits_briefly_then_is_throttled(lifecycle_cloud: LocalCloudProcess) -> None:
    # Given a function with ReservedConcurrentExecutions: 1, warm, then busy for 1.5 s
    get(lifecycle_cloud, "/one-at-a-time?seconds=0")
    with ThreadPoolExecutor(1) as pool:
        mark = lifecycle_cloud.mark()
        busy = pool.submit(get, lifecycle_cloud, "/one-at-a-time?seconds=1.5")
        lifecycle_cloud.wait_for("[OneAtATimeFunction] START", mark)  # it holds the one environment
        # When a second request comes meanwhile, Then after the short wait (0.5 s here) it gets
        # API Gateway's throttling answer
        throttled = get(lifecycle_cloud, "/one-at-a-time?seconds=0")
        assert busy.result().status_code == 200
    assert throttled.status_code == 429
    assert throttled.json() == {"message": "Too Many Requests"}
    # And a request that finds the environment free within the wait is served
    with ThreadPoolExecutor(1) as pool:
        mark = lifecycle_cloud.mark()
        busy = pool.submit(get, lifecycle_cloud, "/one-at-a-time?seconds=0.2")
        lifecycle_cloud.wait_for("[OneAtATimeFunction] START", mark)
        assert get(lifecycle_cloud, "/one-at-a-time?seconds=0").status_code == 200
        assert busy.result().status_code == 200


def test_recycle_makes_the_next_request_cold(lifecycle_cloud: LocalCloudProcess) -> None:
    get(lifecycle_cloud, "/hello")
    lifecycle_cloud.control("recycle")
    mark = lifecycle_cloud.mark()
    get(lifecycle_cloud, "/hello")
    assert [report.cold for report in lifecycle_cloud.reports("HelloFunction", mark, expected=1)] == [True]


def test_status_lists_an_environment_busy_during_its_invocation_and_frozen_after(lifecycle_cloud: LocalCloudProcess) -> None:
    # Given one invocation of a slow function in flight
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(get, lifecycle_cloud, "/slow?seconds=1.5")
        # Then status lists the environment running it as busy (not only the idle ones)
        running = wait_until(lambda: busy(lifecycle_cloud, "SlowFunction"), "a SlowFunction environment busy")
        pid = answer.result().json()["pid"]
    assert running == [pid]
    # And once it has answered and the runtime waits for the next event, frozen (freeze is on)
    wait_until(lambda: states(lifecycle_cloud, "SlowFunction").get(pid) == "frozen", f"environment {pid} frozen")
    assert process_state(pid) == "T"


def test_an_edit_to_the_code_is_picked_up(lifecycle_cloud: LocalCloudProcess, lifecycle_dir: Path) -> None:
    # Given a function answering v1
    old = get(lifecycle_cloud, "/hello").json()
    assert old["version"] == "v1"
    # When its code is edited
    source = lifecycle_dir / "functions" / "hello.py"
    mark = lifecycle_cloud.mark()
    source.write_text(source.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    lifecycle_cloud.wait_for("hello.py changed", mark)
    lifecycle_cloud.wait_for("recycled environments", mark)  # printed once the old environments have ended
    # Then the next request runs the new code, in a new environment
    mark = lifecycle_cloud.mark()
    new = get(lifecycle_cloud, "/hello").json()
    assert new["version"] == "v2"
    assert new["pid"] != old["pid"]
    assert [report.cold for report in lifecycle_cloud.reports("HelloFunction", mark, expected=1)] == [True]


def test_provisioned_concurrency_initialises_an_environment_before_any_request(lifecycle_cloud: LocalCloudProcess) -> None:
    # Given the template's ProvisionedConcurrencyConfig (behind a condition): at start, its
    # environment exists, has finished its init with no request yet, and is frozen until used
    (environment,) = lifecycle_cloud.status()["ProvisionedFunction"]
    assert environment["state"] == "frozen"
    mark = lifecycle_cloud.mark()

    # When the first request arrives
    body = get(lifecycle_cloud, "/provisioned").json()

    # Then it runs in that environment, which Lambda marks provisioned, and pays no init
    assert body["pid"] == environment["pid"]
    assert body["initialization_type"] == "provisioned-concurrency"
    (report,) = lifecycle_cloud.reports("ProvisionedFunction", mark, expected=1)
    assert not report.cold


def test_recycling_starts_the_provisioned_environment_again(lifecycle_cloud: LocalCloudProcess) -> None:
    (before,) = lifecycle_cloud.status()["ProvisionedFunction"]

    # When the environments are recycled (as a code change does)
    lifecycle_cloud.control("recycle")

    # Then a new provisioned environment is initialised, before any request
    def ready_again() -> bool:
        environments = lifecycle_cloud.status()["ProvisionedFunction"]
        return len(environments) == 1 and environments[0]["pid"] != before["pid"] and environments[0]["state"] != "initializing"

    wait_until(ready_again, "a new provisioned environment", timeout_s=30)
    assert get(lifecycle_cloud, "/hello").json()["initialization_type"] == "on-demand"
