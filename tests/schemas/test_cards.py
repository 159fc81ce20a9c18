"""Table tests of the business-card selection rules (schemas/cards.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from schemas.cards import EMAIL_SHARED, EMAIL_SHARED_OLDER, DuplicateRule, select_cards
from schemas.outcomes import Status

T0 = datetime(2024, 4, 1, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Card:
    id: str
    person_id: str | None
    exchange_date: date | None
    email: str | None
    updated_time: datetime = T0
    entry_status: str = "completed"


def card(
    card_id: str,
    person: str | None,
    day: int | None,
    email: str | None,
    minutes: int = 0,
    status: str = "completed",
) -> Card:
    exchanged = None if day is None else date(2024, 4, day)
    return Card(card_id, person, exchanged, email, T0 + timedelta(minutes=minutes), status)


CASES = [
    (
        "newest exchange date wins within a person",
        [card("c1", "P1", 1, "a@x.jp"), card("c2", "P1", 3, "a@x.jp"), card("c3", "P1", 2, "a@x.jp")],
        "reject",
        {"c2": "a@x.jp"},
        {},
        {"c1", "c3"},
        set(),
    ),
    (
        "same exchange date: later update wins",
        [card("c1", "P1", 5, "a@x.jp", minutes=9), card("c2", "P1", 5, "b@x.jp", minutes=1)],
        "reject",
        {"c1": "a@x.jp"},
        {},
        {"c2"},
        set(),
    ),
    (
        "same exchange date and update: the larger id wins",
        [card("c9", "P1", 5, "a@x.jp"), card("c2", "P1", 5, "b@x.jp")],
        "reject",
        {"c9": "a@x.jp"},
        {},
        {"c2"},
        set(),
    ),
    (
        "a card without exchange date is older than any dated one",
        [card("c1", "P1", None, "a@x.jp", minutes=99), card("c2", "P1", 1, "b@x.jp")],
        "reject",
        {"c2": "b@x.jp"},
        {},
        {"c1"},
        set(),
    ),
    (
        "processing and unreadable entries wait; they never hide a completed card",
        [
            card("c1", "P1", 1, "a@x.jp"),
            card("c2", "P1", 9, "", status="processing"),
            card("c3", "P2", 2, "", status="unreadable"),
        ],
        "reject",
        {"c1": "a@x.jp"},
        {},
        set(),
        {"c2", "c3"},
    ),
    (
        "no email, blank email and a broken email are rejected with their rule",
        [card("c1", "P1", 1, None), card("c2", "P2", 1, "\u3000 "), card("c3", "P3", 1, "not-an-email")],
        "reject",
        {},
        {"P1": "email_missing", "P2": "email_missing", "P3": "email_invalid"},
        set(),
        set(),
    ),
    (
        "the newest card decides even when an older card had an email",
        [card("c1", "P1", 1, "old@x.jp"), card("c2", "P1", 2, "")],
        "reject",
        {},
        {"P1": "email_missing"},
        {"c1"},
        set(),
    ),
    (
        "full-width email is normalised",
        [card("c1", "P1", 1, "\u3000ＳＡＴＯ＠Ｅｘａｍｐｌｅ.ｃｏ.ｊｐ")],
        "reject",
        {"c1": "sato@example.co.jp"},
        {},
        set(),
        set(),
    ),
    (
        "shared email: every person rejected by default, others go on",
        [card("c1", "P1", 1, "info@x.jp"), card("c2", "P2", 3, "INFO@x.jp"), card("c3", "P3", 1, "c@x.jp")],
        "reject",
        {"c3": "c@x.jp"},
        {"P1": EMAIL_SHARED, "P2": EMAIL_SHARED},
        set(),
        set(),
    ),
    (
        "shared email with newest_exchange: the newest exchange wins, the other is reported",
        [card("c1", "P1", 1, "info@x.jp", minutes=50), card("c2", "P2", 3, "info@x.jp")],
        "newest_exchange",
        {"c2": "info@x.jp"},
        {"P1": EMAIL_SHARED_OLDER},
        set(),
        set(),
    ),
    (
        "newest_exchange with a tie on the newest date rejects everyone sharing it",
        [
            card("c1", "P1", 3, "info@x.jp"),
            card("c2", "P2", 3, "info@x.jp", minutes=5),
            card("c3", "P3", 1, "info@x.jp"),
        ],
        "newest_exchange",
        {},
        {"P1": EMAIL_SHARED, "P2": EMAIL_SHARED, "P3": EMAIL_SHARED},
        set(),
        set(),
    ),
    (
        "one person's several cards with one email are not a conflict",
        [card("c1", "P1", 1, "a@x.jp"), card("c2", "P1", 2, "a@x.jp")],
        "reject",
        {"c2": "a@x.jp"},
        {},
        {"c1"},
        set(),
    ),
    (
        "cards without a person id stand alone",
        [card("c1", None, 1, "a@x.jp"), card("c2", None, 2, "b@x.jp")],
        "reject",
        {"c1": "a@x.jp", "c2": "b@x.jp"},
        {},
        set(),
        set(),
    ),
]


@pytest.mark.parametrize(
    ("cards", "rule", "selected", "rejected", "superseded", "pending"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_card_selection(
    cards: list[Card],
    rule: DuplicateRule,
    selected: dict[str, str],
    rejected: dict[str, str],
    superseded: set[str],
    pending: set[str],
) -> None:
    result = select_cards(cards, rule)
    assert {s.card.id: s.email for s in result.selected} == selected
    assert {r.person: r.rule for r in result.rejected} == rejected
    assert {c.id for c in result.superseded} == superseded
    assert {c.id for c in result.pending} == pending
    assert result.card_count == len(cards)
    assert all(r.field == "email" for r in result.rejected)


def test_shared_email_rejections_name_every_record_involved() -> None:
    cards = [card("c1", "P1", 1, "info@x.jp"), card("c2", "P2", 2, "info@x.jp")]
    result = select_cards(cards)
    assert [r.person for r in result.rejected] == ["P1", "P2"]
    for rejection in result.rejected:
        assert {c.id for c in rejection.involved} == {"c1", "c2"}
        assert "info@x.jp" in rejection.message
        assert "person P1" in rejection.message and "person P2" in rejection.message


def test_newest_exchange_report_names_the_winner() -> None:
    result = select_cards(
        [card("c1", "P1", 1, "info@x.jp"), card("c2", "P2", 2, "info@x.jp")], "newest_exchange"
    )
    (rejection,) = result.rejected
    assert rejection.card.id == "c1"
    assert {c.id for c in rejection.involved} == {"c1", "c2"}
    assert "person P2" in rejection.message and "newest_exchange" in rejection.message


def test_rejections_become_rejected_row_outcomes_keyed_by_person() -> None:
    result = select_cards([card("c1", "P1", 1, None)])
    (outcome,) = result.outcomes()
    assert outcome.status is Status.REJECTED
    assert (outcome.key, outcome.code, outcome.field) == ("P1", "email_missing", "email")
    assert outcome.message is not None and "c1" in outcome.message


OTHERS_CASES = [
    (
        "an email shared with an unchanged person is rejected",
        [card("c1", "P1", 1, "info@x.jp")],
        [card("o1", "P2", 2, "info@x.jp")],
        "reject",
        set(),
        {"P1": EMAIL_SHARED},
    ),
    (
        "newest_exchange: the window's person wins over an older one outside",
        [card("c1", "P1", 5, "info@x.jp")],
        [card("o1", "P2", 2, "info@x.jp")],
        "newest_exchange",
        {"c1"},
        {},
    ),
    (
        "newest_exchange: an outside winner makes the window's person older",
        [card("c1", "P1", 1, "info@x.jp")],
        [card("o1", "P2", 2, "info@x.jp")],
        "newest_exchange",
        set(),
        {"P1": EMAIL_SHARED_OLDER},
    ),
    (
        "the window's own card of a person beats that person's card in others",
        [card("c1", "P1", 1, "new@x.jp")],
        [card("o1", "P1", 9, "old@x.jp"), card("o2", "P2", 1, None)],
        "reject",
        {"c1"},
        {},
    ),
    (
        "outside persons sharing an email among themselves are not this run's concern",
        [card("c1", "P1", 1, "a@x.jp")],
        [card("o1", "P2", 1, "info@x.jp"), card("o2", "P3", 1, "info@x.jp")],
        "reject",
        {"c1"},
        {},
    ),
]


@pytest.mark.parametrize(
    ("name", "cards", "others", "rule", "selected", "rejected"),
    OTHERS_CASES,
    ids=[c[0] for c in OTHERS_CASES],
)
def test_others_count_for_email_uniqueness_only(
    name: str,
    cards: list[Card],
    others: list[Card],
    rule: DuplicateRule,
    selected: set[str],
    rejected: dict[str, str],
) -> None:
    result = select_cards(cards, rule, others)
    assert {s.card.id for s in result.selected} == selected
    assert {r.person: r.rule for r in result.rejected} == rejected
    assert result.card_count == len(cards)
