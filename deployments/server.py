"""One machine's Prefect server with its UI: started (or joined) by ``renkei serve`` and ``renkei demo``.

Prefect's temporary server, which a flow starts on its own, has no UI. This starts ``prefect server
start`` on 127.0.0.1 with its database under ``var/prefect`` (so the runs of ``make demo`` are there
when the UI opens), or joins the server ``PREFECT_API_URL`` names. Start-up waits long enough for a
loaded two-core machine; when it still fails, one line says what to do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import (
    PREFECT_API_DATABASE_CONNECTION_URL,
    PREFECT_API_URL,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    PREFECT_UI_URL,
    temporary_settings,
)
from prefect.settings import (
    PREFECT_HOME as HOME_SETTING,
)

PREFECT_HOME = Path("var/prefect")
DEFAULT_PORT = 4200
STARTUP_SECONDS = 180.0
QUIET = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


class ServerError(RuntimeError):
    """The local Prefect server did not come up; the message says what to do, in one line."""


def database_url(home: Path) -> str:
    return f"sqlite+aiosqlite:///{(home / 'prefect.db').resolve()}"


def answers(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def prefect_command() -> list[str]:
    """The ``prefect`` script beside this Python (in ``.venv/bin``), which need not be on PATH."""
    script = Path(sys.executable).with_name("prefect")
    return [str(script)] if script.exists() else [sys.executable, "-m", "prefect"]


@contextmanager
def local_server(port: int = DEFAULT_PORT, home: Path = PREFECT_HOME) -> Iterator[str]:
    """Yield the UI URL of a running server: the one ``PREFECT_API_URL`` names, or one started here.

    While the block runs, every flow of this process reports to that server.
    """
    joined = os.environ.get("PREFECT_API_URL")
    if joined:
        if not answers(joined):
            raise ServerError(f"PREFECT_API_URL={joined} does not answer: start that server or unset it")
        with _reporting_to(joined.rstrip("/")):
            yield joined.rstrip("/").removesuffix("/api")
        return
    api = f"http://127.0.0.1:{port}/api"
    if answers(api):  # a server of an earlier `renkei serve` or `renkei demo --serve` is up: join it
        with _reporting_to(api):
            yield api.removesuffix("/api")
        return
    home.mkdir(parents=True, exist_ok=True)
    process = _start(port, home)
    try:
        _stop_on_sigterm()
        _wait(process, api, home)
        with _reporting_to(api):
            yield api.removesuffix("/api")
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _stop_on_sigterm() -> None:
    """A TERM (a service manager, a container stop) ends this process through ``finally``, so the
    server it started stops too; Ctrl-C does the same on its own."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def _start(port: int, home: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **QUIET,
        "PREFECT_HOME": str(home.resolve()),
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url(home),
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
    }
    env.pop("PREFECT_API_URL", None)
    log = (home / "server.log").open("ab")
    command = [*prefect_command(), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait(process: subprocess.Popen[bytes], api: str, home: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if answers(api):
            return
        if process.poll() is not None:
            raise ServerError(
                f"the Prefect server stopped at start-up (see {home / 'server.log'}); "
                f"if port {api.split(':')[2].split('/')[0]} is taken, give another with --ui-port"
            )
        time.sleep(0.5)
    raise ServerError(
        f"the Prefect server did not answer on {api} within {STARTUP_SECONDS:.0f} s "
        f"(see {home / 'server.log'}); run the command again when the machine is less busy"
    )


@contextmanager
def _reporting_to(api: str) -> Iterator[None]:
    before = os.environ.get("PREFECT_API_URL")
    with temporary_settings({PREFECT_API_URL: api, PREFECT_UI_URL: api.removesuffix("/api")}):
        os.environ["PREFECT_API_URL"] = api  # processes this one starts (serve's runs) report there too
        try:
            yield
        finally:
            _drain_prefect_workers()
            if before is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = before


def _drain_prefect_workers() -> None:
    """Send the logs and events still queued for this server now: once it stops (or the settings
    point elsewhere) they would wait for it, and hold up the next drain in this process."""
    with suppress(RuntimeError):  # never started
        APILogWorker.instance().drain()
    EventsWorker.drain_all()


@contextmanager
def recorded_locally(home: Path = PREFECT_HOME, port: int = DEFAULT_PORT) -> Iterator[None]:
    """Runs of this process kept in ``home``'s database (Prefect's temporary server, no UI), so the
    local server shows them later; when a local server answers already, they go to it directly."""
    joined = os.environ.get("PREFECT_API_URL")
    if joined or answers(f"http://127.0.0.1:{port}/api"):
        with local_server(port, home):
            yield
        return
    home.mkdir(parents=True, exist_ok=True)
    updates = {  # the run links name the local server's UI, where these runs are shown
        PREFECT_UI_URL: f"http://127.0.0.1:{port}",
        HOME_SETTING: str(home.resolve()),
        PREFECT_API_DATABASE_CONNECTION_URL: database_url(home),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: int(STARTUP_SECONDS),
    }
    with temporary_settings(updates):
        yield
