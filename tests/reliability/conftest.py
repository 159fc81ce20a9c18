"""Reliability tests share one Prefect test harness for the whole session (it takes ~13 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness

from sandbox.demo_env import DemoEnvironment, DemoPorts, DemoSizes


@pytest.fixture(scope="session")
def reliability_harness() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    """Every stand-in of `renkei demo` with a little data (rejected Sansan cards among it), per module."""
    folder = tmp_path_factory.mktemp("small-demo")
    sizes = DemoSizes(customers=20, actions=100, cards=30)
    with DemoEnvironment(folder / "env", sizes, ports=DemoPorts.free()) as running:
        yield running
