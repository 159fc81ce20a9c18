"""One writing run per company at a time: the run lock in the state DB, shared by every writing flow.

``sync``, ``backfill``, ``extract`` and ``replay`` write (staging, targets, the MA, the state DB), so
each holds the company's lock for its whole body; a second one fails at once with the holder's run
id and flow, and changes nothing. ``plan`` takes no lock: its only writes are the idempotent,
atomically renamed staging of due cuts (the same rows whoever stages them), a forward-only staging
watermark and its own files under ``_plans/``, so it neither waits for a sync nor holds one up.
The Prefect ``sync`` deployment also has ``concurrency_limit=1``, so a second scheduled run waits
for a slot instead of failing. The lock's lease (how soon the lock of a run killed with its machine
frees) is two minutes, or ``RENKEI_LOCK_LEASE_SECONDS`` in the worker's environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from prefect.exceptions import TerminationSignal

from connectors.state import LOCK_LEASE, StateStore

LEASE_ENV = "RENKEI_LOCK_LEASE_SECONDS"
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


def lock_lease() -> timedelta:
    """The run lock's lease: ``RENKEI_LOCK_LEASE_SECONDS`` when set (a shorter lease frees a dead
    worker's company sooner, a longer one rides out longer stalls of a live one), else LOCK_LEASE."""
    value = os.environ.get(LEASE_ENV, "").strip()
    if not value:
        return LOCK_LEASE
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 4 <= seconds <= 86_400:
        default = int(LOCK_LEASE.total_seconds())
        raise ValueError(
            f"{LEASE_ENV}={value!r}: ロックのリース秒数は 4〜86400 で指定してください（既定 {default}）"
            f" / give the lease in seconds, from 4 to 86400 (default {default})"
        )
    return timedelta(seconds=seconds)


@contextmanager
def run_lock(state: StateStore, flow: str, run_id: str) -> Iterator[None]:
    """Hold the company's run lock for the block; raise RunLocked naming the holder when it is taken."""
    holder = state.acquire_lock(run_id, lock_lease())
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
