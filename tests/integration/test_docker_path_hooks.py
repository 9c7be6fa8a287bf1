"""What the Docker path runs, run here against stand-ins that do run: `make up`'s provisioning
(localstack/provision.sh, which runs `python -m bookstore_dev.provision` from the host) against an
embedded PostgreSQL for the postgres container and moto's server for LocalStack; both containers'
healthchecks; the deploy script's passes with a stand-in for SAM CLI; and `sam build` +
`sam package` + SAM's transform."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import psycopg
import pytest
import yaml
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform

from bookstore_dev import services, template
from localcloud.net import free_port
from localcloud.postgres import POSTGRES_BIN_PATH, EmbeddedPostgres
from localcloud.samcli import parse_template

ROOT = template.ROOT
PROVISION = ROOT / "localstack" / "provision.sh"
DEPLOY = ROOT / "localstack" / "deploy.sh"
SUPERUSER_PASSWORD = "compose-superuser-pw"  # what localstack/.env would hold


def moto_client(service: str, endpoint: str) -> Any:
    session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
    return session.client(service, endpoint_url=endpoint)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Compose:
    """The stand-ins for `make up`'s containers: PostgreSQL on a host port, LocalStack's endpoint."""

    postgres: EmbeddedPostgres
    aws_endpoint: str


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server in a process of its own, as LocalStack is: a server started in this process
    would share moto's state with the integration tests' local cloud, and the secrets this module
    writes (host `postgres`) would replace the ones the cloud's functions read."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603 - moto's module
    try:
        deadline = time.monotonic() + 60
        while not _listens(port):
            assert process.poll() is None, "moto's server exited"
            assert time.monotonic() < deadline, "moto's server did not listen within 60 s"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def _listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compose]:
    """A server of its own, like the compose file's (its superuser has a password, used over TCP)."""
    postgres = EmbeddedPostgres(Path(tmp_path_factory.mktemp("compose-postgres")))
    postgres.start()
    try:
        with psycopg.connect(postgres.admin_conninfo, autocommit=True) as admin:
            admin.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(SUPERUSER_PASSWORD)))
        with moto_server() as endpoint:
            yield Compose(postgres, endpoint)
    finally:
        postgres.stop()


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` run for real, once: the template's functions and layer, as SAM CLI builds them."""
    build = tmp_path_factory.mktemp("sam") / "build"
    environment = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    command = ["sam", "build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build)]
    result = subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr[-2000:]
    return build


def make_up_provisions(compose: Compose) -> subprocess.CompletedProcess[str]:
    """localstack/provision.sh as `make up` runs it, with the compose file's port and password."""
    environment = {
        **os.environ,
        "PYTHON": sys.executable,
        "POSTGRES_PASSWORD": SUPERUSER_PASSWORD,
        "POSTGRES_HOST_PORT": str(compose.postgres.port),
        "LOCALSTACK_ENDPOINT": compose.aws_endpoint,
    }
    environment.pop("PGPASSWORD", None)
    return subprocess.run(["bash", str(PROVISION)], env=environment, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603, S607


def secret(compose: Compose, service: services.Service) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        moto_client("secretsmanager", compose.aws_endpoint).get_secret_value(SecretId=service.secret_name)["SecretString"]
    )
    return value


def as_role(compose: Compose, role: str, password: str, dbname: str) -> str:
    """How this host reaches the server: the secret's host (postgres) resolves only inside Docker's network."""
    return make_conninfo(host=compose.postgres.host, port=compose.postgres.port, user=role, password=password, dbname=dbname)


def migrations_applied(conninfo: str) -> dict[str, object]:
    with psycopg.connect(conninfo) as connection:
        return dict(connection.execute("SELECT version, applied_at FROM schema_migrations").fetchall())


@pytest.fixture(scope="module")
def provisioned(compose: Compose) -> Compose:
    # Given make up's first provisioning of freshly started containers
    result = make_up_provisions(compose)
    assert result.returncode == 0, result.stderr
    return compose


def test_every_service_of_the_template_gets_its_role_database_migrations_and_a_secret_for_the_docker_network(
    provisioned: Compose,
) -> None:
    with_data = services.databases()
    assert with_data
    for service in with_data:
        assert service.database is not None
        # Then its secret has the RDS layout and names the server as the functions reach it
        value = secret(provisioned, service)
        assert (value["engine"], value["host"], value["port"]) == ("postgres", "postgres", 5432)
        assert value["username"] == value["dbname"] == service.database
        # And its role logs in to its database with that password and finds every migration applied
        applied = migrations_applied(as_role(provisioned, value["username"], value["password"], value["dbname"]))
        assert set(applied) == {script.stem for script in service.migrations.glob("*.sql")}
        assert applied


def test_a_role_cannot_connect_to_another_services_database(provisioned: Compose) -> None:
    with_data = services.databases()
    assert len(with_data) > 1
    for service in with_data:
        value = secret(provisioned, service)
        for other in with_data:
            if other is service:
                continue
            assert other.database is not None
            # When a service's role tries another service's database
            # Then the server refuses it
            with pytest.raises(psycopg.OperationalError, match="permission denied"):
                psycopg.connect(as_role(provisioned, value["username"], value["password"], other.database)).close()


def test_provisioning_again_rotates_the_passwords_and_applies_nothing_twice(provisioned: Compose) -> None:
    with_data = services.databases()
    before = {service.package: secret(provisioned, service) for service in with_data}
    applied_before = {
        package: migrations_applied(as_role(provisioned, value["username"], value["password"], value["dbname"]))
        for package, value in before.items()
    }
    # When make up runs again (LocalStack restarted empty; here its secrets still exist: the update path)
    result = make_up_provisions(provisioned)
    assert result.returncode == 0, result.stderr
    for service in with_data:
        old, new = before[service.package], secret(provisioned, service)
        # Then the secret holds a new password, which works, and nothing was applied again
        assert new["password"] != old["password"]
        assert migrations_applied(as_role(provisioned, new["username"], new["password"], new["dbname"])) == applied_before[service.package]
        # And the old password is refused
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(as_role(provisioned, old["username"], old["password"], old["dbname"])).close()


def test_provisioning_refuses_a_wrong_superuser_password_and_changes_no_secret(provisioned: Compose) -> None:
    # Given the secrets of a provisioned stack, and make up's environment with a wrong superuser password
    with_data = services.databases()
    before = {service.package: secret(provisioned, service) for service in with_data}
    environment = {
        **os.environ,
        "PYTHON": sys.executable,
        "POSTGRES_PASSWORD": "not-the-password",
        "POSTGRES_HOST_PORT": str(provisioned.postgres.port),
        "LOCALSTACK_ENDPOINT": provisioned.aws_endpoint,
    }
    # When it provisions
    result = subprocess.run(["bash", str(PROVISION)], env=environment, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603, S607
    # Then it fails, saying why, before touching any secret
    assert result.returncode != 0
    assert "password authentication failed" in result.stderr
    assert {service.package: secret(provisioned, service) for service in with_data} == before


def sam_stand_in(tmp_path: Path, built: Path) -> tuple[Path, Path, Path]:
    """SAM CLI replaced by a script that records its arguments and AWS environment, and whose
    `build --build-dir D` leaves a copy of a real build in D."""
    calls, environments, sam = tmp_path / "sam-calls", tmp_path / "sam-environments", tmp_path / "sam"
    sam.write_text(
        "#!/usr/bin/env bash\n"
        f'printf "%s\\n" "$*" >> {calls}\n'
        f"env | grep '^AWS_' | sort >> {environments}; echo -- >> {environments}\n"
        f'if [ "$1" = build ]; then mkdir -p "$3" && cp -r {built}/. "$3"; fi\n'
    )
    sam.chmod(sam.stat().st_mode | stat.S_IXUSR)
    return sam, calls, environments


def run_deploy(compose: Compose, sam: Path, tmp_path: Path, stack: str, **environment: str) -> subprocess.CompletedProcess[str]:
    variables = {
        **os.environ,
        "PYTHON": sys.executable,
        "SAM": str(sam),
        "LOCALSTACK_ENDPOINT": compose.aws_endpoint,
        "STACK_NAME": stack,
        "STAGE": "dev",
        "BUILD_DIR": str(tmp_path / "localstack-build"),
        "LOCALSTACK_SESSION": str(tmp_path / "no-localstack-session"),  # the Docker path's, even while make localstack runs
        **environment,
    }
    return subprocess.run(["bash", str(DEPLOY)], env=variables, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603, S607


def test_the_deploy_script_deploys_once_pointing_the_functions_at_localstacks_path_style_api_urls(
    compose: Compose, sam_build: Path, tmp_path: Path
) -> None:
    # Given a stack in the LocalStack stand-in with the template's APIs (as sam deploy leaves it)
    apis = services.apis()
    stack = "bookstore-deploy-test"
    resources = {api: {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": api}} for api, _, _ in apis}
    cloudformation = moto_client("cloudformation", compose.aws_endpoint)
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps({"Resources": resources}))
    ids = {
        api: cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=api)["StackResourceDetail"]["PhysicalResourceId"]
        for api, _, _ in apis
    }
    # And SAM CLI replaced by a stand-in that records its arguments
    sam, calls, environments = sam_stand_in(tmp_path, sam_build)
    # When make deploy runs from a shell that exported its own AWS identity (the region preset to the Docker path's)
    result = run_deploy(
        compose, sam, tmp_path, stack, AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="AKIAHOSTKEY", AWS_SESSION_TOKEN="host-session"
    )
    assert result.returncode == 0, result.stderr
    build, deploy = calls.read_text().splitlines()
    # Then it builds into LocalStack's own build directory and deploys that once, telling the
    # functions to reach the stack's APIs at LocalStack's path-style URLs inside Docker's network
    # (not the deprecated _user_request_), with a dependency timeout that fits a container's cold start
    assert build == f"build --build-dir {tmp_path / 'localstack-build'}"
    assert f"--template-file {tmp_path / 'localstack-build' / 'template.yaml'}" in deploy
    assert "ExecuteApiEndpoint=http://localstack:4566 " in deploy
    assert "DependencyTimeoutSeconds=8" in deploy
    assert "ApiUrl=" not in deploy
    assert "_user_request_" not in deploy + result.stdout
    # And SAM CLI saw LocalStack's credentials and the Docker path's region, not the shell's
    for environment in environments.read_text().split("--\n")[:-1]:
        assert "AWS_ACCESS_KEY_ID=test\n" in environment
        assert "AWS_DEFAULT_REGION=us-east-1\n" in environment
        assert "AWS_SESSION_TOKEN" not in environment
    # And it prints each service's API URL as the host reaches it (LocalStack's path-style URL: no DNS needed)
    for api, service, _ in apis:
        assert f"{service.name}" in result.stdout
        assert f"{compose.aws_endpoint}/_aws/execute-api/{ids[api]}/dev" in result.stdout


@pytest.mark.parametrize("preset", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_the_deploy_script_refuses_a_preset_region_other_than_the_secrets(
    compose: Compose, sam_build: Path, tmp_path: Path, preset: str
) -> None:
    # Given a shell whose region is not the one make up wrote the secrets to
    sam, calls, _ = sam_stand_in(tmp_path, sam_build)
    # When make deploy runs
    result = run_deploy(compose, sam, tmp_path, "bookstore-region-test", **{preset: "eu-west-1"})
    # Then it stops before building or deploying anything, saying why
    assert result.returncode != 0
    assert f"{preset}=eu-west-1" in result.stderr
    assert "us-east-1" in result.stderr
    assert not calls.exists()


def test_the_localstack_build_carries_the_shared_layer_in_every_function(sam_build: Path, tmp_path: Path) -> None:
    """LocalStack's community image never mounts a layer: each function must import the shared
    code and its dependencies from its own package (/var/task)."""
    # Given `sam build`'s output, copied (as make deploy builds into a directory of its own)
    build = tmp_path / "localstack-build"
    shutil.copytree(sam_build, build)
    # When make deploy's step for LocalStack runs on it
    inline_layers = [sys.executable, str(ROOT / "localstack" / "inline_layers.py"), str(build)]
    result = subprocess.run(inline_layers, capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    functions = [service_function for service in services.services() for service_function in service.functions]
    assert functions
    for function in functions:
        code = build / function
        # Then, with nothing but the function's folder on the path (no site-packages, no layer at /opt),
        # the shared package and the layer's dependencies import from inside that folder
        probe = (
            "import sys; sys.path.insert(0, sys.argv[1]); import bookstore_shared, aws_lambda_powertools, opentelemetry.sdk, psycopg; "
            "print(bookstore_shared.__file__, aws_lambda_powertools.__file__, psycopg.__file__)"
        )
        imported = subprocess.run([sys.executable, "-S", "-c", probe, str(code)], capture_output=True, text=True, check=False)  # noqa: S603
        assert imported.returncode == 0, (function, imported.stderr[-1000:])
        assert all(Path(path).is_relative_to(code) for path in imported.stdout.split()), (function, imported.stdout)
    # And `sam build`'s own output (AWS, sam local) still leaves the shared code in the layer only
    assert not (sam_build / functions[0] / "bookstore_shared").exists()


class InitEndpoint(BaseHTTPRequestHandler):
    """LocalStack's /_localstack/init/ready, answering what the test sets (its shape as in 4.14.0)."""

    answer: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        body = json.dumps(self.answer).encode()
        self.send_response(200 if self.path == "/_localstack/init/ready" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        pass


def hook(state: str) -> dict[str, str]:
    return {"stage": "READY", "name": "hook.py", "state": state}


@pytest.mark.parametrize(
    ("answer", "healthy"),
    [
        ({"completed": True, "scripts": []}, True),
        ({"completed": True, "scripts": [hook("SUCCESSFUL")]}, True),
        ({"completed": True, "scripts": [hook("ERROR")]}, False),  # LocalStack says completed, the hook failed
        ({"completed": False, "scripts": [hook("RUNNING")]}, False),
        ({"completed": False, "scripts": []}, False),
    ],
)
def test_localstacks_healthcheck_fails_while_not_ready_and_when_a_ready_hook_failed(answer: dict[str, Any], healthy: bool) -> None:
    # Given the compose file's LocalStack healthcheck, pointed at a stand-in for LocalStack's init endpoint
    check = yaml.safe_load((ROOT / "localstack" / "docker-compose.yml").read_text())["services"]["localstack"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python3"]
    InitEndpoint.answer = answer
    server = ThreadingHTTPServer(("127.0.0.1", 0), InitEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        command = [sys.executable, *[part.replace("localhost:4566", f"127.0.0.1:{server.server_port}") for part in check[2:]]]
        # When Docker runs it
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    finally:
        server.shutdown()
        server.server_close()
    # Then it passes only when the READY stage completed with every hook successful
    assert (result.returncode == 0) == healthy, result.stderr


class FirstRunPostgres(EmbeddedPostgres):
    """EmbeddedPostgres (its initdb, and its unprivileged user when run as root) whose start can also
    be the postgres image's first-run server: docker-entrypoint.sh (docker_temp_server_start) starts
    it with `-c listen_addresses=''` while it initialises, so it serves its Unix socket only.
    start() builds the server's options in one place and has no way to add one, so this overrides
    the private _pg_ctl rather than copy start() or change localcloud/ for a test's sake: the option
    goes after start()'s `-h`, and the later one wins, as in the entrypoint."""

    socket_only = False

    def _pg_ctl(self, *args: str) -> None:
        if self.socket_only and "start" in args:
            options = args.index("-o") + 1
            args = (*args[:options], f"{args[options]} -c listen_addresses=''", *args[options + 1 :])
        super()._pg_ctl(*args)


@pytest.fixture
def first_run_postgres(tmp_path: Path) -> Iterator[FirstRunPostgres]:
    postgres = FirstRunPostgres(tmp_path / "postgres")
    try:
        yield postgres
    finally:
        postgres.stop()


def run_in_postgres_container(command: str, postgres: EmbeddedPostgres) -> subprocess.CompletedProcess[str]:
    """`command` as Docker runs a CMD-SHELL healthcheck (/bin/sh -c) in the postgres image: pg_isready
    on PATH, and libpq's defaults (the image's /var/run/postgresql and 5432) naming this server's
    socket directory and port."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
    environment |= {
        "PATH": f"{POSTGRES_BIN_PATH}:{environment['PATH']}",
        "PGHOST": str(conninfo_to_dict(postgres.admin_conninfo)["host"]),
        "PGPORT": str(postgres.port),
    }
    return subprocess.run(["/bin/sh", "-c", command], env=environment, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603


def test_postgres_healthcheck_fails_while_the_images_first_run_server_serves_only_its_socket_and_passes_once_it_listens_on_tcp(
    first_run_postgres: FirstRunPostgres,
) -> None:
    """make up provisions over TCP (the published port) once the container is healthy: a healthcheck
    that the first run's socket-only server satisfies lets it connect while nothing listens on TCP."""
    # Given the compose file's postgres healthcheck, pointed at this server's port instead of the container's 5432
    check = yaml.safe_load((ROOT / "localstack" / "docker-compose.yml").read_text())["services"]["postgres"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    healthcheck = check[1].replace("-p 5432", f"-p {first_run_postgres.port}")
    # And the server as the image's first run starts it while initialising (pg_ctl -w: up once it accepts connections)
    first_run_postgres.socket_only = True
    first_run_postgres.start()
    # When Docker runs the healthcheck
    initialising = run_in_postgres_container(healthcheck, first_run_postgres)
    # Then it fails: nothing answers over TCP (pg_isready's 2, no response)
    assert initialising.returncode == 2, initialising.stdout + initialising.stderr
    # And yet the server is up on its socket: there the socket-only pg_isready (the healthcheck it replaced) passes
    on_socket = run_in_postgres_container("pg_isready -U postgres -d postgres", first_run_postgres)
    assert on_socket.returncode == 0, on_socket.stdout + on_socket.stderr
    # When the initialisation is over and the server starts again, listening on TCP
    first_run_postgres.stop()
    first_run_postgres.socket_only = False
    first_run_postgres.start()
    # Then the same healthcheck passes
    ready = run_in_postgres_container(healthcheck, first_run_postgres)
    assert ready.returncode == 0, ready.stdout + ready.stderr


@pytest.mark.timeout(600)
def test_the_template_builds_packages_and_translates_to_cloudformation(compose: Compose, sam_build: Path, tmp_path: Path) -> None:
    """What `sam deploy` does before CloudFormation takes over: build, upload the artifacts (to
    moto's S3), and the SAM transform (SAM's own translator). moto's CloudFormation cannot create
    the transformed stack (it does not import an API's OpenAPI body), so the last step is LocalStack's."""
    moto_server = compose.aws_endpoint
    environment = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    moto_client("s3", moto_server).create_bucket(Bucket="artifacts")
    packaged = tmp_path / "packaged.yaml"
    command = [
        "sam",
        "package",
        "--template-file",
        str(sam_build / "template.yaml"),
        "--s3-bucket",
        "artifacts",
        "--output-template-file",
        str(packaged),
    ]
    result = subprocess.run(command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr[-2000:]
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    iam = moto_client("iam", moto_server)
    cloudformation = transform(parse_template(packaged.read_text()), {}, ManagedPolicyLoader(iam))
    types = [resource["Type"] for resource in cloudformation["Resources"].values()]
    assert types.count("AWS::Lambda::Function") == sum(len(service.functions) for service in services.services())
    schedule_events = [
        event
        for resource in template.load(template.TEMPLATE)["Resources"].values()
        for event in (resource.get("Properties") or {}).get("Events", {}).values()
        if event["Type"] == "Schedule"
    ]
    assert types.count("AWS::Events::Rule") == len(schedule_events) > 0  # the reconciler's, with its permission
    assert types.count("AWS::ApiGateway::RestApi") == len({service.api for service in services.services() if service.api})
    assert types.count("AWS::Lambda::LayerVersion") == 1
    functions = [resource for resource in cloudformation["Resources"].values() if resource["Type"] == "AWS::Lambda::Function"]
    assert all(function["Properties"]["Code"]["S3Bucket"] == "artifacts" for function in functions)
