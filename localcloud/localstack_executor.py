"""A LocalStack Lambda runtime executor that needs no Docker: each execution environment is the
local cloud's (the real runtime client in a process, `localcloud.environment`), driven through
LocalStack's own executor protocol by `localcloud.lambda_init`, as its Go init drives a container.

LocalStack finds it as the plugin `localcloud` in its `localstack.lambda.runtime_executor`
namespace (localstack/host/plugin holds the entry point) when `LAMBDA_RUNTIME_EXECUTOR=localcloud`.
Faithful to the community image: the function's code only (layers are never mounted), LocalStack's
environment variables, no freeze between invocations. Python runtimes only, run by the interpreter
that `LOCALCLOUD_LAMBDA_PYTHON` names, with the runtime client installed in
`LOCALCLOUD_LAMBDA_RUNTIME_DIR` (what Lambda's image has in /var/runtime).

Runs inside LocalStack (its venv, Python 3.13); its API is read from localstack-core 4.14.0,
pinned exactly in localstack/host/requirements.txt.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import localstack.config as config
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import LambdaRuntimeException, RuntimeExecutor

from localcloud.environment import FunctionSpec
from localcloud.lambda_init import PYTHON_VARIABLE, RUNTIME_DIR_VARIABLE, LambdaInit, Output

LOOPBACK = "127.0.0.1"


class LocalCloudRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:  # noqa: A002 - LocalStack's signature
        super().__init__(id, function_version)
        self.executor_endpoint = ExecutorEndpoint(id, container_address=LOOPBACK)
        self._init: LambdaInit | None = None

    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        self._init = LambdaInit(self._spec(env_vars), self.get_runtime_endpoint(), self.id, _printer(self.function_version))
        self.executor_endpoint.container_port = self._init.port
        self._init.start()
        self.executor_endpoint.wait_for_startup()

    def stop(self) -> None:
        if self._init is not None:
            self._init.stop()
        self.executor_endpoint.shutdown()

    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        return LOOPBACK

    def get_runtime_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{config.GATEWAY_LISTEN[0].port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        return self.executor_endpoint.logs or ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass  # nothing prepared beyond the code LocalStack unzipped (and removes) itself

    @classmethod
    def validate_environment(cls) -> bool:
        missing = [name for name in (PYTHON_VARIABLE, RUNTIME_DIR_VARIABLE) if not os.environ.get(name)]
        if missing:
            print(f"localcloud executor: {', '.join(missing)} unset: functions cannot start", file=sys.stderr)
            return False
        return True

    def _spec(self, env_vars: dict[str, str]) -> FunctionSpec:
        version = self.function_version
        runtime = str(version.config.runtime or "")
        if not runtime.startswith("python3"):
            raise LambdaRuntimeException(f"the localcloud executor runs Python functions only, not {runtime or 'images'}")
        code = Path(version.config.code.get_unzipped_code_location())
        runtime_dir = Path(os.environ[RUNTIME_DIR_VARIABLE])
        environment = {name: str(value) for name, value in env_vars.items()}
        return FunctionSpec(
            name=version.id.function_name,
            handler=environment["_HANDLER"],
            memory_mb=int(environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]),
            timeout_s=float(environment["AWS_LAMBDA_FUNCTION_TIMEOUT"]),
            python=os.environ[PYTHON_VARIABLE],
            # /var/task and /var/runtime: no /opt, since the community image mounts no layer
            python_path=(code, runtime_dir),
            task_root=code,
            environment=environment,
            region=version.id.region,
            account_id=version.id.account,
            # Just under LocalStack's start-up timeout (LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT, from the
            # compose file): LocalStack's own timer of that length would stop the environment first,
            # and its log would say less than ours (why the init ended).
            init_timeout_s=max(1.0, float(config.LAMBDA_RUNTIME_ENVIRONMENT_TIMEOUT) - 1),
        )


class LocalCloudRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "localcloud"

    def load(self, *args: object, **kwargs: object) -> type[RuntimeExecutor]:
        return LocalCloudRuntimeExecutor


def _printer(version: FunctionVersion) -> Output:
    """Each environment's lines on LocalStack's terminal, as `docker logs` would show them."""
    name = version.id.function_name

    def output(line: str) -> None:
        print(f"{name} | {line}", flush=True)

    return output
