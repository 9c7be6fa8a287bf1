"""The objects an Ordem de Compra execution environment keeps while warm, HTTP clients included
(their keep-alive connections survive between warm invocations)."""

from __future__ import annotations

from pydantic import AnyHttpUrl, Field
from pydantic_settings import SettingsConfigDict

from bookstore_shared.http_client import ServiceClient, SigV4
from bookstore_shared.runtime import ServiceRuntime
from bookstore_shared.settings import ServiceSettings
from ordens.clients import LivrosClient, PagamentosClient
from ordens.errors import register_error_handlers
from ordens.repository import PostgresOrdensRepository
from ordens.service import Ordens


class OrdensSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ORDENS_", frozen=True, extra="ignore")

    livros_api_url: AnyHttpUrl
    pagamentos_api_url: AnyHttpUrl
    http_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # Lambda sets AWS_REGION in every environment: the region the calls are signed for.
    aws_region: str = Field(validation_alias="AWS_REGION", min_length=1)


runtime = ServiceRuntime("ordem-de-compra", OrdensSettings, register_error_handlers)
logger = runtime.logger
new_app = runtime.new_app
_settings = runtime.settings
repository = PostgresOrdensRepository(runtime.database)
# The internal routes (reservations, payments) are closed by AWS_IAM: every call is signed with
# this environment's role credentials.
_signer = SigV4(_settings.aws_region)
ordens = Ordens(
    repository,
    LivrosClient(ServiceClient("cadastro-de-livros", str(_settings.livros_api_url), _settings.http_timeout_seconds, _signer)),
    PagamentosClient(
        ServiceClient(
            "pagamento", str(_settings.pagamentos_api_url), _settings.http_timeout_seconds, _signer, unreachable_flag="paymentUnreachable"
        )
    ),
    logger,
)
