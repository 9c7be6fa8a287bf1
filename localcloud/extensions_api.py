"""The Lambda Extensions API (2020-01-01) and Telemetry API (2022-07-01) of one execution
environment, served beside its Runtime API (same host: `AWS_LAMBDA_RUNTIME_API`).

As AWS documents them (and the Runtime Interface Emulator implements them, `lambda/rapi`):

- an extension registers during the init phase (`POST /extension/register`, its name in
  `Lambda-Extension-Name`, the events it wants in the body) and gets an identifier;
- external extensions are the executables of the layers' `extensions/` folders, started before
  the runtime; an extension whose name is none of those is internal (it runs in the runtime's
  process), and may not subscribe to SHUTDOWN;
- `GET /extension/event/next` says "done" and blocks for the next event: INVOKE (each
  invocation, with the request id and deadline) or SHUTDOWN (with the reason and deadline).
  The init ends, and an invocation ends (REPORT, freeze), when the runtime and every extension
  have asked for their next event;
- `/extension/init/error` and `/extension/exit/error` report an extension's failure;
- `PUT /telemetry` subscribes an extension to platform, function and extension events, which are
  buffered and POSTed to its listener as JSON arrays.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

EXTENSION_PREFIX = "/2020-01-01/extension"
TELEMETRY_PATH = "/2022-07-01/telemetry"
EVENTS = {"INVOKE", "SHUTDOWN"}
MAX_EXTENSIONS = 10
TELEMETRY_TYPES = {"platform", "function", "extension"}
# AWS's buffering bounds for a subscription (and its defaults).
BUFFERING_DEFAULTS = {"maxItems": 1000, "maxBytes": 256 * 1024, "timeoutMs": 1000}  # AWS's documented ones
BUFFERING_BOUNDS = {"maxItems": (1000, 10_000), "maxBytes": (256 * 1024, 1024 * 1024), "timeoutMs": (25, 30_000)}
# The listener's host as an extension names it on AWS; here it is this machine.
SANDBOX_HOSTS = {"sandbox.localdomain", "sandbox"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
SCHEMA_VERSIONS = {"2022-07-01", "2022-12-13", "2025-01-29"}


class ApiError(Exception):
    """An answer of the API other than success: its HTTP status and AWS's `errorType`."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message

    def body(self) -> bytes:
        return json.dumps({"errorType": self.error_type, "errorMessage": self.message}).encode()


@dataclass
class Extension:
    identifier: str
    name: str
    events: frozenset[str]
    internal: bool
    waiting: bool = False  # at /event/next: done with the current phase
    events_queue: queue.SimpleQueue[dict[str, Any] | None] = field(default_factory=queue.SimpleQueue)
    error: dict[str, str] | None = None  # from /init/error or /exit/error


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Extensions:
    """The extensions registered in one environment and the events they wait for. `on_change` is
    called (outside the lock) whenever one registers, asks for its next event or reports an
    error, so the environment can tell whether a phase has ended."""

    def __init__(self, function_name: str, handler: str, account_id: str, external_names: set[str], on_change: Callable[[], None]) -> None:
        self._function_name = function_name
        self._account_id = account_id
        self._handler = handler
        self._external_names = external_names
        self._on_change = on_change
        self._lock = threading.Lock()
        self._by_id: dict[str, Extension] = {}
        self._registration_open = True
        self.telemetry = Telemetry()

    # --- the extensions' side --------------------------------------------------------------

    def register(self, name: str | None, body: bytes, accept_feature: str | None = None) -> tuple[Extension, bytes]:
        if not name:
            raise ApiError(403, "Extension.InvalidExtensionName", "Empty extension name")
        try:
            request = json.loads(body)
            events = list(request.get("events") or [])
        except (ValueError, AttributeError, TypeError):
            raise ApiError(403, "InvalidRequestFormat", "the body must be a JSON object with `events`") from None
        if unknown := sorted(set(events) - EVENTS):
            raise ApiError(403, "Extension.InvalidEventType", f"{unknown[0]}: ErrorInvalidEventType")
        internal = name not in self._external_names
        if internal and "SHUTDOWN" in events:
            raise ApiError(403, "Extension.InvalidEventType", "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension")
        with self._lock:
            if not self._registration_open:
                raise ApiError(403, "Extension.RegistrationClosed", "Extension registration closed already")
            if any(extension.name == name for extension in self._by_id.values()):
                raise ApiError(403, "Extension.InvalidExtensionState", "Extension with this name already registered")
            if len(self._by_id) >= MAX_EXTENSIONS:
                raise ApiError(403, "Extension.TooManyExtensions", f"Extension limit ({MAX_EXTENSIONS}) reached")
            extension = Extension(str(uuid.uuid4()), name, frozenset(events), internal)
            self._by_id[extension.identifier] = extension
        self.telemetry.emit("platform.extension", {"name": name, "state": "Ready", "events": sorted(events)})
        self._on_change()
        answer = {"functionName": self._function_name, "functionVersion": "$LATEST", "handler": self._handler}
        if "accountId" in (accept_feature or "").split(","):
            answer["accountId"] = self._account_id
        return extension, json.dumps(answer).encode()

    def next_event(self, identifier: str | None) -> dict[str, Any] | None:
        """Blocks until the extension's next event (None: the environment is going away)."""
        extension = self.known(identifier)
        with self._lock:
            if extension.waiting:
                raise ApiError(403, "Extension.InvalidExtensionState", f"extension {extension.name} is waiting for its next event already")
            extension.waiting = True
        self._on_change()
        return extension.events_queue.get()

    def report_error(self, identifier: str | None, kind: str, error_type: str | None) -> None:
        """An extension's init or exit error: the init fails, or the environment is reset after the
        invocation (AWS: no further call of that extension succeeds; it should exit)."""
        extension = self.known(identifier)
        if not error_type:
            raise ApiError(403, "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type is missing")
        extension.error = {"kind": kind, "errorType": error_type}
        self._on_change()

    def known(self, identifier: str | None) -> Extension:
        if not identifier:
            raise ApiError(403, "Extension.MissingExtensionIdentifier", "Lambda-Extension-Identifier is missing")
        with self._lock:
            extension = self._by_id.get(identifier)
        if extension is None:
            raise ApiError(403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}")
        if extension.error:
            raise ApiError(403, "Extension.InvalidExtensionState", f"extension {extension.name} has reported an error")
        return extension

    # --- the environment's side ------------------------------------------------------------

    @property
    def registered(self) -> list[Extension]:
        with self._lock:
            return list(self._by_id.values())

    def close_registration(self) -> None:
        with self._lock:
            self._registration_open = False

    def all_waiting(self) -> bool:
        with self._lock:
            return all(extension.waiting for extension in self._by_id.values())

    def failed(self) -> Extension | None:
        with self._lock:
            return next((extension for extension in self._by_id.values() if extension.error), None)

    def invoke(self, request_id: str, deadline_ms: int, function_arn: str, trace_id: str | None) -> None:
        """Hands INVOKE to every extension that asked for it (at the moment the runtime gets the event)."""
        event: dict[str, Any] = {"eventType": "INVOKE", "deadlineMs": deadline_ms, "requestId": request_id}
        event["invokedFunctionArn"] = function_arn
        if trace_id:  # left out without one, as the emulator does
            event["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace_id}
        self._send("INVOKE", event)

    def shutdown(self, reason: str, deadline_ms: int) -> None:
        self._send("SHUTDOWN", {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms})

    def close(self) -> None:
        """Releases every extension still blocked at /event/next (the environment is gone)."""
        for extension in self.registered:
            extension.events_queue.put(None)
        self.telemetry.close()

    def _send(self, event_type: str, event: dict[str, Any]) -> None:
        with self._lock:
            receivers = [extension for extension in self._by_id.values() if event_type in extension.events]
            for extension in receivers:
                extension.waiting = False
        for extension in receivers:
            extension.events_queue.put(event)


@dataclass
class _Subscription:
    extension: str
    types: frozenset[str]
    max_items: int
    max_bytes: int
    timeout_s: float
    url: str
    pending: list[dict[str, Any]] = field(default_factory=list)
    pending_bytes: int = 0
    first_pending_at: float = 0.0
    connection: http.client.HTTPConnection | None = None  # kept open between batches

    def add(self, event: dict[str, Any], size: int) -> None:
        if not self.pending:
            self.first_pending_at = time.monotonic()
        self.pending.append(event)
        self.pending_bytes += size

    def take(self) -> list[dict[str, Any]]:
        events, self.pending, self.pending_bytes = self.pending, [], 0
        return events

    def deliver(self, events: list[dict[str, Any]]) -> None:
        """POSTs a batch to the listener, over one connection while it lasts; a listener that is
        gone or slow loses the batch, as on AWS (delivery is best effort)."""
        parts = urlsplit(self.url)
        body = json.dumps(events)
        for _ in range(2):  # a kept connection the listener has closed: once more on a new one
            if self.connection is None:
                self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=2)
            try:
                self.connection.request("POST", parts.path or "/", body, {"Content-Type": "application/json"})
                self.connection.getresponse().read()
                return
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None


class Telemetry:
    """The Telemetry API's events and their subscriptions. Events are kept from the start of the
    init, so a subscription made during the init gets the init's events too (as on AWS). Delivery
    waits while the environment is frozen (`deliverable`), as the extension cannot take them."""

    MAX_BACKLOG = 10_000

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._backlog: list[dict[str, Any]] | None = []  # until the init ends; None after
        self._subscriptions: list[_Subscription] = []
        self._closed = False
        self._deliverable: Callable[[], bool] = lambda: True
        self._thread: threading.Thread | None = None

    def deliver_when(self, deliverable: Callable[[], bool]) -> None:
        self._deliverable = deliverable

    def subscribe(self, extension: Extension, body: bytes) -> bytes:
        with self._lock:
            if self._backlog is None:
                raise ApiError(403, "Telemetry.SubscriptionClosed", "extensions subscribe during the init phase")
        try:
            request = json.loads(body)
            schema = request.get("schemaVersion")
            types = frozenset(request["types"])
            destination = request["destination"]
            buffering = {**BUFFERING_DEFAULTS, **(request.get("buffering") or {})}
            url = str(destination["URI"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "ValidationError", "the subscription needs `types` and `destination.URI`") from None
        if schema not in SCHEMA_VERSIONS:
            raise ApiError(400, "ValidationError", f"schemaVersion must be one of {', '.join(sorted(SCHEMA_VERSIONS))}")
        if not types or not types <= TELEMETRY_TYPES:
            raise ApiError(400, "ValidationError", f"types must be among {', '.join(sorted(TELEMETRY_TYPES))}")
        if str(destination.get("protocol", "HTTP")).upper() != "HTTP":
            raise ApiError(400, "ValidationError", "only the HTTP protocol is supported here")
        for key, (low, high) in BUFFERING_BOUNDS.items():
            value = buffering[key]
            if not isinstance(value, int) or not low <= value <= high:
                raise ApiError(400, "ValidationError", f"buffering.{key} must be an integer from {low} to {high}")
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in SANDBOX_HOSTS | LOOPBACK_HOSTS or not parts.port:
            raise ApiError(400, "ValidationError", "destination.URI must be http://sandbox.localdomain:<port>/…")
        # The sandbox's name is this machine here: the listener is on loopback.
        url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))
        subscription = _Subscription(
            extension.name, types, buffering["maxItems"], buffering["maxBytes"], buffering["timeoutMs"] / 1000, url
        )
        with self._lock:
            for event in self._backlog or []:
                if _kind(event) in types:
                    subscription.add(event, len(json.dumps(event)))
            self._subscriptions.append(subscription)
            if self._thread is None:
                self._thread = threading.Thread(target=self._dispatch, name="telemetry-api", daemon=True)
                self._thread.start()
            self._lock.notify_all()
        self.emit("platform.telemetrySubscription", {"name": extension.name, "state": "Subscribed", "types": sorted(types)})
        return b'"OK"'

    def emit(self, event_type: str, record: Any) -> None:
        if self._backlog is None and not self._subscriptions:
            return  # past the init with no subscriber: every log line comes here, keep it cheap
        event = {"time": now_iso(), "type": event_type, "record": record}
        with self._lock:
            if self._backlog is not None and len(self._backlog) < self.MAX_BACKLOG:
                self._backlog.append(event)
            receivers = [subscription for subscription in self._subscriptions if _kind(event) in subscription.types]
            if not receivers:
                return
            size = len(json.dumps(event))
            wake = False
            for subscription in receivers:
                # The dispatcher sleeps until the oldest pending event's timeout: it needs waking
                # for a first event (a new timeout) or a full buffer only.
                wake = wake or not subscription.pending or subscription.pending_bytes + size >= subscription.max_bytes
                subscription.add(event, size)
                wake = wake or len(subscription.pending) >= subscription.max_items
            if wake:
                self._lock.notify_all()

    def wake(self) -> None:
        """The environment runs again: what waited for it may be delivered."""
        with self._lock:
            self._lock.notify_all()

    def end_backlog(self) -> None:
        """The init is over: no more subscriptions, no more events kept for them."""
        with self._lock:
            self._backlog = None

    def flush(self) -> None:
        """Delivers what is buffered now (before a SHUTDOWN, say), whatever the buffering says."""
        with self._lock:
            due = [(subscription, subscription.take()) for subscription in self._subscriptions if subscription.pending]
        for subscription, events in due:
            subscription.deliver(events)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
            connections = [subscription.connection for subscription in self._subscriptions if subscription.connection]
        for connection in connections:
            connection.close()

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                due: list[tuple[_Subscription, list[dict[str, Any]]]] = []
                while not due:
                    if self._closed:
                        return
                    wait: float | None = None  # nothing pending: until an event comes
                    now = time.monotonic()
                    ready = []
                    for subscription in self._subscriptions:
                        if not subscription.pending:
                            continue
                        age = now - subscription.first_pending_at
                        full = len(subscription.pending) >= subscription.max_items or subscription.pending_bytes >= subscription.max_bytes
                        if full or age >= subscription.timeout_s:
                            ready.append(subscription)
                        else:
                            wait = min(wait or subscription.timeout_s, subscription.timeout_s - age)
                    if ready and not self._deliverable():
                        ready, wait = [], None  # frozen: until the environment runs again (`wake`)
                    due = [(subscription, subscription.take()) for subscription in ready]
                    if not due:
                        self._lock.wait(wait)
            for subscription, events in due:
                subscription.deliver(events)


def _kind(event: dict[str, Any]) -> str:
    event_type: str = event["type"]
    return "platform" if event_type.startswith("platform.") else event_type
