"""The company's run lock: one writing run per company at a time, on a lease its heartbeat renews."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors.state.engine import StatePart, serialize
from connectors.state.schema import run_locks, runs
from schemas import clock

LOCK_LEASE = timedelta(minutes=2)  # a holder that stops renewing (killed, frozen) frees the lock this soon
lock_log = logging.getLogger("renkei.lock")


def _holder() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _live(holder: Any, now: datetime) -> bool:
    """A lock is held while its lease runs (the holder's heartbeat renews it). Host and pid only tell
    sooner that a holder on this host is gone: its pid names no process, or names this very process,
    which does not hold that lock (a restarted container is PID 1 again, with the same host name)."""
    expires = holder["expires_at"] or holder["acquired_at"] + LOCK_LEASE  # a lock taken before 0004
    if expires <= now:
        return False
    if holder["host"] != socket.gethostname() or holder["pid"] is None:
        return True
    if int(holder["pid"]) == os.getpid():
        return holder["token"] in _HEARTBEATS
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class _Heartbeat(threading.Thread):
    """Renews one held lock's lease every quarter lease until the lock is released (or lost)."""

    def __init__(self, store: RunLock, run_id: str, token: str, lease: timedelta):
        super().__init__(name=f"renkei-lock-{run_id}", daemon=True)
        self.store, self.run_id, self.token, self.lease = store, run_id, token, lease
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease.total_seconds() / 4):
            try:
                held = self.store.renew_lock(self.run_id, self.token, self.lease)
            except sa.exc.SQLAlchemyError as exc:  # the database is away: try again next beat
                lock_log.warning("run lock of %s: lease not renewed (%s)", self.store.company, exc)
                continue
            if not held:
                lock_log.error(
                    "run lock of %s: run %s lost its lock (its lease ran out); stop it",
                    self.store.company,
                    self.run_id,
                )
                return


_HEARTBEATS: dict[str, _Heartbeat] = {}  # lock token → its heartbeat: the locks this process holds


class RunLock(StatePart):
    def acquire_lock(self, run_id: str, lease: timedelta = LOCK_LEASE) -> str | None:
        """Take the company's run lock; None when taken, else the holder's run id.

        The lock carries a random token and a lease that a heartbeat thread renews while this process
        lives; a holder whose lease ran out (or who is known gone, see ``_live``) is taken over, with
        a warning naming it, and its ledger row closed as crashed. Runs racing for a free or stale lock
        take turns (PostgreSQL: an advisory lock on the company; SQLite: a loser's insert fails on the
        key and it reads the winner again), so exactly one holds it.
        """
        token = uuid.uuid4().hex
        beat = _Heartbeat(self, run_id, token, lease)
        _HEARTBEATS[token] = beat  # before the insert commits: a racing run of this process sees it held
        try:
            return self._take_lock(run_id, token, lease, beat)
        finally:
            if not beat.is_alive():
                _HEARTBEATS.pop(token, None)

    def _take_lock(self, run_id: str, token: str, lease: timedelta, beat: _Heartbeat) -> str | None:
        for _ in range(5):
            now = clock.now()
            try:
                with self.engine.begin() as c:
                    serialize(c, "run-lock", self.company)
                    holder = (
                        c.execute(sa.select(run_locks).where(run_locks.c.company == self.company))
                        .mappings()
                        .first()
                    )
                    if holder is not None:
                        if holder["run_id"] != run_id and _live(holder, now):
                            return str(holder["run_id"])
                        self._take_over(c, run_id, holder, now)
                    c.execute(
                        run_locks.insert().values(
                            company=self.company,
                            run_id=run_id,
                            acquired_at=now,
                            token=token,
                            expires_at=now + lease,
                            **_holder(),
                        )
                    )
                beat.start()
                return None
            except sa.exc.IntegrityError:
                continue  # another run took the lock between this one's read and its insert
        raise RuntimeError(
            f"the run lock of {self.company} changed hands five times while run {run_id} waited"
        )

    def _take_over(self, c: sa.Connection, run_id: str, holder: Any, now: datetime) -> None:
        """Free a dead holder's lock; its ledger row, never closed, says it crashed."""
        if holder["run_id"] != run_id:
            lock_log.warning(
                "run lock of %s taken over by run %s: run %s (host %s, pid %s, lease until"
                " %s) is gone; it is recorded as crashed",
                self.company,
                run_id,
                holder["run_id"],
                holder["host"],
                holder["pid"],
                holder["expires_at"],
            )
        c.execute(
            runs.update()
            .where(runs.c.id == holder["run_id"], runs.c.state == "running")
            .values(state="crashed", finished_at=now)
        )
        c.execute(
            run_locks.delete().where(
                run_locks.c.company == self.company, run_locks.c.run_id == holder["run_id"]
            )
        )

    def renew_lock(self, run_id: str, token: str, lease: timedelta = LOCK_LEASE) -> bool:
        """Extend the lease of a lock this run holds; False when it holds it no more."""
        with self.engine.begin() as c:
            result = c.execute(
                run_locks.update()
                .where(
                    run_locks.c.company == self.company,
                    run_locks.c.run_id == run_id,
                    run_locks.c.token == token,
                )
                .values(expires_at=clock.now() + lease)
            )
        return bool(result.rowcount)

    def release_lock(self, run_id: str) -> None:
        with self.engine.begin() as c:
            tokens = c.execute(
                sa.select(run_locks.c.token).where(
                    run_locks.c.company == self.company, run_locks.c.run_id == run_id
                )
            ).scalars()
            for token in tokens:
                beat = _HEARTBEATS.pop(token, None)
                if beat is not None:
                    beat.stopped.set()
            c.execute(
                run_locks.delete().where(run_locks.c.company == self.company, run_locks.c.run_id == run_id)
            )
