"""The reliability invariants on the distributed path: three companies' syncs at once on two process
workers, one worker killed with SIGKILL mid-run, nothing lost or duplicated.

Every server is real and its own process on 127.0.0.1: PostgreSQL (the state DB of the three
companies, and the Prefect server's own database), moto's S3 server (staging on ``s3://``), the
Prefect server, and the workers (``prefect worker start --pool renkei``) that run the flow runs
``renkei deploy`` created. The stand-ins of each company (the soak's world, with seeded faults) live
in this process. The first worker runs as if on another machine (its own hostname, a UTS namespace,
when the system allows one), so the lock of the run killed with it is freed only by its lease running
out, not by a pid check. Then: more rounds with changes on both sides, faults off, settle, and the
soak's end-state check for each company. ``RENKEI_DIST_ROUNDS`` and ``RENKEI_DIST_SCALE`` make it
longer and larger.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Crashed

from flows.lock import LEASE_ENV
from sandbox.common import FaultConfig
from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from tasks.clients import state_store
from tasks.pause import PAUSE_ENV
from tests.postgres import PostgresServer, server_binaries
from tests.reliability.end_state import check_end_state
from tests.reliability.soak_world import Sizes, World, seeded_until
from tests.servers import PREFECT, REPO, PrefectServer, object_store, prefect_server, start

COMPANIES = ("acme", "beta", "gamma")
ROUNDS = int(os.environ.get("RENKEI_DIST_ROUNDS", "2"))  # rounds with faults; the first loses a worker
SCALE = int(os.environ.get("RENKEI_DIST_SCALE", "1"))
SEED = int(os.environ.get("RENKEI_DIST_SEED", "20261207"))
RATE = 0.05
PAUSE = "load-batch:1"  # the killed run dies with a batch in the target, its outcomes not recorded
RENKEI = str(Path(sys.executable).with_name("renkei"))
RUN_TIMEOUT = 600.0
LEASE = 30  # seconds: the workers' run-lock lease (RENKEI_LOCK_LEASE_SECONDS); the default two minutes
# would only make the wait for the killed run's lock longer, the property is the same


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (a worker's flow-run subprocesses and theirs)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_machine(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and every process it started, as when its machine dies."""
    for pid in [worker.pid, *descendants(worker.pid)]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(10)


def on_another_host() -> tuple[str, ...]:
    """A command prefix that runs a program with a hostname of its own, when this system allows a UTS
    namespace (as root); empty otherwise (the lock is then freed sooner, by the dead pid on this host)."""
    probe = subprocess.run(["unshare", "--uts", "true"], capture_output=True, check=False)
    if probe.returncode:
        return ()
    return ("unshare", "--uts", "sh", "-c", 'hostname renkei-worker-lost && exec "$@"', "sh")


def worker(
    stack: ExitStack, server: PrefectServer, name: str, limit: int, prefix: tuple[str, ...] = (), **env: str
) -> subprocess.Popen[bytes]:
    """`prefect worker start` on the pool, taking ``limit`` runs at once, its log in the server's home."""
    args = [*prefix, PREFECT, "worker", "start", "--pool", "renkei", "--type", "process", "--name", name]
    env = {**server.env, LEASE_ENV: str(LEASE), **env}
    return start(stack, [*args, "--limit", str(limit)], env, server.home / f"{name}.log")


def trigger(client: SyncPrefectClient, companies: tuple[str, ...] = COMPANIES) -> dict[str, Any]:
    by_name = {d.name: d for d in client.read_deployments()}
    return {c: client.create_flow_run_from_deployment(by_name[f"{c}-sync"].id).id for c in companies}


def wait_final(
    client: SyncPrefectClient, ids: dict[str, Any], logs: list[Path], need: int | None = None
) -> dict[str, FlowRun]:
    """The runs once ``need`` of them (all by default) are final."""
    need = len(ids) if need is None else need
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        runs = {c: client.read_flow_run(i) for c, i in ids.items()}
        if sum(r.state is not None and r.state.is_final() for r in runs.values()) >= need:
            return runs
        time.sleep(2)
    tails = "\n".join(f"{log.name}:\n{log.read_text(errors='replace')[-3000:]}" for log in logs)
    raise AssertionError(f"the runs did not finish in {RUN_TIMEOUT} s:\n{tails}")


def wait_for_text(log: Path, text: str, seconds: float = RUN_TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise AssertionError(
        f"{text!r} not in {log} within {seconds} s:\n{log.read_text(errors='replace')[-4000:]}"
    )


def prefect_database(postgres: PostgresServer) -> str:
    """A role and a database for the Prefect server, made as deployments/README.md §1 says."""
    name = f"prefect_{uuid.uuid4().hex[:8]}"
    where = ["-h", postgres.host, "-p", str(postgres.port), "-U", "postgres"]
    for command in (["createuser", *where, name], ["createdb", *where, "--owner", name, name]):
        subprocess.run([str(server_binaries() / command[0]), *command[1:]], check=True, timeout=60)
    return f"postgresql+asyncpg://{name}@{postgres.host}:{postgres.port}/{name}"


def outcome(run: FlowRun) -> str:
    assert run.state is not None
    return run.state.name if run.state.type is StateType.CANCELLED else run.state.type.value


@pytest.mark.timeout(900 + 300 * ROUNDS * SCALE)  # the suite's size takes about 7 min on a loaded machine
def test_three_companies_on_two_workers_one_killed_lose_and_duplicate_nothing(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    state_db = postgres.create_database()
    state_url, prefect_url = postgres.url(state_db), prefect_database(postgres)
    sizes = DemoSizes(customers=30 * SCALE, actions=150 * SCALE, cards=15 * SCALE, recent=0.0)
    outcomes: dict[str, list[str]] = {c: [] for c in COMPANIES}
    started = time.monotonic()
    with ExitStack() as stack:
        s3 = stack.enter_context(object_store(tmp_path / "s3"))
        storage = {"staging": s3.url("renkei"), "state": state_url}
        worlds: dict[str, World] = {}
        for n, company in enumerate(COMPANIES):
            faults = FaultConfig(rate=RATE, seed=SEED + n, slow_seconds=0.1, timeout_seconds=0.5)
            env = stack.enter_context(
                DemoEnvironment(
                    tmp_path / company, sizes, seeded_until(), ports=DemoPorts.free(), faults=faults
                )
            )
            world = World(
                env,
                tmp_path / company,
                SEED + n,
                Sizes(new_customers=4, actions=20).scaled(SCALE),
                company=company,
                storage=storage,
            )
            stack.callback(world.close)
            world.lock_faults(RATE, SEED + n)
            worlds[company] = world
        home = tmp_path / "prefect"
        home.mkdir()
        # the Prefect server on PostgreSQL; a dead run's deployment slot comes back after 30 s, not 300
        server = prefect_server(
            stack, home, prefect_url, PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION="30"
        )
        server.cli("work-pool", "create", "renkei", "--type", "process")
        deployed = subprocess.run(
            [RENKEI, "deploy", *(str(w.spec_path) for w in worlds.values())],
            cwd=REPO,
            env=server.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "shared limits" in deployed.stdout

        elsewhere = on_another_host()
        victim = worker(stack, server, "lost", 1, elsewhere, **{PAUSE_ENV: PAUSE})
        logs = [home / "lost.log", home / "steady.log", home / "replacement.log"]
        with temporary_settings({PREFECT_API_URL: server.api}), get_client(sync_client=True) as client:
            # round 1: three syncs at once; the first worker takes one and dies with it mid-batch
            ids = trigger(client)
            wait_for_text(home / "lost.log", f"paused at {PAUSE}")
            worker(stack, server, "steady", 2)
            kill_machine(victim)
            killed_at = time.monotonic()
            runs = wait_final(client, ids, logs, need=2)
            (killed_company,) = [c for c, r in runs.items() if not r.state or not r.state.is_final()]
            killed_run = str(ids[killed_company])
            # Prefect keeps showing the dead run Running, holding its deployment's slot for up to
            # 5 min (the engine's lease): the operator marks it Crashed, as README §4 says
            client.set_flow_run_state(ids[killed_company], Crashed(message="worker lost"), force=True)
            for company, run in runs.items():
                outcomes[company].append("killed" if company == killed_company else outcome(run))
            worker(stack, server, "replacement", 2)  # two workers again

            for _ in range(1, ROUNDS):  # changes on both sides, three syncs at once, faults on
                for world in worlds.values():
                    world.change_both_sides()
                runs = wait_final(client, trigger(client), logs)
                for company, run in runs.items():
                    outcomes[company].append(outcome(run))

            # the dead holder's lease runs out; then faults off, and the next runs resume and settle
            time.sleep(max(0.0, killed_at + LEASE + 5 - time.monotonic()))
            injected = {c: dict(w.injected()) for c, w in worlds.items()}
            for world in worlds.values():
                world.faults_off()
            for _ in range(2):
                for world in worlds.values():
                    world.advance()
                runs = wait_final(client, trigger(client), logs)
                for company, run in runs.items():
                    outcomes[company].append(outcome(run))
        findings = {c: check_end_state(w) for c, w in worlds.items()}
        ledgers = {c: state_store(w.spec).runs(limit=10_000) for c, w in worlds.items()}

    figures = {
        "companies": len(COMPANIES),
        "rounds_with_faults": ROUNDS,
        "worker_on_its_own_host": bool(elsewhere),
        "killed": killed_company,
        "outcomes": outcomes,
        "faults_injected": injected,
        "target_customers": {c: f.customers for c, f in findings.items()},
        "staged_actions": {c: f.actions for c, f in findings.items()},
        "quarantined_open": {c: f.quarantined for c, f in findings.items()},
        "ledger_runs_checked": {c: f.runs for c, f in findings.items()},
        "lost": sum(f.lost for f in findings.values()),
        "duplicated": sum(f.duplicated for f in findings.values()),
        "seconds": round(time.monotonic() - started),
    }
    print("distributed figures:", json.dumps(figures, ensure_ascii=False))
    for company, found in findings.items():
        assert not found.problems, (company, found.problems[:30])
    assert (figures["lost"], figures["duplicated"]) == (0, 0)
    for company in COMPANIES:  # the settle runs took the lock and finished, whatever came before
        assert outcomes[company][-2:] == ["COMPLETED", "COMPLETED"], outcomes
        assert all(o in ("COMPLETED", "FAILED", "Skipped", "killed") for o in outcomes[company]), outcomes
    crashed = [r["id"] for r in ledgers[killed_company] if r["state"] == "crashed"]
    assert crashed == [killed_run]  # the run that took the lock over closed the killed run's ledger row
    assert not any(r["state"] == "crashed" for c in COMPANIES if c != killed_company for r in ledgers[c])
    assert all(r["finished_at"] is not None for c in COMPANIES for r in ledgers[c])
    assert postgres.lingering("renkei", database=state_db) == 0  # every worker's store was closed
