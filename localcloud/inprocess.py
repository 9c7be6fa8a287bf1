"""The template's functions run inside the calling process, behind the same API Gateway: for
unit tests that need SAM's routing and events but neither processes nor sockets.

This is not a Lambda: the functions share one interpreter (sys.modules, os.environ), nothing is
frozen, no timeout is enforced, and the handler's own packages come from the caller's
environment. Everything that is about Lambda's behaviour runs in the local cloud's execution
environments (`localcloud.environment`) instead.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from awslambdaric.lambda_context import LambdaContext

from localcloud import template as templates
from localcloud.apigateway import ApiGateway
from localcloud.environment import InvocationReport, Outcome

Handler = Callable[[dict[str, Any], Any], Any]


class InProcessFunctions:
    def __init__(self, template: templates.CloudTemplate) -> None:
        self._template = template
        self._handlers: dict[str, Handler] = {}
        self._locks = {name: threading.Lock() for name in template.functions}  # one invocation at a time, per function
        # What Lambda puts on sys.path: each function's code (/var/task) and its layers (/opt/python).
        for function in template.functions.values():
            for uri in [function.codeuri, *(layer.codeuri for layer in function.layers)]:
                path = str(templates.code_path(template, uri))
                if path not in sys.path:
                    sys.path.append(path)

    def gateway(self) -> ApiGateway:
        return ApiGateway(self._template.api, self.run)

    def run(self, name: str, event: bytes) -> InvocationReport:
        function = self._template.functions[name]
        request_id = str(uuid.uuid4())
        timeout_s = float(function.timeout or 3)
        context = LambdaContext(request_id, None, None, int((time.time() + timeout_s) * 1000), f"arn:aws:lambda:::function:{name}")
        context.function_name = name
        started = time.monotonic()
        with self._locks[name]:
            try:
                body = json.dumps(self._handler(name)(json.loads(event), context)).encode()
                outcome = Outcome.RESPONSE
            except Exception as error:
                traceback.print_exc()
                body = json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()
                outcome = Outcome.ERROR
        return InvocationReport(request_id, outcome, body, (time.monotonic() - started) * 1000, None, 0)

    def _handler(self, name: str) -> Handler:
        if name not in self._handlers:
            handler = self._template.functions[name].handler or ""
            module_name, attribute = handler.rsplit(".", 1)
            self._handlers[name] = getattr(importlib.import_module(module_name), attribute)
        return self._handlers[name]
