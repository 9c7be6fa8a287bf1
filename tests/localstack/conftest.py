"""LocalStack tests: LocalStack 4.14 without Docker (`make localstack`), with the template deployed
into it by `make deploy`'s script, driven over HTTP on 127.0.0.1."""

from __future__ import annotations

from pytest_socket import socket_allow_hosts


def pytest_runtest_setup() -> None:
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
