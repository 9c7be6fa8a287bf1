"""The image SAM CLI runs Python 3.12 functions in, `public.ecr.aws/lambda/python:3.12-x86_64`:
the official one when the engine has it or can pull it, else a stand-in built here from the
project's own inputs — Debian bookworm (minbase, from Debian's mirror through mmdebstrap), this
machine's CPython 3.12 in /var/lang, and the runtime client and AWS SDK from
localcloud/runtime-requirements.txt in /var/runtime — laid out as the official image is, so that
SAM CLI takes it as it is (it adds its own runtime interface emulator and the layers on top).

The stand-in carries a label with the hash of those inputs and is rebuilt only when they change;
SAM CLI's images derived from an older base are deleted then. How it differs from the official
image (Amazon Linux 2023, AWS's own CPython build, its patch levels) is in the README.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path

from localcloud import packaging
from localcloud.docker.engine import Engine, apt_install, run_docker
from localcloud.errors import LocalCloudError

IMAGE = "public.ecr.aws/lambda/python:3.12-x86_64"
INPUTS_LABEL = "org.bookstore.lambda-stand-in.inputs"
SUITE = "bookworm"
PULL_TIMEOUT_S = 300
# What CPython's extension modules link against (ldd of lib-dynload), and CA certificates for TLS.
DEBIAN_PACKAGES = (
    "ca-certificates", "tzdata", "libssl3", "libffi8", "libsqlite3-0", "libbz2-1.0", "liblzma5", "zlib1g",
    "libexpat1", "libncursesw6", "libreadline8", "libtinfo6", "libuuid1", "libcrypt1", "libtirpc3",
)  # fmt: skip
# Of this machine's CPython, what a Lambda runtime does not ship.
PYTHON_LEFT_OUT = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "config-3.12-*", "lib2to3")
# The official image's environment (its Dockerfile's ENV lines).
ENVIRONMENT = {
    "LANG": "en_US.UTF-8",
    "TZ": ":/etc/localtime",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    # The function's code, then its layers, then what the runtime provides: Lambda's sys.path order.
    "PYTHONPATH": "/var/task:/opt/python/lib/python3.12/site-packages:/opt/python:/var/runtime",
}
# The official image's entry point, for `docker run IMAGE handler` (SAM CLI replaces it with its
# emulator, which then starts /var/runtime/bootstrap with _HANDLER set).
ENTRYPOINT = """#!/bin/sh
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
"""
# The runtime's bootstrap, as Lambda's python3.12 starts the runtime client (AWS_LAMBDA_EXEC_WRAPPER included).
BOOTSTRAP = """#!/bin/sh
export AWS_EXECUTION_ENV=AWS_Lambda_python3.12
if [ -z "$AWS_LAMBDA_EXEC_WRAPPER" ]; then
  exec /var/lang/bin/python3.12 -m awslambdaric "$_HANDLER"
fi
exec "$AWS_LAMBDA_EXEC_WRAPPER" /var/lang/bin/python3.12 -m awslambdaric "$_HANDLER"
"""


def ensure(engine: Engine, work_dir: Path, say: Callable[[str], None]) -> str:
    """The image is there: "official" or "stand-in", which one."""
    labels = _labels(engine)
    if labels is not None and INPUTS_LABEL not in labels:
        return "official"
    digest = inputs_digest()
    if labels is not None and labels[INPUTS_LABEL] == digest:
        return "stand-in"
    if _pulled(engine):  # none yet, or a stand-in of other inputs: the official one first, if it comes
        _remove_derived_images(engine)
        return "official"
    say(f"  {IMAGE}: not pulled (no registry answers); building the stand-in from the project's inputs…")
    build(engine, work_dir, digest)
    _remove_derived_images(engine)
    return "stand-in"


def _pulled(engine: Engine) -> bool:
    """The official image pulled now (a registry that does not answer in time counts as none)."""
    try:
        return run_docker(engine.host, "pull", IMAGE, timeout=PULL_TIMEOUT_S).returncode == 0
    except LocalCloudError:
        return False


def inputs_digest() -> str:
    """What the stand-in is made of: this recipe, the runtime lock, the CPython it copies."""
    digest = hashlib.sha256()
    digest.update(Path(__file__).read_bytes())
    digest.update(packaging.RUNTIME_REQUIREMENTS.read_bytes())
    digest.update(f"{sys.version}|{sysconfig.get_platform()}|{_python_home()}".encode())
    return digest.hexdigest()


def build(engine: Engine, work_dir: Path, digest: str) -> None:
    if shutil.which("mmdebstrap") is None:
        apt_install(("mmdebstrap",), print)
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="stand-in-") as scratch:
        root = Path(scratch) / "rootfs"
        _run(["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}", SUITE, str(root)], "mmdebstrap")
        python = root / "var" / "lang"
        shutil.copytree(_python_home(), python, symlinks=True, ignore=_left_out)
        (python / "lib" / "python3.12" / "site-packages").mkdir()
        _run(_pip_install(root / "var" / "runtime"), "pip install (the runtime client and the AWS SDK)")
        for path, text in ((root / "lambda-entrypoint.sh", ENTRYPOINT), (root / "var" / "runtime" / "bootstrap", BOOTSTRAP)):
            path.write_text(text)
            path.chmod(0o755)
        (root / "var" / "task").mkdir()
        (root / "opt").mkdir(exist_ok=True)
        (root / "etc" / "ld.so.conf.d" / "var-lang.conf").write_text("/var/lang/lib\n")
        _run(["ldconfig", "-r", str(root)], "ldconfig")
        changes = [f"ENV {name}={value}" for name, value in ENVIRONMENT.items()]
        changes += ["WORKDIR /var/task", 'ENTRYPOINT ["/lambda-entrypoint.sh"]', f"LABEL {INPUTS_LABEL}={digest}"]
        archive = Path(scratch) / "rootfs.tar"
        _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."], "tar")
        arguments = [item for change in changes for item in ("--change", change)]
        engine.docker("import", *arguments, str(archive), IMAGE, timeout=600)


def _python_home() -> Path:
    """This machine's CPython 3.12 (the interpreter under the project's virtualenv), in a prefix of
    its own (pyenv's, say): the whole prefix is copied, so /usr or /usr/local are refused."""
    if sys.version_info[:2] != (3, 12):
        raise LocalCloudError(f"the stand-in image needs Python 3.12 to copy; this is {sys.version.split()[0]}")
    if platform.machine() != "x86_64":
        raise LocalCloudError(f"the stand-in image is x86_64, as the template's functions; this machine is {platform.machine()}")
    home = Path(sys.base_prefix)
    if home in {Path("/usr"), Path("/usr/local"), Path("/")}:
        raise LocalCloudError(f"the stand-in copies a CPython installed in a prefix of its own (pyenv's); {home} holds more")
    return home


def _left_out(folder: str, names: list[str]) -> set[str]:
    """CPython's tests, GUI toolkits, installer and static library, and any package installed in it."""
    if Path(folder).name == "python3.12":
        return {name for name in names if any(Path(name).match(pattern) for pattern in PYTHON_LEFT_OUT)}
    if Path(folder).name == "lib":
        return {name for name in names if name.endswith(".a") or name == "pkgconfig"}
    return set()


def _pip_install(target: Path) -> list[str]:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    return [*command, "--require-hashes", "--target", str(target), "-r", str(packaging.RUNTIME_REQUIREMENTS)]


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - our commands
    if result.returncode != 0:
        last = ((result.stderr or result.stdout).strip().splitlines() or ["(no output)"])[-1]
        raise LocalCloudError(f"building the stand-in image: {what} failed: {last}")


def _labels(engine: Engine) -> dict[str, str] | None:
    """The image's labels, or None when the engine does not have it."""
    result = run_docker(engine.host, "image", "inspect", "--format", "{{json .Config.Labels}}", IMAGE, timeout=30)
    if result.returncode != 0:
        return None
    labels: dict[str, str] | None = json.loads(result.stdout or b"null")
    return labels or {}


def _remove_derived_images(engine: Engine) -> None:
    """SAM CLI's images built on the previous base (with its emulator and the layers added), so
    that none runs on a base that is gone."""
    listed = run_docker(engine.host, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", timeout=30).stdout.decode().split()
    derived = [
        name for name in listed if name.startswith("samcli/lambda-python") or (name.startswith(IMAGE.split(":")[0]) and "-rapid-" in name)
    ]
    if derived:
        run_docker(engine.host, "image", "rm", "--force", *derived, timeout=120)
