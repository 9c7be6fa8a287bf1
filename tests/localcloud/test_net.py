"""The local cloud's small HTTP servers (Runtime API, OTLP receiver)."""

from __future__ import annotations

import select
import socket
import threading

import pytest

from localcloud.net import NoDelayServer, QuietHandler


def test_a_peer_that_goes_away_mid_answer_leaves_no_traceback(capfd: pytest.CaptureFixture[str]) -> None:
    # Given a server whose handler answers only once its caller has gone
    answered = threading.Event()

    class AnswersTooLate(QuietHandler):
        def do_GET(self) -> None:
            select.select([self.connection], [], [], 10)  # readable: the caller closed its side
            try:
                for _ in range(64):  # enough writes to meet the reset
                    self.answer(200, b"x" * 65536, "text/plain")
            finally:
                answered.set()

    server = NoDelayServer(("127.0.0.1", 0), AnswersTooLate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # When a caller sends its request and closes the connection at once (with a reset)
        with socket.create_connection(("127.0.0.1", server.server_address[1])) as caller:
            caller.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            caller.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        assert answered.wait(10)
    finally:
        server.shutdown()
        server.server_close()
    # Then the server went on without printing a traceback for it
    assert "Traceback" not in capfd.readouterr().err
