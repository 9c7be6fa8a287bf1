"""Settings every test process shares. Unit and integration tests run as separate pytest
processes (see the Makefile): the functions read their settings once, at import, as a cold
start does, so each kind of test starts its own "environments" with its own configuration."""

from __future__ import annotations

import os
import sys

from hypothesis import HealthCheck, settings

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

# Property and fuzz tests: `bounded` in `make test`, derandomized so a CI run is repeatable (the
# same examples every time, no example database carried between runs); `fuzz` for `make fuzz`
# (`--hypothesis-profile=fuzz`), longer and random, its failures kept in .hypothesis/ to replay.
# The fuzz tests send each example over HTTP: no deadline, and slow generation is expected.
settings.register_profile(
    "bounded", max_examples=50, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("fuzz", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile("bounded")
