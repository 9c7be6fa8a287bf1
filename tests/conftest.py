"""Settings every test process shares. Unit and integration tests run as separate pytest
processes (see the Makefile): the functions read their settings once, at import, as a cold
start does, so each kind of test starts its own "environments" with its own configuration."""

from __future__ import annotations

import os
import sys

from bookstore_dev.services import services
from bookstore_dev.template import layer_paths

# Fake credentials: the only AWS the tests see is moto.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
# Spans are produced and checked in memory (tests add the processor); nothing is exported.
os.environ.setdefault("OTEL_TRACES_EXPORTER", "none")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "DEBUG")
os.environ.setdefault("OTEL_METRICS_EXPORTER", "none")
os.environ.setdefault("OTEL_LOGS_EXPORTER", "none")

# The functions import their code as Lambda lays it out: each function's folder (/var/task) and
# each layer (/opt/python) on the path, as the template lists them.
for path in [*(service.code for service in services()), *layer_paths()]:
    if str(path) not in sys.path:
        sys.path.append(str(path))
