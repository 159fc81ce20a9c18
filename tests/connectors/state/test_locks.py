"""The run lock: one holder per company, taken over from a dead or stale holder; racing workers
(threads, and separate processes as separate machines would be) on PostgreSQL get exactly one."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from connectors.state import StateStore, run_locks
from schemas import clock
from tests.connectors.state.conftest import race


def test_run_lock_excludes_a_second_run_until_released_or_stale(store: StateStore) -> None:
    assert store.acquire_lock("run-a") is None
    assert store.acquire_lock("run-b") == "run-a"
    with clock.clock_at(clock.now() + timedelta(minutes=3)):  # its heartbeat stopped: the lease runs out
        assert store.acquire_lock("run-b") is None
    store.release_lock("run-b")
    assert store.acquire_lock("run-a") is None
    store.release_lock("run-a")


def test_a_dead_holder_loses_the_lock_and_its_ledger_row_says_crashed(store: StateStore) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    killed_pid = int(dead.stdout)  # that process has exited: its pid names no live process
    store.start_run("sync", None, "killed-run")
    assert store.acquire_lock("killed-run") is None
    with store.engine.begin() as c:
        c.execute(run_locks.update().where(run_locks.c.run_id == "killed-run").values(pid=killed_pid))
    assert store.acquire_lock("next-run") is None  # not blocked for hours by a SIGKILLed run
    killed = store.run("killed-run")
    assert killed is not None and killed["state"] == "crashed" and killed["finished_at"] is not None
    store.release_lock("next-run")


def test_threads_racing_for_the_lock_get_one_holder(state_url: str) -> None:
    """Separate connections (as separate workers would have) taking the lock at the same instant."""
    stores = [StateStore(state_url, "acme") for _ in range(4)]
    for round_ in range(15):
        results = race(stores, lambda i, s, r=round_: s.acquire_lock(f"run-{r}-{i}"))
        winners = [f"run-{round_}-{i}" for i, held in enumerate(results) if held is None]
        assert len(winners) == 1, results
        assert all(held == winners[0] for held in results if held is not None)
        stores[0].release_lock(winners[0])
    for store in stores:
        store.close()


TAKE_LOCK = """
import sys, time
from pathlib import Path
from connectors.state import StateStore
url, me, go, done = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
store = StateStore(url, "acme")
print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
print(store.acquire_lock(me) or "HELD", flush=True)
while not done.exists():  # alive until every racer answered: a winner that exits looks dead
    time.sleep(0.02)
store.release_lock(me)
store.close()
"""


def test_processes_racing_for_the_lock_get_one_holder(postgres_url: str, tmp_path: Path) -> None:
    StateStore(postgres_url, "acme").close()  # the schema exists before the racers start
    for round_ in range(3):
        go, done = tmp_path / f"go{round_}", tmp_path / f"done{round_}"
        names = [f"proc-{round_}-{n}" for n in range(6)]
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", TAKE_LOCK, postgres_url, name, str(go), str(done)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for name in names
        ]
        for racer in racers:  # every interpreter has imported renkei and waits for the signal
            assert racer.stdout is not None and racer.stdout.readline().strip() == "ready"
        go.touch()
        answers = [r.stdout.readline().strip() if r.stdout else "" for r in racers]
        done.touch()
        for racer in racers:
            racer.wait(60)
        winners = [name for name, answer in zip(names, answers, strict=True) if answer == "HELD"]
        assert len(winners) == 1, answers
        assert all(answer == winners[0] for answer in answers if answer != "HELD")
