"""The service-to-service HTTP client tells the order flow whether a failed call may have acted."""

from __future__ import annotations

import pytest

from bookstore_shared.http_client import DependencyError, Failure, ServiceClient
from localcloud.net import free_port


def test_a_service_nobody_listens_on_is_unavailable_and_was_not_called() -> None:
    # Connection refused: the request never left, so nothing happened there (503, no compensation needed).
    client = ServiceClient("nobody", f"http://127.0.0.1:{free_port()}", timeout_seconds=1)
    with pytest.raises(DependencyError) as raised:
        client.request("GET", "/")
    assert raised.value.failure is Failure.UNAVAILABLE
