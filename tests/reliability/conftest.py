"""Reliability tests share one Prefect test harness for the whole session (it takes ~13 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def reliability_harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield
