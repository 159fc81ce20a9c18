"""Writes of one customer row: create, update, leave unchanged, or reject with the rule broken.

Every check runs before anything is written, so a rejected row leaves no trace; callers hold the
store's write lock and one transaction per call.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, Row, insert, select

from sandbox.satori import db
from sandbox.satori.clock import cut_micros_for
from sandbox.satori.rules import Change, Rejection
from sandbox.satori.store import find_customer
from schemas.catalog import CustomFieldSpec
from schemas.email import normalise_email
from schemas.outcomes import Status

Key = Literal["email", "hashcode"]


@dataclass(frozen=True)
class WriteOptions:
    """How the public API v4 differs: registration fills blanks only; tags can be appended/removed."""

    fill_blank_only: bool = False
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    overwrite_always: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Written:
    status: Status
    hashcode: str


def key_email(raw: str) -> str:
    normalised = normalise_email(raw)
    if normalised.value is None:
        assert normalised.problem is not None
        raise Rejection(normalised.problem.rule, normalised.problem.message, "email")
    return normalised.value


def _unique_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _check_unique(
    conn: Connection,
    company_id: str,
    specs: dict[str, CustomFieldSpec],
    custom: dict[str, Any],
    pk: int | None,
) -> None:
    u = db.unique_values.c
    for ident, value in custom.items():
        if value is None or not specs[ident].unique:
            continue
        owner = conn.execute(
            select(u.customer_pk).where(
                u.company_id == company_id, u.identifier == ident, u.value == _unique_text(value)
            )
        ).scalar()
        if owner is not None and owner != pk:
            raise Rejection(
                "unique_taken", f"custom:{ident} {value!r} is held by another customer", f"custom:{ident}"
            )


def _claim_unique(
    conn: Connection, company_id: str, specs: dict[str, CustomFieldSpec], custom: dict[str, Any], pk: int
) -> None:
    u = db.unique_values.c
    for ident, value in custom.items():
        if not specs[ident].unique:
            continue
        conn.execute(
            db.unique_values.delete().where(
                u.company_id == company_id, u.identifier == ident, u.customer_pk == pk
            )
        )
        if value is not None:
            conn.execute(
                insert(db.unique_values).values(
                    company_id=company_id, identifier=ident, value=_unique_text(value), customer_pk=pk
                )
            )


def tag_ids(conn: Connection, company_id: str, names: list[str], now: int) -> dict[str, str]:
    """The tag master id of each name, creating tags the company does not have yet."""
    ms = db.masters.c
    known = dict(
        conn.execute(
            select(ms.name, ms.id).where(ms.company_id == company_id, ms.kind == "tag", ms.name.in_(names))
        ).all()
    )
    for name in names:
        if name not in known:
            known[name] = f"tag-{uuid.uuid4().hex[:12]}"
            conn.execute(
                insert(db.masters).values(
                    company_id=company_id,
                    kind="tag",
                    id=known[name],
                    name=name,
                    created_at=now,
                    updated_at=now,
                )
            )
    return known


def _current_tags(conn: Connection, pk: int) -> set[str]:
    m = db.memberships.c
    return set(conn.execute(select(m.master_id).where(m.customer_pk == pk, m.kind == "tag")).scalars())


def _apply_tags(conn: Connection, company_id: str, pk: int, wanted: set[str], now: int) -> None:
    """Replace the customer's tags and record each added/removed tag in the tag history."""
    current = _current_tags(conn, pk)
    m = db.memberships.c
    for tag_id, event_type in [
        *((t, "added") for t in wanted - current),
        *((t, "removed") for t in current - wanted),
    ]:
        if event_type == "added":
            conn.execute(insert(db.memberships).values(customer_pk=pk, kind="tag", master_id=tag_id))
        else:
            conn.execute(
                db.memberships.delete().where(m.customer_pk == pk, m.kind == "tag", m.master_id == tag_id)
            )
        record_action(conn, company_id, "tag", pk, tag_id, event_type, now, now)


def record_action(
    conn: Connection,
    company_id: str,
    kind: str,
    pk: int,
    master_id: str,
    event_type: str,
    occurred_at: int,
    recorded_at: int,
    url: str | None = None,
) -> int:
    result = conn.execute(
        insert(db.actions).values(
            company_id=company_id,
            kind=kind,
            customer_pk=pk,
            master_id=master_id,
            event_type=event_type,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            cut_at=cut_micros_for(recorded_at),
            url=url,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _wanted_tags(
    conn: Connection, company_id: str, change: Change, options: WriteOptions, pk: int | None, now: int
) -> set[str] | None:
    if change.tags is None and not options.add_tags and not options.remove_tags:
        return None
    names = [*(change.tags or []), *options.add_tags, *options.remove_tags]
    ids = tag_ids(conn, company_id, list(dict.fromkeys(names)), now)
    base = (
        {ids[n] for n in change.tags}
        if change.tags is not None
        else (_current_tags(conn, pk) if pk else set())
    )
    return (base | {ids[n] for n in options.add_tags}) - {ids[n] for n in options.remove_tags}


def _create(
    conn: Connection,
    company_id: str,
    email: str,
    change: Change,
    specs: dict[str, CustomFieldSpec],
    options: WriteOptions,
    now: int,
) -> Written:
    _check_unique(conn, company_id, specs, change.custom, None)
    hashcode = uuid.uuid4().hex
    values = {**change.columns, "email": email}
    custom = {k: v for k, v in change.custom.items() if v is not None}
    pk = conn.execute(
        insert(db.customers).values(
            company_id=company_id,
            hashcode=hashcode,
            custom=custom,
            created_at=now,
            updated_at=now,
            score=0,
            **values,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    _claim_unique(conn, company_id, specs, custom, pk)
    wanted = _wanted_tags(conn, company_id, change, options, None, now)
    if wanted:
        _apply_tags(conn, company_id, pk, wanted, now)
    return Written(Status.CREATED, hashcode)


def _update(
    conn: Connection,
    company_id: str,
    row: Row[Any],
    change: Change,
    specs: dict[str, CustomFieldSpec],
    options: WriteOptions,
    now: int,
) -> Written:
    def keep(name: str, current: Any) -> bool:
        blank = current is None or current == ""
        return options.fill_blank_only and not blank and name not in options.overwrite_always

    columns = {
        k: v for k, v in change.columns.items() if not keep(k, getattr(row, k)) and getattr(row, k) != v
    }
    stored = dict(row.custom or {})
    custom = {
        k: v
        for k, v in change.custom.items()
        if not keep(f"custom:{k}", stored.get(k)) and stored.get(k) != v
    }
    if "email" in columns and find_customer(conn, company_id, email=columns["email"]) is not None:
        raise Rejection("email_taken", f"{columns['email']} is held by another customer", "email")
    _check_unique(conn, company_id, specs, custom, row.pk)
    wanted = _wanted_tags(conn, company_id, change, options, row.pk, now)
    tags_changed = wanted is not None and wanted != _current_tags(conn, row.pk)
    if not columns and not custom and not tags_changed:
        return Written(Status.UNCHANGED, row.hashcode)
    merged = {k: v for k, v in {**stored, **custom}.items() if v is not None}
    c = db.customers.c
    conn.execute(
        db.customers.update()
        .where(c.pk == row.pk)
        .values(**columns, custom=merged, updated_at=max(now, row.updated_at + 1))
    )
    _claim_unique(conn, company_id, specs, custom, row.pk)
    if wanted is not None and tags_changed:
        _apply_tags(conn, company_id, row.pk, wanted, now)
    return Written(Status.UPDATED, row.hashcode)


def upsert_one(
    conn: Connection,
    company_id: str,
    key: Key,
    key_value: str,
    change: Change,
    specs: dict[str, CustomFieldSpec],
    now: int,
    options: WriteOptions | None = None,
) -> Written:
    """Create or update the customer named by email (created when new) or hashcode (must exist)."""
    options = options or WriteOptions()
    if key == "email":
        email = key_email(key_value)
        if change.columns.get("email", email) != email:
            raise Rejection("key_mismatch", "the row's email differs from the key email", "email")
        row = find_customer(conn, company_id, email=email)
        if row is None:
            return _create(conn, company_id, email, change, specs, options, now)
    else:
        row = find_customer(conn, company_id, hashcode=key_value)
        if row is None:
            raise Rejection("not_found", f"no customer with hashcode {key_value!r}", "hashcode")
    return _update(conn, company_id, row, change, specs, options, now)


def delete_customer(conn: Connection, company_id: str, row: Row[Any]) -> None:
    """Remove a customer, its memberships and unique values; its action history stays."""
    conn.execute(db.memberships.delete().where(db.memberships.c.customer_pk == row.pk))
    conn.execute(db.unique_values.delete().where(db.unique_values.c.customer_pk == row.pk))
    conn.execute(db.customers.delete().where(db.customers.c.pk == row.pk))
