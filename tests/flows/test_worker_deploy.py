"""Beyond one machine: a real Prefect server, a process work pool, `prefect deploy` from prefect.yaml,
a process worker, and a backfill triggered through the API as the UI does, run to completion.

Everything runs in subprocesses on loopback with their own PREFECT_HOME; the server's scheduler is
off so the sync deployment's cron never starts a run while the test is up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.schedules import CronSchedule
from prefect.settings import PREFECT_API_URL, temporary_settings

from sandbox.common import LOOPBACK, BackgroundServer, free_port
from sandbox.satori.app import create_app as create_ma
from sandbox.satori.seed import seed
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.flows.conftest import PINNED_WORLD_NOW, sandbox_call, write_spec

REPO = Path(__file__).parents[2]
PREFECT = str(Path(sys.executable).with_name("prefect"))
TOKEN = "tok-worker-deploy"
DEPLOYMENTS = {"sync", "backfill", "plan", "replay", "audit"}
RUN_TIMEOUT = 180.0


@dataclass
class Server:
    api: str
    env: dict[str, str]
    logs: Path

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


def start(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A subprocess in its own process group, stopped (group and all) when the stack closes."""
    out = stack.enter_context(log.open("wb"))
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


def wait_until_healthy(api: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the Prefect server exited:\n{log.read_text(errors='replace')}"
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the Prefect server did not come up:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    api = f"http://{LOOPBACK}:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api,
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_CLI_PROMPT": "false",
    }
    with ExitStack() as stack:
        log = home / "server.log"
        process = start(
            stack,
            [PREFECT, "server", "start", "--host", LOOPBACK, "--port", str(port), "--no-scheduler"],
            env,
            log,
        )
        wait_until_healthy(api, process, log)
        yield Server(api, env, home)


def wait_for_final(api: str, run_id: Any, worker: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + RUN_TIMEOUT
    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            assert worker.poll() is None, f"the worker exited:\n{log.read_text(errors='replace')}"
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(1)
    raise AssertionError(f"the run did not finish in {RUN_TIMEOUT} s:\n{log.read_text(errors='replace')}")


def test_a_backfill_deployed_from_prefect_yaml_runs_on_a_process_worker(
    server: Server, tmp_path: Path
) -> None:
    seed(tmp_path / "ma", 30, 300, company="acme", token=TOKEN, now=PINNED_WORLD_NOW)
    with ExitStack() as stack:
        ma = stack.enter_context(BackgroundServer(create_ma(tmp_path / "ma", {TOKEN: "acme"})))
        sandbox_call(ma.url, TOKEN, "PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
        spec_path = write_spec(tmp_path / "spec.yaml", ma.url, TOKEN, tmp_path)

        server.cli("work-pool", "create", "renkei", "--type", "process")
        server.cli(
            "deploy", "--prefect-file", "deployments/prefect.yaml", "--all", RENKEI_SPEC=str(spec_path)
        )
        worker_log = server.logs / "worker.log"
        worker = start(
            stack,
            [PREFECT, "worker", "start", "--pool", "renkei", "--type", "process"],
            server.env,
            worker_log,
        )

        with temporary_settings({PREFECT_API_URL: server.api}), get_client(sync_client=True) as client:
            deployed = {d.name: d for d in client.read_deployments()}
            assert set(deployed) == DEPLOYMENTS
            assert all(d.work_pool_name == "renkei" for d in deployed.values())
            assert all(d.parameters == {"spec_path": str(spec_path)} for d in deployed.values())
            (schedule,) = deployed["sync"].schedules
            cron = schedule.schedule
            assert isinstance(cron, CronSchedule) and (cron.cron, cron.timezone) == (
                "0 2,11 * * *",
                "Asia/Tokyo",
            )
            limit = deployed["sync"].global_concurrency_limit
            assert limit is not None and limit.limit == 1  # a second scheduled sync waits for the first
            backfill = deployed["backfill"]
            form = (backfill.parameter_openapi_schema or {})["properties"]
            assert {"spec_path", "start", "end", "targets"} <= set(form)
            # what the UI's "Run" form sends: the deployment's spec_path plus the typed fields, as JSON
            run = client.create_flow_run_from_deployment(
                backfill.id,
                parameters={
                    "start": "2026-11-28",  # whole days in the spec's zone (Asia/Tokyo)
                    "end": "2026-11-28",
                    "targets": [],
                },
            )

        finished = wait_for_final(server.api, run.id, worker, worker_log)
        assert finished.state.type is StateType.COMPLETED, worker_log.read_text(errors="replace")

    spec = load_spec(spec_path)
    ledger = state_store(spec).run(str(run.id))
    assert ledger is not None and ledger["flow"] == "backfill" and ledger["state"] == "completed"
    staged = sorted(p.name for p in (tmp_path / "staging" / "acme").iterdir())
    assert staged == ["20261128T0200+0900", "20261128T1100+0900"]
    assert all((tmp_path / "staging" / "acme" / cut / "manifest.json").exists() for cut in staged)
