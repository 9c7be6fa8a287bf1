"""The small HTTP servers of the local cloud (Runtime API, OTLP receiver) share these pieces."""

from __future__ import annotations

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    """A loopback port nothing listens on now (for servers that need their port before starting)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class NoDelayServer(ThreadingHTTPServer):
    """A threaded server that answers small requests at once: without TCP_NODELAY, Nagle's
    algorithm and delayed ACKs add ~40 ms to every request/response pair."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A peer that went away mid-answer (an environment killed, a client that gave up) is
        # an event of the local cloud's life, not an error of it: no traceback for that.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (keep-alive), no access log, and one way to answer."""

    protocol_version = "HTTP/1.1"

    def answer(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass
