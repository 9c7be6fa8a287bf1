"""A Docker engine for `sam local`: the one that answers (DOCKER_HOST, or the system's socket),
else — on Linux, as root — the project's own, from Debian's `docker.io`, with its socket, data,
exec root and pid file under the state directory, stopped with us (kill -9 included). It never
talks to a system engine's files, and a system engine that answers is used as it is."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from localcloud.errors import LocalCloudError
from localcloud.lifetime import stop_child, terminated_with, wait_ready

READY_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
# Debian's engine and what it needs (dockerd programs the bridge's NAT with iptables).
PACKAGES = ("docker.io", "iptables")
# A Unix socket's path must fit sockaddr_un (108 bytes); containerd's sits deep in the exec root.
MAX_SOCKET_DIR = 60


@dataclass(frozen=True)
class Engine:
    host: str  # what DOCKER_HOST says to reach it
    owned: bool  # started here (and stopped with us)
    data_root: Path | None = None  # its images and containers, when it is ours

    def environment(self) -> dict[str, str]:
        return {"DOCKER_HOST": self.host}

    def docker(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
        """The docker client against this engine; its output, or a LocalCloudError with docker's own words."""
        result = run_docker(self.host, *args, timeout=timeout)
        if result.returncode != 0:
            raise LocalCloudError(f"docker {args[0]} failed: {_last_line(result.stderr)}")
        return result


def run_docker(host: str | None, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    environment = dict(os.environ)
    if host:
        environment["DOCKER_HOST"] = host
        environment.pop("DOCKER_CONTEXT", None)  # DOCKER_HOST and a context together are an error
    client = shutil.which("docker")
    if client is None:
        raise LocalCloudError("the docker client is not installed")
    try:
        return subprocess.run([client, *args], env=environment, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise LocalCloudError(f"docker {args[0]} did not answer within {timeout:.0f} s") from None


def answers(host: str | None) -> bool:
    """A Docker engine answers at `host` (None: the client's default, the system's socket)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = run_docker(host, "version", "--format", "{{.Server.Version}}", timeout=15)
    except LocalCloudError:
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def find_or_start(state_dir: Path, say: Callable[[str], None]) -> tuple[Engine, Callable[[], None]]:
    """The engine to use, and how to stop it (nothing, for one that was running already)."""
    preset = os.environ.get("DOCKER_HOST")
    if answers(preset):
        host = preset or _current_context_host()
        say(f"  Docker engine: {host} (already running)")
        return Engine(host, owned=False), lambda: None
    if preset:
        raise LocalCloudError(f"DOCKER_HOST={preset} does not answer: start that engine, or unset DOCKER_HOST")
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        raise LocalCloudError(
            "no Docker engine answers. Start one (Docker Desktop, Colima, Rancher Desktop, or dockerd) and run this again;"
            " on Linux as root, make sam-local installs and starts one of its own"
        )
    return _start_own(state_dir, say)


def why_none_can_run() -> str | None:
    """Why no Docker engine can run here at all, or None (one answers, or find_or_start can start its own)."""
    if answers(os.environ.get("DOCKER_HOST")):
        return None
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        return None
    return "no Docker engine answers, and only root on Linux can start the project's own"


def _current_context_host() -> str:
    """Where the client's current context points (Docker Desktop, Colima, rootless…: not always
    /var/run/docker.sock), for SAM CLI, which reads DOCKER_HOST and no context."""
    result = run_docker(None, "context", "inspect", "--format", "{{.Endpoints.docker.Host}}", timeout=15)
    host = result.stdout.decode().strip() if result.returncode == 0 else ""
    return host or "unix:///var/run/docker.sock"


def _start_own(state_dir: Path, say: Callable[[str], None]) -> tuple[Engine, Callable[[], None]]:
    if shutil.which("dockerd") is None or shutil.which("iptables") is None or shutil.which("docker") is None:
        apt_install(PACKAGES, say)
    state_dir.mkdir(parents=True, exist_ok=True)
    run_dir = _socket_dir(state_dir)
    host = f"unix://{run_dir / 'docker.sock'}"
    pid_file = state_dir / "dockerd.pid"
    _refuse_if_running(pid_file)
    command = [
        "dockerd",
        "--data-root", str(state_dir / "data"),
        "--exec-root", str(run_dir / "exec"),
        "--pidfile", str(pid_file),
        "--host", host,
        "--storage-driver", "overlay2",
        # Apart from a system engine that shares this machine's containerd, if one runs.
        "--containerd-namespace", "bookstore",
        "--containerd-plugins-namespace", "bookstore-plugins",
    ]  # fmt: skip
    say(f"  Docker engine: starting the project's own (dockerd, state in {state_dir})")
    with (state_dir / "dockerd.log").open("ab") as log:
        # SIGTERM when we die, kill -9 included: dockerd then stops its containers and exits.
        process = subprocess.Popen(  # noqa: S603 - Debian's dockerd, our arguments
            command, stdout=log, stderr=log, start_new_session=True, preexec_fn=terminated_with(os.getpid())
        )

    def stop() -> None:
        stop_child(process, signal.SIGTERM, STOP_TIMEOUT_S)  # dockerd stops its containers first

    try:
        wait_ready(process, lambda: answers(host), f"dockerd (see {state_dir / 'dockerd.log'})", READY_TIMEOUT_S)
    except BaseException:  # not answering, or a Ctrl-C meanwhile: not left running
        stop()
        raise
    return Engine(host, owned=True, data_root=state_dir / "data"), stop


def _socket_dir(state_dir: Path) -> Path:
    """Under the state directory when its path is short enough for the engine's sockets, else a
    short folder named after it (a deep checkout)."""
    if len(str(state_dir / "run")) <= MAX_SOCKET_DIR:
        return state_dir / "run"
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return Path("/run") / f"bookstore-docker-{digest}"


def _refuse_if_running(pid_file: Path) -> None:
    """One engine on these files at a time: another `make sam-local` of this checkout is using it
    (a run killed outright took its engine with it: the parent-death signal)."""
    try:
        pid = int(pid_file.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return
    if command and command[0].endswith(b"dockerd") and str(pid_file).encode() in command:
        raise LocalCloudError(f"the project's Docker engine (pid {pid}) is in use by another make sam-local here: stop that one first")


def apt_install(packages: tuple[str, ...], say: Callable[[str], None]) -> None:
    if shutil.which("apt-get") is None:
        raise LocalCloudError(f"{', '.join(packages)} needed, and there is no apt-get here to install them: install them by hand")
    say(f"  installing {', '.join(packages)} from Debian (once)…")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise LocalCloudError(f"{' '.join(command[:2])} failed: {_last_line(result.stderr or result.stdout)}")


def _last_line(output: bytes | str) -> str:
    text = output.decode(errors="replace") if isinstance(output, bytes) else output
    return (text.strip().splitlines() or ["(no output)"])[-1]
