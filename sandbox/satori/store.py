"""Reads of the stand-in's store: companies, custom field definitions, customers as wire JSON."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select

from sandbox.satori import db
from sandbox.satori.clock import Clock, iso_tokyo, to_micros
from sandbox.satori.cutfiles import CutFiles
from schemas.catalog import DEFAULT_FIELD_NAMES, CustomFieldSpec, FieldType

COLUMN_FIELDS = tuple(c.name for c in db.customers.columns if c.name in DEFAULT_FIELD_NAMES)


class Store:
    """The engine, the service clock and one write lock (writes are serialised, as in SQLite)."""

    def __init__(self, engine: Engine, cut_files: CutFiles, clock: Clock | None = None):
        self.engine = engine
        self.cut_files = cut_files
        self.clock = clock or Clock()
        self.write_lock = threading.Lock()

    def now_micros(self) -> int:
        return to_micros(self.clock.now())

    def ensure_company(self, company_id: str, token: str, name: str | None = None) -> None:
        """Create the company, or give an existing one this token."""
        with self.engine.begin() as conn:
            found = conn.execute(select(db.companies.c.id).where(db.companies.c.id == company_id)).first()
            if found is None:
                conn.execute(insert(db.companies).values(id=company_id, token=token, name=name or company_id))
            else:
                conn.execute(db.companies.update().where(db.companies.c.id == company_id).values(token=token))

    def company_for_token(self, token: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(db.companies.c.id).where(db.companies.c.token == token)).scalar()

    def ensure_public_key(self, company_id: str, company_secret: str) -> None:
        """Give the company this public API v4 ``company_secret`` (the company must exist)."""
        keys = db.public_keys
        with self.engine.begin() as conn:
            conn.execute(keys.delete().where(keys.c.company_id == company_id))
            conn.execute(insert(keys).values(company_id=company_id, company_secret=company_secret))

    def company_for_public_key(self, company_secret: str) -> str | None:
        keys = db.public_keys
        with self.engine.connect() as conn:
            return conn.execute(
                select(keys.c.company_id).where(keys.c.company_secret == company_secret)
            ).scalar()

    def define_custom_field(self, company_id: str, spec: CustomFieldSpec) -> None:
        with self.engine.begin() as conn:
            define_custom_field(conn, company_id, spec)

    def custom_specs(self, conn: Connection, company_id: str) -> dict[str, CustomFieldSpec]:
        """The company's custom fields (カスタマーカスタム項目) in declaration order."""
        cf = db.custom_fields.c
        rows = conn.execute(
            select(db.custom_fields).where(cf.company_id == company_id).order_by(cf.position, cf.identifier)
        )
        return {
            r.identifier: CustomFieldSpec(
                r.identifier, FieldType(r.type), r.unique, r.label, tuple(r.options or ()), r.max_length
            )
            for r in rows
        }


def define_custom_field(conn: Connection, company_id: str, spec: CustomFieldSpec) -> None:
    cf = db.custom_fields.c
    conn.execute(
        db.custom_fields.delete().where(cf.company_id == company_id, cf.identifier == spec.identifier)
    )
    position = len(conn.execute(select(cf.identifier).where(cf.company_id == company_id)).all())
    conn.execute(
        insert(db.custom_fields).values(
            company_id=company_id,
            identifier=spec.identifier,
            type=spec.type.value,
            unique=spec.unique,
            label=spec.label,
            options=list(spec.options),
            max_length=spec.max_length,
            position=position,
        )
    )


def find_customer(
    conn: Connection, company_id: str, *, email: str | None = None, hashcode: str | None = None
) -> Row[Any] | None:
    c = db.customers.c
    key = c.email == email if email is not None else c.hashcode == hashcode
    return conn.execute(select(db.customers).where(c.company_id == company_id, key)).first()


def membership_names(
    conn: Connection, company_id: str, pks: Sequence[int]
) -> dict[tuple[int, str], list[str]]:
    """Tag and segment names of each customer: {(pk, "tag"|"segment"): [names]}."""
    m, ms = db.memberships.c, db.masters.c
    found: dict[tuple[int, str], list[str]] = {}
    if not pks:
        return found
    rows = conn.execute(
        select(m.customer_pk, m.kind, ms.name)
        .join(db.masters, (ms.company_id == company_id) & (ms.kind == m.kind) & (ms.id == m.master_id))
        .where(m.customer_pk.in_(pks))
        .order_by(m.customer_pk, ms.name)
    )
    for pk, kind, name in rows:
        found.setdefault((pk, kind), []).append(name)
    return found


def customers_json(
    conn: Connection, company_id: str, rows: Iterable[Row[Any]], specs: dict[str, CustomFieldSpec]
) -> list[dict[str, Any]]:
    """Customers as the wire shows them: every default field, then ``custom`` by identifier."""
    rows = list(rows)
    names = membership_names(conn, company_id, [r.pk for r in rows])
    out = []
    for r in rows:
        item: dict[str, Any] = {name: getattr(r, name) for name in COLUMN_FIELDS}
        item["customer_id"] = str(r.pk)
        item["created_at"] = iso_tokyo(r.created_at)
        item["updated_at"] = iso_tokyo(r.updated_at)
        item["tags"] = names.get((r.pk, "tag"), [])
        item["segments"] = names.get((r.pk, "segment"), [])
        values = r.custom or {}
        item["custom"] = {ident: values.get(ident) for ident in specs}
        out.append({name: item.get(name) for name in (*DEFAULT_FIELD_NAMES, "custom")})
    return out
