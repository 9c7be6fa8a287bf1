"""HTTP client for calls between services: one pooled client per environment, short timeouts,
and transport failures turned into one exception the caller can map to 502/503/504."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import httpx


class Failure(StrEnum):
    TIMEOUT = "timeout"  # no answer in time: the call may or may not have taken effect
    UNAVAILABLE = "unavailable"  # could not connect: the call did not take effect
    BAD_RESPONSE = "bad_response"  # 5xx, a dropped connection, or not the contract: it may have taken effect


class DependencyError(Exception):
    def __init__(self, dependency: str, failure: Failure, detail: str) -> None:
        super().__init__(f"{dependency}: {failure.value}: {detail}")
        self.dependency = dependency
        self.failure = failure


class ServiceClient:
    """Calls one other service's API. The client (and its keep-alive connections) lives as long as
    the execution environment, so warm invocations skip the TCP handshake."""

    def __init__(self, dependency: str, base_url: str, timeout_seconds: float) -> None:
        self.dependency = dependency
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2.0)),
            headers={"Accept": "application/json"},
        )

    def request(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """Sends the request; answers below 500 are returned for the caller to interpret."""
        try:
            response = self._client.request(method, path, json=json, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # The request never left: nothing happened on the other side.
            raise DependencyError(self.dependency, Failure.UNAVAILABLE, type(error).__name__) from error
        except httpx.TimeoutException as error:
            raise DependencyError(self.dependency, Failure.TIMEOUT, type(error).__name__) from error
        except httpx.TransportError as error:
            # Sent, then the connection broke: the other side may have acted on it.
            raise DependencyError(self.dependency, Failure.BAD_RESPONSE, type(error).__name__) from error
        if response.status_code >= 500:
            raise DependencyError(self.dependency, Failure.BAD_RESPONSE, f"HTTP {response.status_code}")
        return response


def json_body(response: httpx.Response, dependency: str) -> dict[str, Any]:
    """The JSON object a dependency answered, or a BAD_RESPONSE failure if it is not one."""
    try:
        body = response.json()
    except ValueError as error:
        raise DependencyError(dependency, Failure.BAD_RESPONSE, "body is not JSON") from error
    if not isinstance(body, dict):
        raise DependencyError(dependency, Failure.BAD_RESPONSE, "body is not a JSON object")
    return body
