"""Shared test setup: no telemetry leaves the machine, ever; a real PostgreSQL server and one Prefect
test server for the whole session when asked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import PostgresServer, postgres_server

os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
# the CLI's output as piped (pytest-xdist's workers say COLUMNS=80, which a plain run does not)
os.environ.pop("COLUMNS", None)

QUICK = ("schemas", "connectors", "test_layers.py")  # `make check`: the pure domain, connectors, layers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything outside QUICK starts servers, workers, browsers, crashes or soaks: marked ``slow``;
    so is any test on the PostgreSQL server (it starts one)."""
    for item in items:
        first = item.path.relative_to(Path(__file__).parent).parts[0]
        if first not in QUICK or "postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole session (tests/postgres.py); stopped at the end."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> str:
    """A fresh empty database on the session's server, as a ``storage.state`` URL."""
    return postgres.url(postgres.create_database())


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server (it takes ~13 s to start) for every flow and reliability test."""
    from prefect.testing.utilities import prefect_test_harness  # not imported by `make check`'s tests

    with prefect_test_harness(server_startup_timeout=120):
        yield
