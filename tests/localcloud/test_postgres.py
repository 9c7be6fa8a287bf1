"""The local cloud's PostgreSQL is supervised, as RDS recovers an instance: a crash is said in one
line and the server restarts (crash recovery), with no Bookstore involved."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import psycopg

from localcloud.process import LocalCloudProcess
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
