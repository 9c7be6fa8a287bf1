"""The objects a Cadastro de Livros execution environment keeps while warm."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from bookstore_shared.runtime import ServiceRuntime
from bookstore_shared.settings import ServiceSettings
from livros.errors import register_error_handlers
from livros.service import Livros


class LivrosSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LIVROS_", frozen=True, extra="ignore")


runtime = ServiceRuntime("cadastro-de-livros", LivrosSettings, register_error_handlers)
logger = runtime.logger
new_app = runtime.new_app
livros = Livros(runtime.database)
