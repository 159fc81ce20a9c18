"""Sansan as a source (名刺 → MA, one way only): the cards updated in a window become MA customers.

Each run reads the completed cards updated in [since, now] — newest card per person, as the Open API
gives them with ``includePastBizCards=false`` — and applies ``schemas.cards.select_cards`` with the
spec's ``duplicates`` rule. The people selected go to the generic write-back (keyed by their
normalised email); every person refused (no email, an email shared with another person …) is a
rejection the run reports and quarantines. A blank on a card never erases what the MA holds: a card
only shows what was printed on it.

An email must be unique among all persons, not only among those changed: after reading the window,
the holders of its emails are looked up (one search per email, or one read of every newest card
when there are more than ``SEARCH_LIMIT``), and ``select_cards`` rejects a window's person who shares
an email with anyone. Sansan's email search is exact, so the state DB also remembers who was last
seen holding each normalised address: a holder the search missed (``ＪＩＲＯ＠…`` on their card) is
read again and counted too.

Sansan requires both ends of the window. A first run (no watermark) imports the cards updated in
the ``first_window`` (90 days by default) before now; widen it for an initial backfill. It reads
every newest card once (the minimum ceil(N/300) requests) and uses the whole set for the uniqueness
check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.sansan import SansanClient
from schemas import clock
from schemas.audit import AuditReport, email_findings
from schemas.cards import CARD_PERSON, CARD_PREFIX, SelectedCard, newest_per_person, person_key, select_cards
from schemas.catalog import FieldType, lookup_field
from schemas.email import normalise_email
from schemas.mapping import TargetRecord, field_map
from schemas.outcomes import RowOutcome
from schemas.sansan_card import BizCard, read_card, read_cards
from schemas.spec import Spec
from schemas.targets import SansanSettings
from tasks.clients import resolve_secret, state_store

FIRST_WINDOW = timedelta(days=90)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
SEARCH_LIMIT = 100
DEFAULT_VERSION = "v3.2"
BATCH_RECORDS = 1_000
HOLDERS = "email_holders"  # links stream: normalised email → the person last seen holding it
TAGS = "tags"
ADDRESS = "address"
TAG_SEPARATOR = "、"
log = logging.getLogger(__name__)


def card_fields() -> frozenset[str]:
    """Every Sansan field a spec may map: the card's own (wire names), ``address`` and ``tags``."""
    own = {
        field.alias or name
        for name, field in BizCard.model_fields.items()
        if name not in ("owner", "tags", "is_latest")
    }
    return frozenset({*own, ADDRESS, TAGS})


def japanese_address(card: BizCard) -> str | None:
    """都道府県 + 市区町村 + 番地, then the building after a space, as one address line."""
    line = "".join(part for part in (card.prefecture, card.city, card.street) if part)
    full = " ".join(part for part in (line, card.building) if part)
    return full or None


def card_values(
    selected: SelectedCard[BizCard], email_field: str, fields: frozenset[str], tags_as_list: bool
) -> dict[str, Any]:
    """The mapped fields of a person's card, by Sansan field name; blanks are left out."""
    card = selected.card
    wire = card.model_dump(by_alias=True, exclude={"owner", "tags", "is_latest"})
    wire[ADDRESS] = japanese_address(card)
    names = [tag.name for tag in card.tags]
    wire[TAGS] = names if tags_as_list else TAG_SEPARATOR.join(names)
    wire[email_field] = selected.email
    return {name: wire[name] for name in fields if wire.get(name) not in (None, "", [])}


class SansanSource:
    """A ``tasks.load.ChangeSource`` over the Sansan Open API: it reads, it is never written to."""

    def __init__(
        self,
        spec: Spec,
        target: SansanSettings,
        *,
        first_window: timedelta = FIRST_WINDOW,
        clock: Callable[[], datetime] = clock.now,
        rate_per_second: float = 8.0,
    ):
        fmap = field_map(spec, target)
        unknown = sorted(set(fmap.target_fields()) - card_fields())
        if unknown:
            raise ValueError(
                f"target {target.name}: map names {', '.join(unknown)}, which Sansan cards do not have;"
                f" use one of {', '.join(sorted(card_fields()))}"
            )
        self.name = target.name
        self.duplicates = target.duplicates
        self.first_window = first_window
        self.email_field = fmap.key_target
        self.fields = frozenset(fmap.target_fields())
        tags_to = [link.ma for link in fmap.links if link.target == TAGS]
        found = lookup_field(tags_to[0], spec.custom_specs()) if tags_to else None
        self.tags_as_list = found is not None and found.type is FieldType.MULTI_SELECT
        self._clock = clock
        self.state = state_store(spec)
        self._rejections: list[RowOutcome] = []
        self.cards_read = 0
        self.read_seconds = 0.0
        self.window: tuple[datetime, datetime] | None = None
        self.client = SansanClient(
            target.url,
            resolve_secret(target.auth.api_key) or "",
            version=target.api_version or DEFAULT_VERSION,
            rate_per_second=rate_per_second,
        )

    def changed_records(self, since: datetime | None) -> Iterator[list[TargetRecord]]:
        """The selected people of the cards updated in [since, now], in batches."""
        began = time.perf_counter()
        until = self._clock()
        start = since if since is not None else until - self.first_window
        self.window = (start, until)
        if since is None:
            log.info("%s: first run, importing cards updated since %s", self.name, start.isoformat())
            everyone = self._newest_cards(EARLIEST, until)
            cards = [card for card in everyone if card.updated_time >= start]
            others = everyone
        else:
            cards = self._newest_cards(start, until)
            others = self._holders_of(cards, until)
            others += self._remembered_holders(cards, others)
        self._remember_holders([*others, *cards])
        self.cards_read = len(cards)
        self.read_seconds = time.perf_counter() - began
        selection = select_cards(cards, self.duplicates, others)
        self._rejections = [
            rejection.outcome().showing(
                {"id": rejection.card.id}
                | card_values(
                    SelectedCard(rejection.card.email or "", rejection.card),
                    self.email_field,
                    self.fields | set(CARD_PERSON.values()),  # whose card it is, mapped or not
                    self.tags_as_list,
                )
            )
            for rejection in selection.rejected
        ]
        records = [
            TargetRecord(
                person_key(chosen.card),
                chosen.card.updated_time,
                card_values(chosen, self.email_field, self.fields, self.tags_as_list),
            )
            for chosen in selection.selected
        ]
        for at in range(0, len(records), BATCH_RECORDS):
            yield records[at : at + BATCH_RECORDS]

    def _newest_cards(self, start: datetime, until: datetime) -> list[BizCard]:
        """Each person's newest completed card among those updated in [start, until]."""
        pages = self.client.iter_cards(
            start, until, entry_status="completed", include_past=False, include_tags=TAGS in self.fields
        )
        return read_cards(pages)

    def _holders_of(self, cards: list[BizCard], until: datetime) -> list[BizCard]:
        """Newest cards of anyone holding the same emails: one search per email, or one full read."""
        emails = sorted({e for card in cards if (e := normalise_email(card.email).value)})
        if len(emails) > SEARCH_LIMIT:
            return self._newest_cards(EARLIEST, until)
        return [card for email in emails for card in read_cards(self.client.search_cards(email=email))]

    def _remembered_holders(self, cards: list[BizCard], found: list[BizCard]) -> list[BizCard]:
        """Newest cards of people renkei saw holding a window's email that the search did not return.

        Sansan's email search is exact, so a card that holds the same address in another form
        (full-width, a stray space) escapes it; the state DB remembers, per normalised address, the
        person last seen holding it. That person's newest card is read again (one request), so the
        uniqueness rule sees it as it is now.
        """
        seen = {person_key(card) for card in [*cards, *found]}
        emails = {e for card in cards if (e := normalise_email(card.email).value)}
        links = self.state.link_hashes(self.name, HOLDERS, emails).values()
        holders = {person for person, _ in links if person}
        return [card for person in sorted(holders - seen) if (card := self._newest_of(person))]

    def _newest_of(self, person: str) -> BizCard | None:
        if person.startswith(CARD_PREFIX):
            return read_card(self.client.get_card(person.removeprefix(CARD_PREFIX), include_tags=False))
        return read_card(self.client.get_person(person))

    def _remember_holders(self, cards: list[BizCard]) -> None:
        """Who holds each normalised address now, by their newest completed card (later cards win)."""
        heads, _ = newest_per_person(c for c in cards if c.entry_status == "completed")
        held = {e: person_key(card) for card in heads if (e := normalise_email(card.email).value)}
        self.state.save_links(self.name, HOLDERS, [(email, person, "") for email, person in held.items()])

    def audit(self) -> AuditReport:
        """Every person's newest completed card: emails held by several people, unusable emails."""
        everyone = self._newest_cards(EARLIEST, self._clock())
        scanned, duplicates, bad = email_findings((person_key(card), card.email) for card in everyone)
        return AuditReport(self.name, "sansan", scanned, duplicates, bad)

    def read_rejections(self) -> list[RowOutcome]:
        """The people of the last read that ``select_cards`` refused (no email, shared email …)."""
        return list(self._rejections)

    def close(self) -> None:
        self.client.close()
        self.state.close()
