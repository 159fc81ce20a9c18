"""Reliability tests share the session's Prefect test harness (tests/conftest.py) and a small demo world."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest

from sandbox.demo_env import DemoEnvironment, DemoSizes
from tasks.extract import StagedCut
from tests.flows.conftest import demo_world


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoEnvironment]:
    """Every stand-in of `renkei demo` with a little data (rejected Sansan cards among it), per module."""
    with demo_world(
        tmp_path_factory, "small-demo", DemoSizes(customers=20, actions=100, cards=30)
    ) as running:
        yield running


def stage_range(spec_path: str, start: datetime, end: datetime) -> list[StagedCut]:
    """Stage every cut in [start, end] as a backfill does, and return what was staged (files, counts)."""
    from flows.extract import stage_cuts
    from schemas.validate import load_spec
    from tasks.clients import ma_client
    from tasks.extract import cuts_between

    spec = load_spec(spec_path)
    with ma_client(spec) as ma:
        cuts = cuts_between(ma, start, end)
    return stage_cuts(spec, cuts, f"backfill-{uuid.uuid4().hex}")
