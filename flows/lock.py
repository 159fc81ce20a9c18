"""One writing run per company at a time: the run lock in the state DB, shared by every writing flow.

``sync``, ``backfill``, ``extract`` and ``replay`` write (staging, targets, the MA, the state DB), so
each holds the company's lock for its whole body; a second one fails at once with the holder's run
id and flow, and changes nothing. ``plan`` takes no lock: its only writes are the idempotent,
atomically renamed staging of due cuts (the same rows whoever stages them), a forward-only staging
watermark and its own files under ``_plans/``, so it neither waits for a sync nor holds one up.
The Prefect ``sync`` deployment also has ``concurrency_limit=1``, so a second scheduled run waits
for a slot instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prefect.exceptions import TerminationSignal

from connectors.state import StateStore

STOPPED = "stopped by a signal (SIGTERM or Ctrl-C); the next run resumes where this one stopped"


class RunLocked(RuntimeError):
    """Another writing run of the same company holds the lock: this run changed nothing."""

    def __init__(self, company: str, flow: str, holder: str, holder_flow: str | None):
        self.holder = holder
        what = f"a {holder_flow} run" if holder_flow else "another run"
        super().__init__(
            f"{flow} of {company} not started: {what} (run {holder}) is writing; "
            "it changed nothing — run it again when that run has finished"
        )


@contextmanager
def run_lock(state: StateStore, flow: str, run_id: str) -> Iterator[None]:
    """Hold the company's run lock for the block; raise RunLocked naming the holder when it is taken."""
    holder = state.acquire_lock(run_id)
    if holder is not None:
        ledger = state.run(holder)
        raise RunLocked(state.company, flow, holder, ledger["flow"] if ledger else None)
    try:
        yield
    except (
        KeyboardInterrupt,
        TerminationSignal,
    ):  # SIGTERM (a container stop) or Ctrl-C: a stop, not a crash
        state.finish_run(run_id, "stopped", {"message": STOPPED})
        raise
    finally:
        state.release_lock(run_id)
