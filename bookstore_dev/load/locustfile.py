"""The Bookstore's buyers, for Locust: weighted journeys against the public routes.

Run through `python -m bookstore_dev.load` (make load), which sets the defaults and prints the
summary; `locust -f bookstore_dev/load/locustfile.py --host http://127.0.0.1:3000` works too.
Importing this module imports Locust, which monkey-patches the standard library with gevent:
it belongs in a Locust process of its own, never in a test process.

Every request:
- carries a `traceparent` of a new trace, and `baggage: synthetic_request=true` (as the
  OpenTelemetry Demo's load generator marks its traffic), so each one is a trace of its own that
  the generator can name;
- is named by its route template (`/livros/{id}`; Locust's type column is the method), so
  Locust's stats group by route, not by id;
- is a success when it gets the answer its journey expects — a declined card's `402`, an
  out-of-stock `409` and an unknown book's `404` included — and a failure otherwise.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from locust import FastHttpUser, between, events, task
from locust.env import Environment

from bookstore_dev.clients import DEFAULT_CREDENTIALS
from bookstore_dev.load import common
from bookstore_dev.load.catalogue import IN_STOCK, UNKNOWN_BOOK, Catalogue, prepare

logger = logging.getLogger(__name__)
# httpx logs every request at INFO: the set-up's three would crowd Locust's own lines.
logging.getLogger("httpx").setLevel(logging.WARNING)

# Test cards, as payment providers offer them (README, "Test cards"): never logged, never printed.
APPROVED = {"numero": "4111111111111111", "titular": "Carga Sintética", "validade": "12/39", "cvv": "123"}
DECLINED = {**APPROVED, "numero": "4000000000000002"}  # CARTAO_RECUSADO: the order is 402 PAGAMENTO_RECUSADO

# What an answer must be for its journey: None when it is, else why not (status and fields only:
# a body is never copied into Locust's error report).
Check = Callable[[int, Any], str | None]


class Run:
    """What this process prepared at start, for all its users."""

    catalogue: Catalogue
    log: IO[str] | None = None


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--admin-credentials", default=str(DEFAULT_CREDENTIALS), help="the local cloud's admin identity (set-up)")
    parser.add_argument("--admin-profile", default="", help="its profile (default: the file's only one)")
    parser.add_argument("--requests-log", default="", help="append one JSON line per request (journey, route, trace id, status)")


@events.init.add_listener
def _set_up(environment: Environment, **_: Any) -> None:
    """Once, before any user: refuses a target off this machine, creates the run's books as the
    admin. A failure ends the process with one line (SystemExit passes through Locust's events)."""
    host, options = environment.host or "", environment.parsed_options
    assert options is not None  # Locust parsed the command line before firing init
    if not common.is_loopback(host):
        print(common.refusal(host), file=sys.stderr)
        raise SystemExit(2)
    try:
        Run.catalogue = prepare(host, Path(options.admin_credentials), options.admin_profile or None)
    except RuntimeError as error:
        print(f"load: set-up failed: {error} (is the local cloud running? `make run`)", file=sys.stderr)
        raise SystemExit(2) from None
    logger.info(
        "set-up: book %d (estoque %d) for orders, book %d (estoque 0) for out-of-stock ones, %d books listed",
        Run.catalogue.in_stock, IN_STOCK, Run.catalogue.sold_out, len(Run.catalogue.listed),
    )  # fmt: skip
    if options.requests_log:
        Run.log = Path(options.requests_log).open("a", encoding="utf-8")  # noqa: SIM115 - open for the whole run, closed at quitting


@events.test_start.add_listener
def _check_target(environment: Environment, **_: Any) -> None:
    """The web UI lets its user type another host at each start: that run is stopped at once (and
    no user sends a request to it, see Buyer.call)."""
    if not common.is_loopback(environment.host or ""):
        logger.error(common.refusal(environment.host or ""))
        environment.process_exit_code = 2
        if environment.runner is not None:
            environment.runner.greenlet.spawn(environment.runner.stop)  # once the start that fired this event has returned


@events.request.add_listener
def _record(request_type: str, name: str, response_time: float, context: dict[str, Any], **kwargs: Any) -> None:
    """One line per request: what the summary counts by journey, and how a test finds its traces."""
    if Run.log is None or "journey" not in context:
        return
    response = kwargs.get("response")
    line = {
        "journey": context["journey"],
        "route": f"{request_type} {name}",
        "trace_id": context["trace_id"],
        "span_id": context["span_id"],  # the parent the function's SERVER span names
        "status": getattr(response, "status_code", None),
        "ok": kwargs.get("exception") is None,
        "ms": round(response_time, 1),
    }
    Run.log.write(json.dumps(line) + "\n")


@events.quitting.add_listener
def _close(**_: Any) -> None:
    if Run.log is not None:
        Run.log.close()
        Run.log = None


def order_is(status: int, state: str, motivo: str | None = None) -> Check:
    def check(code: int, body: Any) -> str | None:
        seen = (code, body.get("status"), body.get("motivo")) if isinstance(body, dict) else (code, None, None)
        if seen == (status, state, motivo):
            return None
        return f"expected {status} {state} {motivo or ''}, got {seen[0]} {seen[1]} {seen[2] or ''}"

    return check


def status_is(status: int) -> Check:
    return lambda code, _body: None if code == status else f"expected {status}, got {code}"


class Buyer(FastHttpUser):
    """A buyer: browses, looks at books, orders. Weights make a browsing-heavy mix, with every
    order outcome present."""

    # Think time between journeys: a person's pace, so 8 users are a busy shop, not a flood.
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        # Each buyer walks every journey once first, so that even a short run meets every answer
        # the Bookstore gives; then the weights choose.
        for journey in (self.browse, self.view_book, self.order_approved, self.order_declined,
                        self.order_out_of_stock, self.order_unknown_book, self.order_retried):  # fmt: skip
            journey()

    @task(10)
    def browse(self) -> None:
        # secrets picks as well as random does, and no linter asks whether it is for a key.
        params = {"limit": secrets.choice((10, 20, 50)), "offset": secrets.randbelow(Run.catalogue.size)}
        self.call("GET", "/livros", common.BROWSE, lambda code, body: status_is(200)(code, body) or _is_list(body), params=params)

    @task(10)
    def view_book(self) -> None:
        livro_id = secrets.choice(Run.catalogue.listed or (Run.catalogue.in_stock,))
        self.call("GET", f"/livros/{livro_id}", common.VIEW, status_is(200), name="/livros/{id}")

    @task(6)
    def order_approved(self) -> None:
        self.order(common.ORDER_APPROVED, Run.catalogue.in_stock, APPROVED, order_is(201, "CONCLUIDA"))

    @task(2)
    def order_declined(self) -> None:
        self.order(common.ORDER_DECLINED, Run.catalogue.in_stock, DECLINED, order_is(402, "NAO_CONCLUIDA", "PAGAMENTO_RECUSADO"))

    @task(1)
    def order_out_of_stock(self) -> None:
        self.order(common.ORDER_OUT_OF_STOCK, Run.catalogue.sold_out, APPROVED, order_is(409, "NAO_CONCLUIDA", "ESTOQUE_INSUFICIENTE"))

    @task(1)
    def order_unknown_book(self) -> None:
        self.order(common.ORDER_UNKNOWN_BOOK, UNKNOWN_BOOK, APPROVED, status_is(404))

    @task(2)
    def order_retried(self) -> None:
        """A client that did not see its answer and sends the order again with the same key: the
        second answer must be the first one (same order, no second charge)."""
        key = f"carga-{uuid.uuid4()}"
        first = self.order(common.ORDER_RETRIED, Run.catalogue.in_stock, APPROVED, order_is(201, "CONCLUIDA"), key)
        if first is None or first[0] != 201:
            return  # the first answer already failed its check; a retry would only repeat that
        self.order(common.ORDER_RETRIED, Run.catalogue.in_stock, APPROVED, lambda code, body: _same_answer(first, code, body), key)

    def order(self, journey: str, livro_id: int, card: dict[str, str], check: Check, key: str | None = None) -> tuple[int, Any] | None:
        body = {"livro_id": livro_id, "quantidade": 1, "cartao": card}
        return self.call("POST", "/ordens", journey, check, json=body, headers={"Idempotency-Key": key} if key else {})

    def call(
        self,
        method: str,
        path: str,
        journey: str,
        check: Check,
        name: str | None = None,
        headers: dict[str, str] | None = None,
        **more: Any,
    ) -> tuple[int, Any] | None:
        """One request of a journey, in a trace of its own; its answer and body, or None when it
        had none (a connection error, which Locust counts as a failure)."""
        if not common.is_loopback(self.host or ""):
            return None  # a host typed into the web UI: the run is being stopped (_check_target)
        traceparent, trace_id, span_id = common.new_traceparent()
        headers = {**(headers or {}), "traceparent": traceparent, "baggage": "synthetic_request=true"}
        context = {"journey": journey, "trace_id": trace_id, "span_id": span_id}
        request = self.client.request(method, path, name=name or path, headers=headers, context=context, catch_response=True, **more)
        with request as response:
            if response.status_code == 0:  # no answer: Locust has the error already
                return None
            try:
                body = response.json()
            except ValueError:
                body = None
            problem = check(response.status_code, body)
            if problem:
                response.failure(f"{journey}: {problem}")
            else:
                response.success()
            return response.status_code, body


def _is_list(body: Any) -> str | None:
    return None if isinstance(body, list) else "expected a list of books"


def _same_answer(first: tuple[int, Any], code: int, body: Any) -> str | None:
    if code != first[0]:
        return f"the retry got {code}, the first answer was {first[0]}"
    if not isinstance(body, dict) or body.get("id") != first[1].get("id"):
        return "the retry got another order than the first answer"
    return None
