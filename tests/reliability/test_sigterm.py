"""SIGTERM stops a run promptly wherever it is: its lock released, its run recorded as stopped, and
the next run resumes.

Before the fix a run waiting for a Prefect retry ignored SIGTERM (still alive 2 s later; it needed
SIGKILL), so a container stop or a deploy waited for the kill and left the lock behind.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from connectors.state import run_locks
from flows.sync import sync
from sandbox.demo_env import DemoEnvironment
from schemas.validate import load_spec
from tasks.clients import state_store
from tests.reliability.cli_run import demo_spec, run_until

PROMPT_SECONDS = 10.0  # a bound, far below the 30 s retry wait and the hour-long pause it interrupts


POINTS = {
    "stage-file": None,  # a cut half staged
    "load-batch": None,  # a batch in the target, its outcomes not recorded
    "write-back": None,  # changes written into the MA, not recorded
    "send-email": None,  # the report in the outbox, not handed to the server
    "stage-file:fail": "trying again in",  # waiting for Prefect's retry of the stage step (its notice)
}


@pytest.mark.parametrize("pause", list(POINTS))
def test_sigterm_stops_the_run_and_the_next_one_resumes(
    prefect_harness: None, small_demo: DemoEnvironment, tmp_path: Path, pause: str
) -> None:
    path = demo_spec(small_demo, tmp_path)
    stopped = run_until(path, pause, signal.SIGTERM, tmp_path, POINTS[pause])
    assert stopped.reached, stopped.stderr[-3000:]
    print(
        f"sigterm at {pause}: the process ended {stopped.seconds:.2f} s after the signal, exit {stopped.code}"
    )
    assert stopped.seconds < PROMPT_SECONDS, stopped.stderr[-3000:]
    assert stopped.code not in (0, None, -signal.SIGKILL)
    state = state_store(load_spec(path))
    with state.engine.connect() as c:
        assert c.execute(run_locks.select()).all() == []  # the lock was released
    (run,) = [r for r in state.runs() if r["flow"] == "sync"]
    assert run["state"] == "stopped" and run["finished_at"] is not None
    report = sync(str(path))  # the next run is not refused and catches up
    assert report.cuts or state.watermark("staging", "cuts") is not None
    assert report.balanced and not [f for f in report.failures if f.step != "email"]
