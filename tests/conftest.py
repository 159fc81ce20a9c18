"""Shared test setup: no telemetry leaves the machine, ever."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"

import pytest

QUICK = ("schemas", "connectors", "test_layers.py")  # `make check`: the pure domain, connectors, layers


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything outside QUICK starts servers, workers, browsers, crashes or soaks: marked ``slow``."""
    for item in items:
        first = item.path.relative_to(Path(__file__).parent).parts[0]
        if first not in QUICK:
            item.add_marker(pytest.mark.slow)
