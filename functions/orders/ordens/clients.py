"""Calls to Cadastro de Livros and Pagamento, reading only the fields the order flow needs.

Answers outside the contract become `DependencyError(BAD_RESPONSE)`, so the flow deals with
exactly three outcomes per call: the expected answer, a domain refusal, or a dependency failure."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

import httpx
from pydantic import BaseModel, ValidationError

from bookstore_shared.http_client import DependencyError, Failure, ServiceClient, json_body
from bookstore_shared.models import Cartao


class LivroRemoto(BaseModel):
    id: int
    preco: Decimal
    estoque: int


class PagamentoRemoto(BaseModel):
    id: UUID
    status: str

    @property
    def aprovado(self) -> bool:
        return self.status == "APROVADO"


class Reservou(StrEnum):
    SIM = "SIM"
    SEM_ESTOQUE = "SEM_ESTOQUE"
    LIVRO_NAO_EXISTE = "LIVRO_NAO_EXISTE"
    LIBERADA = "LIBERADA"  # released before (by an earlier attempt, or a release that came first)


class LivrosClient:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    def obter(self, livro_id: int) -> LivroRemoto | None:
        response = self._client.request("GET", f"/livros/{livro_id}")
        if response.status_code == 404:
            return None
        return _parse(self._client.dependency, LivroRemoto, self._expect(response, 200))

    def reservar(self, livro_id: int, ordem_id: UUID, quantidade: int) -> Reservou:
        response = self._client.request("POST", f"/livros/{livro_id}/reservas", json={"ordem_id": str(ordem_id), "quantidade": quantidade})
        if response.status_code == 409:
            refused = _expect(self._client.dependency, response, 409)
            return Reservou.LIBERADA if refused.get("motivo") == "RESERVA_LIBERADA" else Reservou.SEM_ESTOQUE
        if response.status_code == 404:
            return Reservou.LIVRO_NAO_EXISTE
        reserva = self._expect(response, 200, 201)
        if reserva.get("status") != "RESERVADA":
            raise DependencyError(self._client.dependency, Failure.BAD_RESPONSE, "reservation is not held")
        return Reservou.SIM

    def liberar(self, livro_id: int, ordem_id: UUID) -> None:
        """Releases the order's reservation; one that never existed needs no release."""
        response = self._client.request("DELETE", f"/livros/{livro_id}/reservas/{ordem_id}")
        if response.status_code != 404:
            self._expect(response, 200)

    def _expect(self, response: httpx.Response, *statuses: int) -> dict[str, Any]:
        return _expect(self._client.dependency, response, *statuses)


class PagamentosClient:
    def __init__(self, client: ServiceClient) -> None:
        self._client = client

    def pagar(self, ordem_id: UUID, valor: Decimal, cartao: Cartao) -> PagamentoRemoto:
        response = self._client.request(
            "POST",
            "/pagamentos",
            json={"ordem_id": str(ordem_id), "valor": f"{valor:.2f}", "cartao": cartao.model_dump(mode="json")},
        )
        dependency = self._client.dependency
        return _parse(dependency, PagamentoRemoto, _expect(dependency, response, 200, 201))

    def cancelar(self, ordem_id: UUID) -> UUID | None:
        """Cancels the order's payment: refunded if it was made, refused if it arrives later.
        Returns the payment's id when there is one."""
        response = self._client.request("POST", "/pagamentos/cancelamentos", json={"ordem_id": str(ordem_id)})
        dependency = self._client.dependency
        pagamento = _expect(dependency, response, 200).get("pagamento")
        return _parse(dependency, PagamentoRemoto, pagamento).id if isinstance(pagamento, dict) else None


def _expect(dependency: str, response: httpx.Response, *statuses: int) -> dict[str, Any]:
    if response.status_code not in statuses:
        raise DependencyError(dependency, Failure.BAD_RESPONSE, f"unexpected HTTP {response.status_code}")
    return json_body(response, dependency)


M = TypeVar("M", bound=BaseModel)


def _parse(dependency: str, model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise DependencyError(dependency, Failure.BAD_RESPONSE, f"{model.__name__} outside the contract") from error
