"""Feature flags through OpenFeature, for the faults a class turns on to find them in the telemetry.

The provider is flagd's, in-process: flagd's flag-definition JSON (the OpenTelemetry Demo's
format) read from the file `FLAGD_OFFLINE_FLAG_SOURCE_PATH` names and watched, so a change to
the file reaches warm environments without a restart (within `FLAGD_DEADLINE_MS`, 500 ms by
default, of an environment running). No process to run beside the functions, no call per
evaluation. The local cloud gives every function that variable (`python -m localcloud --flags`);
where it is unset (AWS, LocalStack, `sam local`), no provider is set and every flag is its code
default: off.

Each evaluation is an event `feature_flag.evaluation` on the current span (OpenFeature's
OpenTelemetry hook): the trace says which flag decided what.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from openfeature import api
from openfeature.contrib.hook.opentelemetry import TracingHook
from openfeature.flag_evaluation import FlagValueType

from bookstore_shared import telemetry

FLAGS_FILE_VARIABLE = "FLAGD_OFFLINE_FLAG_SOURCE_PATH"
FAULT_ATTRIBUTE = "bookstore.fault"  # on the span of the request a fault hit: the flag's name
UNREACHABLE_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused

T = TypeVar("T")
_client = api.get_client("bookstore")
_leaked: list[bytearray] = []  # what `memoryLeak` keeps: never freed while the environment lives
_file_watcher: Any = None  # the provider's FileWatcher, see `_fresh`
_seen_mtime: float | None = None  # the file's modification time when `_fresh` last had it read


def configure_flags() -> None:
    """At cold start: the flagd provider on the flags file, if the environment names one."""
    api.add_hooks([TracingHook()])
    path = os.environ.get(FLAGS_FILE_VARIABLE)
    if not path:
        return
    from openfeature.contrib.provider.flagd import FlagdProvider
    from openfeature.contrib.provider.flagd.config import ResolverType

    # A file that is missing or broken fails the init: a class would otherwise chase a fault
    # that is not there.
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{FLAGS_FILE_VARIABLE}={path}: no such file")
    provider = FlagdProvider(resolver_type=ResolverType.FILE, offline_flag_source_path=path)
    api.set_provider_and_wait(provider)
    global _file_watcher
    # Private: the provider's file watcher (openfeature-provider-flagd pinned exactly for it).
    _file_watcher = provider.resolver.connector  # type: ignore[attr-defined]


def _fresh() -> None:
    """The file as it is now. The provider re-reads it every 500 ms in a thread, and a frozen
    environment's thread is stopped with it: on a thaw, the first evaluations would race that
    thread and could see the flags from before the freeze. One stat per evaluation (a reload only
    when the file changed since) makes a flag changed between two requests hold for the second."""
    global _seen_mtime
    if _file_watcher is None:
        return
    try:
        mtime = os.path.getmtime(_file_watcher.file_path)
    except OSError:
        return  # gone: the provider keeps the last flags it read, and its own thread says so
    if mtime != _seen_mtime:  # once per change: a broken file is reported once, not per evaluation
        _seen_mtime = mtime
        _file_watcher.safe_load_data()


def _value(read: Callable[[str, T], T], flag: str, default: T) -> T:
    """The flag's value now (the file re-read first if it changed)."""
    _fresh()
    return read(flag, default)


def _hit(flag: str) -> None:
    """The request's span says which fault hit it."""
    telemetry.current_span().set_attribute(FAULT_ATTRIBUTE, flag)


def probability(flag: str) -> float:
    """A number flag read as a share of requests, 0 (off) to 1 (all)."""
    return min(1.0, max(0.0, _value(_client.get_float_value, flag, 0.0)))


def enabled(flag: str) -> bool:
    on = _value(_client.get_boolean_value, flag, False)
    if on:
        _hit(flag)
    return on


def seconds(flag: str) -> float:
    """A number flag read as seconds of a wait (0: off)."""
    wait = max(0.0, _value(_client.get_float_value, flag, 0.0))
    if wait:
        _hit(flag)
    return wait


def happens(flag: str) -> bool:
    """Whether a fault whose flag is a share of requests hits this one."""
    share = probability(flag)
    hit = share > 0 and random.random() < share  # noqa: S311 - a fault's dice, not a secret
    if hit:
        _hit(flag)
    return hit


def delay(flag: str) -> None:
    """Waits as the object flag says: `{"delay_ms": D, "jitter_ms": J}` waits D ± J ms, in a span
    of its own so the waterfall shows where the time went."""
    empty: Sequence[FlagValueType] | Mapping[str, FlagValueType] = {}
    spec = _value(_client.get_object_value, flag, empty)
    base = float(spec.get("delay_ms", 0)) if isinstance(spec, dict) else 0.0
    jitter = float(spec.get("jitter_ms", 0)) if isinstance(spec, dict) else 0.0
    wait_ms = max(0.0, base + random.uniform(-jitter, jitter))  # noqa: S311
    if wait_ms <= 0:
        return
    with telemetry.step(f"fault {flag}", **{FAULT_ATTRIBUTE: flag, "bookstore.fault.delay_ms": round(wait_ms, 1)}):
        time.sleep(wait_ms / 1000)


def leak(flag: str) -> None:
    """Keeps the megabytes the number flag says, on every invocation, until the environment ends:
    `Max Memory Used` grows in each REPORT."""
    megabytes = _value(_client.get_float_value, flag, 0.0)
    if megabytes > 0:
        block = bytearray(int(megabytes * 1024 * 1024))
        block[::4096] = b"\x01" * len(block[::4096])  # touched: resident, not just reserved
        _leaked.append(block)
        telemetry.current_span().set_attributes({FAULT_ATTRIBUTE: flag, "bookstore.fault.leaked_mb": len(_leaked) * megabytes})
