"""Several companies on one installation: `renkei serve specs/` serves a folder of three specs.

A real Prefect server runs as its own process; `renkei serve` joins it (PREFECT_API_URL) and serves
every company's five deployments under the company's name, creates the shared kintone limit (100
concurrent calls per domain, the three companies on one domain) and runs the syncs triggered through
the API. The stand-in's own cap is lowered to one request at a time (as if other tools used the
rest of the domain) and so is the shared limit: the three companies' calls then take turns, and the
stand-in refuses none (without the limit, their overlapping calls are refused with 429 GAIA_TO04).
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.client.schemas.objects import StateType
from prefect.settings import PREFECT_API_URL, temporary_settings

from sandbox.common import Latency
from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from sandbox.kintone.app import ConcurrencyLimit
from tests.flows.conftest import DEMO_SPEC
from tests.servers import prefect_server, start

RENKEI = str(Path(sys.executable).with_name("renkei"))
COMPANIES = ("acme", "beta", "gamma")
FLOWS = ("sync", "backfill", "plan", "replay", "audit")
RUN_TIMEOUT = 300.0


def company_folder(env: DemoEnvironment, folder: Path) -> Path:
    """One spec per company, all on the demo's kintone domain, each with its own staging and state."""
    specs = folder / "specs"
    specs.mkdir()
    for company in COMPANIES:
        doc = env.spec_document(DEMO_SPEC)
        doc["company"] = company
        doc["targets"] = [t | {"concurrency": 1} for t in doc["targets"] if t["kind"] == "kintone"]
        doc["storage"] = {
            "staging": str(folder / company / "staging"),
            "state": f"sqlite:///{folder / company / 'state.db'}",
        }
        (specs / f"{company}.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (specs / "README.txt").write_text("not a spec", encoding="utf-8")
    return specs


def cap_kintone(env: DemoEnvironment, limit: int) -> None:
    """The kintone stand-in's own limit on requests in progress (100 a domain) set to ``limit``, each
    request taking 0.3 s (a far domain): requests of steps that run at once overlap."""
    app = env.servers["kintone"].app
    app.state.latency = Latency(round_trip_ms=300)
    app.middleware_stack = layer = app.middleware_stack or app.build_middleware_stack()
    while not isinstance(layer, ConcurrencyLimit):
        layer = layer.app  # type: ignore[attr-defined]
    layer.limit = limit


def wait_for(what: str, probe: Any, serving: Any, log: Path, seconds: float = RUN_TIMEOUT) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert serving.poll() is None, f"renkei serve exited:\n{log.read_text(errors='replace')[-4000:]}"
        found = probe()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"{what}: not within {seconds} s\n{log.read_text(errors='replace')[-4000:]}")


def finished(client: SyncPrefectClient, ids: list[Any]) -> list[Any] | None:
    runs = [client.read_flow_run(i) for i in ids]
    return runs if all(r.state is not None and r.state.is_final() for r in runs) else None


def test_serve_a_folder_of_three_companies_with_a_shared_kintone_cap(tmp_path: Path) -> None:
    (tmp_path / "prefect").mkdir()
    sizes = DemoSizes(customers=20, actions=100, cards=5)
    with ExitStack() as stack:
        server = prefect_server(stack, tmp_path / "prefect")
        env = stack.enter_context(DemoEnvironment(tmp_path / "env", sizes, ports=DemoPorts.free()))
        specs = company_folder(env, tmp_path)
        log = tmp_path / "serve.log"
        serving = start(
            stack, [RENKEI, "serve", str(specs)], {**server.env, "PREFECT_RUNNER_POLL_FREQUENCY": "2"}, log
        )
        cap = f"kintone:127.0.0.1:{env.ports.kintone}"
        with temporary_settings({PREFECT_API_URL: server.api}), get_client(sync_client=True) as client:
            deployed = wait_for(
                "15 deployments",
                lambda: (found := client.read_deployments()) and len(found) == 15 and found,
                serving,
                log,
                120,
            )
            by_name = {d.name: d for d in deployed}
            assert set(by_name) == {f"{company}-{flow}" for company in COMPANIES for flow in FLOWS}
            for company in COMPANIES:
                sync = by_name[f"{company}-sync"]
                assert sync.parameters == {"spec_path": str((specs / f"{company}.yaml").resolve())}
                assert sync.global_concurrency_limit is not None and sync.global_concurrency_limit.limit == 1
                assert company in sync.tags
            shared = wait_for(
                "the shared limit", lambda: "shared limits" in log.read_text(), serving, log, 60
            )
            assert shared and client.read_global_concurrency_limit_by_name(cap).limit == 100
            assert f"{cap} (100)" in log.read_text()

            # the domain takes one request at a time; the operator narrows the shared limit to match
            cap_kintone(env, 1)
            client.update_global_concurrency_limit(cap, GlobalConcurrencyLimitUpdate(limit=1))
            ids = [client.create_flow_run_from_deployment(by_name[f"{c}-sync"].id).id for c in COMPANIES]
            runs = wait_for("three syncs", lambda: finished(client, ids), serving, log)
            assert [r.state.type for r in runs] == [StateType.COMPLETED] * 3, [r.state for r in runs]
            limit = client.read_global_concurrency_limit_by_name(cap)
        kintone = env.servers["kintone"].request_log.entries

    assert {e.path for e in kintone if e.method in ("POST", "PUT")} >= {"/k/v1/records.json"}, kintone
    assert [e for e in kintone if e.status == 429] == []  # no call of any company over the domain's cap
    assert limit.active_slots == 0  # every step gave its slot back
