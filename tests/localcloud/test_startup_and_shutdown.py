"""Starting and stopping: one-line errors that name the cause, and nothing left behind."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from bookstore_dev.template import ROOT
from localcloud.cloud import LocalCloud, Options
from localcloud.errors import LocalCloudError
from localcloud.net import free_port
from localcloud.process import LocalCloudProcess, wait_until
from tests.localcloud.conftest import FIXTURES


def run_localcloud(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "localcloud", *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_busy_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_localcloud("--template", str(FIXTURES / "template.yaml"), "--port", str(port), "--state-dir", str(tmp_path))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors == [f"local cloud: error: port {port} (API) is busy on 127.0.0.1: Address already in use; free it or pass another port"]


def test_a_missing_handler_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(FIXTURES, app)
    template = app / "template.yaml"
    template.write_text(template.read_text().replace("Handler: hello.handler", "Handler: hola.handler"))
    result = run_localcloud("--template", str(template), "--port", "0", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "HelloFunction: handler hola.handler not found (no hola.py under" in result.stderr


def test_a_broken_template_is_a_one_line_error(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: [this is not\n")
    result = run_localcloud("--template", str(template), "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "broken template template.yaml" in result.stderr


@pytest.mark.timeout(180)
def test_stopping_leaves_no_process_behind(tmp_path: Path) -> None:
    # Given a running local cloud with warm (and frozen) environments, and a hook that asked for PostgreSQL
    cloud = LocalCloudProcess(FIXTURES / "template.yaml", tmp_path, "--no-watch", "--startup", "tests.localcloud.hooks:with_database")
    try:
        cloud.wait_ready()
        with httpx.Client(timeout=30) as client:
            for path in ("/hello", "/slow?seconds=0"):
                assert client.get(f"{cloud.url}{path}").status_code == 200
        family = psutil.Process(cloud.process.pid).children(recursive=True)
        # (the two just used, and the template's provisioned one)
        environments = sum(len(environments) for environments in cloud.status().values())
        assert environments == 3
        assert len([child for child in family if "awslambdaric" in " ".join(child.cmdline())]) == environments
        # (pg_ctl daemonises PostgreSQL: it is found by its data directory, not as a child)
        postgres = [
            process
            for process in psutil.process_iter(["name", "cmdline"])
            if process.info["name"] == "postgres" and str(tmp_path) in " ".join(process.info["cmdline"] or [])
        ]
        assert postgres
        family += postgres
        # When it gets SIGTERM (Ctrl-C does the same)
        assert cloud.stop() == 0
    finally:
        cloud.stop()  # a failed assertion above must not leave it running

    # Then every environment, PostgreSQL and the rest are gone
    def left() -> list[int]:
        alive = []
        for child in family:
            try:
                if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child.pid)
            except psutil.NoSuchProcess:
                pass
        return alive

    with contextlib.suppress(TimeoutError):
        wait_until(lambda: left() == [], "every process of the local cloud gone", timeout_s=30)
    assert left() == []


def test_without_a_hook_that_asks_no_database_is_started(tmp_path: Path) -> None:
    # Given a template whose start-up hands the cloud nothing to do
    cloud = LocalCloudProcess(FIXTURES / "template.yaml", tmp_path, "--no-watch")
    try:
        # When it is ready
        cloud.wait_ready()
        # Then no PostgreSQL runs for it, and it serves its routes all the same
        assert not [line for line in cloud.snapshot() if "PostgreSQL" in line]
        assert not (tmp_path / "postgres").exists()
        assert httpx.get(f"{cloud.url}/hello", timeout=30).status_code == 200
    finally:
        cloud.stop()


def start_with_hook(hook: str, state_dir: Path) -> str:
    """The error a local cloud started in this process stops with, given one start-up hook."""
    options = Options(FIXTURES / "template.yaml", state_dir, port=free_port(), otlp_port=free_port(), watch=False, startup=(hook,))
    cloud = LocalCloud(options)
    with pytest.raises(LocalCloudError) as stopped:
        cloud.start()
    return str(stopped.value)


def test_a_failing_start_up_hook_stops_the_start_with_one_line_naming_it(tmp_path: Path) -> None:
    message = start_with_hook("tests.localcloud.hooks:failing", tmp_path)
    assert message == "start-up hook tests.localcloud.hooks:failing failed: RuntimeError: the application could not start"


def test_an_unknown_start_up_hook_is_named(tmp_path: Path) -> None:
    message = start_with_hook("tests.localcloud.hooks:nope", tmp_path)
    assert message.startswith("start-up hook 'tests.localcloud.hooks:nope' not found (no nope in tests.localcloud.hooks)")


def test_a_stop_during_the_start_up_ends_it_and_leaves_nothing_running(tmp_path: Path) -> None:
    # Given a start-up that gets SIGTERM in a hook, followed by a hook that asks for PostgreSQL
    hooks = ["--startup", "tests.localcloud.hooks:terminated", "--startup", "tests.localcloud.hooks:with_database"]
    # When the local cloud runs it
    result = run_localcloud("--template", str(FIXTURES / "template.yaml"), "--state-dir", str(tmp_path), "--no-watch", *hooks)
    # Then it ends without serving, says why, and the database it started on the way is stopped
    assert result.returncode == 2, result.stdout
    assert "stopped during start-up" in result.stderr
    assert "local cloud on http" not in result.stdout
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()
