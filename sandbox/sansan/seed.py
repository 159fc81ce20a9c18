"""Deterministic business cards (名刺) for the stand-in, and run-time edits of them.

Every seed holds the cases the import must survive, at fixed positions so even a small seed has
them: several cards per person (older cards with an older title or department), cards without an
email, two persons sharing ``info@``, full-width characters in an email, entries still being
digitised (``processing``), and updates a second either side of midnight in Asia/Tokyo.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox import japanese
from sandbox.sansan.store import ADMIN_ID, USERS, SansanStore
from sandbox.sansan.wire import CARD_TEXT_FIELDS, JST, ApiError, epoch, parse_instant
from schemas import clock

DEMO_CARDS = 200
BASE = datetime(2024, 4, 1, tzinfo=JST)
SPAN_DAYS = 60
TAGS = (
    ("展示会2024", "public", ADMIN_ID),
    ("セミナー参加", "public", ADMIN_ID),
    ("重要顧客", "shared", USERS[1].id),
    ("要フォロー", "private", USERS[2].id),
    ("年賀状送付先", "private", USERS[3].id),
)
PREFECTURE = re.compile(r"^(東京都|北海道|京都府|大阪府|.{2,3}県)")
CITY = re.compile(r"^(.+?市.+?区|.+?[市区町村])")


def tag_id(index: int) -> str:
    return f"T{index + 1:031d}"


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032X}"


def katakana(hiragana: str) -> str:
    """Readings the way Sansan shows them (サトウ, not さとう)."""
    return "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in hiragana)


def full_width(text: str) -> str:
    """ASCII as full-width characters (ｓａｔｏ＠…), as an OCR'd or hand-typed card may hold it."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def address_parts(address: str) -> tuple[str, str, str]:
    """都道府県, 市区町村 and the rest of a Japanese address."""
    prefecture = PREFECTURE.match(address)
    pref = prefecture.group(1) if prefecture else ""
    rest = address[len(pref) :]
    city = CITY.match(rest)
    town = city.group(1) if city else ""
    return pref, town, rest[len(town) :]


def _card(
    rng: random.Random,
    person_id: str,
    person: japanese.Person,
    company: japanese.Company,
    company_id: str,
    email: str,
    exchanged: date,
) -> dict[str, Any]:
    registered = datetime.combine(exchanged, datetime.min.time(), JST) + timedelta(
        hours=rng.randrange(9, 72), minutes=rng.randrange(60), seconds=rng.randrange(60)
    )
    updated = registered + timedelta(seconds=rng.randrange(5 * 86400))
    prefecture, city, street = address_parts(company.address)
    return {
        "id": _hex(rng),
        "personId": person_id,
        "companyId": company_id,
        "ownerId": rng.choice(USERS).id,
        "exchangeDate": exchanged.isoformat(),
        "lastName": person.last_name,
        "firstName": person.first_name,
        "lastNameReading": katakana(person.last_name_reading),
        "firstNameReading": katakana(person.first_name_reading),
        "companyName": company.name,
        "departmentName": rng.choice(japanese.DEPARTMENTS),
        "title": rng.choice(japanese.TITLES),
        "email": email,
        "tel": company.phone,
        "mobile": japanese.mobile(rng) if rng.random() < 0.5 else "",
        "url": f"https://www.{company.domain}/",
        "countryCode": "JP",
        "postalCode": company.postcode,
        "prefecture": prefecture,
        "city": city,
        "street": street,
        "building": f"{rng.choice(('第一', 'センター', 'タワー'))}ビル{rng.randrange(2, 30)}F"
        if rng.random() < 0.6
        else "",
        "entryStatus": "completed",
        "registered_s": epoch(registered),
        "updated_s": epoch(updated),
        "completed_s": epoch(registered) + rng.randrange(60, 3600),
    }


def _processing(rng: random.Random, card: dict[str, Any]) -> dict[str, Any]:
    """An entry still being digitised: its own person, no text yet."""
    return {
        **card,
        **dict.fromkeys(CARD_TEXT_FIELDS, ""),
        "personId": _hex(rng),
        "companyId": None,
        "entryStatus": "processing",
        "completed_s": 0,
    }


def _near_midnight(rng: random.Random, card: dict[str, Any]) -> None:
    """Move the update to a second or two either side of a midnight JST after registration."""
    day = datetime.fromtimestamp(card["registered_s"], JST).date() + timedelta(days=rng.randrange(1, 4))
    midnight = datetime.combine(day, datetime.min.time(), JST)
    card["updated_s"] = epoch(midnight) + rng.randrange(-2, 3)


def generate(
    cards: int, seed: int = 0, base: datetime = BASE
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Exactly ``cards`` cards and tag links, exchanged over 60 days from ``base``; same seed, same cards."""
    rng = random.Random(seed)
    companies = [japanese.company(rng, i) for i in range(max(4, cards // 8))]
    company_ids = [_hex(rng) for _ in companies]
    out: list[dict[str, Any]] = []
    links: dict[str, list[str]] = {}
    index = shared_with = 0
    while len(out) < cards:
        person_id, person = _hex(rng), japanese.person(rng)
        which = rng.randrange(len(companies)) if index % 29 != 6 else shared_with
        company = companies[which]
        email = f"{person.romaji}{index}@{company.domain}"
        if index % 29 in (5, 6):
            shared_with, email = which, f"info@{company.domain}"
        elif index % 17 == 3:
            email = ""
        elif index % 13 == 7:
            email = "\u3000" + full_width(email)
        count = min(rng.choices((1, 2, 3), (60, 25, 15))[0], cards - len(out))
        days = sorted(rng.sample(range(SPAN_DAYS), count))
        for n, day in enumerate(days):
            exchanged = base.date() + timedelta(days=day)
            card = _card(rng, person_id, person, company, company_ids[which], email, exchanged)
            if n < count - 1 and rng.random() < 0.3:
                card["email"] = f"{person.romaji}{index}@old-{company.domain}"
            if len(out) % 23 == 11 and index % 29 not in (5, 6):
                card = _processing(rng, card)
            if len(out) % 10 == 0:
                _near_midnight(rng, card)
            if rng.random() < 0.3:
                links[card["id"]] = sorted(
                    {tag_id(rng.randrange(len(TAGS))) for _ in range(rng.randrange(1, 3))}
                )
            out.append(card)
        index += 1
    return out, links


def seed(data_dir: Path, cards: int, seed: int = 0, base: datetime = BASE) -> None:
    """Replace every card in ``<data_dir>/sansan.db`` with ``cards`` generated ones (and the tags)."""
    store = SansanStore(data_dir)
    with store.connect() as db:
        db.execute("DELETE FROM cards")
        db.execute("DELETE FROM card_tags")
    store.put_tags((tag_id(i), name, kind, owner) for i, (name, kind, owner) in enumerate(TAGS))
    generated, links = generate(cards, seed, base)
    store.put_cards(generated, links)


def _now() -> int:
    return epoch(clock.now())


def _new_card(card_id: str, now: int) -> dict[str, Any]:
    """A card registered now for a new person, owned by the admin, exchanged today."""
    return {
        "id": card_id,
        "personId": uuid.uuid4().hex.upper(),
        "ownerId": ADMIN_ID,
        "exchangeDate": datetime.fromtimestamp(now, JST).date().isoformat(),
        "entryStatus": "completed",
        "registered_s": now,
        "completed_s": 0,
    }


def apply_changes(store: SansanStore, changes: Iterable[Mapping[str, Any]]) -> list[str]:
    """Add or update cards given in wire field names; an update without ``updatedTime`` is now.

    Unknown ids are created (a new person unless ``personId`` names one); ``tagIds`` replaces tags.
    """
    cards: list[dict[str, Any]] = []
    links: dict[str, list[str]] = {}
    former: set[str] = set()
    for change in changes:
        card_id = str(change.get("id") or uuid.uuid4().hex.upper())
        existing = store.card(card_id)
        now = _now()
        card = dict(existing) if existing is not None else _new_card(card_id, now)
        card.update({k: v for k, v in change.items() if k in (*CARD_TEXT_FIELDS, "personId", "exchangeDate")})
        status = change.get("entryStatus", card["entryStatus"])
        if status not in ("processing", "completed", "unreadable"):
            raise ApiError(400, f"unknown entryStatus {status!r}", "entryStatus")
        card["entryStatus"] = status
        card["ownerId"] = (change.get("owner") or {}).get("id", card["ownerId"])
        if "registeredTime" in change:
            card["registered_s"] = parse_instant(str(change["registeredTime"]), "registeredTime", upper=True)
        card["updated_s"] = (
            parse_instant(str(change["updatedTime"]), "updatedTime", upper=True)
            if "updatedTime" in change
            else now
        )
        if status == "completed" and not card["completed_s"]:
            card["completed_s"] = card["updated_s"]
        if existing is not None and existing["personId"] != card["personId"]:
            former.add(str(existing["personId"]))
        if "tagIds" in change:
            links[card_id] = list(change["tagIds"])
        cards.append(card)
    store.put_cards(cards, links, former)
    return [card["id"] for card in cards]
