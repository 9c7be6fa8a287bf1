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
    python -m localcloud fault 'ReservarEstoqueFunction:throttle=1'     at most 1 invocation in flight (429 beyond)
    python -m localcloud fault 'receiver:slow=2000' / 'receiver:down'   the OTLP receiver answers late / 503
    python -m localcloud faults                                         what is on
    python -m localcloud faults-off                                     all off, feature flags included
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from localcloud.environment import InvocationReport, Outcome
from localcloud.errors import Conflict, LocalCloudError, Unavailable
from localcloud.pool import FunctionPool

FUNCTION_KINDS = {"delay", "error", "response", "timeout", "cold", "throttle"}
RECEIVER_KINDS = {"slow", "down"}
RECEIVER = "receiver"
SPEC = re.compile(r"^(?P<target>[*A-Za-z0-9_-]+):(?P<kind>[a-z]+)(?:=(?P<value>[0-9]{1,7}))?(?:@(?P<percent>[0-9]{1,3}))?$")
MAX_WAIT_MS = 60_000  # delay= and slow=: longer than API Gateway's 29 s, short enough to end on its own


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
    if kind in {"delay", "slow"} and value is not None and value > MAX_WAIT_MS:
        raise LocalCloudError(f"{kind}=MS takes at most {MAX_WAIT_MS} ms")
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
        self._applying = threading.Lock()  # one application of the standing faults at a time, the latest last
        self._calm = threading.Event()  # set (and replaced) when faults go off: waits in progress end

    def add(self, spec: str) -> dict[str, Any]:
        fault = parse(spec, set(self._pools))
        if fault.target == RECEIVER and self.receiver is None:
            raise Conflict("the functions export to --otlp-endpoint, not to this cloud's receiver")
        with self._lock:
            if fault.percent == 0:
                self._faults.pop((fault.target, fault.kind), None)
            else:
                self._faults[(fault.target, fault.kind)] = fault
            if fault.kind in {"delay", "timeout"}:
                self._calm.set()  # a changed delay: the waits of the old one end now
                self._calm = threading.Event()
        self._apply_standing()
        self._output(f"local cloud: fault {fault}" + (" (off)" if fault.percent == 0 else ""))
        return self.describe()

    def clear(self) -> dict[str, Any]:
        with self._lock:
            self._faults.clear()
            self._calm.set()  # the invocations still held by a delay or a timeout go on now
            self._calm = threading.Event()
        self._apply_standing()
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": [str(fault) for fault in self._faults.values()]}

    def invoke(self, function: str, invoke: Callable[[Callable[[], object] | None], InvocationReport]) -> InvocationReport:
        """One invocation of `function` through whatever faults are on for it; `invoke(hold)` runs
        it, `hold` (if any) first, in its environment."""
        with self._lock:
            faults = {kind: fault for (target, kind), fault in self._faults.items() if target in {function, "*"}}
            calm = self._calm
        if not faults:
            return invoke(None)
        if (fault := faults.get("cold")) and fault.hits():
            self._pools[function].recycle()  # the idle environments end: this invocation starts a new one
        if (fault := faults.get("response")) and fault.hits():
            body: dict[str, Any] = {"statusCode": fault.value, "headers": {"Content-Type": "application/json"}}
            body["body"] = json.dumps({"message": "Injected fault (integration response)"})
            return InvocationReport("fault", Outcome.RESPONSE, json.dumps(body).encode(), 0.0, None, 0)
        if (fault := faults.get("error")) and fault.hits():
            error = {"errorType": "InjectedFault", "errorMessage": "invocation error injected by the local cloud"}
            return InvocationReport("fault", Outcome.ERROR, json.dumps(error).encode(), 0.0, None, 0)
        if (fault := faults.get("timeout")) and fault.hits():
            timeout_s = self._pools[function].spec.timeout_s
            calm.wait(timeout_s)
            return InvocationReport("fault", Outcome.TIMEOUT, b'{"errorMessage": "Task timed out"}', timeout_s * 1000, None, 0)
        delay = faults.get("delay")
        if delay and delay.hits():
            return invoke(lambda: calm.wait((delay.value or 0) / 1000))
        return invoke(None)

    def _apply_standing(self) -> None:
        """The faults that are a state, not a dice per invocation: throttling and the receiver's.
        Applied one at a time, from the faults as they are then: the last change wins."""
        with self._applying:
            with self._lock:
                faults = dict(self._faults)
            for name, pool in self._pools.items():
                throttle = faults.get((name, "throttle")) or faults.get(("*", "throttle"))
                sized = self._limits.setdefault(name, pool.limit)
                pool.limit = min(sized, throttle.value or 1) if throttle else sized
            if self.receiver is not None:
                slow, down = faults.get((RECEIVER, "slow")), faults.get((RECEIVER, "down"))
                settings = {"delay_ms": slow.value if slow else 0, "down": down is not None}
                try:
                    httpx.post(f"{self.receiver}/_localcloud/faults", json=settings, timeout=10).raise_for_status()
                except httpx.HTTPError as error:
                    # The faults of the functions hold all the same; the answer says what did not.
                    raise Unavailable(f"the OTLP receiver did not take its faults ({error}); is it running?") from error
