"""connectors.parallel.spread: every part's result once, parts started only as results are taken."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from connectors.parallel import spread


def parts(n: int, started: list[int], gate: threading.Event | None = None) -> list[Callable[[], int]]:
    def part(i: int) -> Callable[[], int]:
        def run() -> int:
            started.append(i)
            if gate is not None:
                gate.wait(5)
            return i

        return run

    return [part(i) for i in range(n)]


def test_every_part_once() -> None:
    started: list[int] = []
    assert sorted(spread(parts(25, started), 4)) == list(range(25))
    assert sorted(started) == list(range(25))


def test_a_consumer_that_stops_early_leaves_the_rest_unstarted() -> None:
    started: list[int] = []
    results = spread(parts(100, started), 3)
    first = next(results)
    results.close()
    assert first in range(3) and len(started) <= 4  # the first three, then one more for the one taken


def test_a_part_that_raises_raises_in_the_consumer() -> None:
    def broken() -> int:
        raise ValueError("range refused")

    with pytest.raises(ValueError, match="range refused"):
        list(spread([lambda: 1, broken, lambda: 3], 2))
