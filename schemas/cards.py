"""Which business cards (名刺) become MA customers: pure rules, no I/O.

From cards read from Sansan: entries still being digitised wait for a later run; each person is
represented by their newest card (exchange date, then updated time, then id); that card needs a
usable email (the MA keys customers on it); and an email held by several persons is never matched
silently — by default every person sharing it is rejected, or with ``newest_exchange`` the person
with the newest exchange date wins and the others are reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Generic, Literal, Protocol, TypeVar

from schemas.email import group_by_email
from schemas.outcomes import RowOutcome

DuplicateRule = Literal["reject", "newest_exchange"]
EMAIL_SHARED = "email_shared"
# the MA field → the card field that says whose a card is (shown with a refused card, mapped or not)
CARD_PERSON = {"last_name": "lastName", "first_name": "firstName", "lead_company_name": "companyName"}
EMAIL_SHARED_OLDER = "email_shared_older"


class CardRecord(Protocol):
    """The fields of a card these rules read (schemas.sansan_card.BizCard has them)."""

    @property
    def id(self) -> str: ...
    @property
    def person_id(self) -> str | None: ...
    @property
    def exchange_date(self) -> date | None: ...
    @property
    def updated_time(self) -> datetime: ...
    @property
    def entry_status(self) -> str: ...
    @property
    def email(self) -> str | None: ...


C = TypeVar("C", bound=CardRecord)


CARD_PREFIX = "card:"


def person_key(card: CardRecord) -> str:
    """The person a card belongs to; a card not yet merged into a person stands alone."""
    return card.person_id or f"{CARD_PREFIX}{card.id}"


def recency(card: CardRecord) -> tuple[date, datetime, str]:
    """Newer cards sort higher: exchange date, then updated time, then id."""
    return card.exchange_date or date.min, card.updated_time, card.id


@dataclass(frozen=True)
class SelectedCard(Generic[C]):
    """A person's newest card and its normalised email: ready to map into the MA."""

    email: str
    card: C


@dataclass(frozen=True)
class CardRejection(Generic[C]):
    """A person not imported: their newest card, the rule broken, the field, every card involved."""

    card: C
    rule: str
    field: str
    message: str
    involved: tuple[C, ...]

    @property
    def person(self) -> str:
        return person_key(self.card)

    def outcome(self) -> RowOutcome:
        return RowOutcome.rejected(self.person, self.rule, self.message, self.field)


@dataclass
class CardSelection(Generic[C]):
    """Every card read ends in exactly one place: selected, rejected, superseded or pending."""

    selected: list[SelectedCard[C]] = field(default_factory=list)
    rejected: list[CardRejection[C]] = field(default_factory=list)
    superseded: list[C] = field(default_factory=list)  # older cards of a person
    pending: list[C] = field(default_factory=list)  # not yet completed: read again once they are

    def outcomes(self) -> list[RowOutcome]:
        return [rejection.outcome() for rejection in self.rejected]

    @property
    def card_count(self) -> int:
        """Cards accounted for: always the number of cards given to ``select_cards``."""
        return len(self.selected) + len(self.rejected) + len(self.superseded) + len(self.pending)


def newest_per_person(cards: Iterable[C]) -> tuple[list[C], list[C]]:
    """Each person's newest card (in first-seen person order) and every older card."""
    best: dict[str, C] = {}
    older: list[C] = []
    for card in cards:
        key = person_key(card)
        current = best.get(key)
        if current is None:
            best[key] = card
        elif recency(card) > recency(current):
            older.append(current)
            best[key] = card
        else:
            older.append(card)
    return list(best.values()), older


def _describe(cards: Iterable[CardRecord]) -> str:
    return ", ".join(
        f"person {person_key(c)} (card {c.id}, exchanged {c.exchange_date or 'unknown'})" for c in cards
    )


def _shared(email: str, cards: tuple[C, ...], rule: DuplicateRule) -> tuple[C | None, list[CardRejection[C]]]:
    """The winner (if the rule names one) and a rejection per person sharing ``email``."""
    if rule == "newest_exchange":
        newest = max(c.exchange_date or date.min for c in cards)
        leaders = [c for c in cards if (c.exchange_date or date.min) == newest]
        if len(leaders) == 1:
            winner = leaders[0]
            return winner, [
                CardRejection(
                    c,
                    EMAIL_SHARED_OLDER,
                    "email",
                    f"{email} is shared with {_describe([winner])}, whose card was exchanged later"
                    " (rule newest_exchange)",
                    (c, winner),
                )
                for c in cards
                if c is not winner
            ]
    tie = " with the same newest exchange date" if rule == "newest_exchange" else ""
    message = f"{email} is shared by {len(cards)} persons{tie}: {_describe(cards)}"
    return None, [CardRejection(c, EMAIL_SHARED, "email", message, cards) for c in cards]


def select_cards(
    cards: Iterable[C], duplicates: DuplicateRule = "reject", others: Iterable[C] = ()
) -> CardSelection[C]:
    """Apply the card rules in order: completed only, newest per person, usable email, unique email.

    ``others`` are cards of persons outside the window read (their newest cards): they count only
    for email uniqueness, so an email shared with a person who did not change is still caught; those
    persons are neither selected nor rejected here.
    """
    selection: CardSelection[C] = CardSelection()
    completed: list[C] = []
    for card in cards:
        (completed if card.entry_status == "completed" else selection.pending).append(card)
    heads, selection.superseded = newest_per_person(completed)
    inside = {person_key(card) for card in heads}
    outside, _ = newest_per_person(
        c for c in others if c.entry_status == "completed" and person_key(c) not in inside
    )
    grouping = group_by_email([*heads, *outside], lambda c: c.email)
    for card, problem in grouping.invalid:
        if person_key(card) in inside:
            message = f"card {card.id}: {problem.message}; the MA needs an email to hold a customer"
            selection.rejected.append(CardRejection(card, problem.rule, "email", message, (card,)))
    selection.selected.extend(
        SelectedCard(email, card) for email, card in grouping.unique if person_key(card) in inside
    )
    for conflict in grouping.conflicts:
        if not any(person_key(c) in inside for c in conflict.rows):
            continue
        winner, rejections = _shared(conflict.email, conflict.rows, duplicates)
        if winner is not None and person_key(winner) in inside:
            selection.selected.append(SelectedCard(conflict.email, winner))
        selection.rejected.extend(r for r in rejections if r.person in inside)
    return selection
