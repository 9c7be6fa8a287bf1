"""An OTLP/HTTP receiver that appends what it receives to JSON-lines files in the format of the
OpenTelemetry Collector's `file` exporter: one OTLP JSON export request per line
(`{"resourceSpans": [...]}`), trace and span ids in hex, enums as numbers."""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from localcloud.lifetime import until_signalled
from localcloud.net import NoDelayServer, QuietHandler

SIGNALS: dict[str, tuple[str, type[Message], type[Message]]] = {
    "/v1/traces": ("traces.jsonl", ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/metrics": ("metrics.jsonl", ExportMetricsServiceRequest, ExportMetricsServiceResponse),
    "/v1/logs": ("logs.jsonl", ExportLogsServiceRequest, ExportLogsServiceResponse),
}
HEX_IDS = {"traceId", "spanId", "parentSpanId"}
CONTENT_TYPES = {"application/x-protobuf", "application/json"}
# As a Collector's confighttp limits a request (its default max_request_body_size is 20 MiB),
# before and after inflating it: a small gzip body can expand a thousandfold.
MAX_BODY_BYTES = 20 * 1024 * 1024


class _TooLarge(ValueError):
    pass


def _inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    inflated = inflater.decompress(body, MAX_BODY_BYTES + 1)
    if len(inflated) > MAX_BODY_BYTES:
        raise _TooLarge("export too large once inflated")
    if not inflater.eof:
        raise EOFError("truncated gzip body")
    return inflated


def to_otlp_json(message: Message) -> dict[str, Any]:
    document = MessageToDict(message, use_integers_for_enums=True)
    return _hex_ids(document)  # type: ignore[no-any-return]


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: base64.b64decode(item).hex() if key in HEX_IDS and isinstance(item, str) else _hex_ids(item) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(item) for item in value]
    return value


class OtlpReceiver:
    def __init__(self, directory: Path, port: int, host: str = "127.0.0.1") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                if self.path == "/_localcloud/faults":
                    # The cloud's, on this machine: not another host's, not a web page's.
                    if self.client_address[0] not in {"127.0.0.1", "::1"} or "Origin" in self.headers:
                        self.answer(403, b"", "text/plain")
                        return
                    try:
                        length = int(self.headers.get("Content-Length") or 0)
                        if not 0 <= length <= 1024:
                            raise ValueError("Content-Length: 0 to 1024")
                        receiver._set_faults(json.loads(self.rfile.read(length)))
                    except (ValueError, TypeError, AttributeError) as error:
                        self.answer(400, str(error).encode(), "text/plain")
                        self.close_connection = True
                        return
                    self.answer(200, b"{}", "application/json")
                    return
                signal = SIGNALS.get(self.path.split("?")[0])
                if signal is None:
                    self.answer(404, b"", "text/plain")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self.answer(413, b"export too large", "text/plain")
                    self.close_connection = True  # its body stays unread
                    return
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding", "").lower() == "gzip":
                    try:
                        body = _inflate(body)
                    except _TooLarge as error:
                        self.answer(413, str(error).encode(), "text/plain")
                        return
                    except (zlib.error, EOFError) as error:  # not gzip, or cut short: the sender's 400
                        self.answer(400, str(error).encode(), "text/plain")
                        return
                # A fault the cloud turned on (localcloud.platform_faults): a Collector slow or down.
                time.sleep(receiver.delay_ms / 1000)
                if receiver.down:
                    self.answer(503, b"receiver down (an injected fault)", "text/plain")
                    return
                file_name, request_type, response_type = signal
                content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if content_type not in CONTENT_TYPES:
                    # As a Collector answers. It also keeps web pages out: a browser posts text/plain
                    # cross-site without asking first, but not these two types.
                    self.answer(415, b"Content-Type: application/x-protobuf or application/json", "text/plain")
                    return
                is_json = content_type == "application/json"
                try:
                    parsed: Any = json.loads(body) if is_json else request_type.FromString(body)
                    if is_json and not isinstance(parsed, dict):
                        raise ValueError("an OTLP/JSON export request is an object")
                except Exception as error:  # a malformed export is the sender's 400, not our crash
                    self.answer(400, str(error).encode(), "text/plain")
                    return
                # Answer first, write after: the function is waiting on this answer (its flush),
                # as it waits on a Collector's, and a Collector answers before it processes.
                receiver._pending.put((file_name, parsed))
                if is_json:
                    self.answer(200, b"{}", "application/json")
                else:
                    self.answer(200, response_type().SerializeToString(), "application/x-protobuf")

        self._pending: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self.delay_ms, self.down = 0, False
        self._server = NoDelayServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp-receiver", daemon=True)
        self._writer = threading.Thread(target=self._write, name="otlp-writer", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _set_faults(self, settings: Any) -> None:
        """`{"delay_ms": 0..60000, "down": bool}`, as localcloud.platform_faults sends it (ValueError otherwise)."""
        delay_ms, down = settings.get("delay_ms", 0), settings.get("down", False)
        if not isinstance(delay_ms, int) or isinstance(delay_ms, bool) or not 0 <= delay_ms <= 60_000 or not isinstance(down, bool):
            raise ValueError(f"expected delay_ms 0..60000 and down true/false, not {settings!r:.200}")
        self.delay_ms, self.down = delay_ms, down

    def start(self) -> OtlpReceiver:
        self._writer.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._pending.put(None)
        self._writer.join(timeout=10)

    def _write(self) -> None:
        while (item := self._pending.get()) is not None:
            file_name, parsed = item
            try:
                document = parsed if isinstance(parsed, dict) else to_otlp_json(parsed)
                line = json.dumps(document, separators=(",", ":")) + "\n"
                self.directory.mkdir(parents=True, exist_ok=True)  # deleted while we run: written again
                with (self.directory / file_name).open("a", encoding="utf-8") as sink:
                    sink.write(line)
            except (OSError, ValueError, TypeError) as error:
                # This export is lost, and says so; the writer goes on with the next ones.
                print(f"otlp receiver: an export to {file_name} was not written: {type(error).__name__}: {error}", file=sys.stderr)
            self._pending.task_done()
        self._pending.task_done()


def main(argv: list[str] | None = None) -> int:
    """Runs the receiver as its own process, as a Collector runs next to the functions: its JSON
    conversion then never competes with the API Gateway for the local cloud's interpreter."""
    parser = argparse.ArgumentParser(description="OTLP/HTTP receiver writing Collector file-exporter JSON lines")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4318)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--parent", type=int, help="end when this process (the local cloud) is no longer our parent")
    args = parser.parse_args(argv)
    receiver = OtlpReceiver(args.dir, args.port, args.host).start()
    # Also ends if the cloud is no longer its parent, in case the parent-death signal does not come.
    until_signalled(lambda: args.parent is None or os.getppid() == args.parent)
    receiver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
