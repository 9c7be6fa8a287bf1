"""BOOKSTORE_TELEMETRY_EXPORT is read at cold start: a typo fails the init instead of being ignored."""

from __future__ import annotations

import pytest

from bookstore_dev import template
from bookstore_shared.telemetry import EXPORT_MODES, _timeout, export_mode


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


@pytest.mark.parametrize(("mode", "seconds"), [("flush", 0.5), ("extension", 2.0)])
def test_an_export_off_the_responses_path_gets_more_time_before_it_counts_as_failed(
    monkeypatch: pytest.MonkeyPatch, mode: str, seconds: float
) -> None:
    # Given no OTEL_EXPORTER_OTLP_*TIMEOUT, When the mode says when telemetry leaves
    for name in ("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOOKSTORE_TELEMETRY_EXPORT", mode)
    # Then the exporters wait that long (a collector slowed by cold starts does not trip the breaker)
    assert _timeout("TRACES") == seconds


def test_an_explicit_otel_timeout_wins_over_the_modes_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "7")
    assert _timeout("TRACES") is None  # None: the exporter reads the variable itself
