"""Configuration as `sam local` takes it, and the switches of the local cloud."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bookstore_dev.template import ROOT
from bookstore_shared.http_client import SigV4
from localcloud.process import LocalCloudProcess, wait_until
from tests.localcloud.conftest import FIXTURES
from tests.localcloud.test_lifecycle import process_state, states
from tests.support.cloud import bookstore_cloud


@pytest.fixture(scope="module")
def configured_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    state = tmp_path_factory.mktemp("configured")
    env_vars = state / "env.json"
    env_vars.write_text(json.dumps({"HelloFunction": {"FAREWELL": "ate logo"}, "Parameters": {"UNDECLARED": "ignored"}}))
    cloud = LocalCloudProcess(
        FIXTURES / "template.yaml",
        state,
        "--parameter-overrides",
        "Greeting=oi",
        "--env-vars",
        str(env_vars),
        "--no-freeze",
        "--idle-timeout",
        "1",
        "--no-watch",
    )
    try:
        yield cloud.wait_ready()
    finally:
        cloud.stop()


def hello(cloud: LocalCloudProcess) -> dict[str, object]:
    answer: dict[str, object] = httpx.get(f"{cloud.url}/hello", params={"lang": "pt"}, timeout=30).json()
    return answer


def test_parameter_overrides_and_env_vars_file_apply_as_in_sam_local(configured_cloud: LocalCloudProcess) -> None:
    answer = hello(configured_cloud)
    assert answer["greeting"] == "oi"  # --parameter-overrides reached !Ref Greeting
    assert answer["farewell"] == "ate logo"  # the env-vars file overrode a declared variable


def test_with_freeze_off_an_idle_environment_keeps_running(configured_cloud: LocalCloudProcess) -> None:
    pid = hello(configured_cloud)["pid"]
    assert isinstance(pid, int)
    # Once its runtime waits for the next event (where freeze on would stop it), it is not stopped
    wait_until(lambda: states(configured_cloud, "HelloFunction").get(pid) == "idle", f"environment {pid} idle")
    assert process_state(pid) in {"S", "R"}


def test_an_idle_environment_ends_after_the_idle_timeout(configured_cloud: LocalCloudProcess) -> None:
    pid = hello(configured_cloud)["pid"]
    assert isinstance(pid, int)
    wait_until(lambda: process_state(pid) is None, f"environment {pid} ended", timeout_s=10)
    assert pid not in states(configured_cloud, "HelloFunction")


def test_the_recycle_command_talks_to_a_running_cloud(configured_cloud: LocalCloudProcess) -> None:
    hello(configured_cloud)
    mark = configured_cloud.mark()
    result = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "localcloud", "recycle", "--port", str(configured_cloud.port)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    # Then it prints the answer of this cloud, which recycled (how many it ended depends on whether
    # the 1 s idle timeout got there first: the count must be the one the cloud printed)
    answer = json.loads(result.stdout)
    assert set(answer) == {"recycled"}
    configured_cloud.wait_for(f"local cloud: recycled environments ({answer['recycled']} ended)", mark)
    mark = configured_cloud.mark()
    hello(configured_cloud)
    assert [report.cold for report in configured_cloud.reports("HelloFunction", mark, expected=1)] == [True]


def test_postgres_data_is_kept_across_restarts(tmp_path: Path) -> None:
    # Given a book added on a first run
    first = bookstore_cloud(tmp_path).wait_ready()
    try:
        body = {"titulo": "Persistente", "preco": "1.00", "estoque": 1}
        book = httpx.post(f"{first.url}/livros", json=body, timeout=60, auth=SigV4.from_profile(first.admin_credentials)).json()
        assert first.wait_for("seeded 5 sample books")
    finally:
        assert first.stop() == 0
    # When the local cloud starts again on the same state directory
    second = bookstore_cloud(tmp_path).wait_ready()
    try:
        # Then the book is still there, and the sample books were not seeded twice (the start-up
        # hook's lines all come before the banner that wait_ready waited for)
        assert httpx.get(f"{second.url}/livros/{book['id']}", timeout=60).json()["titulo"] == "Persistente"
        assert not [line for line in second.snapshot() if "seeded" in line]
    finally:
        second.stop()
