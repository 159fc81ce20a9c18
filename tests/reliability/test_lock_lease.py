"""The run lock trusts a token and a lease, not a PID.

Before the fix a dead holder was detected with ``os.kill(pid, 0)`` when the host name matched. In a
container renkei is PID 1 and a restart keeps the host name, so after one OOM kill every sync was
refused ("a sync run … is writing") until the lock went stale six hours later. Now each holder has a
random token and a lease its heartbeat renews: a live holder keeps its lock for as long as it runs,
a stopped one loses it within minutes, and the run that takes it over says which run it replaced.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.state import StateStore, run_locks
from flows.lock import LEASE_ENV, RunLocked, run_lock
from schemas import clock

HOLD = """
import sys, time
from datetime import timedelta
from connectors.state import StateStore
store = StateStore(sys.argv[1], "acme")
store.start_run("sync", None, "old-run")
kwargs = {"lease": timedelta(seconds=float(sys.argv[2]))} if len(sys.argv) > 2 else {}
assert store.acquire_lock("old-run", **kwargs) is None
print("holding", flush=True)
time.sleep(600)
"""


@pytest.fixture()
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


@pytest.fixture()
def holder(url: str) -> Iterator[subprocess.Popen[str]]:
    """A run in another process holding the lock (lease as given), until the test kills it."""
    procs: list[subprocess.Popen[str]] = []

    def start(*lease: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, url, *lease], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        procs.append(proc)
        return proc

    yield start  # type: ignore[misc]
    for proc in procs:
        proc.kill()
        proc.wait()


def set_holder(store: StateStore, **values: object) -> None:
    with store.engine.begin() as c:
        c.execute(run_locks.update().where(run_locks.c.run_id == "old-run").values(**values))


def test_a_restart_with_the_old_pid_takes_the_lock_over_at_once(
    url: str, holder: object, caplog: pytest.LogCaptureFixture
) -> None:
    proc = holder()  # type: ignore[operator]
    os.kill(proc.pid, signal.SIGKILL)  # an OOM kill: the lock is never released
    proc.wait()
    store = StateStore(url, "acme")
    set_holder(store, pid=os.getpid())  # the restarted container is PID 1 again, same host name
    with caplog.at_level(logging.WARNING, logger="renkei.lock"), run_lock(store, "sync", "new-run"):
        assert store.acquire_lock("third-run") == "new-run"  # the new holder is live
    assert "old-run" in caplog.text and "taken over by run new-run" in caplog.text
    old = store.run("old-run")
    assert old is not None and old["state"] == "crashed"


def test_a_dead_holder_elsewhere_loses_the_lock_in_minutes_not_hours(url: str, holder: object) -> None:
    proc = holder()  # type: ignore[operator]
    proc.kill()
    proc.wait()
    store = StateStore(url, "acme")
    set_holder(store, host="another-host")  # no PID can be asked: only the lease can tell
    with pytest.raises(RunLocked, match="old-run"), run_lock(store, "sync", "new-run"):
        pass
    with clock.clock_at(clock.now() + timedelta(minutes=3), running=True), run_lock(store, "sync", "new-run"):
        assert store.acquire_lock("third-run") == "new-run"


def test_a_live_holder_keeps_its_lock_by_heartbeat_then_loses_it(url: str, holder: object) -> None:
    proc = holder("2")  # a two-second lease, renewed every half second
    store = StateStore(url, "acme")
    set_holder(store, host="another-host")
    deadline = time.monotonic() + 5  # two and a half leases: without renewals the lock would be stale
    while time.monotonic() < deadline:
        assert store.acquire_lock("new-run") == "old-run"
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    for _ in range(100):  # the lease runs out within one lease of the kill
        if store.acquire_lock("new-run") is None:
            break
        time.sleep(0.1)
    assert store.acquire_lock("third-run") == "new-run"
    store.release_lock("new-run")


def test_the_lease_is_set_from_the_workers_environment(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """RENKEI_LOCK_LEASE_SECONDS: how soon a dead worker's lock frees; a bad value names the variable."""
    store = StateStore(url, "acme")
    monkeypatch.setenv(LEASE_ENV, "30")
    with run_lock(store, "sync", "new-run"):
        with store.engine.connect() as c:
            held = c.execute(run_locks.select()).one()
        assert held.run_id == "new-run"
        assert timedelta(seconds=29) <= held.expires_at - held.acquired_at <= timedelta(seconds=31)
    monkeypatch.setenv(LEASE_ENV, "soon")
    with pytest.raises(ValueError, match=f"{LEASE_ENV}='soon'"), run_lock(store, "sync", "new-run"):
        pass
