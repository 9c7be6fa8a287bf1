"""HTTP client for calls between services: one pooled client per environment, short timeouts,
and transport failures turned into one exception the caller can map to 502/503/504."""

from __future__ import annotations

import configparser
from collections.abc import Generator
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bookstore_shared import flags


class Failure(StrEnum):
    TIMEOUT = "timeout"  # no answer in time: the call may or may not have taken effect
    UNAVAILABLE = "unavailable"  # could not connect: the call did not take effect
    BAD_RESPONSE = "bad_response"  # 5xx, a dropped connection, or not the contract: it may have taken effect


class DependencyError(Exception):
    def __init__(self, dependency: str, failure: Failure, detail: str) -> None:
        super().__init__(f"{dependency}: {failure.value}: {detail}")
        self.dependency = dependency
        self.failure = failure


SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class SigV4(httpx.Auth):
    """Signs each request for API Gateway's `AWS_IAM` authorization (Signature Version 4, service
    `execute-api`) with the execution environment's role credentials, using botocore's signer.

    Only `host` (and the `X-Amz-*` headers the signer adds) are signed. Headers added later stay
    outside the signature, as they must: the OpenTelemetry httpx instrumentation puts
    `traceparent` and `tracestate` on the request in the transport, after this flow has run, and
    a header added after signing but listed as signed would break the signature."""

    requires_request_body = True

    def __init__(self, region: str, credentials: Credentials | None = None) -> None:
        """Signs with `credentials`, or the environment's (read once: a Lambda environment's stay
        the same for its life)."""
        credentials = credentials or botocore.session.get_session().get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials to sign calls to the other services with")
        self._credentials = credentials
        self._region = region

    @classmethod
    def from_profile(cls, credentials_file: Path, profile: str | None = None) -> SigV4:
        """From an AWS shared-credentials file: `profile`, or its only one (with its `region`)."""
        parser = configparser.ConfigParser()
        if not parser.read(credentials_file):
            raise RuntimeError(f"no credentials file at {credentials_file}")
        name = profile or next(iter(parser.sections()), "")
        if name not in parser:
            raise RuntimeError(f"no profile {name!r} in {credentials_file}")
        section = parser[name]
        return cls(section.get("region", "us-east-1"), Credentials(section["aws_access_key_id"], section["aws_secret_access_key"]))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.signature(request.method, str(request.url), request.content))
        yield request

    def signature(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """The headers that sign this request (any HTTP client can add them)."""
        signed = AWSRequest(method=method, url=url, data=body, headers={"host": urlsplit(url).netloc})
        SigV4Auth(self._credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(signed)
        return {name: str(signed.headers[name]) for name in SIGNATURE_HEADERS if name in signed.headers}


class ServiceClient:
    """Calls one other service's API. The client (and its keep-alive connections) lives as long as
    the execution environment, so warm invocations skip the TCP handshake."""

    def __init__(
        self, dependency: str, base_url: str, timeout_seconds: float, auth: httpx.Auth | None = None, unreachable_flag: str | None = None
    ) -> None:
        self.dependency = dependency
        self._unreachable_flag = unreachable_flag  # a feature flag that makes the dependency unreachable
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 2.0)),
            headers={"Accept": "application/json"},
            auth=auth,
        )

    def request(self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """Sends the request; answers below 500 are returned for the caller to interpret."""
        if self._unreachable_flag and flags.enabled(self._unreachable_flag):
            path = flags.UNREACHABLE_URL + path  # an absolute URL: the client's base URL is not used
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
