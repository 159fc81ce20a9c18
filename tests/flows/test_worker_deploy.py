"""Beyond one machine: a real Prefect server, a process work pool, `prefect deploy` from prefect.yaml,
a process worker, and a backfill triggered through the API as the UI does, run to completion.

Everything runs in subprocesses on loopback with their own PREFECT_HOME; the server's scheduler is
off so the sync deployment's cron never starts a run while the test is up.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.schedules import CronSchedule
from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

from sandbox.common import BackgroundServer
from sandbox.satori.app import create_app as create_ma
from sandbox.satori.seed import seed
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.flows.conftest import PINNED_WORLD_NOW, sandbox_call, write_spec
from tests.servers import PREFECT, PrefectServer, prefect_server, start

TOKEN = "tok-worker-deploy"
DEPLOYMENTS = {f"acme-{flow}" for flow in ("sync", "backfill", "plan", "replay", "audit")}
RUN_TIMEOUT = 180.0
AUTH = "admin:worker-deploy-ui"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    with ExitStack() as stack:
        yield prefect_server(  # with basic auth on the API, as deployments/README.md §1 sets it up
            stack,
            tmp_path_factory.mktemp("prefect-home"),
            PREFECT_SERVER_API_AUTH_STRING=AUTH,
            PREFECT_API_AUTH_STRING=AUTH,
        )


def wait_for_final(api: str, run_id: Any, worker: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + RUN_TIMEOUT
    with (
        temporary_settings({PREFECT_API_URL: api, PREFECT_API_AUTH_STRING: AUTH}),
        get_client(sync_client=True) as client,
    ):
        while time.monotonic() < deadline:
            assert worker.poll() is None, f"the worker exited:\n{log.read_text(errors='replace')}"
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run
            time.sleep(1)
    raise AssertionError(f"the run did not finish in {RUN_TIMEOUT} s:\n{log.read_text(errors='replace')}")


def test_a_backfill_deployed_from_prefect_yaml_runs_on_a_process_worker(
    server: PrefectServer, tmp_path: Path
) -> None:
    seed(tmp_path / "ma", 30, 300, company="acme", token=TOKEN, now=PINNED_WORLD_NOW)
    with ExitStack() as stack:
        ma = stack.enter_context(BackgroundServer(create_ma(tmp_path / "ma", {TOKEN: "acme"})))
        sandbox_call(ma.url, TOKEN, "PUT", "/_sandbox/clock", {"now": "2026-11-28T12:00:00+09:00"})
        spec_path = write_spec(tmp_path / "spec.yaml", ma.url, TOKEN, tmp_path)

        server.cli("work-pool", "create", "renkei", "--type", "process")
        server.cli(
            "deploy",
            "--prefect-file",
            "deployments/prefect.yaml",
            "--all",
            RENKEI_SPEC=str(spec_path),
            RENKEI_COMPANY="acme",
        )
        worker_log = server.home / "worker.log"
        worker = start(
            stack,
            [PREFECT, "worker", "start", "--pool", "renkei", "--type", "process"],
            server.env,
            worker_log,
        )

        assert httpx.post(f"{server.api}/deployments/filter", json={}).status_code == 401  # no auth, no API
        inspected = server.cli("deployment", "inspect", "sync/acme-sync")
        assert "0 2,11 * * *" in inspected and "Asia/Tokyo" in inspected
        with (
            temporary_settings({PREFECT_API_URL: server.api, PREFECT_API_AUTH_STRING: AUTH}),
            get_client(sync_client=True) as client,
        ):
            deployed = {d.name: d for d in client.read_deployments()}
            assert set(deployed) == DEPLOYMENTS
            assert all(d.work_pool_name == "renkei" for d in deployed.values())
            assert all(d.parameters == {"spec_path": str(spec_path)} for d in deployed.values())
            assert all(d.tags == ["renkei", "acme"] for d in deployed.values())
            (schedule,) = deployed["acme-sync"].schedules
            cron = schedule.schedule
            assert isinstance(cron, CronSchedule) and (cron.cron, cron.timezone) == (
                "0 2,11 * * *",
                "Asia/Tokyo",
            )
            limit = deployed["acme-sync"].global_concurrency_limit
            assert limit is not None and limit.limit == 1  # a second scheduled sync waits for the first
            backfill = deployed["acme-backfill"]
            form = (backfill.parameter_openapi_schema or {})["properties"]
            assert {"spec_path", "start", "end", "targets"} <= set(form)
        # what the UI's "Run" form sends, from a shell (README §5): the typed fields as JSON
        started = server.cli(
            "deployment",
            "run",
            "backfill/acme-backfill",
            "-p",
            'start="2026-11-28"',  # whole days in the spec's zone (Asia/Tokyo)
            "-p",
            'end="2026-11-28"',
            "-p",
            "targets=[]",
        )
        run_id = re.search(r"UUID: ([0-9a-f-]{36})", started)
        assert run_id, started

        finished = wait_for_final(server.api, run_id[1], worker, worker_log)
        assert finished.state.type is StateType.COMPLETED, worker_log.read_text(errors="replace")

    spec = load_spec(spec_path)
    ledger = state_store(spec).run(run_id[1])
    assert ledger is not None and ledger["flow"] == "backfill" and ledger["state"] == "completed"
    staged = sorted(p.name for p in (tmp_path / "staging" / "acme").iterdir())
    assert staged == ["20261128T0200+0900", "20261128T1100+0900"]
    assert all((tmp_path / "staging" / "acme" / cut / "manifest.json").exists() for cut in staged)
