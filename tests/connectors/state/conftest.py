"""Each part of the state store is tested on SQLite and on a real PostgreSQL server (tests/postgres.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import TypeVar

import pytest

from connectors.state import StateStore

T = TypeVar("T")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state/renkei.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(state_url: str) -> Iterator[StateStore]:
    with StateStore(state_url, "acme") as opened:
        yield opened


def race(stores: list[StateStore], act: Callable[[int, StateStore], T]) -> list[T]:
    """Every store acts at the same instant, each in its own thread (its own connections, as the
    workers of one company would have); returns what each act returned, in order."""
    start = Barrier(len(stores))

    def one(i: int) -> T:
        start.wait()
        return act(i, stores[i])

    with ThreadPoolExecutor(len(stores)) as pool:
        return list(pool.map(one, range(len(stores))))


@pytest.fixture
def pg_stores(postgres_url: str) -> Iterator[list[StateStore]]:
    """Eight stores of one company on one fresh PostgreSQL database."""
    stores = [StateStore(postgres_url, "acme") for _ in range(8)]
    yield stores
    for opened in stores:
        opened.close()
