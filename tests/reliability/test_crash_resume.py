"""Crash test: `renkei run` killed with SIGKILL at random points, re-run, and nothing lost or doubled.

The stand-ins live in this process (they survive the kill); each sync is a `renkei run` subprocess
on the session's Prefect test server. A seed picks, per round, where the run is killed: a cut half
staged, a batch in the target before its outcomes are recorded, a cut loaded before its watermark
is committed, or changes written into the MA before they are recorded (RENKEI_PAUSE_AT, see
tasks/pause.py); sometimes the next scheduled cut passes before the re-run. The end state is held
to the soak's assertions. The suite runs 3 seeds; RENKEI_CRASH_SEEDS=20 is the long version.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

from flows.sync import sync_report
from sandbox.common import FaultConfig
from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes
from tasks.clients import state_store
from tasks.pause import PAUSE_ENV
from tests.reliability.end_state import check_end_state
from tests.reliability.soak_world import Sizes, World, seeded_until

SEEDS = int(os.environ.get("RENKEI_CRASH_SEEDS", "3"))
POINTS = ("stage-file", "load-batch", "cut-loaded", "write-back")
ROUNDS = int(os.environ.get("RENKEI_CRASH_ROUNDS", "1"))
RENKEI = Path(sys.executable).with_name("renkei")
PAUSE_WAIT = 120.0


def renkei_run(world: World, folder: Path, pause: str | None) -> tuple[int | None, str]:
    """One `renkei run` on the test's Prefect server; killed with SIGKILL once it reaches ``pause``.

    Returns (exit code or None when killed, where it was killed or how it ended).
    """
    env = {
        **os.environ,
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop(PAUSE_ENV, None)
    if pause:
        env[PAUSE_ENV] = pause
    err = folder / f"run-{time.monotonic_ns()}.err"
    with err.open("w") as stderr:
        process = subprocess.Popen(
            [str(RENKEI), "run", str(world.spec_path)], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        deadline = time.monotonic() + PAUSE_WAIT
        while process.poll() is None and time.monotonic() < deadline:
            if pause and f"paused at {pause}" in err.read_text(errors="replace"):
                process.send_signal(signal.SIGKILL)
                process.wait()
                return None, f"killed at {pause}"
            time.sleep(0.05)
        if process.poll() is None:
            process.kill()
            pytest.fail(f"renkei run did not finish in {PAUSE_WAIT} s: {err.read_text()[-2000:]}")
    return process.returncode, err.read_text(errors="replace")[-2000:]


@pytest.mark.parametrize("seed", range(SEEDS))
def test_a_sync_killed_anywhere_resumes_without_loss_or_duplicates(
    prefect_harness: None, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    faults = FaultConfig(rate=0.05, seed=seed, slow_seconds=0.1, timeout_seconds=0.5)
    sizes = DemoSizes(customers=40, actions=200, cards=20, recent=0.0)
    killed: list[str] = []
    with DemoEnvironment(
        tmp_path / "env", sizes, seeded_until(), ports=DemoPorts.free(), faults=faults
    ) as env:
        world = World(env, tmp_path, 1000 + seed, Sizes(new_customers=4, actions=20))
        for round_ in range(ROUNDS):
            if round_:
                world.change_both_sides()
            pause = f"{rng.choice(POINTS)}:{rng.randint(1, 2)}"
            code, outcome = renkei_run(world, tmp_path, pause)
            if code is None:
                killed.append(outcome)
            if rng.random() < 0.5:  # the next scheduled cut passes before anyone re-runs
                world.change_both_sides()
            code, outcome = renkei_run(world, tmp_path, None)
            assert code in (0, 1), outcome  # 1: a step failed on a fault, reported; the next run catches up
        world.faults_off()
        for _ in range(2):  # settle in process: what the last run wrote back reaches every target
            world.advance()
            assert sync_report(str(world.spec_path)).balanced
        findings = check_end_state(world)
        world.close()
    print(
        f"crash seed {seed}: {killed or 'no kill landed'}; "
        f"lost {findings.lost}, duplicated {findings.duplicated}"
    )
    assert killed, "no run was killed: the pause points were never reached"
    assert not findings.problems, findings.problems[:30]
    assert findings.runs == 2 * ROUNDS + 2  # the next run closes a killed run's ledger row
    ledger = state_store(world.spec).runs(limit=10_000)
    assert sum(1 for run in ledger if run["state"] == "crashed") == len(killed)
