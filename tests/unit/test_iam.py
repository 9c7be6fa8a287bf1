"""API Gateway's AWS_IAM authorization as the local cloud enforces it: doors read from the
template, SigV4 checked with botocore's signer, each caller's policy against the route's ARN."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from bookstore_dev.template import TEMPLATE
from localcloud import iam
from localcloud import template as cloud_template
from localcloud.iam import AccessControl, Principal

HOST = "127.0.0.1:3000"


@pytest.fixture(scope="module")
def access() -> AccessControl:
    return AccessControl.from_template(cloud_template.load(TEMPLATE, {}).resources, "us-east-1")


def event_signed_by(
    principal: Principal | None, method: str, path: str, resource: str, body: str = "", query: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    """The event SAM's gateway builds for a request, signed as the caller's SDK signs it."""
    headers = {"Host": HOST}
    if principal is not None:
        pairs = [(name, value) for name, values in (query or {}).items() for value in values]
        url = f"http://{HOST}{path}" + (f"?{urlencode(pairs, quote_via=quote)}" if pairs else "")
        request = AWSRequest(method=method, url=url, data=body.encode(), headers={"host": HOST})
        credentials = Credentials(principal.access_key, principal.secret_key, principal.session_token)
        SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
        headers |= {name: str(value) for name, value in request.headers.items() if name.lower() != "host"}
    return {"httpMethod": method, "resource": resource, "path": path, "headers": headers, "body": body or None,
            "multiValueQueryStringParameters": query}  # fmt: skip


def reserve(principal: Principal | None, body: str = '{"quantidade": 1}') -> dict[str, Any]:
    return event_signed_by(principal, "POST", "/livros/7/reservas", "/livros/{id}/reservas", body)


def test_the_templates_doors_are_closed_but_for_the_four_buyer_routes(access: AccessControl) -> None:
    open_routes = {f"{method} {path}" for (_, method, path), door in access.doors.items() if not door.iam}
    assert open_routes == {"GET /livros", "GET /livros/{id}", "POST /ordens", "GET /ordens/{id}"}


def test_the_order_functions_role_may_reserve(access: AccessControl) -> None:
    assert access.refusal("ReservarEstoqueFunction", reserve(access.roles["CriarOrdemFunction"])) == (
        "",
        access.roles["CriarOrdemFunction"],
    )


def test_an_unsigned_call_to_a_closed_route_is_missing_its_token_and_an_open_route_takes_it(access: AccessControl) -> None:
    assert access.refusal("ReservarEstoqueFunction", reserve(None))[0] == iam.MISSING_TOKEN
    assert access.refusal("ObterLivroFunction", event_signed_by(None, "GET", "/livros/7", "/livros/{id}"))[0] == ""


def test_a_body_changed_after_signing_does_not_match_the_signature(access: AccessControl) -> None:
    event = reserve(access.roles["CriarOrdemFunction"])
    event["body"] = '{"quantidade": 100}'
    assert access.refusal("ReservarEstoqueFunction", event)[0] == iam.BAD_SIGNATURE


def test_a_query_string_is_part_of_the_signature(access: AccessControl) -> None:
    caller = access.roles["CriarOrdemFunction"]
    event = event_signed_by(caller, "POST", "/livros/7/reservas", "/livros/{id}/reservas", "{}", {"b": ["2"], "a": ["1 x"]})
    assert access.refusal("ReservarEstoqueFunction", event)[0] == ""
    event["multiValueQueryStringParameters"] = {"a": ["1 x"], "b": ["3"]}
    assert access.refusal("ReservarEstoqueFunction", event)[0] == iam.BAD_SIGNATURE


def test_unknown_credentials_are_an_invalid_token(access: AccessControl) -> None:
    stranger = Principal("arn:aws:iam::1:user/x", "AKIASTRANGER", "secret", None, ())
    assert access.refusal("ReservarEstoqueFunction", reserve(stranger))[0] == iam.INVALID_TOKEN


def test_a_role_credentials_without_their_session_token_are_an_invalid_token(access: AccessControl) -> None:
    role = access.roles["CriarOrdemFunction"]
    without_token = Principal(role.arn, role.access_key, role.secret_key, None, role.statements)
    assert access.refusal("ReservarEstoqueFunction", reserve(without_token))[0] == iam.INVALID_TOKEN


def test_a_signature_more_than_five_minutes_old_has_expired(access: AccessControl) -> None:
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert access.refusal("ReservarEstoqueFunction", reserve(access.roles["CriarOrdemFunction"]), now=later)[0] == iam.EXPIRED


def test_a_role_whose_policy_does_not_cover_the_route_is_not_authorized_with_api_gateways_message(access: AccessControl) -> None:
    refusal, caller = access.refusal(
        "CriarLivroFunction", event_signed_by(access.roles["CriarOrdemFunction"], "POST", "/livros", "/livros", "{}")
    )
    assert caller is access.roles["CriarOrdemFunction"]
    assert refusal == (
        "User: arn:aws:sts::123456789012:assumed-role/CriarOrdemFunctionRole/CriarOrdemFunction is not authorized to perform: "
        "execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:123456789012:LivrosApi/dev/POST/livros"
    )


def test_the_reconcilers_role_may_release_and_cancel_but_not_reserve(access: AccessControl) -> None:
    reconciler = access.roles["ReconciliarOrdensFunction"]
    release = event_signed_by(reconciler, "DELETE", "/livros/7/reservas/abc", "/livros/{id}/reservas/{ordem_id}")
    cancel = event_signed_by(reconciler, "POST", "/pagamentos/cancelamentos", "/pagamentos/cancelamentos", "{}")
    assert access.refusal("LiberarReservaFunction", release)[0] == ""
    assert access.refusal("CancelarPagamentoFunction", cancel)[0] == ""
    assert "is not authorized" in access.refusal("ReservarEstoqueFunction", reserve(reconciler))[0]


def test_an_explicit_deny_wins_over_an_allow() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:Api/dev/POST/x"
    allow = {"Effect": "Allow", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*"}
    deny = {"Effect": "Deny", "Action": ["execute-api:Invoke"], "Resource": [arn]}
    assert Principal("a", "k", "s", None, (allow,)).may_invoke(arn)
    assert not Principal("a", "k", "s", None, (allow, deny)).may_invoke(arn)


def test_the_admin_identity_is_written_once_for_its_owner_only_and_reused(tmp_path: Path) -> None:
    access = AccessControl("us-east-1", {})
    credentials = tmp_path / "admin-credentials"
    first = access.admin(credentials, "bookstore-admin")
    text = credentials.read_text()
    assert "[bookstore-admin]" in text
    assert f"aws_access_key_id = {first.access_key}" in text
    assert "region = us-east-1" in text
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert AccessControl("us-east-1", {}).admin(credentials, "bookstore-admin").access_key == first.access_key


def test_a_route_the_template_does_not_declare_for_the_function_is_closed(access: AccessControl) -> None:
    # (SAM's gateway routes by the template, so this is a second lock on the same door)
    undeclared = event_signed_by(None, "PUT", "/livros/7", "/livros/{id}")
    assert access.refusal("ObterLivroFunction", undeclared)[0] == iam.MISSING_TOKEN
