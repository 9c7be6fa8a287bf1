"""Who may call what (issue: a buyer could refund a concluded order, give its stock back, hold a
book's stock forever and set any stock): every route has an owner — public, internal (only the
order functions' roles) or admin — and the door is closed to everyone else, as API Gateway's
AWS_IAM authorization closes it."""

from __future__ import annotations

import uuid

import httpx
import pytest
from botocore.credentials import Credentials

from bookstore_shared.http_client import SigV4
from localcloud.cloud import LocalCloud
from localcloud.iam import Principal
from tests.support.bookstore import new_book, order, stock_of

PUBLIC = {"GET /livros", "GET /livros/{id}", "POST /ordens", "GET /ordens/{id}"}
MISSING_TOKEN = {"message": "Missing Authentication Token"}


def signed_as(cloud: LocalCloud, principal: Principal) -> httpx.Client:
    credentials = Credentials(principal.access_key, principal.secret_key, principal.session_token)
    return httpx.Client(base_url=cloud.url, timeout=30, auth=SigV4("us-east-1", credentials))


def role(cloud: LocalCloud, function: str) -> httpx.Client:
    assert cloud.access is not None
    return signed_as(cloud, cloud.access.roles[function])


def doors(cloud: LocalCloud) -> dict[str, bool]:
    """Each route of the template ("METHOD /path") → whether AWS_IAM closes it."""
    assert cloud.access is not None
    return {f"{method} {path}": door.iam for (_, method, path), door in cloud.access.doors.items()}


def test_only_the_four_buyer_routes_are_open_and_every_other_route_is_closed(cloud: LocalCloud) -> None:
    assert {route for route, closed in doors(cloud).items() if not closed} == PUBLIC
    assert len(doors(cloud)) > len(PUBLIC)


def concrete(route: str, livro_id: int) -> tuple[str, str]:
    method, path = route.split(" ", 1)
    return method, path.replace("{id}", str(livro_id)).replace("{ordem_id}", str(uuid.uuid4()))


def test_a_buyer_gets_403_on_every_closed_route_and_through_every_open_one(
    api: httpx.Client, buyer: httpx.Client, cloud: LocalCloud
) -> None:
    livro_id = new_book(api)["id"]
    for route, closed in doors(cloud).items():
        method, path = concrete(route, livro_id)
        response = buyer.request(method, path, json={})
        if closed:
            assert (response.status_code, response.json()) == (403, MISSING_TOKEN), route
        else:
            assert response.status_code != 403, route


def test_after_a_concluded_order_a_buyer_can_neither_refund_it_nor_take_its_stock_back_nor_hold_stock(
    api: httpx.Client, buyer: httpx.Client
) -> None:
    # Given a concluded order for 2 of a book with 5
    book = new_book(api, estoque=5)
    concluded = order(buyer, book["id"], quantidade=2).json()
    assert concluded["status"] == "CONCLUIDA"
    # When the buyer asks for a refund, releases the reservation, and reserves all the stock
    refund = buyer.post("/pagamentos/cancelamentos", json={"ordem_id": concluded["id"]})
    release = buyer.delete(f"/livros/{book['id']}/reservas/{concluded['id']}")
    hold = buyer.post(f"/livros/{book['id']}/reservas", json={"ordem_id": str(uuid.uuid4()), "quantidade": 3})
    create = buyer.post("/livros", json={"titulo": "Grátis", "preco": "0.01", "estoque": 1_000})
    # Then every one is refused, and nothing changed
    assert [r.status_code for r in (refund, release, hold, create)] == [403, 403, 403, 403]
    assert api.get(f"/pagamentos/{concluded['pagamento_id']}").json()["status"] == "APROVADO"
    assert stock_of(api, book["id"]) == 3


def test_the_order_functions_role_may_reserve_but_not_touch_the_catalogue(api: httpx.Client, cloud: LocalCloud) -> None:
    book = new_book(api, estoque=5)
    with role(cloud, "CriarOrdemFunction") as orders:
        reserved = orders.post(f"/livros/{book['id']}/reservas", json={"ordem_id": str(uuid.uuid4()), "quantidade": 1})
        created = orders.post("/livros", json={"titulo": "Intruso", "preco": "1.00", "estoque": 1})
    assert reserved.status_code == 201
    assert created.status_code == 403
    assert "CriarOrdemFunctionRole" in created.json()["message"]
    assert "is not authorized to perform: execute-api:Invoke" in created.json()["message"]


@pytest.mark.parametrize("function", ["ObterOrdemFunction", "ReservarEstoqueFunction"])
def test_a_role_the_template_grants_nothing_is_refused_on_internal_routes(api: httpx.Client, cloud: LocalCloud, function: str) -> None:
    book = new_book(api, estoque=5)
    with role(cloud, function) as other:
        response = other.post(f"/livros/{book['id']}/reservas", json={"ordem_id": str(uuid.uuid4()), "quantidade": 1})
    assert response.status_code == 403
    assert stock_of(api, book["id"]) == 5


def test_a_signed_request_whose_body_was_changed_after_signing_is_refused(api: httpx.Client, cloud: LocalCloud) -> None:
    # Given a request signed by the admin for 1 copy in stock
    assert cloud.admin is not None
    request = api.build_request("POST", "/livros", json={"titulo": "Assinado", "preco": "1.00", "estoque": 1})
    signed = next(SigV4.from_profile(cloud.admin_credentials).auth_flow(request))
    # When someone on the way changes it to 1,000 copies
    headers = {name: value for name, value in signed.headers.items() if name.lower() != "content-length"}
    tampered = httpx.Request("POST", signed.url, headers=headers, json={"titulo": "Assinado", "preco": "1.00", "estoque": 1000})
    response = httpx.Client().send(tampered)
    # Then API Gateway's signature check refuses it
    assert response.status_code == 403
    assert response.json()["message"].startswith("The request signature we calculated does not match")
