"""The Docker path's Grafana stack (Tempo, Loki, Prometheus, Grafana), checked here where Docker
cannot run it: images pinned and ports on loopback; the Collector's merged configuration (every
pipeline's components defined, every exporter used, each pointing at a compose service, on a port
that service's own configuration listens on, with the signal it takes); the links between Tempo,
Loki and Prometheus that trace -> logs and exemplar -> trace depend on; Grafana's provisioned data
sources; and every metric the dashboard queries, against the names Prometheus will hold — derived
from the services' `create_counter`/`create_histogram` calls and Prometheus's OTLP translation
rules, and from Tempo's metrics-generator. Each check is a function returning what is wrong, run on
the real files and on a broken copy, so none can pass whatever the files say."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bookstore_dev import services, template

ROOT = template.ROOT
COMPOSE = ROOT / "localstack" / "docker-compose.yml"
GRAFANA_STACK = ("tempo", "loki", "prometheus", "grafana")

# What Prometheus calls the trace id of an exemplar that came in over OTLP: traceIDKey in
# storage/remote/otlptranslator/prometheusremotewrite/helper.go (v3.14.0).
OTLP_EXEMPLAR_TRACE_ID = "trace_id"
# Where each backend takes each signal over OTLP/HTTP (Prometheus: docs/querying/api.md, "OTLP
# Receiver"; Loki: docs/sources/shared/otel.md, "/otlp" plus the exporter's /v1/logs).
OTLP_HTTP_PATHS = {("prometheus", "metrics"): "/api/v1/otlp/v1/metrics", ("loki", "logs"): "/otlp/v1/logs"}
# Which signal each backend stores.
SIGNAL_OF = {"tempo": "traces", "jaeger": "traces", "loki": "logs", "prometheus": "metrics"}
# Ports whose only source is the image: Jaeger 2's default OTLP receivers, Prometheus's and
# Grafana's default listen addresses (--web.listen-address=0.0.0.0:9090, http_port = 3000).
IMAGE_DEFAULT_PORTS = {"jaeger": {4317, 4318, 16686}, "prometheus": {9090}, "grafana": {3000}}
# Tempo's metrics-generator (modules/generator/processor/spanmetrics/spanmetrics.go and
# servicegraphs/servicegraphs.go, v2.10.8): its series and their intrinsic labels. Histograms are
# classic unless generate_native_histograms says otherwise.
TEMPO_HISTOGRAMS = {
    "traces_spanmetrics_latency",
    "traces_service_graph_request_server_seconds",
    "traces_service_graph_request_client_seconds",
}
TEMPO_COUNTERS = {
    "traces_spanmetrics_calls_total",
    "traces_spanmetrics_size_total",
    "traces_service_graph_request_total",
    "traces_service_graph_request_failed_total",
}
TEMPO_SPAN_METRICS_LABELS = {"service", "span_name", "span_kind", "status_code"}
TEMPO_SERVICE_GRAPH_LABELS = {"client", "server", "connection_type"}
# Prometheus's labels from an OTLP resource (service.name -> job, service.instance.id -> instance).
OTLP_RESOURCE_LABELS = {"job", "instance"}
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan"}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load(COMPOSE)
    return loaded


# --- The compose file ------------------------------------------------------------------------


def image_problems(services_: dict[str, Any]) -> list[str]:
    """Images that could move under us: no tag, `latest`, or (for the Grafana stack, the
    Collector and Jaeger) anything but an exact x.y.z."""
    problems = []
    for name, service in services_.items():
        image = str(service.get("image", ""))
        tag = image.rsplit(":", 1)[1].rstrip("}") if ":" in image.split("/")[-1] else ""
        if not tag or tag.endswith("latest"):
            problems.append(f"{name}: {image!r} has no fixed tag")
        elif name in (*GRAFANA_STACK, "otel-collector", "jaeger") and not re.fullmatch(r"v?\d+\.\d+\.\d+", tag):
            problems.append(f"{name}: {image!r} is not an exact version")
    return problems


def public_ports(services_: dict[str, Any]) -> list[str]:
    """Published ports not bound to 127.0.0.1 (the long syntax must say host_ip too)."""
    problems = []
    for name, service in services_.items():
        for port in service.get("ports", []):
            if isinstance(port, dict):
                if port.get("host_ip") != "127.0.0.1":
                    problems.append(f"{name}: {port}")
            elif not str(port).startswith("127.0.0.1:"):
                problems.append(f"{name}: {port}")
    return problems


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str, bool]]:
    """(host path, container path, read-only) of each bind mount, host paths resolved as compose does."""
    mounts = []
    for volume in service.get("volumes", []):
        parts = str(volume).split(":")
        if parts[0].startswith((".", "/")):
            mounts.append(((COMPOSE.parent / parts[0]).resolve(), parts[1], parts[2:] == ["ro"]))
    return mounts


def config_mount_problems(services_: dict[str, Any]) -> list[str]:
    """Mounts of the repository's configuration (collector/, grafana/) that are writable or missing."""
    problems = []
    for name, service in services_.items():
        for host, container, read_only in bind_mounts(service):
            if host.is_relative_to(ROOT / "collector") or host.is_relative_to(ROOT / "grafana"):
                if not read_only:
                    problems.append(f"{name}: {container} is writable")
                if not host.exists():
                    problems.append(f"{name}: {host} does not exist")
    return problems


def repo_file(service: dict[str, Any], container_path: str) -> Path:
    """The repository file a container reads at `container_path`, through its bind mounts."""
    for host, container, _ in bind_mounts(service):
        if container_path == container:
            return host
        if container_path.startswith(container.rstrip("/") + "/"):
            return host / container_path[len(container.rstrip("/")) + 1 :]
    raise AssertionError(f"{container_path} is not mounted from the repository")


def command(service: dict[str, Any]) -> list[str]:
    value = service.get("command", [])
    return [str(part) for part in value] if isinstance(value, list) else str(value).split()


def flag(service: dict[str, Any], name: str) -> str | None:
    """The value of `--name=value` or `-name=value` in a service's command."""
    for part in command(service):
        match = re.fullmatch(rf"--?{re.escape(name)}=(.*)", part)
        if match:
            return match[1]
    return None


def test_every_image_is_pinned_and_every_port_is_on_loopback() -> None:
    # Given the compose file, with the Grafana stack in it
    services_ = compose()["services"]
    assert set(GRAFANA_STACK) <= set(services_)
    # Then no image can move, and nothing listens beyond this machine
    assert image_problems(services_) == []
    assert public_ports(services_) == []
    # And Grafana is on 3300 (3000 is the API under make sam-local), Jaeger stays on 16686
    assert "127.0.0.1:3300:3000" in services_["grafana"]["ports"]
    assert "127.0.0.1:16686:16686" in services_["jaeger"]["ports"]


def test_the_image_and_port_checks_catch_a_floating_tag_and_a_public_port() -> None:
    services_ = copy.deepcopy(compose()["services"])
    services_["tempo"]["image"] = "grafana/tempo:latest"
    services_["grafana"]["image"] = "grafana/grafana:12.3"
    services_["loki"]["image"] = "grafana/loki"
    services_["prometheus"]["ports"] = ["9090:9090"]
    services_["grafana"]["ports"] = [{"target": 3000, "published": 3300}]
    assert len(image_problems(services_)) == 3
    assert len(public_ports(services_)) == 2


def test_the_configuration_is_mounted_read_only_from_files_that_exist() -> None:
    services_ = compose()["services"]
    assert config_mount_problems(services_) == []
    # (and the check sees a writable or missing one)
    broken = copy.deepcopy(services_)
    broken["tempo"]["volumes"][0] = broken["tempo"]["volumes"][0].removesuffix(":ro")
    broken["loki"]["volumes"][0] = "../grafana/no-such-file.yaml:/etc/loki/bookstore.yaml:ro"
    assert len(config_mount_problems(broken)) == 2


def test_the_stack_starts_after_what_it_needs_and_grafana_is_anonymous_and_read_only() -> None:
    services_ = compose()["services"]
    # Given the Collector, which exports to all of them
    depends = services_["otel-collector"]["depends_on"]
    assert {"jaeger", "tempo", "loki", "prometheus"} <= set(depends)
    assert depends["prometheus"]["condition"] == "service_healthy"
    for name in ("prometheus", "grafana"):
        assert services_[name]["healthcheck"]["test"][0] == "CMD"
    # Then Grafana lets anyone here view and explore, and no one log in to change what files provision
    environment = services_["grafana"]["environment"]
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert environment["GF_USERS_VIEWERS_CAN_EDIT"] == "true"  # Explore, where the links lead
    assert environment["GF_AUTH_DISABLE_LOGIN_FORM"] == "true"
    assert environment["GF_AUTH_BASIC_ENABLED"] == "false"
    for name in GRAFANA_STACK:
        assert services_[name]["networks"] == ["bookstore"]


# --- Each backend's own configuration: where it listens ------------------------------------------


def tempo_config(services_: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = load(repo_file(services_["tempo"], str(flag(services_["tempo"], "config.file"))))
    return config


def loki_config(services_: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = load(repo_file(services_["loki"], str(flag(services_["loki"], "config.file"))))
    return config


def prometheus_config(services_: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = load(repo_file(services_["prometheus"], str(flag(services_["prometheus"], "config.file"))))
    return config


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def listening(services_: dict[str, Any], name: str) -> set[int]:
    """The ports a compose service listens on inside the network, from its own configuration."""
    if name == "tempo":
        config = tempo_config(services_)
        protocols = config["distributor"]["receivers"]["otlp"]["protocols"]
        return {config["server"]["http_listen_port"], *(port_of(protocol["endpoint"]) for protocol in protocols.values())}
    if name == "loki":
        server = loki_config(services_)["server"]
        return {server["http_listen_port"], server["grpc_listen_port"]}
    if name == "prometheus" and (address := flag(services_[name], "web.listen-address")):
        return {port_of(address)}
    return IMAGE_DEFAULT_PORTS.get(name, set())


def test_the_configs_parse_and_the_containers_read_them() -> None:
    services_ = compose()["services"]
    for name in ("tempo", "loki", "prometheus"):
        path = repo_file(services_[name], str(flag(services_[name], "config.file")))
        assert path.is_relative_to(ROOT / "grafana"), path
        assert isinstance(load(path), dict), path
    assert listening(services_, "tempo") >= {3200, 4317}
    assert listening(services_, "loki") >= {3100}


# --- The Collector -------------------------------------------------------------------------------


def merged(*documents: Any) -> Any:
    """The Collector's merge of its --config files, in order: maps merged key by key, anything
    else (lists included) replaced by the later file's value."""
    result: Any = {}
    for document in documents:
        result = _merge(result, document)
    return result


def _merge(base: Any, overlay: Any) -> Any:
    if isinstance(base, dict) and isinstance(overlay, dict):
        return {**base, **{key: _merge(base.get(key), value) for key, value in overlay.items()}}
    return copy.deepcopy(overlay)


def collector_files(services_: dict[str, Any]) -> list[Path]:
    collector = services_["otel-collector"]
    return [
        repo_file(collector, part.removeprefix("--config=").removeprefix("file:"))
        for part in command(collector)
        if part.startswith("--config=")
    ]


def collector_config(services_: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = merged(*(load(path) for path in collector_files(services_)))
    return config


def overridden_by_overlays(documents: list[Any]) -> list[str]:
    """Components or pipelines a later file defines again (lists would be replaced, not added to)."""
    problems = []
    for index, document in enumerate(documents[1:], start=1):
        earlier = merged(*documents[:index])
        for section in ("receivers", "processors", "exporters", "extensions", "connectors"):
            problems += [f"{section}/{name}" for name in document.get(section) or {} if name in (earlier.get(section) or {})]
        pipelines = (document.get("service") or {}).get("pipelines") or {}
        problems += [f"pipeline {name}" for name in pipelines if name in earlier["service"]["pipelines"]]
        problems += [f"service.{key}" for key in document.get("service") or {} if key != "pipelines"]
    return problems


def pipeline_problems(config: dict[str, Any]) -> list[str]:
    """Components a pipeline names but nothing defines, and exporters no pipeline uses."""
    problems = []
    pipelines = config["service"]["pipelines"]
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            problems += [
                f"{name}: {kind} {component} is not defined"
                for component in pipeline.get(kind, [])
                if component not in (config.get(kind) or {})
            ]
    used = {exporter for pipeline in pipelines.values() for exporter in pipeline.get("exporters", [])}
    problems += [f"exporter {exporter} is not used" for exporter in config.get("exporters") or {} if exporter not in used]
    return problems


def exporter_target_problems(config: dict[str, Any], services_: dict[str, Any]) -> list[str]:
    """Exporters whose endpoint is not a compose service, on a port it listens on, taking the
    signal of the pipelines the exporter is in (and, over HTTP, at the path it serves it)."""
    problems = []
    for name, exporter in (config.get("exporters") or {}).items():
        if "endpoint" not in exporter:
            continue
        endpoint = str(exporter["endpoint"])
        parts = urlsplit(endpoint if "://" in endpoint else f"grpc://{endpoint}")
        host, port = parts.hostname or "", parts.port
        if host not in services_:
            problems.append(f"{name}: {host} is not a compose service")
            continue
        if port not in listening(services_, host):
            problems.append(f"{name}: {host} does not listen on {port}")
        signals = {pipeline.split("/")[0] for pipeline, spec in config["service"]["pipelines"].items() if name in spec.get("exporters", [])}
        if signals - {SIGNAL_OF.get(host)}:
            problems.append(f"{name}: {host} takes {SIGNAL_OF.get(host)}, not {sorted(signals)}")
        for signal in signals & {SIGNAL_OF.get(host)}:
            expected = OTLP_HTTP_PATHS.get((host, signal))
            if name.startswith("otlphttp") and parts.path.rstrip("/") + f"/v1/{signal}" != expected:
                problems.append(f"{name}: {endpoint} + /v1/{signal} is not {expected}")
    return problems


def test_the_collector_pipelines_use_only_defined_components_and_every_exporter() -> None:
    # Given the Collector's files, merged as the Collector merges its --config files
    services_ = compose()["services"]
    files = collector_files(services_)
    assert [path.name for path in files] == ["config.yaml", "grafana.yaml"]
    config = collector_config(services_)
    # Then every pipeline names only defined components, and every exporter is in a pipeline
    assert pipeline_problems(config) == []
    # And grafana.yaml only adds (a list it repeated would replace config.yaml's, not add to it)
    assert overridden_by_overlays([load(path) for path in files]) == []
    # And every signal still reaches its file (what make traces reads), and the Grafana stack
    signals = {
        "traces": {"file/traces", "otlp/jaeger", "otlp/tempo"},
        "metrics": {"file/metrics", "otlphttp/prometheus"},
        "logs": {"file/logs", "otlphttp/loki"},
    }
    for signal, exporters in signals.items():
        reached = {
            exporter
            for name, spec in config["service"]["pipelines"].items()
            if name.split("/")[0] == signal
            for exporter in spec["exporters"]
        }
        assert exporters <= reached, signal
    # And each Grafana pipeline goes through the same processors, the redaction of card numbers first of all
    for name, spec in config["service"]["pipelines"].items():
        assert spec["processors"] == ["memory_limiter", "redaction/cards", "batch"], name


def test_the_collector_exporters_point_at_services_that_listen_there_for_that_signal() -> None:
    services_ = compose()["services"]
    assert exporter_target_problems(collector_config(services_), services_) == []


def test_the_collector_checks_catch_a_broken_overlay() -> None:
    # Given the Collector's configuration, broken as a hand edit could break it
    services_ = compose()["services"]
    config = collector_config(services_)
    config["service"]["pipelines"]["logs/grafana"]["exporters"] = ["otlphttp/lokii"]  # a typo: Loki's exporter unused too
    config["service"]["pipelines"]["metrics/grafana"]["processors"] = ["memory_limiter", "batch/grafana", "batch"]
    assert len(pipeline_problems(config)) == 3
    config = collector_config(services_)
    config["exporters"]["otlp/tempo"]["endpoint"] = "tempo:4318"  # Tempo takes no OTLP/HTTP here
    config["exporters"]["otlphttp/loki"]["endpoint"] = "http://loki:3100"  # no /otlp
    config["service"]["pipelines"]["traces/grafana"]["exporters"].append("otlphttp/prometheus")  # traces to Prometheus
    config["exporters"]["otlp/jaeger"]["endpoint"] = "jaegerr:4317"
    assert len(exporter_target_problems(config, services_)) == 4
    # And an overlay that repeats a pipeline of the base
    base, overlay = (load(path) for path in collector_files(services_))
    overlay["service"]["pipelines"]["traces"] = {"receivers": ["otlp"], "exporters": ["otlp/tempo"]}
    assert overridden_by_overlays([base, overlay]) == ["pipeline traces"]


# --- Tempo and Prometheus: span metrics and exemplars ----------------------------------------------


def exemplar_path_problems(services_: dict[str, Any]) -> list[str]:
    """What would keep exemplars from arriving, labelled trace_id, from both ways into Prometheus."""
    problems = []
    prometheus = command(services_["prometheus"])
    for needed in ("--web.enable-otlp-receiver", "--web.enable-remote-write-receiver", "--enable-feature=exemplar-storage"):
        if needed not in prometheus:
            problems.append(f"prometheus lacks {needed}")
    tempo = tempo_config(services_)
    for remote_write in tempo["metrics_generator"]["storage"]["remote_write"]:
        parts = urlsplit(remote_write["url"])
        if (parts.hostname, parts.path) != ("prometheus", "/api/v1/write") or parts.port not in listening(services_, "prometheus"):
            problems.append(f"tempo remote-writes to {remote_write['url']}")
        if remote_write.get("send_exemplars") is not True:
            problems.append("tempo does not send exemplars")
    generator = tempo["overrides"]["defaults"]["metrics_generator"]
    if not {"span-metrics", "service-graphs"} <= set(generator["processors"]):
        problems.append(f"tempo's processors: {generator['processors']}")
    if generator.get("trace_id_label_name") != OTLP_EXEMPLAR_TRACE_ID:
        problems.append("tempo labels its exemplars traceID (its default), not trace_id")
    return problems


def test_exemplars_arrive_labelled_trace_id_both_ways() -> None:
    services_ = compose()["services"]
    assert exemplar_path_problems(services_) == []
    broken = copy.deepcopy(services_)
    broken["prometheus"]["command"] = [part for part in command(services_["prometheus"]) if "exemplar" not in part]
    assert exemplar_path_problems(broken) == ["prometheus lacks --enable-feature=exemplar-storage"]


def test_prometheus_translates_names_as_these_tests_do_and_scrapes_only_services_that_exist() -> None:
    services_ = compose()["services"]
    config = prometheus_config(services_)
    # The rules translated_names() applies are those of this strategy (the default, written down)
    assert config["otlp"]["translation_strategy"] == "UnderscoreEscapingWithSuffixes"
    for job in config["scrape_configs"]:
        for target in (target for static in job["static_configs"] for target in static["targets"]):
            host, port = target.rsplit(":", 1)
            assert host in ("localhost", *services_), target
            assert int(port) in listening(services_, "prometheus" if host == "localhost" else host), target


# --- The names Prometheus will hold ----------------------------------------------------------------


def translated_name(name: str, unit: str, kind: str) -> str:
    """Prometheus's name for an OTLP metric under UnderscoreEscapingWithSuffixes (normalizeName in
    github.com/prometheus/otlptranslator metric_namer.go, v1.0.0, which Prometheus v3.14.0 uses):
    the name's tokens, then the unit (mapped if known; an annotation in braces is no unit), then
    _total for a monotonic counter."""
    units = {
        "d": "days",
        "h": "hours",
        "min": "minutes",
        "s": "seconds",
        "ms": "milliseconds",
        "us": "microseconds",
        "ns": "nanoseconds",
        "By": "bytes",
        "1": "",
        "%": "percent",
    }
    per_units = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
    tokens = [token for token in re.split(r"[^a-zA-Z0-9:]", name) if token]
    main, _, per = unit.partition("/")
    main_suffix = units.get(main.strip(), main.strip()) if main.strip() and not re.search(r"[{}]", main) else ""
    per_suffix = "per_" + per_units.get(per.strip(), per.strip()) if per.strip() and not re.search(r"[{}]", per) else ""
    for suffix in (re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9:]", "_", main_suffix)).strip("_"), per_suffix):
        if suffix and suffix not in tokens:
            tokens.append(suffix)
    if kind == "counter":
        tokens = [token for token in tokens if token != "total"] + ["total"]
    return "_".join(tokens)


def label_name(attribute: str) -> str:
    """An attribute's label name: every character but letters, digits and _ becomes _."""
    label = re.sub(r"[^a-zA-Z0-9_]", "_", attribute)
    return f"key_{label}" if label[0].isdigit() else label


def is_meter_create(function: ast.expr) -> bool:
    """`<anything>.meter().create_<instrument>`, as the services create theirs."""
    if not (isinstance(function, ast.Attribute) and function.attr.startswith("create_") and isinstance(function.value, ast.Call)):
        return False
    meter = function.value.func
    return (meter.attr if isinstance(meter, ast.Attribute) else getattr(meter, "id", "")) in {"meter", "get_meter"}


def instruments() -> dict[str, tuple[str, str, set[str]]]:
    """Every instrument the services create, read from their code: name -> (kind, unit, the
    attribute keys of the dict literals passed where it is recorded)."""
    found: dict[str, tuple[str, str, set[str]]] = {}
    for module in sorted(path for service in services.services() for path in service.code.rglob("*.py")):
        tree = ast.parse(module.read_text())
        dicts = {
            target.id: node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        variables = {}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and is_meter_create(node.value.func)):
                continue
            assert isinstance(node.value.func, ast.Attribute)
            kind = {"create_counter": "counter", "create_histogram": "histogram"}.get(node.value.func.attr)
            assert kind, f"{module}: {node.value.func.attr}: teach translated_name and prometheus_names its suffixes"
            name = ast.literal_eval(node.value.args[0])
            unit = next((ast.literal_eval(keyword.value) for keyword in node.value.keywords if keyword.arg == "unit"), "")
            found[name] = (kind, unit, set())
            variables.update({target.id: name for target in node.targets if isinstance(target, ast.Name)})
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"add", "record"}:
                owner = node.func.value
                if isinstance(owner, ast.Name) and owner.id in variables and len(node.args) > 1:
                    attributes = node.args[1]
                    literal = dicts.get(attributes.id) if isinstance(attributes, ast.Name) else attributes
                    assert isinstance(literal, ast.Dict), f"{module}: the attributes of {owner.id} are not a dict literal"
                    found[variables[owner.id]][2].update(ast.literal_eval(key) for key in literal.keys if key is not None)
    return found


def prometheus_names(services_: dict[str, Any]) -> dict[str, set[str]]:
    """Every series name Prometheus will hold, with the labels each may carry."""
    promoted = {label_name(attribute) for attribute in prometheus_config(services_)["otlp"].get("promote_resource_attributes", [])}
    names: dict[str, set[str]] = {}
    for name, (kind, unit, attributes) in instruments().items():
        labels = {label_name(attribute) for attribute in attributes} | OTLP_RESOURCE_LABELS | promoted
        base = translated_name(name, unit, kind)
        if kind == "histogram":
            names.update({f"{base}_bucket": labels | {"le"}, f"{base}_sum": labels, f"{base}_count": labels})
        else:
            names[base] = labels
    tempo = tempo_config(services_)
    external = set(tempo["metrics_generator"]["registry"].get("external_labels", {}))
    dimensions = {label_name(dimension) for dimension in tempo["metrics_generator"]["processor"]["span_metrics"].get("dimensions", [])}
    for name in TEMPO_COUNTERS | TEMPO_HISTOGRAMS:
        labels = external | (TEMPO_SPAN_METRICS_LABELS | dimensions if "spanmetrics" in name else TEMPO_SERVICE_GRAPH_LABELS)
        if name in TEMPO_HISTOGRAMS:
            names.update({f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels, f"{name}_count": labels})
        else:
            names[name] = labels
    return names


def test_the_services_metrics_get_the_names_the_course_queries() -> None:
    # Given the instruments the services create
    found = instruments()
    # Then the orders counter's attributes are the order's status and reason, as its module says
    assert found["bookstore.orders"] == ("counter", "{order}", {"bookstore.order.status", "bookstore.order.reason"})
    assert found["bookstore.payment.amount"][:2] == ("histogram", "BRL")
    # And Prometheus's names for them drop the {annotation}, keep an unknown unit as it is, add _total
    names = prometheus_names(compose()["services"])
    assert {"bookstore_orders_total", "bookstore_stock_reservations_total", "bookstore_payment_amount_BRL_bucket"} <= set(names)
    assert "bookstore_order_status" in names["bookstore_orders_total"]


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        # the cases of otlptranslator's metric_namer_test.go
        ("system.filesystem.usage", "By", "gauge", "system_filesystem_usage_bytes"),
        ("http.server.duration", "ms", "histogram", "http_server_duration_milliseconds"),
        ("system.network.io", "By", "counter", "system_network_io_bytes_total"),
        ("system.io", "By/s", "gauge", "system_io_bytes_per_second"),
        ("requests", "{request}", "counter", "requests_total"),
        ("requests.total", "", "counter", "requests_total"),
        ("bookstore.payment.amount", "BRL", "histogram", "bookstore_payment_amount_BRL"),
    ],
)
def test_the_name_translation_follows_prometheus(name: str, unit: str, kind: str, expected: str) -> None:
    assert translated_name(name, unit, kind) == expected


# --- Grafana: data sources and the dashboard --------------------------------------------------------


def grafana_files(services_: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The data sources Grafana provisions, and the dashboards its file providers load."""
    grafana = services_["grafana"]
    provisioning = repo_file(grafana, "/etc/grafana/provisioning")
    datasources = [source for path in sorted((provisioning / "datasources").glob("*.yaml")) for source in load(path)["datasources"]]
    dashboards = []
    for path in sorted((provisioning / "dashboards").glob("*.yaml")):
        for provider in load(path)["providers"]:
            assert provider["type"] == "file"
            folder = repo_file(grafana, provider["options"]["path"])
            dashboards += [json.loads(dashboard.read_text()) for dashboard in sorted(folder.glob("*.json"))]
    return {"datasources": datasources}, dashboards


def referenced_uids(value: Any) -> list[str]:
    """Every datasourceUid, and every {"uid": …} of a datasource reference, anywhere inside."""
    if isinstance(value, dict):
        own = [str(value["datasourceUid"])] if "datasourceUid" in value else []
        if "uid" in value and "type" in value and set(value) <= {"uid", "type"}:
            own.append(str(value["uid"]))
        return own + [uid for item in value.values() for uid in referenced_uids(item)]
    if isinstance(value, list):
        return [uid for item in value for uid in referenced_uids(item)]
    return []


def strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return [value] if isinstance(value, str) else []


def datasource_problems(provisioned: dict[str, Any], services_: dict[str, Any]) -> list[str]:
    sources = provisioned["datasources"]
    uids = [source.get("uid") for source in sources]
    problems = [f"uid {uid!r} is not unique" for uid in uids if uids.count(uid) != 1 or uid is None]
    problems += [f"{uid} is referenced but not provisioned" for uid in referenced_uids(sources) if uid not in uids]
    for source in sources:
        parts = urlsplit(source["url"])
        if parts.hostname not in services_ or parts.port not in listening(services_, str(parts.hostname)):
            problems.append(f"{source['name']}: nothing listens at {source['url']}")
        if SIGNAL_OF.get(str(parts.hostname)) != {"tempo": "traces", "loki": "logs", "prometheus": "metrics"}.get(source["type"]):
            problems.append(f"{source['name']}: a {source['type']} data source at {source['url']}")
    # Grafana expands $NAME and ${NAME} in provisioning values: its own variables must be $$-escaped
    problems += [f"unescaped $ in {text!r}" for text in strings(sources) if "$" in text.replace("$$", "")]
    return problems


def by_type(provisioned: dict[str, Any], kind: str) -> dict[str, Any]:
    source: dict[str, Any] = next(source for source in provisioned["datasources"] if source["type"] == kind)
    return source


def link_problems(provisioned: dict[str, Any]) -> list[str]:
    """What would break trace -> logs, log -> trace and exemplar -> trace."""
    problems = []
    prometheus, tempo, loki = (by_type(provisioned, kind) for kind in ("prometheus", "tempo", "loki"))
    destinations = prometheus["jsonData"].get("exemplarTraceIdDestinations", [])
    if [(each["name"], each["datasourceUid"]) for each in destinations] != [(OTLP_EXEMPLAR_TRACE_ID, tempo["uid"])]:
        problems.append(f"exemplars: {destinations}")
    to_logs = tempo["jsonData"].get("tracesToLogsV2", {})
    if (
        to_logs.get("datasourceUid") != loki["uid"]
        or not to_logs.get("filterByTraceID")
        or 'trace_id="$${__span.traceId}"' not in to_logs.get("query", "")
    ):
        problems.append(f"trace -> logs: {to_logs}")
    for key in ("tracesToMetrics", "serviceMap"):
        if tempo["jsonData"].get(key, {}).get("datasourceUid") != prometheus["uid"]:
            problems.append(f"tempo {key} does not lead to Prometheus")
    fields = loki["jsonData"].get("derivedFields", [])
    # Loki's OTLP ingestion keeps the trace id as structured metadata named trace_id (pkg/loghttp/push/otlp.go)
    if not any(
        field.get("matcherType") == "label" and field.get("matcherRegex") == "trace_id" and field.get("datasourceUid") == tempo["uid"]
        for field in fields
    ):
        problems.append(f"log -> trace: {fields}")
    return problems


def test_the_data_sources_are_provisioned_with_unique_uids_and_reachable_urls() -> None:
    services_ = compose()["services"]
    provisioned, _ = grafana_files(services_)
    assert {source["type"] for source in provisioned["datasources"]} == {"prometheus", "tempo", "loki"}
    assert datasource_problems(provisioned, services_) == []


def test_traces_logs_and_metrics_link_to_each_other() -> None:
    provisioned, _ = grafana_files(compose()["services"])
    assert link_problems(provisioned) == []


def test_the_data_source_checks_catch_a_broken_file() -> None:
    services_ = compose()["services"]
    provisioned, _ = grafana_files(services_)
    broken = copy.deepcopy(provisioned)
    by_type(broken, "loki")["uid"] = by_type(broken, "tempo")["uid"]  # two tempo uids, no loki uid
    by_type(broken, "prometheus")["url"] = "http://prometheus:9091"
    by_type(broken, "tempo")["jsonData"]["tracesToLogsV2"]["query"] = '{${__tags}} | trace_id="${__span.traceId}"'
    # (two uids alike, Tempo's two references to Loki dangling, the port, the unescaped $)
    assert len(datasource_problems(broken, services_)) == 6
    broken = copy.deepcopy(provisioned)
    by_type(broken, "prometheus")["jsonData"]["exemplarTraceIdDestinations"][0]["name"] = "traceID"
    by_type(broken, "loki")["jsonData"]["derivedFields"][0]["matcherType"] = "regex"
    del by_type(broken, "tempo")["jsonData"]["serviceMap"]
    assert len(link_problems(broken)) == 3


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included, rows themselves left out."""
    found = []
    for panel in dashboard.get("panels", []):
        found += [panel] if panel.get("type") != "row" else []
        found += [inner for inner in panel.get("panels", []) if inner.get("type") != "row"]
    return found


def promql_selectors(expr: str) -> tuple[list[tuple[str, set[str]]], set[str]]:
    """The metric names of a PromQL expression with the labels each selector matches on, and the
    labels of its by/without/on/ignoring clauses. Grafana's $variables are kept out."""
    no_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    selectors = [
        (name, set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers)))
        for name, matchers in re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}", no_strings)
    ]
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\w+|\$\{[^}]*\}", " ", no_strings)
    grouping = {
        label for clause in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", bare) for label in re.findall(r"[a-zA-Z_]\w*", clause)
    }
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    names = {name for name in re.findall(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare) if name.lower() not in PROMQL_KEYWORDS}
    selected = {name for name, _ in selectors}
    return selectors + [(name, set()) for name in sorted(names - selected)], grouping


def dashboard_problems(dashboard: dict[str, Any], provisioned: dict[str, Any], names: dict[str, set[str]]) -> list[str]:
    problems = [f"no {key}" for key in ("uid", "title") if not dashboard.get(key)]
    types = {source["uid"]: source["type"] for source in provisioned["datasources"]}
    queries: list[tuple[str, str]] = []
    for variable in dashboard.get("templating", {}).get("list", []):
        if "datasource" in variable:
            uid = variable["datasource"]["uid"]
            problems += [f"variable {variable['name']}: {uid} is not provisioned"] if uid not in types else []
            query = variable.get("query", {})
            for metric, label in re.findall(
                r"label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)", query["query"] if isinstance(query, dict) else str(query)
            ):
                queries.append((f"variable {variable['name']}", f"sum by ({label}) ({metric})"))
    for panel in panels(dashboard):
        where = f"panel {panel.get('title')!r}"
        for reference in [panel.get("datasource"), *(target.get("datasource") for target in panel.get("targets", []))]:
            if not isinstance(reference, dict) or reference.get("uid") not in types or types[reference["uid"]] != reference.get("type"):
                problems.append(f"{where}: data source {reference} is not provisioned")
        for target in panel.get("targets", []):
            if types.get((target.get("datasource") or {}).get("uid")) == "prometheus":
                queries.append((where, target["expr"]))
                problems += [f"{where}: exemplars off in {target['refId']}"] if target.get("exemplar") is not True else []
    for where, expr in queries:
        selectors, grouping = promql_selectors(expr)
        if not selectors:
            problems.append(f"{where}: no metric in {expr!r}")
        allowed = set().union(*(names.get(name, set()) for name, _ in selectors))
        for name, labels in selectors:
            if name not in names:
                problems.append(f"{where}: Prometheus will hold no {name}")
            problems += [f"{where}: {name} has no label {label}" for label in sorted(labels - names.get(name, set()))]
        problems += [f"{where}: no metric of {expr!r} has {label}" for label in sorted(grouping - allowed)]
    return problems


def test_the_dashboard_queries_what_prometheus_holds_through_provisioned_data_sources() -> None:
    # Given Grafana's provisioned files, and the names Prometheus will hold
    services_ = compose()["services"]
    provisioned, dashboards = grafana_files(services_)
    assert [dashboard["uid"] for dashboard in dashboards] == ["bookstore"]
    names = prometheus_names(services_)
    # Then every panel's data source is provisioned, and every PromQL query names series and labels that will exist
    assert dashboard_problems(dashboards[0], provisioned, names) == []
    # And the course's panels are there: a logs panel (Loki), a traces panel (Tempo), and the services' metrics
    kinds = {(panel["type"], panel["datasource"]["type"]) for panel in panels(dashboards[0])}
    assert {("logs", "loki"), ("table", "tempo"), ("timeseries", "prometheus")} <= kinds
    exprs = " ".join(target.get("expr", "") for panel in panels(dashboards[0]) for target in panel.get("targets", []))
    queried = {name for name in names if re.search(rf"\b{name}\b", exprs)}
    assert {
        "bookstore_orders_total",
        "bookstore_payment_amount_BRL_bucket",
        "bookstore_stock_reservations_total",
        "traces_spanmetrics_latency_bucket",
    } <= queried
    assert 'faas_coldstart="true"' in exprs


def test_the_dashboard_check_catches_a_wrong_name_label_data_source_or_exemplar() -> None:
    services_ = compose()["services"]
    provisioned, dashboards = grafana_files(services_)
    broken = copy.deepcopy(dashboards[0])
    prometheus_panels = [panel for panel in panels(broken) if panel["datasource"]["type"] == "prometheus"]
    first, second, third = prometheus_panels[:3]
    first["targets"][0]["expr"] = 'sum(rate(bookstore_orders{job=~"$service"}[$__rate_interval]))'  # no _total
    second["targets"][0]["expr"] = "sum by (bookstore_order_state) (rate(bookstore_orders_total[5m]))"  # no such label
    third["targets"][0]["exemplar"] = False
    third["targets"][1]["datasource"] = {"type": "prometheus", "uid": "prometheus"}
    del broken["uid"]
    problems = dashboard_problems(broken, provisioned, prometheus_names(services_))
    # (no uid; the data source; exemplars; bookstore_orders, and so its label job; the label bookstore_order_state)
    assert len(problems) == 6, problems
    # And the translation is what makes the right name: bookstore.payment.amount is not _brl, nor _total
    assert "bookstore_payment_amount_brl_bucket" not in prometheus_names(services_)


@pytest.mark.parametrize(
    ("expr", "selectors", "grouping"),
    [
        ('sum by (le, service) (rate(m_bucket{a="x", b=~"$v"}[$__rate_interval]))', [("m_bucket", {"a", "b"})], {"le", "service"}),
        (
            "histogram_quantile(0.95, sum by (le) (rate(m_bucket[5m]))) / on (job) other",
            [("m_bucket", set()), ("other", set())],
            {"le", "job"},
        ),
        ('a{x="by (y)"} and b', [("a", {"x"}), ("b", set())], set()),
    ],
)
def test_promql_selectors_reads_names_matchers_and_groupings(expr: str, selectors: list[tuple[str, set[str]]], grouping: set[str]) -> None:
    assert promql_selectors(expr) == (selectors, grouping)
