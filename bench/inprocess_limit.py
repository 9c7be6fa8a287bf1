"""The limit the local cloud is measured against: the template's own handlers called in one
process (`localcloud.inprocess.InProcessFunctions`) behind the same API Gateway app, served on a
port as the local cloud serves it, with nothing of Lambda emulated — no execution environments,
no Runtime API, no freeze — and OpenTelemetry off.

It runs in a process of its own (`python -m bench.inprocess_limit`), so the benchmark's clients
do not share its interpreter. The requests, the clients' and those Ordem de Compra makes to
Cadastro de Livros and Pagamento, are served by a fixed pool of threads: the handlers keep one
database connection per thread (one per execution environment on Lambda), and a thread per
request would pay a new connection every time. The handlers' real dependencies come from a local
cloud started in that process as the integration tests start one: its PostgreSQL and moto's
Secrets Manager, provisioned by Bookstore's start-up hook. Its own environments are never used.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bookstore_dev.startup import HOOK
from bookstore_dev.template import ROOT, TEMPLATE
from localcloud import template as templates
from localcloud.apigateway import NoDelayWsgiServer
from localcloud.cloud import LOCAL_CREDENTIAL, LocalCloud, Options
from localcloud.inprocess import InProcessFunctions
from localcloud.net import free_port
from localcloud.process import BUILD_DIR, wait_until
from tests.support.bookstore import new_book, order

OVERRIDES = {"OtelSdkDisabled": "true"}
READY = "ready"  # written in the state directory once every service is imported and connected


class _PooledWsgiServer(NoDelayWsgiServer):
    """The gateway's server, its requests handled by a fixed pool of threads (see the module's docstring)."""

    def __init__(self, host: str, port: int, app: Any, workers: int) -> None:
        super().__init__(host, port, app)
        self._workers = ThreadPoolExecutor(workers, thread_name_prefix="in-process")

    def process_request(self, request: Any, client_address: Any) -> None:
        self._workers.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self._workers.shutdown(cancel_futures=True)


@contextlib.contextmanager
def in_process_limit(state_dir: Path, workers: int, timeout_s: float = 300) -> Iterator[str]:
    """The limit, started in a process of its own and ready (its services imported and
    connected); yields its URL. Its output goes to `state_dir/functions.log`."""
    state_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "bench.inprocess_limit", "--state-dir", str(state_dir), "--port", str(port), "--workers", str(workers)]
    log = state_dir / "functions.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603 - our own module
        try:
            wait_until(lambda: (state_dir / READY).exists() or process.poll() is not None, "the in-process limit ready", timeout_s)
            if process.poll() is not None:
                raise RuntimeError(f"the in-process limit exited ({process.returncode}); see {log}:\n{log.read_text()[-3000:]}")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(60)


def serve(state_dir: Path, port: int, workers: int) -> None:
    """Until SIGTERM."""
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    dependencies = LocalCloud(
        Options(
            template=TEMPLATE,
            state_dir=state_dir,
            port=free_port(),
            otlp_port=free_port(),
            parameter_overrides=OVERRIDES,
            watch=False,
            schedules=False,
            build_dir=BUILD_DIR,
            startup=(HOOK,),
        )
    )
    dependencies.start()
    try:
        assert dependencies.aws_endpoint is not None
        url = f"http://127.0.0.1:{port}"
        template = templates.load(TEMPLATE, OVERRIDES)
        # One interpreter, one os.environ: every function's variables together. They differ only
        # in names (AWS_LAMBDA_FUNCTION_NAME, OTEL_SERVICE_NAME...) no handler reads with
        # OpenTelemetry off; the credentials are the local AWS's, not an execution role's.
        injected = {
            "AWS_ENDPOINT_URL": dependencies.aws_endpoint,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIAL,
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIAL,
        }
        for function in template.functions.values():
            os.environ.update(templates.environment(template, function, {}, url, injected))
        server = _PooledWsgiServer("127.0.0.1", port, InProcessFunctions(template).gateway().app, workers)
        threading.Thread(target=server.serve_forever, name="in-process-gateway", daemon=True).start()
        try:
            with httpx.Client(base_url=url, timeout=60) as api:  # an order imports all three services
                order(api, new_book(api)["id"]).raise_for_status()
            (state_dir / READY).write_text(url)
            stopping.wait()
        finally:
            server.shutdown()
            server.server_close()
    finally:
        dependencies.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--workers", type=int, required=True, help="threads serving requests: twice the clients at most (an order waits on its calls)"
    )
    args = parser.parse_args(argv)
    serve(args.state_dir, args.port, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
