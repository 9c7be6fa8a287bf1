"""Local cloud tests: `python -m localcloud` started as a process, driven over HTTP on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_socket import socket_allow_hosts

from localcloud.process import LocalCloudProcess
from tests.support.cloud import bookstore_cloud as bookstore_cloud_process

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_runtest_setup() -> None:
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)


@pytest.fixture(scope="session")
def bookstore_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    """The Bookstore's own template on the local cloud, as `make run` starts it."""
    cloud = bookstore_cloud_process(tmp_path_factory.mktemp("bookstore-state"))
    try:
        yield cloud.wait_ready()
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def lifecycle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the lifecycle fixtures, so a test may edit a function's code."""
    target = tmp_path_factory.mktemp("lifecycle") / "app"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture(scope="module")
def lifecycle_cloud(lifecycle_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloudProcess]:
    cloud = LocalCloudProcess(
        lifecycle_dir / "template.yaml", tmp_path_factory.mktemp("lifecycle-state"), "--max-environments", "4", "--throttle-wait", "0.5"
    )
    try:
        yield cloud.wait_ready()
    finally:
        cloud.stop()
