"""Deterministic Japanese B2B sample data for the SATORI stand-in, bulk-inserted for scale.

The same arguments always give the same rows. Edge cases are seeded on purpose: full-width and
upper-case raw emails (stored normalised), ideographic spaces in names, long values, empty
optional fields, and actions recorded hours after they occurred (so they fall into a later cut).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text

from sandbox import japanese
from sandbox.satori import db
from sandbox.satori.clock import cut_micros_for, to_micros
from sandbox.satori.seed_data import (
    COLLECTION_ROUTES,
    CUSTOM_FIELDS,
    EMAIL_EVENTS,
    EMPLOYEE_BANDS,
    PAGES,
    SALES_STAGES,
    STATUSES,
    master_rows,
)
from sandbox.satori.store import define_custom_field
from schemas import clock
from schemas.email import normalise_email

CHUNK = 20_000
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
ACTION_MIX = (
    ("email", 0.6),
    ("form", 0.1),
    ("campaign", 0.05),
    ("tag", 0.1),
    ("segment_added", 0.1),
    ("segment_removed", 0.05),
)
MASTER_OF = {"segment_added": "segment", "segment_removed": "segment"}
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class SeedSummary:
    company: str
    customers: int
    actions: int
    seconds: dict[str, float]


def hashcode_for(company: str, seed: int, pk: int) -> str:
    return hashlib.blake2b(f"{company}:{seed}:{pk}".encode(), digest_size=16).hexdigest()


def _raw_email(rng: random.Random, romaji: str, pk: int, domain: str) -> str:
    """The address as someone typed it: now and then upper-case or full-width, stored normalised."""
    plain = f"{romaji}.{pk}@{domain}"
    roll = pk % 97
    if roll == 1:
        raw = plain.upper()
    elif roll == 2:
        raw = "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in plain)
    elif roll == 3:
        raw = f"\u3000{plain} "
    else:
        return plain
    value = normalise_email(raw).value
    assert value == plain, raw
    return value


def _customer(
    rng: random.Random, pk: int, company: japanese.Company, start: int, span: int
) -> dict[str, Any]:
    person = japanese.person(rng)
    created = start + int(rng.random() * span)
    sparse = pk % 7 == 0
    last_name, first_name = person.last_name, person.first_name
    if pk % 101 == 0:
        # one 氏名 typed into the surname field with an ideographic space, given name left empty
        last_name, first_name = f"{person.last_name}\u3000{person.first_name}", ""
    return {
        "pk": pk,
        "email": _raw_email(rng, person.romaji, pk, company.domain),
        "last_name": last_name,
        "first_name": first_name or None,
        "last_name_reading": person.last_name_reading,
        "first_name_reading": person.first_name_reading,
        "lead_company_name": company.name,
        "department": None if sparse else rng.choice(japanese.DEPARTMENTS),
        "title": None if sparse else rng.choice(japanese.TITLES),
        "phone_number": None if sparse else company.phone,
        "mobile_phone_number": japanese.mobile(rng) if pk % 3 == 0 else None,
        "postcode": company.postcode,
        "address": company.address + ("　" + "ビル" * 200 if pk % 503 == 0 else ""),
        "url": f"https://www.{company.domain}/",
        "collection_route": rng.choice(COLLECTION_ROUTES),
        "collection_date": datetime.fromtimestamp(created / 1e6, UTC).date().isoformat(),
        "memo": ("長いメモ。" * 1_000) if pk % 499 == 0 else None,
        "star": pk % 11 == 0,
        "status": rng.choice(STATUSES),
        "score": int(rng.random() * 300),
        "delivery_permission": "reject" if pk % 23 == 0 else "approval",
        "delivery_status": "アドレス不正" if pk % 211 == 0 else "正常",
        "mail_status": None,
        "created_at": created,
        "updated_at": created + int(rng.random() * 30 * DAY_US),
        "custom": {
            "customer_code": f"C{pk:09d}",
            "sales_stage": rng.choice(SALES_STAGES),
            "industry": company.industry,
            "employees": rng.choice(EMPLOYEE_BANDS),
            **(
                {}
                if sparse
                else {"first_contact": datetime.fromtimestamp(created / 1e6, UTC).date().isoformat()}
            ),
        },
    }


def _customer_chunks(
    rng: random.Random, first_pk: int, count: int, start: int, span: int
) -> Iterator[list[dict[str, Any]]]:
    companies = [japanese.company(rng, i) for i in range(max(1, count // 4))]
    for offset in range(0, count, CHUNK):
        yield [
            _customer(rng, pk, companies[int(rng.random() * len(companies))], start, span)
            for pk in range(first_pk + offset, first_pk + min(count, offset + CHUNK))
        ]


def _action_chunks(
    rng: random.Random,
    company: str,
    pks: tuple[int, int],
    masters: dict[str, list[str]],
    count: int,
    window: tuple[int, int],
    recent: float,
) -> Iterator[list[dict[str, Any]]]:
    start, span = window
    kinds = [kind for kind, share in ACTION_MIX for _ in range(int(share * 100))]
    low, high = pks
    for offset in range(0, count, CHUNK):
        chunk = []
        for _ in range(min(CHUNK, count - offset)):
            kind = kinds[int(rng.random() * len(kinds))]
            ids = masters[MASTER_OF.get(kind, kind)]
            occurred = start + int(rng.random() * span)
            if recent and rng.random() < recent:  # no extra draw without it: old seeds keep their data
                occurred = start + span - int(rng.random() * DAY_US)
            late = rng.random() < 0.03
            recorded = occurred + (
                int(rng.random() * 20 * HOUR_US) if late else int(rng.random() * 120_000_000)
            )
            event = EMAIL_EVENTS[int(rng.random() * len(EMAIL_EVENTS))] if kind == "email" else _EVENTS[kind]
            chunk.append(
                {
                    "company_id": company,
                    "kind": kind,
                    "customer_pk": low + int(rng.random() * (high - low + 1)),
                    "master_id": ids[int(rng.random() * len(ids))],
                    "event_type": event,
                    "occurred_at": occurred,
                    "recorded_at": recorded,
                    "cut_at": cut_micros_for(recorded),
                    "url": PAGES[int(rng.random() * len(PAGES))]
                    if event == "clicked" or kind == "form"
                    else None,
                }
            )
        yield chunk


_EVENTS = {
    "form": "submitted",
    "campaign": "goal_reached",
    "tag": "added",
    "segment_added": "added",
    "segment_removed": "removed",
}


def _reset_company(conn: Connection, company: str, token: str) -> None:
    pks = select(db.customers.c.pk).where(db.customers.c.company_id == company)
    conn.execute(delete(db.memberships).where(db.memberships.c.customer_pk.in_(pks)))
    for table in (db.unique_values, db.customers, db.actions, db.masters, db.custom_fields):
        conn.execute(delete(table).where(table.c.company_id == company))
    conn.execute(delete(db.companies).where(db.companies.c.id == company))
    conn.execute(insert(db.companies).values(id=company, token=token, name=company))


def seed(
    data_dir: Path,
    customers: int,
    actions: int,
    seed: int = 0,
    company: str = "demo",
    token: str = "demo-token",
    database_url: str | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    recent: float = 0.0,
) -> SeedSummary:
    """Replace ``company``'s data with ``customers`` customers and ``actions`` action events.

    Customers were created over the 18 months before ``now`` (default: the clock's now); actions
    occurred over the last 6 months, a ``recent`` share of them in the last day (so the cuts a
    trial stages first hold every kind). ``progress`` is called with (stage, rows done) after each chunk.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(database_url or db.database_url_for(data_dir))
    end = to_micros(now or clock.now())
    rng = random.Random(seed)
    seconds: dict[str, float] = {}
    report = progress or (lambda _stage, _done: None)
    with engine.connect() as conn:
        _fast_bulk(engine, conn)
        masters = _reference_data(conn, company, token, end - 540 * DAY_US)
        first_pk = (conn.execute(select(func.max(db.customers.c.pk))).scalar() or 0) + 1
        conn.commit()
        started, done = time.perf_counter(), 0
        for chunk in _customer_chunks(rng, first_pk, customers, end - 540 * DAY_US, 360 * DAY_US):
            _insert_customers(conn, company, seed, chunk, masters, rng)
            conn.commit()
            done += len(chunk)
            report("customers", done)
        seconds["customers"] = time.perf_counter() - started
        started, done = time.perf_counter(), 0
        pks = (first_pk, first_pk + customers - 1)
        for action_chunk in _action_chunks(
            rng,
            company,
            pks,
            masters,
            actions if customers else 0,
            (end - 180 * DAY_US, 180 * DAY_US),
            recent,
        ):
            conn.execute(insert(db.actions), action_chunk)
            conn.commit()
            done += len(action_chunk)
            report("actions", done)
        seconds["actions"] = time.perf_counter() - started
        started = time.perf_counter()
        _restore_indexes(engine, conn)
        conn.commit()
        seconds["indexes"] = time.perf_counter() - started
    engine.dispose()
    return SeedSummary(company, customers, done, seconds)


def _reference_data(conn: Connection, company: str, token: str, created: int) -> dict[str, list[str]]:
    """The company row, its custom fields and masters; returns master ids by kind."""
    _reset_company(conn, company, token)
    for spec in CUSTOM_FIELDS:
        define_custom_field(conn, company, spec)
    masters: dict[str, list[str]] = {}
    for kind, master_id, name in master_rows():
        masters.setdefault(kind, []).append(master_id)
        conn.execute(
            insert(db.masters).values(
                company_id=company,
                kind=kind,
                id=master_id,
                name=name,
                description=f"{name}（サンプル）",
                created_at=created,
                updated_at=created,
            )
        )
    return masters


def _insert_customers(
    conn: Connection,
    company: str,
    seed: int,
    chunk: list[dict[str, Any]],
    masters: dict[str, list[str]],
    rng: random.Random,
) -> None:
    for row in chunk:
        row["company_id"] = company
        row["hashcode"] = hashcode_for(company, seed, row["pk"])
    conn.execute(insert(db.customers), chunk)
    conn.execute(
        insert(db.unique_values),
        [
            {
                "company_id": company,
                "identifier": "customer_code",
                "value": r["custom"]["customer_code"],
                "customer_pk": r["pk"],
            }
            for r in chunk
        ],
    )
    members = []
    for row in chunk:
        for kind, limit in (("tag", 3), ("segment", 2)):
            for master_id in rng.sample(masters[kind], int(rng.random() * (limit + 1))):
                members.append({"customer_pk": row["pk"], "kind": kind, "master_id": master_id})
    if members:
        conn.execute(insert(db.memberships), members)


def _fast_bulk(engine: Engine, conn: Connection) -> None:
    """SQLite: no fsync during the seed, a large page cache, and the action index built afterwards."""
    if engine.dialect.name != "sqlite":
        return
    conn.execute(text("PRAGMA synchronous=OFF"))
    conn.execute(text("PRAGMA cache_size=-1000000"))
    conn.execute(text("PRAGMA temp_store=MEMORY"))
    if conn.execute(select(db.actions.c.event_id).limit(1)).first() is None:
        for index in db.actions.indexes:
            index.drop(conn, checkfirst=True)


def _restore_indexes(engine: Engine, conn: Connection) -> None:
    """Rebuild what the bulk load skipped; PostgreSQL's id sequence learns of the explicit ids."""
    for index in db.actions.indexes:
        index.create(conn, checkfirst=True)
    if engine.dialect.name == "sqlite":
        conn.execute(text("ANALYZE"))
    elif engine.dialect.name == "postgresql":
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence('customers', 'pk'), (SELECT max(pk) FROM customers))")
        )
