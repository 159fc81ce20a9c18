"""The state database's engine, its migrations, and what every part of the store shares.

SQLite file by default, PostgreSQL by URL. On PostgreSQL a store holds no connection between its
transactions (each opens and closes its own, named ``application_name=renkei``): a worker serving
many companies keeps no idle connections, and a store its caller forgot to close leaks nothing.
Migrations run when a database is behind the code's newest revision, one migrator at a time; an
up-to-date database is only read (its version), never locked.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parents[1] / "migrations"
MIGRATION_LOCK_KEY = 0x72656E6B6569  # "renkei": the advisory lock every migrator of one database takes
APPLICATION_NAME = "renkei"  # how the state DB's connections show in pg_stat_activity


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: switching a fresh file to WAL may have to wait
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for the state URL; a SQLite file's folder is created when missing."""
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        named = {} if "application_name" in parsed.query else {"application_name": APPLICATION_NAME}
        return sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=named)
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str | None:
    """The newest migration this code knows."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None before the first migration)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


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


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest migration when it is behind; True when this call upgraded it.

    One migrator at a time (PostgreSQL: an advisory lock held by the migration's transaction; SQLite:
    a file lock), so concurrent first starts never race to create a table; whoever waited finds the
    schema current and changes nothing.
    """
    if current_revision(engine) == head_revision():
        return False
    with _one_migrator(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(_config(connection), "head")
    return before != head_revision()


def upsert(connection: Connection, table: sa.Table) -> Any:
    """An INSERT that takes ``on_conflict_do_update``/``..._nothing`` (both SQLite and PostgreSQL)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def serialize(connection: Connection, *key: str) -> None:
    """Hold a lock named by ``key`` until the transaction ends: writers of one key take turns.

    PostgreSQL: a transaction-scoped advisory lock. SQLite has one writer at a time already.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": "\x1f".join(key)}
        )


class StatePart:
    """What every part of the store shares: the engine and the company whose state it keeps."""

    def __init__(self, engine: Engine, company: str):
        self.engine = engine
        self.company = company
