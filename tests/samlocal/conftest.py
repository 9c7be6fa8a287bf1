"""sam local tests: the real `sam local start-api` and `start-lambda` (SAM CLI, on Docker), as
`make sam-local` starts them, driven over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_socket import socket_allow_hosts

from bookstore_dev import clouds
from bookstore_dev.template import ROOT
from localcloud.docker import engine as engines
from localcloud.sam_local import sam_executable, session_environment
from localcloud.traceview import Span


def pytest_runtest_setup() -> None:
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)


@dataclass(eq=False)  # hashable by identity: one session, its generated events cached
class SamLocalSession:
    cloud: clouds.Cloud

    @property
    def url(self) -> str:
        return self.cloud.url("ordem-de-compra")  # sam local serves every API on one port

    @property
    def lambda_url(self) -> str:
        return self.cloud.extra["lambda_url"]

    @property
    def state_dir(self) -> Path:
        return self.cloud.state_dir

    def output(self) -> str:
        return self.cloud.output()

    def spans(self) -> list[Span]:
        return self.cloud.spans()

    def stop(self) -> int:
        return self.cloud.stop()

    def session(self) -> dict[str, Any]:
        """What the runner wrote for other SAM CLI commands: options, engine, credentials."""
        document: dict[str, Any] = json.loads((self.state_dir / "session.json").read_text())
        return document

    def sam(self, *arguments: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        """A SAM CLI command against this session's engine, template, overrides and credentials."""
        environment = session_environment(self.session()["environment"])
        command = [sam_executable(), *arguments]
        return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=ROOT)  # noqa: S603


@pytest.fixture(scope="package")
def sam_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamLocalSession]:
    """`make sam-local` (with start-lambda too), its ports and state in a temporary folder, once it says it is ready."""
    if reason := engines.why_none_can_run():
        print(f"\nsam local tests skipped: {reason}", file=sys.stderr)
        pytest.skip(reason)
    with clouds.sam_local(tmp_path_factory.mktemp("sam-local"), lambda_port=True) as cloud:
        yield SamLocalSession(cloud)
