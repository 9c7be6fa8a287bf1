"""API Gateway REST proxy events, built from the JSON file (events/) that has the shape
`sam local start-api` sends, and the Lambda context object handlers receive."""

from __future__ import annotations

import copy
import json
import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

EVENTS = Path(__file__).resolve().parent / "events"


@cache
def _base() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "apigw_rest_proxy.json").read_text())
    return event


def path_parameters(resource: str, path: str) -> dict[str, str] | None:
    """The `{name}` parts of `resource` read from `path`, or None when `path` is not that resource."""
    pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "$"
    match = re.match(pattern, path)
    return match.groupdict() if match else None


def api_event(
    method: str,
    resource: str,
    path: str | None = None,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> dict[str, Any]:
    """The event for `method path` on the route `resource`; a dict body is sent as JSON."""
    path = path or resource
    event = copy.deepcopy(_base())
    all_headers = {**event["headers"], **(headers or {})}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        all_headers.setdefault("Content-Type", "application/json")
    query_values = parse_qs(query, keep_blank_values=True)
    event.update(
        httpMethod=method,
        path=path,
        resource=resource,
        body=body,
        headers=all_headers,
        multiValueHeaders={name: [value] for name, value in all_headers.items()},
        pathParameters=path_parameters(resource, path) or None,
        queryStringParameters={name: values[-1] for name, values in query_values.items()} or None,
        multiValueQueryStringParameters=query_values or None,
    )
    event["requestContext"].update(httpMethod=method, path=f"/dev{path}", resourcePath=resource, requestId=str(uuid.uuid4()))
    return event


class FakeLambdaContext:
    """The attributes of the Lambda context object that handlers and instrumentations read."""

    def __init__(self, function_name: str, memory_mb: int = 512, timeout_ms: int = 10_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms
