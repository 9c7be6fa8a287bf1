"""BOOKSTORE_TELEMETRY_EXPORT is read at cold start: a typo fails the init instead of being ignored."""

from __future__ import annotations

import pytest

from bookstore_dev import template
from bookstore_shared.telemetry import EXPORT_MODES, export_mode


def test_the_extension_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOOKSTORE_TELEMETRY_EXPORT", raising=False)
    assert export_mode() == "extension"


@pytest.mark.parametrize("mode", EXPORT_MODES)
def test_each_documented_mode_is_taken(monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("BOOKSTORE_TELEMETRY_EXPORT", mode.upper())
    assert export_mode() == mode


def test_an_unknown_mode_fails_naming_the_variable_and_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKSTORE_TELEMETRY_EXPORT", "flsh")
    with pytest.raises(ValueError, match=r"BOOKSTORE_TELEMETRY_EXPORT='flsh': expected one of extension, flush, none"):
        export_mode()


def test_the_templates_parameter_offers_exactly_the_modes_the_layer_knows() -> None:
    parameter = template.load()["Parameters"]["TelemetryExport"]
    assert tuple(parameter["AllowedValues"]) == EXPORT_MODES
    assert parameter["Default"] == "extension"
