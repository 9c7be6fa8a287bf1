"""`make sam-local`, as a trainee runs it: the real `sam local start-api` and `start-lambda` on
Docker (the project's own engine where none runs, the stand-in Lambda image where the official
one cannot be pulled), with PostgreSQL, moto, the OTLP receiver and the console beside it. What
this proves that the local cloud's tests do not: the template, the build and the functions work
in SAM CLI's own containers and emulator, and their telemetry crosses the Docker bridge.

The tests run in file order on one session: the first order is the session's very first request."""

from __future__ import annotations

import functools
import json
import secrets
import signal
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import httpx
import psutil
import pytest
from botocore.config import Config

from bookstore_dev.template import ROOT, TEMPLATE
from localcloud import samcli
from localcloud import template as templates
from localcloud.process import wait_until
from localcloud.sam_local import STOPPED
from localcloud.traceview import Span, Trace
from tests.samlocal.conftest import SamLocalSession
from tests.support.bookstore import CARD_APPROVED, CARD_DECLINED

# The first test waits for the session: on a new machine, Debian's engine installed and the image built.
pytestmark = pytest.mark.timeout(1500)
ORDER_ROUTES = {"POST /ordens", "GET /livros/{id}", "POST /livros/{id}/reservas", "POST /pagamentos"}
# What the reconciler answers after a run (ordens.reconciliacao): the orders it ended, and put off.
RECONCILED = {"finalizadas", "adiadas"}
INIT_STEPS = {"imports", "settings", "secret fetch", "database connection"}
SAMPLE_BOOK = 1  # the start-up hook's first sample book
TIMEOUT_S = 120  # a cold chain in containers on a busy 2-core machine


def order(
    sam_local: SamLocalSession, livro_id: int, card: dict[str, str] = CARD_APPROVED, quantidade: int = 1
) -> tuple[str, httpx.Response]:
    """Places an order as an instrumented client would: with its own traceparent."""
    trace_id = secrets.token_hex(16)
    response = httpx.post(
        f"{sam_local.url}/ordens",
        json={"livro_id": livro_id, "quantidade": quantidade, "cartao": card},
        headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        timeout=TIMEOUT_S,
    )
    return trace_id, response


def servers(trace: Trace) -> dict[str, Span]:
    return {span.name: span for span in trace.spans if span.kind == "server"}


def complete_trace(sam_local: SamLocalSession, trace_id: str) -> Trace:
    """The order's trace once every function's SERVER span is written and no span misses its parent."""

    def complete() -> Trace | None:
        trace = Trace(trace_id, [span for span in sam_local.spans() if span.trace_id == trace_id])
        return trace if set(servers(trace)) >= ORDER_ROUTES and not trace.orphans() else None

    return wait_until(complete, f"trace {trace_id} complete", timeout_s=60)


def test_the_first_order_of_a_fresh_sam_local_is_201_and_one_trace_with_each_cold_start(sam_local: SamLocalSession) -> None:
    # Given a fresh make sam-local: no function has run yet
    # When the first order is placed
    trace_id, response = order(sam_local, SAMPLE_BOOK)
    # Then it is concluded, although every function of its chain starts cold
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "CONCLUIDA"
    # And one trace holds the three services, each function's SERVER span named by its route
    trace = complete_trace(sam_local, trace_id)
    assert {span.service for span in trace.spans} == {"ordem-de-compra", "cadastro-de-livros", "pagamento"}
    assert trace.orphans() == []
    by_route = servers(trace)
    assert set(by_route) == ORDER_ROUTES
    assert all(span.attributes["faas.coldstart"] is True for span in by_route.values())
    # And each cold start shows its init, with its steps, before its SERVER span
    inits = [span for span in trace.spans if span.name == "init"]
    assert len(inits) == len(ORDER_ROUTES)
    for init in inits:
        server = next(span for span in by_route.values() if span.parent_id == init.parent_id and span.service == init.service)
        assert init.end_ns <= server.start_ns
        assert {child.name for child in trace.spans if child.parent_id == init.span_id} >= INIT_STEPS


def test_the_next_order_is_warm_in_the_same_containers(sam_local: SamLocalSession) -> None:
    trace_id, response = order(sam_local, SAMPLE_BOOK)
    assert response.status_code == 201, response.text
    trace = complete_trace(sam_local, trace_id)
    assert all(span.attributes["faas.coldstart"] is False for span in servers(trace).values())
    assert [span for span in trace.spans if span.name == "init"] == []
    # And sam local printed Lambda's lines for it, as it does for every invocation
    assert "REPORT RequestId:" in sam_local.output()


def test_every_route_of_the_http_contract_answers_as_the_contract_says(sam_local: SamLocalSession) -> None:
    api = httpx.Client(base_url=sam_local.url, timeout=TIMEOUT_S)
    answered: dict[tuple[str, str], int] = {}

    def call(method: str, route: str, path: str, **request: Any) -> httpx.Response:
        response = api.request(method, path, **request)
        answered[(method, route)] = response.status_code
        return response

    # POST /livros is the admin's on AWS (AWS_IAM); sam local enforces no IAM, so it is served to anyone
    book = call("POST", "/livros", "/livros", json={"titulo": "Contrato", "preco": "12.50", "estoque": 5}).json()
    livro_id, ordem_id = book["id"], str(uuid.uuid4())
    assert call("GET", "/livros", "/livros", params={"limit": 200}).status_code == 200
    assert call("GET", "/livros/{id}", f"/livros/{livro_id}").json()["estoque"] == 5
    assert (
        call("POST", "/livros/{id}/reservas", f"/livros/{livro_id}/reservas", json={"ordem_id": ordem_id, "quantidade": 2}).status_code
        == 201
    )
    assert api.get(f"/livros/{livro_id}").json()["estoque"] == 3
    assert call("DELETE", "/livros/{id}/reservas/{ordem_id}", f"/livros/{livro_id}/reservas/{ordem_id}").status_code == 200
    assert api.get(f"/livros/{livro_id}").json()["estoque"] == 5
    payment = call("POST", "/pagamentos", "/pagamentos", json={"ordem_id": ordem_id, "valor": "25.00", "cartao": CARD_APPROVED})
    assert (payment.status_code, payment.json()["status"], payment.json()["cartao_final"]) == (201, "APROVADO", "1111")
    assert CARD_APPROVED["numero"] not in payment.text
    assert call("GET", "/pagamentos/{id}", f"/pagamentos/{payment.json()['id']}").status_code == 200
    assert call("POST", "/pagamentos/cancelamentos", "/pagamentos/cancelamentos", json={"ordem_id": ordem_id}).status_code == 200
    placed = call("POST", "/ordens", "/ordens", json={"livro_id": livro_id, "quantidade": 1, "cartao": CARD_APPROVED})
    assert placed.status_code == 201, placed.text
    assert call("GET", "/ordens/{id}", f"/ordens/{placed.json()['id']}").json()["status"] == "CONCLUIDA"
    # Then every route of the template was called (the template is the list), and none failed
    routes = {(method, route.path) for route in samcli.load_stacks(TEMPLATE, {}, templates.REGION).api.routes for method in route.methods}
    assert set(answered) == routes
    assert all(status < 300 for status in answered.values()), answered
    # And the outcomes a buyer can meet are the contract's
    assert order(sam_local, livro_id, CARD_DECLINED)[1].json()["motivo"] == "PAGAMENTO_RECUSADO"
    assert order(sam_local, livro_id, quantidade=100)[1].status_code == 409
    assert order(sam_local, 999_999_999)[1].status_code == 404
    assert api.get(f"/ordens/{uuid.uuid4()}").status_code == 404
    assert api.get("/livros/999999999").status_code == 404
    assert api.get(f"/livros/{livro_id}").json()["estoque"] == 4  # the one concluded order holds stock


def test_bad_input_is_a_clear_4xx_that_echoes_no_card(sam_local: SamLocalSession) -> None:
    api = httpx.Client(base_url=sam_local.url, timeout=TIMEOUT_S)
    card = {**CARD_APPROVED, "numero": "4111111111111112"}  # fails the Luhn check
    refused = api.post("/ordens", json={"livro_id": SAMPLE_BOOK, "quantidade": 1, "cartao": card})
    assert refused.status_code == 422
    assert card["numero"] not in refused.text
    assert card["cvv"] not in refused.text
    assert api.post("/ordens", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert api.post("/ordens", content=b"livro=1", headers={"Content-Type": "text/plain"}).status_code == 415
    assert api.get("/livros", params={"limit": 0}).status_code == 422


@functools.cache
def generated_event(sam_local: SamLocalSession, *source: str) -> dict[str, Any]:
    """An event as `sam local generate-event SOURCE…` writes it (once per kind: SAM CLI takes seconds to start)."""
    generated = sam_local.sam("local", "generate-event", *source)
    assert generated.returncode == 0, generated.stderr
    event: dict[str, Any] = json.loads(generated.stdout)
    return event


def template_event(sam_local: SamLocalSession, function: str, tmp_path: Path) -> Path:
    """The event the template gives `function`: its Api route's request (on the sample book), or its schedule's."""
    stacks = samcli.load_stacks(TEMPLATE, {}, templates.REGION)
    route = next((route for route in stacks.api.routes if route.function_name == function), None)
    if route is None:
        event = generated_event(sam_local, "cloudwatch", "scheduled-event")
    else:
        method = route.methods[0]
        event = {
            **generated_event(sam_local, "apigateway", "aws-proxy"),
            "httpMethod": method,
            "resource": route.path,
            "path": route.path.replace("{id}", str(SAMPLE_BOOK)).replace("{ordem_id}", str(uuid.uuid4())),
            "queryStringParameters": None,
            "body": None if method in {"GET", "DELETE"} else "{}",  # an empty order, payment…: refused, nothing changes
            "headers": {"Content-Type": "application/json"},
        }
    target = tmp_path / f"{function}.json"
    target.write_text(json.dumps(event))
    return target


def test_sam_local_invoke_runs_each_function_on_its_template_event(sam_local: SamLocalSession, tmp_path: Path) -> None:
    functions = list(samcli.load_stacks(TEMPLATE, {}, templates.REGION).functions)
    options = sam_local.session()["sam_options"]

    def invoke(function: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        invoked = sam_local.sam("local", "invoke", function, "--event", str(template_event(sam_local, function, tmp_path)), *options)
        assert invoked.returncode == 0, f"{function}: {invoked.stderr[-2000:]}"
        answer: dict[str, Any] = json.loads(invoked.stdout.strip().splitlines()[-1])
        return invoked, answer

    # When sam local invoke runs each function on the event its template gives it (a few at a time)
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(functions, pool.map(invoke, functions), strict=True))
    for function, (invoked, answer) in results.items():
        # Then an API function answers API Gateway a response (bad input a 4xx, never a 5xx); the
        # reconciler, on its schedule, says what it did
        assert "errorType" not in answer, (function, answer)  # sam local invoke exits 0 even when the function raised
        assert answer["statusCode"] < 500 if "statusCode" in answer else set(answer) >= RECONCILED, (function, answer)
        # And sam local printed Lambda's REPORT line
        assert "REPORT RequestId:" in invoked.stderr, function
    book = results["ObterLivroFunction"][1]
    assert book["statusCode"] == 200
    assert json.loads(book["body"])["id"] == SAMPLE_BOOK


def test_boto3_invokes_functions_through_sam_local_start_lambda(sam_local: SamLocalSession, tmp_path: Path) -> None:
    client = boto3.client(
        "lambda",
        endpoint_url=sam_local.lambda_url,
        region_name=templates.REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(read_timeout=TIMEOUT_S, retries={"max_attempts": 0}),
    )
    event = template_event(sam_local, "ObterLivroFunction", tmp_path).read_bytes()
    answer = json.loads(client.invoke(FunctionName="ObterLivroFunction", Payload=event)["Payload"].read())
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["id"] == SAMPLE_BOOK
    reconciled = client.invoke(
        FunctionName="ReconciliarOrdensFunction", Payload=template_event(sam_local, "ReconciliarOrdensFunction", tmp_path).read_bytes()
    )
    assert reconciled["StatusCode"] == 200
    assert "FunctionError" not in reconciled


def test_make_sam_invoke_runs_the_reconciler_a_schedule_start_api_never_runs(sam_local: SamLocalSession) -> None:
    # When a trainee runs the reconciler by hand, as `make reconcile` does on the local cloud
    command = ["make", "--no-print-directory", "sam-invoke", f"SAM_LOCAL_STATE={sam_local.state_dir}", "ARGS=ReconciliarOrdensFunction"]
    invoked = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    # Then it runs with the session's build and settings, and says what it did (nothing is PENDENTE)
    assert invoked.returncode == 0, invoked.stderr[-2000:]
    summary = json.loads(invoked.stdout.strip().splitlines()[-1])
    assert "errorType" not in summary, summary  # sam local invoke exits 0 even when the function raised
    assert set(summary) >= RECONCILED, summary
    assert "REPORT RequestId:" in invoked.stderr


def test_stopping_leaves_no_container_engine_or_process(sam_local: SamLocalSession) -> None:
    session = sam_local.session()
    state = str(sam_local.state_dir)
    # When make sam-local is stopped as with Ctrl-C (make itself ends by the signal, as in a terminal)
    assert sam_local.stop() in {0, -signal.SIGINT}
    assert STOPPED in sam_local.output()
    # Then no process of it is left: not sam local, not the services, not the engine
    left = [process.info for process in psutil.process_iter(["pid", "cmdline"]) if state in " ".join(process.info["cmdline"] or [])]
    assert left == []
    engine = session["engine"]
    assert (
        not any(
            "dockerd" in " ".join(process.info["cmdline"] or [])
            and engine["host"].removeprefix("unix://") in " ".join(process.info["cmdline"] or [])
            for process in psutil.process_iter(["cmdline"])
        )
        or not engine["owned"]
    )
    # And no container: its own engine's data holds none (on a system engine, sam local removes its
    # own on Ctrl-C, which the engine's list would show; these machines run the project's own)
    if engine["owned"]:
        assert list((Path(engine["data_root"]) / "containers").iterdir()) == []
    # And the session file is gone with it
    assert not (sam_local.state_dir / "session.json").exists()
