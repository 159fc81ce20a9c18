"""The sync-state database: runs ledger, watermarks, links, quarantine, request budget, run lock.

SQLite file by default, PostgreSQL by URL; the schema is created and upgraded by Alembic migrations
(``connectors/migrations``). Every write is one transaction, so a crash leaves the state as it was
before the write or after it, never between.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from connectors.http import chunked
from schemas import clock

MIGRATIONS = Path(__file__).with_name("migrations")
LOCK_LEASE = timedelta(minutes=2)  # a holder that stops renewing (killed, frozen) frees the lock this soon
MIGRATION_LOCK_KEY = 0x72656E6B6569  # "renkei": the advisory lock every migrator of one database takes
metadata = sa.MetaData()
lock_log = logging.getLogger("renkei.lock")


class AwareDateTime(sa.types.TypeDecorator[datetime]):
    """UTC in the database; aware datetimes in Python even where SQLite drops the zone."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_WHEN = AwareDateTime()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("company", sa.String(128)),
    sa.Column("flow", sa.String(32)),
    sa.Column("cut", sa.String(32)),
    sa.Column("started_at", _WHEN),
    sa.Column("finished_at", _WHEN),
    sa.Column("state", sa.String(16)),
    sa.Column("counts", sa.JSON),
)
watermarks = sa.Table(
    "watermarks",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(64)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("updated_at", _WHEN),
)
links = sa.Table(
    "links",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("target_id", sa.String(64)),
    sa.Column("values_hash", sa.String(64)),
    sa.Column("updated_at", _WHEN),
)
quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("company", sa.String(128)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("target", sa.String(128)),
    sa.Column("stream", sa.String(64)),
    sa.Column("key", sa.String(320)),
    sa.Column("payload", sa.JSON),
    sa.Column("code", sa.String(128)),
    sa.Column("reason", sa.Text),
    sa.Column("field", sa.String(128)),
    sa.Column("status", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", _WHEN),
    sa.Column("updated_at", _WHEN),
    sa.Column("reported_at", _WHEN),  # when a delivered report first named the row (connectors/outbox)
)
request_budget = sa.Table(
    "request_budget",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("requests", sa.Integer),
)
run_locks = sa.Table(
    "run_locks",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64)),
    sa.Column("acquired_at", _WHEN),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("token", sa.String(32)),
    sa.Column("expires_at", _WHEN),
)


@dataclass(frozen=True)
class QuarantinedRow:
    id: int
    run_id: str
    target: str
    stream: str
    key: str
    payload: dict[str, Any]
    code: str
    reason: str
    field: str | None
    status: str
    note: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A row to put in the quarantine: its key, what was sent, and the rule or target message."""

    key: str
    payload: dict[str, Any]
    code: str
    reason: str
    field: str | None = None


def _now() -> datetime:
    return clock.now()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching a fresh file to WAL may have to wait
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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

    def __init__(self, store: StateStore, run_id: str, token: str, lease: timedelta):
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


def make_engine(url: str) -> Engine:
    """An engine for the state URL; a SQLite file's folder is created when missing."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, future=True)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def upgrade(connection: Connection) -> None:
    """Bring the schema to the newest migration."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


@contextmanager
def _one_migrator(engine: Engine) -> Iterator[None]:
    """Processes starting together on a fresh SQLite file take turns at migrating (an exclusive lock
    on a file beside it): the first creates the schema, the others wait, then find it current."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def migrate(engine: Engine) -> None:
    """Upgrade the schema, one migrator at a time (PostgreSQL: an advisory lock held by the migration's
    transaction; SQLite: a file lock), so concurrent first starts never race to create a table."""
    with _one_migrator(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        upgrade(connection)


class StateStore:
    """The state of one company's integration."""

    def __init__(self, url: str, company: str):
        self.url = url
        self.company = company
        self.engine = make_engine(url)
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # runs ledger
    def start_run(self, flow: str, cut: str | None = None, run_id: str | None = None) -> str:
        run_id = run_id or uuid.uuid4().hex
        with self.engine.begin() as c:
            c.execute(
                runs.insert().values(
                    id=run_id,
                    company=self.company,
                    flow=flow,
                    cut=cut,
                    started_at=_now(),
                    state="running",
                    counts={},
                )
            )
        return run_id

    def finish_run(self, run_id: str, state: str, counts: dict[str, Any]) -> bool:
        """Close a running ledger row; False when it was closed already (the first record stands: a
        run recorded as stopped by a signal is not turned into crashed by the hook that follows)."""
        with self.engine.begin() as c:
            result = c.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.state == "running")
                .values(finished_at=_now(), state=state, counts=counts)
            )
        return bool(result.rowcount)

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        return dict(row) if row else None

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        query = sa.select(runs).where(runs.c.company == self.company).order_by(runs.c.started_at.desc())
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(query.limit(limit)).mappings()]

    # watermarks
    def watermark(self, target: str, stream: str) -> str | None:
        query = sa.select(watermarks.c.value).where(
            watermarks.c.company == self.company, watermarks.c.target == target, watermarks.c.stream == stream
        )
        with self.engine.connect() as c:
            return c.execute(query).scalar_one_or_none()

    def commit_watermark(self, target: str, stream: str, value: str, run_id: str) -> bool:
        """Move a watermark forward (never back); True when it moved. Values compare as sortable text."""
        key = {"company": self.company, "target": target, "stream": stream}
        with self.engine.begin() as c:
            current = c.execute(
                sa.select(watermarks.c.value).where(*(watermarks.c[k] == v for k, v in key.items()))
            ).scalar_one_or_none()
            if current is not None and current >= value:
                return False
            values = {"value": value, "run_id": run_id, "updated_at": _now()}
            if current is None:
                c.execute(watermarks.insert().values(**key, **values))
            else:
                c.execute(
                    watermarks.update()
                    .where(*(watermarks.c[k] == v for k, v in key.items()))
                    .values(**values)
                )
        return True

    # links: the last values sent per record, so unchanged rows are skipped
    def link_hashes(self, target: str, stream: str, keys: Iterable[str]) -> dict[str, tuple[str | None, str]]:
        found: dict[str, tuple[str | None, str]] = {}
        with self.engine.connect() as c:
            for chunk in chunked(list(keys), 500):
                query = sa.select(links.c.key, links.c.target_id, links.c.values_hash).where(
                    links.c.company == self.company,
                    links.c.target == target,
                    links.c.stream == stream,
                    links.c.key.in_(chunk),
                )
                found.update({r.key: (r.target_id, r.values_hash) for r in c.execute(query)})
        return found

    def links_of(self, target: str, stream: str) -> dict[str, tuple[str | None, str]]:
        """Every link of one target's stream: key → (target id, values hash)."""
        query = sa.select(links.c.key, links.c.target_id, links.c.values_hash).where(
            links.c.company == self.company, links.c.target == target, links.c.stream == stream
        )
        with self.engine.connect() as c:
            return {r.key: (r.target_id, r.values_hash) for r in c.execute(query)}

    def save_links(self, target: str, stream: str, rows: Iterable[tuple[str, str | None, str]]) -> int:
        """Upsert (key, target_id, values_hash) rows in one transaction."""
        items = [
            {
                "company": self.company,
                "target": target,
                "stream": stream,
                "key": key,
                "target_id": tid,
                "values_hash": digest,
                "updated_at": _now(),
            }
            for key, tid, digest in rows
        ]
        if not items:
            return 0
        with self.engine.begin() as c:
            for chunk in chunked(items, 500):
                c.execute(
                    links.delete().where(
                        links.c.company == self.company,
                        links.c.target == target,
                        links.c.stream == stream,
                        links.c.key.in_([i["key"] for i in chunk]),
                    )
                )
                c.execute(links.insert(), chunk)
        return len(items)

    # quarantine
    def quarantine_rows(self, run_id: str, target: str, stream: str, rows: Iterable[Rejection]) -> int:
        """Keep rejected rows where a user can fix and replay them; one open entry per key.

        A row rejected again for the same reason keeps its open entry (and its first run), so a problem
        is reported once, not on every run; a new reason supersedes the old entry. Returns the new ones.
        """
        now = _now()
        items = {
            r.key: {
                "company": self.company,
                "run_id": run_id,
                "target": target,
                "stream": stream,
                "key": r.key,
                "payload": r.payload,
                "code": r.code,
                "reason": r.reason,
                "field": r.field,
                "status": "open",
                "note": None,
                "created_at": now,
                "updated_at": now,
            }
            for r in rows
        }
        added = 0
        with self.engine.begin() as c:
            for chunk in chunked(list(items.values()), 500):
                where = (
                    quarantine.c.company == self.company,
                    quarantine.c.target == target,
                    quarantine.c.stream == stream,
                    quarantine.c.status == "open",
                    quarantine.c.key.in_([i["key"] for i in chunk]),
                )
                known = {
                    (r.key, r.code, r.reason)
                    for r in c.execute(
                        sa.select(quarantine.c.key, quarantine.c.code, quarantine.c.reason).where(*where)
                    )
                }
                fresh = [i for i in chunk if (i["key"], i["code"], i["reason"]) not in known]
                if not fresh:
                    continue
                c.execute(
                    quarantine.update()
                    .where(*where[:-1], quarantine.c.key.in_([i["key"] for i in fresh]))
                    .values(status="superseded", updated_at=now)
                )
                c.execute(quarantine.insert(), fresh)
                added += len(fresh)
        return added

    def quarantined(
        self, target: str | None = None, code: str | None = None, status: str = "open"
    ) -> list[QuarantinedRow]:
        query = sa.select(quarantine).where(
            quarantine.c.company == self.company, quarantine.c.status == status
        )
        if target:
            query = query.where(quarantine.c.target == target)
        if code:
            query = query.where(quarantine.c.code == code)
        with self.engine.connect() as c:
            rows = c.execute(query.order_by(quarantine.c.id)).mappings().all()
        return [
            QuarantinedRow(
                r["id"],
                r["run_id"],
                r["target"],
                r["stream"],
                r["key"],
                r["payload"],
                r["code"],
                r["reason"],
                r["field"],
                r["status"],
                r["note"],
            )
            for r in rows
        ]

    def resolve_quarantine(self, ids: Iterable[int], status: str, note: str | None = None) -> int:
        """Mark entries replayed or dismissed (with who/why in the note: dismissals are audited)."""
        if status not in ("replayed", "dismissed", "open"):
            raise ValueError(f"unknown quarantine status {status!r}")
        id_list = list(ids)
        with self.engine.begin() as c:
            result = c.execute(
                quarantine.update()
                .where(quarantine.c.company == self.company, quarantine.c.id.in_(id_list))
                .values(status=status, note=note, updated_at=_now())
            )
        return int(result.rowcount or 0)

    # request budget per target and scope (an app, an org) per business day
    def requests_used(self, target: str, scope: str, day: str) -> int:
        query = sa.select(request_budget.c.requests).where(
            request_budget.c.company == self.company,
            request_budget.c.target == target,
            request_budget.c.scope == scope,
            request_budget.c.day == day,
        )
        with self.engine.connect() as c:
            return int(c.execute(query).scalar_one_or_none() or 0)

    def add_requests(self, target: str, scope: str, day: str, count: int) -> int:
        key = {"company": self.company, "target": target, "scope": scope, "day": day}
        with self.engine.begin() as c:
            where = [request_budget.c[k] == v for k, v in key.items()]
            current = c.execute(sa.select(request_budget.c.requests).where(*where)).scalar_one_or_none()
            if current is None:
                c.execute(request_budget.insert().values(**key, requests=count))
                return count
            c.execute(request_budget.update().where(*where).values(requests=current + count))
            return int(current) + count

    # one sync per company at a time
    def acquire_lock(self, run_id: str, lease: timedelta = LOCK_LEASE) -> str | None:
        """Take the company's run lock; None when taken, else the holder's run id.

        The lock carries a random token and a lease that a heartbeat thread renews while this process
        lives; a holder whose lease ran out (or who is known gone, see ``_live``) is taken over, with
        a warning naming it, and its ledger row closed as crashed. Runs racing for a free or stale lock:
        every loser's insert fails on the key and it reads the winner again, so exactly one holds it.
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
            now = _now()
            try:
                with self.engine.begin() as c:
                    holder = (
                        c.execute(sa.select(run_locks).where(run_locks.c.company == self.company))
                        .mappings()
                        .first()
                    )
                    if holder is not None:
                        if holder["run_id"] != run_id and _live(holder, now):
                            return str(holder["run_id"])
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
                        c.execute(  # a dead holder never closed its ledger row: say what happened to it
                            runs.update()
                            .where(runs.c.id == holder["run_id"], runs.c.state == "running")
                            .values(state="crashed", finished_at=now)
                        )
                        c.execute(
                            run_locks.delete().where(
                                run_locks.c.company == self.company, run_locks.c.run_id == holder["run_id"]
                            )
                        )
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
                .values(expires_at=_now() + lease)
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
