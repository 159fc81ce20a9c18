"""The suite's PostgreSQL server (tests/postgres.py) is real, on loopback, and hands out databases."""

from __future__ import annotations

import psycopg

from tests.postgres import PostgresServer


def test_server_answers_on_loopback_with_separate_databases(postgres: PostgresServer) -> None:
    first, second = postgres.create_database(), postgres.create_database()
    assert first != second
    postgres.query("CREATE TABLE t (n int)", database=first)
    postgres.query("INSERT INTO t VALUES (1)", database=first)
    assert postgres.query("SELECT n FROM t", database=first) == [(1,)]
    assert postgres.query("SELECT to_regclass('t')", database=second) == [(None,)]
    assert postgres.query("SHOW listen_addresses") == [("127.0.0.1",)]
    assert postgres.url(first).startswith(f"postgresql+psycopg://postgres@127.0.0.1:{postgres.port}/")


def test_connections_are_counted_by_application_name(postgres: PostgresServer) -> None:
    database = postgres.create_database()
    assert postgres.connections("fixture-probe") == 0
    with psycopg.connect(postgres.dsn(database), application_name="fixture-probe"):
        assert postgres.connections("fixture-probe") == 1
        assert postgres.connections("fixture-probe", database=database) == 1
        assert postgres.connections("fixture-probe", database="postgres") == 0
    assert postgres.lingering("fixture-probe") == 0
