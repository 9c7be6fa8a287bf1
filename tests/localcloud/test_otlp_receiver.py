"""The OTLP receiver writes what the Collector's `file` exporter would."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from localcloud.net import free_port
from localcloud.otlp import OtlpReceiver

TRACE_ID = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
SPAN_ID = bytes.fromhex("00f067aa0ba902b7")


def export_request() -> ExportTraceServiceRequest:
    span = Span(
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        name="GET /livros/{id}",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=1,
        end_time_unix_nano=2,
    )
    resource = Resource(attributes=[KeyValue(key="service.name", value=AnyValue(string_value="cadastro-de-livros"))])
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=[span])])])


def test_protobuf_json_and_gzip_exports_become_otlp_json_lines(tmp_path: Path) -> None:
    receiver = OtlpReceiver(tmp_path, free_port()).start()
    try:
        body = export_request().SerializeToString()
        protobuf = {"Content-Type": "application/x-protobuf"}
        assert httpx.post(f"{receiver.endpoint}/v1/traces", content=body, headers=protobuf).status_code == 200
        gzipped = {**protobuf, "Content-Encoding": "gzip"}
        assert httpx.post(f"{receiver.endpoint}/v1/traces", content=gzip.compress(body), headers=gzipped).status_code == 200
        as_json = {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": TRACE_ID.hex(), "name": "json"}]}]}]}
        assert httpx.post(f"{receiver.endpoint}/v1/traces", json=as_json).status_code == 200
        assert httpx.post(f"{receiver.endpoint}/v1/traces", content=b"not protobuf", headers=protobuf).status_code == 400
        assert httpx.post(f"{receiver.endpoint}/v1/logs", json={"resourceLogs": []}).status_code == 200
    finally:
        receiver.stop()

    lines = [json.loads(line) for line in (tmp_path / "traces.jsonl").read_text().splitlines()]
    assert len(lines) == 3
    span = lines[0]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    # The Collector's JSON: ids in hex, enums as numbers, 64-bit integers as strings
    assert (span["traceId"], span["spanId"], span["kind"], span["startTimeUnixNano"]) == (TRACE_ID.hex(), SPAN_ID.hex(), 2, "1")
    assert lines[1] == lines[0]
    assert lines[2] == as_json
    assert (tmp_path / "logs.jsonl").read_text().strip() == '{"resourceLogs":[]}'


def test_an_export_too_large_or_a_gzip_bomb_is_refused_and_nothing_written(tmp_path: Path) -> None:
    # Given a running receiver
    receiver = OtlpReceiver(tmp_path, free_port()).start()
    gzipped = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    try:
        # When it gets 30 MiB of zeros gzipped into a few dozen KiB, a truncated gzip body and a body over the limit
        bomb = httpx.post(f"{receiver.endpoint}/v1/traces", content=gzip.compress(bytes(30 * 1024 * 1024)), headers=gzipped)
        cut = httpx.post(f"{receiver.endpoint}/v1/traces", content=gzip.compress(b"x" * 1000)[:-12], headers=gzipped)
        huge = httpx.post(
            f"{receiver.endpoint}/v1/traces", content=bytes(21 * 1024 * 1024), headers={"Content-Type": "application/x-protobuf"}
        )
    finally:
        receiver.stop()
    # Then each is refused as the Collector would, and nothing reached the files
    assert (bomb.status_code, cut.status_code, huge.status_code) == (413, 400, 413)
    assert not (tmp_path / "traces.jsonl").exists()


def test_the_receivers_faults_take_only_what_the_cloud_sends_and_the_exports_go_on(tmp_path: Path) -> None:
    # Given a running receiver
    receiver = OtlpReceiver(tmp_path, free_port()).start()
    faults = f"{receiver.endpoint}/_localcloud/faults"
    protobuf = {"Content-Type": "application/x-protobuf"}
    try:
        # When it is sent settings that are not the cloud's (wrong types, out of range, not JSON)
        refused = [
            httpx.post(faults, content=body).status_code
            for body in (b"not json", b"[1]", b'{"delay_ms": "abc"}', b'{"delay_ms": -5}', b'{"delay_ms": 99999999}', b'{"down": 1}')
        ]
        browser = httpx.post(faults, json={"down": True}, headers={"Origin": "http://example.com"}).status_code
        # Then each is refused, and an export still gets through
        still = httpx.post(f"{receiver.endpoint}/v1/traces", content=export_request().SerializeToString(), headers=protobuf).status_code
        # And when the cloud says the receiver is down, it answers 503, until it says otherwise
        assert httpx.post(faults, json={"delay_ms": 0, "down": True}).status_code == 200
        down = httpx.post(f"{receiver.endpoint}/v1/traces", content=export_request().SerializeToString(), headers=protobuf).status_code
        assert httpx.post(faults, json={"delay_ms": 0, "down": False}).status_code == 200
        up = httpx.post(f"{receiver.endpoint}/v1/traces", content=export_request().SerializeToString(), headers=protobuf).status_code
    finally:
        receiver.stop()
    assert refused == [400] * 6
    assert browser == 403
    assert (still, down, up) == (200, 503, 200)


def test_an_export_that_is_not_otlp_or_not_a_collectors_type_is_refused_and_the_next_ones_are_written(tmp_path: Path) -> None:
    # Given a running receiver
    telemetry = tmp_path / "telemetry"
    receiver = OtlpReceiver(telemetry, free_port()).start()
    url = f"{receiver.endpoint}/v1/traces"
    body = export_request().SerializeToString()
    try:
        # When it gets JSON that is no export request, and protobuf labelled as text (what a web page can post without asking)
        not_an_object = httpx.post(url, content=b"[]", headers={"Content-Type": "application/json"})
        as_text = httpx.post(url, content=body, headers={"Content-Type": "text/plain"})
        # And its directory is deleted while it runs, before a good export
        shutil.rmtree(telemetry)
        good = httpx.post(url, content=body, headers={"Content-Type": "application/x-protobuf"})
    finally:
        receiver.stop()  # waits for its writer
    # Then the first two are refused as a Collector refuses them, and the good one is written all the same
    assert (not_an_object.status_code, as_text.status_code, good.status_code) == (400, 415, 200)
    lines = (telemetry / "traces.jsonl").read_text().splitlines()
    assert [json.loads(line)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] for line in lines] == ["GET /livros/{id}"]
