"""Faults of the platform, switched on live per function, in AWS FIS's terms for Lambda
(`aws:lambda:invocation-add-delay`, `invocation-error`, `invocation-http-integration-response`,
each on a percentage of invocations) and a few more a class needs: a timeout, forced cold starts
(a cold-start storm), throttling, and the OTLP receiver slow or down. They act on the platform,
not in the code: the functions do not know, and the traces show only their effects (a gap before
a span, a 502 with no span of the function, init spans, 429s, exports that fail).

    python -m localcloud fault 'CriarPagamentoFunction:delay=2000@50'   2 s before half its invocations
    python -m localcloud fault 'ObterLivroFunction:error@25'            a quarter fail, the function not run (502)
    python -m localcloud fault 'CriarOrdemFunction:response=503@100'    API Gateway answers 503, the function not run
    python -m localcloud fault 'CriarPagamentoFunction:timeout@10'      runs past its Timeout (502, Status: timeout)
    python -m localcloud fault '*:cold@100'                             every invocation on a new environment
    python -m localcloud fault 'ReservarEstoqueFunction:throttle=1'     at most 1 environment (429 beyond)
    python -m localcloud fault 'receiver:slow=2000' / 'receiver:down'   the OTLP receiver answers late / 503
    python -m localcloud faults                                         what is on
    python -m localcloud faults-off                                     all off, feature flags included
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from localcloud.environment import InvocationReport, Outcome
from localcloud.errors import LocalCloudError
from localcloud.pool import FunctionPool

FUNCTION_KINDS = {"delay", "error", "response", "timeout", "cold", "throttle"}
RECEIVER_KINDS = {"slow", "down"}
RECEIVER = "receiver"
SPEC = re.compile(r"^(?P<target>[*\w-]+):(?P<kind>\w+)(?:=(?P<value>\d+))?(?:@(?P<percent>\d{1,3}))?$")


@dataclass(frozen=True)
class Fault:
    target: str  # a function's name, `*` for every function, or `receiver`
    kind: str
    value: int | None
    percent: int

    def __str__(self) -> str:
        value = "" if self.value is None else f"={self.value}"
        share = "" if self.kind == "throttle" or self.target == RECEIVER else f"@{self.percent}"
        return f"{self.target}:{self.kind}{value}{share}"

    def hits(self) -> bool:
        return random.randrange(100) < self.percent  # noqa: S311 - a fault's dice


def parse(spec: str, functions: set[str]) -> Fault:
    match = SPEC.match(spec.strip())
    if match is None:
        raise LocalCloudError(f"expected TARGET:KIND[=VALUE][@PERCENT] (e.g. CriarPagamentoFunction:delay=2000@50), not {spec!r}")
    target, kind = match["target"], match["kind"]
    value = int(match["value"]) if match["value"] else None
    percent = int(match["percent"]) if match["percent"] else 100
    kinds = RECEIVER_KINDS if target == RECEIVER else FUNCTION_KINDS
    if target not in functions | {"*", RECEIVER}:
        raise LocalCloudError(f"no function {target!r}; the functions are {', '.join(sorted(functions))} (or * or receiver)")
    if kind not in kinds:
        raise LocalCloudError(f"{target} takes {', '.join(sorted(kinds))}, not {kind!r}")
    needs_value = {"delay", "response", "throttle", "slow"}
    if (value is None) == (kind in needs_value):
        raise LocalCloudError(f"{kind} {'needs' if kind in needs_value else 'takes no'} =VALUE")
    if kind == "response" and value is not None and not 100 <= value <= 599:
        raise LocalCloudError(f"response=STATUS takes an HTTP status, not {value}")
    if kind == "throttle" and value == 0:
        raise LocalCloudError("throttle=N takes at least 1 environment")
    if not 0 <= percent <= 100:
        raise LocalCloudError(f"@PERCENT is 0 to 100, not {percent}")
    return Fault(target, kind, value, percent)


class PlatformFaults:
    def __init__(self, pools: Mapping[str, FunctionPool], output: Callable[[str], None]) -> None:
        self._pools = pools  # the cloud's, filled as it starts
        self.receiver: str | None = None  # the local OTLP receiver's endpoint (None: the functions export elsewhere)
        self._output = output
        self._faults: dict[tuple[str, str], Fault] = {}
        self._limits: dict[str, int] = {}  # each throttled pool's limit as the template sized it
        self._lock = threading.Lock()

    def add(self, spec: str) -> dict[str, Any]:
        fault = parse(spec, set(self._pools))
        if fault.target == RECEIVER and self.receiver is None:
            raise LocalCloudError("the functions export to --otlp-endpoint, not to this cloud's receiver")
        with self._lock:
            if fault.percent == 0:
                self._faults.pop((fault.target, fault.kind), None)
            else:
                self._faults[(fault.target, fault.kind)] = fault
        self._apply_standing()
        self._output(f"local cloud: fault {fault}" + (" (off)" if fault.percent == 0 else ""))
        return self.describe()

    def clear(self) -> dict[str, Any]:
        with self._lock:
            self._faults.clear()
        self._apply_standing()
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": [str(fault) for fault in self._faults.values()]}

    def invoke(self, function: str, invoke: Callable[[float], InvocationReport]) -> InvocationReport:
        """One invocation of `function` through whatever faults are on for it; `invoke(delay_s)`
        runs it, holding its environment for `delay_s` first."""
        with self._lock:
            faults = {kind: fault for (target, kind), fault in self._faults.items() if target in {function, "*"}}
        if not faults:
            return invoke(0.0)
        pool = self._pools[function]
        if (fault := faults.get("cold")) and fault.hits():
            pool.recycle()  # the idle environments end: this invocation starts a new one
        if (fault := faults.get("response")) and fault.hits():
            body: dict[str, Any] = {"statusCode": fault.value, "headers": {"Content-Type": "application/json"}}
            body["body"] = json.dumps({"message": "Injected fault (integration response)"})
            return InvocationReport("fault", Outcome.RESPONSE, json.dumps(body).encode(), 0.0, None, 0)
        if (fault := faults.get("error")) and fault.hits():
            error = {"errorType": "InjectedFault", "errorMessage": "invocation error injected by the local cloud"}
            return InvocationReport("fault", Outcome.ERROR, json.dumps(error).encode(), 0.0, None, 0)
        if (fault := faults.get("timeout")) and fault.hits():
            time.sleep(pool.spec.timeout_s)
            return InvocationReport("fault", Outcome.TIMEOUT, b'{"errorMessage": "Task timed out"}', pool.spec.timeout_s * 1000, None, 0)
        delay = faults.get("delay")
        return invoke((delay.value or 0) / 1000 if delay and delay.hits() else 0.0)

    def _apply_standing(self) -> None:
        """The faults that are a state, not a dice per invocation: throttling and the receiver."""
        with self._lock:
            faults = dict(self._faults)
        for name, pool in self._pools.items():
            throttle = faults.get((name, "throttle")) or faults.get(("*", "throttle"))
            sized = self._limits.setdefault(name, pool.limit)
            pool.limit = min(sized, throttle.value or 1) if throttle else sized
        if self.receiver is not None:
            slow, down = faults.get((RECEIVER, "slow")), faults.get((RECEIVER, "down"))
            settings = {"delay_ms": slow.value if slow else 0, "down": down is not None}
            httpx.post(f"{self.receiver}/_localcloud/faults", json=settings, timeout=10).raise_for_status()
