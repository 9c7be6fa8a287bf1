"""The Bookstore on the local cloud, as `make run` brings it up."""

from __future__ import annotations

import configparser
import secrets
import stat
import subprocess
import sys
import urllib.request

import httpx

from bookstore_dev.template import ROOT
from bookstore_shared.http_client import SigV4
from localcloud.process import LocalCloudProcess

CARD = {"numero": "4111111111111111", "titular": "Maria Silva", "validade": "12/39", "cvv": "123"}


def test_an_order_over_http_is_concluded_and_lowers_the_stock(bookstore_cloud: LocalCloudProcess) -> None:
    # The operator's client: signed with the admin identity the cloud wrote, to add a book and read a payment
    with httpx.Client(base_url=bookstore_cloud.url, timeout=60, auth=SigV4.from_profile(bookstore_cloud.admin_credentials)) as api:
        # Given the seeded catalog and a new book
        assert len(api.get("/livros").json()) >= 5
        book = api.post("/livros", json={"titulo": "O Cortiço", "autor": "Aluísio Azevedo", "preco": "45.00", "estoque": 4}).json()
        # When a client orders 3
        response = api.post("/ordens", json={"livro_id": book["id"], "quantidade": 3, "cartao": CARD})
        # Then the order is concluded through the three services' environments
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "CONCLUIDA"
        assert response.json()["valor_total"] == "135.00"
        assert api.get(f"/livros/{book['id']}").json()["estoque"] == 1
        assert api.get(f"/pagamentos/{response.json()['pagamento_id']}").json()["status"] == "APROVADO"


def test_a_declined_card_is_402_through_the_local_cloud(bookstore_cloud: LocalCloudProcess) -> None:
    with httpx.Client(base_url=bookstore_cloud.url, timeout=60) as api:
        response = api.post("/ordens", json={"livro_id": 1, "quantidade": 1, "cartao": {**CARD, "numero": "4000000000000002"}})
    assert response.status_code == 402
    assert response.json()["motivo"] == "PAGAMENTO_RECUSADO"


def test_the_functions_export_their_spans_to_the_receiver(bookstore_cloud: LocalCloudProcess) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    # Plain urllib, as curl would: an httpx client instrumented in this process (a test module that
    # configured OpenTelemetry) would put a traceparent of its own in
    request = urllib.request.Request(f"{bookstore_cloud.url}/livros/1", headers={"traceparent": traceparent})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - a loopback URL the test built
        assert response.status == 200
    # The books function's SERVER span of this request, in the caller's trace
    spans = bookstore_cloud.wait_for_spans(lambda spans: any(span.trace_id == trace_id and span.kind == "server" for span in spans))
    server = next(span for span in spans if span.trace_id == trace_id and span.kind == "server")
    assert (server.service, server.name) == ("cadastro-de-livros", "GET /livros/{id}")


def admin_keys(cloud: LocalCloudProcess) -> tuple[str, str, str]:
    credentials = configparser.ConfigParser()
    credentials.read(cloud.admin_credentials)
    (profile,) = credentials.sections()
    return profile, credentials[profile]["aws_access_key_id"], credentials[profile]["aws_secret_access_key"]


def test_the_admin_identity_is_written_for_its_owner_only_and_curl_can_sign_with_it(bookstore_cloud: LocalCloudProcess) -> None:
    # Given the admin identity the cloud wrote at start, readable by its owner only
    assert stat.S_IMODE(bookstore_cloud.admin_credentials.stat().st_mode) == 0o600
    _, key, secret = admin_keys(bookstore_cloud)
    # And the banner says how to use it, without its secret
    assert any(f'--user "{key}:$SECRET"' in line for line in bookstore_cloud.snapshot())
    assert not any(secret in line for line in bookstore_cloud.snapshot())
    book = '{"titulo": "Iracema", "autor": "José de Alencar", "preco": "29.90", "estoque": 3}'
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json", "-d", book]
    # When a book is added with curl, unsigned and then signed as the README shows
    unsigned = subprocess.run([*command, f"{bookstore_cloud.url}/livros"], capture_output=True, text=True, timeout=60, check=True)  # noqa: S603
    signed = subprocess.run(  # noqa: S603 - curl, on a loopback URL
        [*command, "--aws-sigv4", "aws:amz:us-east-1:execute-api", "--user", f"{key}:{secret}", f"{bookstore_cloud.url}/livros"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    # Then only the signed one gets in
    assert (unsigned.stdout, signed.stdout) == ("403", "201")


def test_make_livro_adds_a_book_as_the_admin(bookstore_cloud: LocalCloudProcess) -> None:
    result = subprocess.run(  # noqa: S603 - our own module, as `make livro` runs it
        [sys.executable, "-m", "bookstore_dev.admin", "--url", bookstore_cloud.url, "--credentials", str(bookstore_cloud.admin_credentials),
         "livro", "--titulo", "Senhora", "--preco", "19.90", "--estoque", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.startswith("201 ")
    assert '"titulo": "Senhora"' in result.stdout
