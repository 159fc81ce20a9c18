"""Cut arithmetic of the SATORI stand-in: 02:00 and 11:00 Asia/Tokyo, half-open windows."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from sandbox.satori.clock import (
    cut_after,
    cut_id,
    cut_micros_for,
    cuts_between,
    from_micros,
    parse_cut_id,
    previous_cut,
    to_micros,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("recorded", "cut"),
    [
        ("2026-11-27T01:59:59.999999+09:00", "20261127T0200+0900"),
        ("2026-11-27T02:00:00+09:00", "20261127T1100+0900"),
        ("2026-11-27T10:59:00+09:00", "20261127T1100+0900"),
        ("2026-11-27T11:00:00+09:00", "20261128T0200+0900"),
        ("2026-11-27T23:30:00+09:00", "20261128T0200+0900"),
        ("2026-11-27T16:59:00+00:00", "20261128T0200+0900"),
        ("2026-12-31T12:00:00+09:00", "20270101T0200+0900"),
    ],
)
def test_an_action_belongs_to_the_first_cut_after_it_was_recorded(recorded: str, cut: str) -> None:
    assert cut_id(cut_after(at(recorded))) == cut
    assert cut_id(from_micros(cut_micros_for(to_micros(at(recorded))))) == cut


def test_fast_cut_arithmetic_matches_the_calendar_version() -> None:
    rng = random.Random(5)
    for _ in range(5_000):
        micros = rng.randrange(1_700_000_000_000_000, 1_900_000_000_000_000)
        micros -= micros % 3_600_000_000 if rng.random() < 0.3 else 0
        assert cut_micros_for(micros) == to_micros(cut_after(from_micros(micros)))


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("20261128T0200+0900", True),
        ("20261128T1100+0900", True),
        ("20261128T0300+0900", False),
        ("20261128T0200+0000", False),
        ("20261128T200+0900", False),
        ("2026-11-28", False),
        ("20261332T0200+0900", False),
    ],
)
def test_cut_ids(text: str, valid: bool) -> None:
    parsed = parse_cut_id(text)
    assert (parsed is not None) == valid
    if parsed is not None:
        assert cut_id(parsed) == text


def test_cuts_between_and_previous() -> None:
    cuts = cuts_between(at("2026-11-27T02:00+09:00"), at("2026-11-28T10:59+09:00"))
    assert [cut_id(c) for c in cuts] == ["20261127T0200+0900", "20261127T1100+0900", "20261128T0200+0900"]
    assert cut_id(previous_cut(cuts[0])) == "20261126T1100+0900"
    assert cut_id(previous_cut(cuts[1])) == "20261127T0200+0900"
