"""The local cloud's PostgreSQL is supervised, as RDS recovers an instance: a crash is said in one
line and the server restarts (crash recovery), with no Bookstore involved."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path

import psutil
import psycopg

from localcloud.process import LocalCloudProcess, wait_until
from tests.localcloud.conftest import FIXTURES


def test_a_postgresql_that_dies_is_restarted_and_a_stop_afterwards_is_clean(tmp_path: Path) -> None:
    # Given a local cloud whose start-up asked for a database
    cloud = LocalCloudProcess(FIXTURES / "template.yaml", tmp_path, "--no-watch", "--startup", "tests.localcloud.hooks:with_database")
    try:
        cloud.wait_ready()
        port = int(re.findall(r"a database on port (\d+)", cloud.wait_for("fixture hook: a database on port"))[0])
        postmaster = int((tmp_path / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])
        mark = cloud.mark()
        # When the server is killed
        os.kill(postmaster, signal.SIGKILL)
        # Then the cloud says so and brings it back, on the same port, with its data
        cloud.wait_for("PostgreSQL stopped unexpectedly", mark)
        cloud.wait_for("PostgreSQL restarted", mark, timeout_s=90)
        with psycopg.connect(host=str(tmp_path / "postgres" / "run"), port=port, user="postgres", dbname="postgres") as admin:
            assert admin.execute("SELECT 1").fetchone() == (1,)
    finally:
        # And a stop afterwards ends it without an error
        assert cloud.stop() == 0
    assert not [line for line in cloud.snapshot() if "while stopping" in line or "pg_ctl failed" in line]


def test_after_the_cloud_is_killed_nothing_of_it_runs_and_a_new_one_starts_on_the_same_state(tmp_path: Path) -> None:
    # Given a cloud with its database, killed outright (kill -9 stops nothing: its server lives on)
    first = LocalCloudProcess(FIXTURES / "template.yaml", tmp_path, "--no-watch", "--startup", "tests.localcloud.hooks:with_database")
    first.wait_ready().wait_for("fixture hook: a database on port")
    orphan = int((tmp_path / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0])
    environments = [environment["pid"] for environments in first.status().values() for environment in environments]
    assert environments  # the provisioned one, frozen
    children = [int(pid) for pid in Path(f"/proc/{first.process.pid}/task/{first.process.pid}/children").read_text().split()]
    first.process.kill()
    first.process.wait()
    # Its execution environments (frozen or not) and its OTLP receiver die with it (the kernel's
    # parent-death signal); only its PostgreSQL lives on, as a server left by a crash does
    gone = [*environments, *[pid for pid in children if pid != orphan]]

    def running() -> list[str]:
        alive = []
        for pid in gone:
            with contextlib.suppress(psutil.NoSuchProcess):
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:  # dead, not yet reaped by init
                    alive.append(" ".join(process.cmdline()))
        return alive

    with contextlib.suppress(TimeoutError):
        wait_until(lambda: not running(), "the cloud's processes gone", timeout_s=30)
    assert running() == []

    # When a new cloud starts on the same state directory
    second = LocalCloudProcess(FIXTURES / "template.yaml", tmp_path, "--no-watch", "--startup", "tests.localcloud.hooks:with_database")
    try:
        second.wait_ready()
        # Then it stopped the orphaned server and runs its own
        assert second.wait_for("fixture hook: a database on port")
        assert int((tmp_path / "postgres" / "postmaster.pid").read_text().split("\n", 1)[0]) != orphan
    finally:
        assert second.stop() == 0
