"""What the containers call on this machine, relayed to them from the Docker bridge.

The services beside `sam local` (its own API, the AWS emulator, the OTLP receiver, PostgreSQL)
listen on 127.0.0.1 only, as everywhere in the local cloud. A container reaches this machine at
host.docker.internal, the bridge's address here (`--add-host host.docker.internal:host-gateway`),
where nothing listens on loopback; so each of those ports is relayed from the bridge's address
to 127.0.0.1 — never opened on every interface, where the LAN would reach an API without IAM.
With an engine in a VM (Docker Desktop), the VM's host.docker.internal already reaches
127.0.0.1 here, and no relay is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import socket
import struct
import threading
from collections.abc import Callable

from localcloud.docker.engine import Engine, run_docker

SIOCGIFADDR = 0x8915  # linux/sockios.h: an interface's IPv4 address
LOOPBACK = "127.0.0.1"
CHUNK = 64 * 1024


def bridge_address(engine: Engine) -> tuple[str, str] | None:
    """The IPv4 address of the default bridge on this machine (where host-gateway points) and its
    subnet, or None when the engine's bridge is not here (an engine in a VM)."""
    inspected = run_docker(engine.host, "network", "inspect", "bridge", "--format", "{{json .}}")
    if inspected.returncode != 0:
        return None
    network = json.loads(inspected.stdout or b"{}")
    name = (network.get("Options") or {}).get("com.docker.network.bridge.name", "")
    subnets = [config["Subnet"] for config in (network.get("IPAM") or {}).get("Config") or [] if "." in config.get("Subnet", "")]
    if not name or not subnets:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(answer[20:24]), subnets[0]


class Relay:
    """Listens on `address` at each port given and pipes every connection from `subnet` (the
    containers') to 127.0.0.1 at the same port; a connection from anywhere else is closed."""

    def __init__(self, address: str, subnet: str) -> None:
        self.address = address
        self.subnet = ipaddress.ip_network(subnet, strict=False)
        self._listeners: list[socket.socket] = []
        self._closed = threading.Event()

    def add(self, port: int) -> None:
        listener = socket.create_server((self.address, port), reuse_port=False)
        self._listeners.append(listener)
        threading.Thread(target=self._accept, args=(listener, port), name=f"relay-{port}", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept (close alone does not)
            listener.close()

    def _accept(self, listener: socket.socket, port: int) -> None:
        while True:
            try:
                client, (peer, _) = listener.accept()
            except OSError:  # closed
                return
            if self._closed.is_set() or ipaddress.ip_address(peer) not in self.subnet:
                client.close()
                continue
            try:
                upstream = socket.create_connection((LOOPBACK, port), timeout=5)
            except OSError:
                client.close()  # nothing listens there (yet): the caller sees a refused connection
                continue
            upstream.settimeout(None)
            for connection in (client, upstream):
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            _pipe_both_ways(client, upstream)


def _pipe_both_ways(one: socket.socket, other: socket.socket) -> None:
    def close_both() -> None:
        one.close()
        other.close()

    done = _countdown(2, close_both)
    for source, sink in ((one, other), (other, one)):
        threading.Thread(target=_pipe, args=(source, sink, done), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket, done: Callable[[], None]) -> None:
    try:
        while chunk := source.recv(CHUNK):
            sink.sendall(chunk)
        sink.shutdown(socket.SHUT_WR)  # the other side's end of stream, passed on
    except OSError:  # either side went away: the other direction is ended too
        for connection in (source, sink):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
    finally:
        done()


def _countdown(count: int, then: Callable[[], None]) -> Callable[[], None]:
    """A callable that runs `then` on its `count`-th call (both directions of a connection ended)."""
    lock = threading.Lock()
    left = [count]

    def tick() -> None:
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            then()

    return tick
