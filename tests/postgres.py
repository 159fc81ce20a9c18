"""A real PostgreSQL server for the suite: Debian's ``postgresql`` binaries, its own data directory in
a temporary folder, a free port on 127.0.0.1, stopped (and its folder removed) at the end.

``.ci/run`` (``make pytest``) installs the package when missing. As root the server runs as the
``postgres`` user the package creates (PostgreSQL refuses to run as root); otherwise as the caller.
Reuse it from any test: the session fixture ``postgres`` (tests/conftest.py) yields a
:class:`PostgresServer`; ``server.create_database()`` gives each test its own database.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

SUPERUSER = "postgres"


def server_binaries() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `make pytest` (it installs `postgresql`)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root to the ``postgres`` user; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam("postgres")
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


@dataclass(frozen=True)
class PostgresServer:
    """A running server: connect as the superuser over TCP on loopback (trust auth, tests only)."""

    port: int
    host: str = "127.0.0.1"

    def dsn(self, database: str = "postgres", **params: str) -> str:
        """A libpq URL (psycopg, Prefect's asyncpg takes the same after its own scheme)."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}" + (f"?{query}" if query else "")

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL renkei's ``storage.state`` takes."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (a fresh random name when none given); returns its name."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return name

    def query(self, sql: str, *args: Any, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (application_name ``renkei-tests``, so never counted
        as renkei's own) and return its rows."""
        with psycopg.connect(self.dsn(database), autocommit=True, application_name="renkei-tests") as c:
            cursor = c.execute(sql, args or None)
            return cursor.fetchall() if cursor.description else []

    def connections(self, application_name: str, database: str | None = None) -> int:
        """Open client connections with that application_name (in one database, or anywhere)."""
        sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
        args: tuple[str, ...] = (application_name,)
        if database is not None:
            sql, args = sql + " AND datname = %s", (*args, database)
        return int(self.query(sql, *args)[0][0])

    def lingering(self, application_name: str, database: str | None = None, within: float = 10.0) -> int:
        """The connections still open once closed ones had ``within`` seconds to go (a server backend
        leaves pg_stat_activity a moment after its client hung up); 0 as soon as none is left."""
        deadline = time.monotonic() + within
        while (count := self.connections(application_name, database)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return count


def _wait_ready(server: PostgresServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text(errors='replace')}")
        try:
            server.query("SELECT 1")
            return
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise RuntimeError(f"PostgreSQL did not answer within 60 s:\n{log.read_text(errors='replace')}")


@contextmanager
def postgres_server(max_connections: int = 200) -> Iterator[PostgresServer]:
    """Start a throwaway server and stop it on exit (fast shutdown: open sessions are ended)."""
    binaries = server_binaries()
    root = Path(tempfile.mkdtemp(prefix="renkei-pg-"))  # outside pytest's 0700 root: readable
    data, log = root / "data", root / "server.log"
    drop = _run_as()
    if drop:
        os.chown(root, drop["user"], drop["group"])
    try:
        subprocess.run(
            [binaries / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-locale"],
            check=True,
            capture_output=True,
            **drop,
        )
        for _attempt in range(5):
            server = PostgresServer(_free_port())
            settings = {
                "listen_addresses": "127.0.0.1",
                "port": str(server.port),
                "unix_socket_directories": str(root),
                "max_connections": str(max_connections),
                "fsync": "off",  # a test server: speed over durability across a power cut
                "synchronous_commit": "off",
                "full_page_writes": "off",
            }
            options = [f"--{k}={v}" for k, v in settings.items()]
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    [binaries / "postgres", "-D", data, *options], stdout=out, stderr=out, **drop
                )
            try:
                _wait_ready(server, process, log)
            except RuntimeError:
                process.terminate()
                process.wait(30)
                if "could not bind" in log.read_text(errors="replace"):
                    continue  # the port was taken between the probe and the start: try another
                raise
            break
        else:
            raise RuntimeError("PostgreSQL found no free port in five tries")
        try:
            yield server
        finally:
            process.send_signal(2)  # SIGINT: fast shutdown
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
