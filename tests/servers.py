"""Real servers the distributed tests start as processes on free loopback ports: an S3-compatible
object store (moto's standalone server), a Prefect server (on SQLite or PostgreSQL) and its workers.

Each runs in its own process group with its log in a test folder, and is stopped (group and all)
when the ExitStack that started it closes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from s3fs import S3FileSystem

from sandbox.common import LOOPBACK, free_port

REPO = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
QUIET = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
}


def start(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A subprocess in its own process group, stopped (group and all) when the stack closes."""
    out = stack.enter_context(log.open("ab"))
    process = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )

    def stop() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    stack.callback(stop)
    return process


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, seconds: float
) -> None:
    """Poll ``ready`` until it holds; fail with the log when the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args!r} exited:\n{log.read_text(errors='replace')[-4000:]}"
        if ready():
            return
        time.sleep(0.5)
    raise AssertionError(f"{process.args!r} did not come up:\n{log.read_text(errors='replace')[-4000:]}")


def answers(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    return probe


@dataclass(frozen=True)
class ObjectStore:
    """A running S3-compatible server: the environment that points boto/s3fs at it, and a bucket."""

    endpoint: str
    bucket: str

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "renkei-test",
            "AWS_SECRET_ACCESS_KEY": "renkei-test-secret",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
        }

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"


@contextmanager
def object_store(folder: Path) -> Iterator[ObjectStore]:
    """moto's S3 server as its own process on 127.0.0.1 with one bucket; this process's AWS_* point
    at it while the block runs (and so do the processes it starts)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    store = ObjectStore(f"http://{LOOPBACK}:{port}", f"renkei-{uuid.uuid4().hex[:8]}")
    log = folder / "moto.log"
    saved = {k: os.environ.get(k) for k in store.env}
    with ExitStack() as stack:
        process = start(
            stack, [str(BIN / "moto_server"), "-H", LOOPBACK, "-p", str(port)], {**os.environ, **QUIET}, log
        )
        wait_until(answers(f"{store.endpoint}/moto-api/"), process, log, 60)
        os.environ.update(store.env)
        S3FileSystem.clear_instance_cache()  # fsspec reuses a filesystem made for an earlier endpoint
        try:
            httpx.put(f"{store.endpoint}/{store.bucket}").raise_for_status()  # moto takes an unsigned create
            yield store
        finally:
            S3FileSystem.clear_instance_cache()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@dataclass
class PrefectServer:
    """A `prefect server start` process: its API URL, the environment for clients and workers."""

    api: str
    env: dict[str, str]
    home: Path

    def cli(self, *args: str, **env: str) -> str:
        done = subprocess.run(
            [PREFECT, *args],
            cwd=REPO,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def prefect_server(
    stack: ExitStack, home: Path, database_url: str | None = None, **settings: str
) -> PrefectServer:
    """`prefect server start` on a free port without its scheduler (no cron starts a run under a test),
    its database SQLite in ``home`` or ``database_url`` (``postgresql+asyncpg://…``)."""
    port = free_port()
    api = f"http://{LOOPBACK}:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        **QUIET,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_API_DATABASE_CONNECTION_URL": database_url or f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_PROMPT": "false",
        **settings,
    }
    log = home / "server.log"
    process = start(
        stack,
        [PREFECT, "server", "start", "--host", LOOPBACK, "--port", str(port), "--no-scheduler"],
        env,
        log,
    )
    wait_until(answers(f"{api}/health"), process, log, 120)
    return PrefectServer(api, env, home)
