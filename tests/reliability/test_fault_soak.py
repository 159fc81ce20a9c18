"""Fault soak: consecutive syncs through faulty stand-ins, changes on both sides, then nothing lost.

Every stand-in answers a seeded 10% of requests with a fault (429, 503, a held response, a slow
response, a reset connection) and Salesforce refuses 10% of row writes with UNABLE_TO_LOCK_ROW;
kintone refuses the customers whose hashcode a user's record already holds. The suite runs 3 syncs on
small data; ``make soak`` (RENKEI_SOAK_RUNS=20 and larger sizes) runs the long version and prints the
figures recorded in docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flows.sync import sync_report
from sandbox.common import FaultConfig
from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from schemas.report import RunReport
from tests.reliability.end_state import check_end_state
from tests.reliability.soak_world import Sizes, World, seeded_until

RUNS = int(os.environ.get("RENKEI_SOAK_RUNS", "3"))
SCALE = int(os.environ.get("RENKEI_SOAK_SCALE", "1"))
SEED = int(os.environ.get("RENKEI_SOAK_SEED", "20261129"))
RATE = 0.1
SETTLE_RUNS = 4


def settle(world: World) -> list[RunReport]:
    """Faults off, the clock past the next cut, sync until a run defers nothing and fails nothing."""
    world.faults_off()
    reports: list[RunReport] = []
    while len(reports) < 2 or (
        len(reports) < SETTLE_RUNS and (reports[-1].failures or reports[-1].totals.deferred)
    ):
        world.advance()
        reports.append(sync_report(str(world.spec_path)))
    return reports


def test_consecutive_syncs_through_faults_lose_and_duplicate_nothing(
    prefect_harness: None, tmp_path: Path
) -> None:
    faults = FaultConfig(rate=RATE, seed=SEED, slow_seconds=0.2, timeout_seconds=1.0)
    sizes = DemoSizes(customers=60 * SCALE, actions=300 * SCALE, cards=30 * SCALE, recent=0.0)
    with DemoEnvironment(
        tmp_path / "env", sizes, seeded_until(), ports=DemoPorts.free(), faults=faults
    ) as env:
        world = World(env, tmp_path, SEED, Sizes().scaled(SCALE))
        world.lock_faults(RATE, SEED)
        reports: list[RunReport] = []
        for run in range(RUNS):
            if run:
                world.change_both_sides()
            reports.append(sync_report(str(world.spec_path)))
        injected = world.injected()
        reports += settle(world)
        findings = check_end_state(world)
        world.close()

    figures = {
        "runs": RUNS,
        "settle_runs": len(reports) - RUNS,
        "faults_injected": dict(injected),
        "rows_in": sum(line.counts.received for r in reports[:RUNS] for line in r.lines),
        "rejected": sum(r.totals.rejected for r in reports[:RUNS]),
        "deferred": sum(r.totals.deferred for r in reports[:RUNS]),
        "failed_steps": sum(len(r.failures) for r in reports[:RUNS]),
        "target_customers": findings.customers,
        "staged_actions": findings.actions,
        "quarantined_open": findings.quarantined,
        "ledger_runs_checked": findings.runs,
        "lost": findings.lost,
        "duplicated": findings.duplicated,
    }
    print("soak figures:", json.dumps(figures, ensure_ascii=False))
    assert all(r.balanced for r in reports), [r.table() for r in reports if not r.balanced]
    assert not findings.problems, findings.problems[:30]
    assert (findings.lost, findings.duplicated) == (0, 0)
    assert findings.runs == len(reports)  # every run closed its ledger row, and each one balanced
    kinds = {k for k, n in injected.items() if n}
    assert "lock" in kinds and len(kinds) >= (6 if RUNS > 3 else 3), injected
    assert findings.quarantined.get("kintone-customers", 0) >= 1  # the refused customers are kept
