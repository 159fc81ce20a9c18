"""Migrations create every table, run once per database (an up-to-date one is only read), and each
store's connections are named renkei and closed with it."""

from __future__ import annotations

import psycopg
import sqlalchemy as sa

from connectors.state import StateStore, make_engine, migrate
from connectors.state.engine import MIGRATION_LOCK_KEY, current_revision, head_revision
from tests.postgres import PostgresServer


def test_migrations_create_every_table_and_are_repeatable(store: StateStore) -> None:
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {
        "runs",
        "watermarks",
        "links",
        "quarantine",
        "request_budget",
        "run_locks",
        "outbox",
        "alembic_version",
    } <= tables
    again = StateStore(store.url, "acme")  # upgrading an up-to-date database changes nothing
    assert set(sa.inspect(again.engine).get_table_names()) == tables
    again.close()
    assert current_revision(store.engine) == head_revision()


def test_an_up_to_date_database_is_read_not_migrated_nor_locked(postgres: PostgresServer) -> None:
    database = postgres.create_database()
    fresh = make_engine(postgres.url(database))
    assert migrate(fresh) is True  # the first start creates the schema
    # another deployment's migrator holds the lock; a store that tried to migrate would wait on it
    with psycopg.connect(postgres.dsn(database), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        bounded = make_engine(postgres.url(database) + "?options=-c%20lock_timeout%3D10000")
        assert migrate(bounded) is False
        with StateStore(postgres.url(database), "acme") as store:
            assert store.watermark("staging", "cuts") is None
        bounded.dispose()
    fresh.dispose()


def test_connections_are_named_renkei_and_none_outlives_its_transaction(postgres: PostgresServer) -> None:
    database = postgres.create_database()
    store = StateStore(postgres.url(database), "acme")
    with store.engine.connect() as open_connection:
        open_connection.execute(sa.text("SELECT 1"))
        assert postgres.connections("renkei", database) == 1
    store.commit_watermark("staging", "cuts", "20261128T0200+0900", "r1")
    assert postgres.lingering("renkei", database) == 0  # between transactions a store holds none
    store.close()
