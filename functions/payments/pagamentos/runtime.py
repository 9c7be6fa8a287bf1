"""The objects a Pagamento execution environment keeps while warm."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from bookstore_shared.runtime import ServiceRuntime
from bookstore_shared.settings import ServiceSettings
from pagamentos.errors import register_error_handlers
from pagamentos.service import Pagamentos


class PagamentosSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PAGAMENTOS_", frozen=True, extra="ignore")


runtime = ServiceRuntime("pagamento", PagamentosSettings, register_error_handlers)
logger = runtime.logger
new_app = runtime.new_app
pagamentos = Pagamentos(runtime.database)
