"""Customer search: AND-ed conditions and a keyset pager that survives concurrent updates.

Ordering by (updated_at, id) with updated_at strictly increasing on every change means a
customer not yet returned can only move forward past the cursor: it may be returned again after
an update, but it is never skipped. Ordering by id returns each customer at most once.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, not_, or_, select

from sandbox.satori import db
from sandbox.satori.clock import to_micros
from sandbox.satori.rules import Rejection, coerce
from sandbox.satori.store import COLUMN_FIELDS, customers_json
from sandbox.satori.wire import Condition, SearchPage, SearchRequest
from schemas.catalog import (
    CustomFieldSpec,
    FieldDef,
    FieldType,
    custom_identifier,
    is_custom_name,
    lookup_field,
)

TEXT_TYPES = frozenset(
    {FieldType.TEXT, FieldType.TEXTAREA, FieldType.EMAIL, FieldType.SELECT, FieldType.DATE}
)
c = db.customers.c


def _bad(cond: Condition, message: str) -> Rejection:
    return Rejection("invalid_condition", f"{cond.field}: {message}", cond.field)


def _instant(cond: Condition, value: Any) -> int:
    try:
        return to_micros(datetime.fromisoformat(str(value)))
    except ValueError:
        raise _bad(cond, "needs ISO 8601 date-times with an offset") from None


def _membership(cond: Condition, kind: str) -> ColumnElement[bool]:
    m, ms = db.memberships.c, db.masters.c
    base = (
        select(m.customer_pk)
        .select_from(db.memberships)
        .join(db.masters, (ms.company_id == c.company_id) & (ms.kind == m.kind) & (ms.id == m.master_id))
        .where(m.customer_pk == c.pk, m.kind == kind)
    )
    if cond.op == "any_of":
        return exists(base.where(ms.name.in_([str(v) for v in cond.values or []])))
    if cond.op == "range":
        raise _bad(cond, "range does not apply to tags or segments")
    matching = exists(base.where(ms.name.contains(str(cond.value or ""), autoescape=True)))
    return matching if cond.op == "contains" else not_(matching)


def _column(cond: Condition, fdef: FieldDef) -> ColumnElement[Any]:
    if cond.field == "customer_id":
        return c.pk
    if fdef.is_custom:
        element = c.custom[custom_identifier(fdef.name)]
        if fdef.type is FieldType.INTEGER:
            return element.as_integer()
        if fdef.type is FieldType.DECIMAL:
            return element.as_float()
        if fdef.type is FieldType.BOOLEAN:
            return element.as_boolean()
        return element.as_string()
    return c[fdef.name]


def _operand(cond: Condition, fdef: FieldDef, value: Any) -> Any:
    if cond.field in ("created_at", "updated_at"):
        return _instant(cond, value)
    if cond.field == "customer_id":
        try:
            return int(str(value))
        except ValueError:
            raise _bad(cond, "customer ids are whole numbers") from None
    if fdef.type in (FieldType.MULTI_SELECT, FieldType.TEXT, FieldType.TEXTAREA, FieldType.SELECT):
        return str(value)
    try:
        return coerce(fdef, value, from_text=True)
    except Rejection as exc:
        raise _bad(cond, exc.message) from None


def condition_clause(cond: Condition, specs: dict[str, CustomFieldSpec]) -> ColumnElement[bool]:
    """The SQL of one condition, or a Rejection naming the field and what is wrong."""
    if cond.field in ("tags", "segments"):
        return _membership(cond, cond.field[:-1])
    fdef = lookup_field(cond.field, specs)
    if fdef is None or not (
        is_custom_name(cond.field)
        or cond.field in (*COLUMN_FIELDS, "customer_id", "created_at", "updated_at")
    ):
        raise _bad(cond, "unknown field: see GET fields")
    column = _column(cond, fdef)
    if cond.op in ("contains", "not_contains"):
        text_like = fdef.type in TEXT_TYPES or (fdef.is_custom and fdef.type is FieldType.MULTI_SELECT)
        if not text_like or cond.field == "customer_id":
            raise _bad(cond, f"{cond.op} applies to text fields only")
        if cond.value is None or not isinstance(cond.value, str):
            raise _bad(cond, f"{cond.op} needs a text value")
        matched = column.contains(cond.value, autoescape=True)
        return matched if cond.op == "contains" else or_(column.is_(None), not_(matched))
    if cond.op == "any_of":
        if not cond.values:
            raise _bad(cond, "any_of needs a non-empty values list")
        return column.in_([_operand(cond, fdef, v) for v in cond.values])
    if cond.from_ is None and cond.to is None:
        return column.is_not(None)
    bounds = []
    if cond.from_ is not None:
        bounds.append(column >= _operand(cond, fdef, cond.from_))
    if cond.to is not None:
        bounds.append(column <= _operand(cond, fdef, cond.to))
    return and_(*bounds)


def _fingerprint(request: SearchRequest) -> str:
    text = json.dumps(
        [request.order, [cd.model_dump(by_alias=True) for cd in request.conditions]], sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode_token(request: SearchRequest, last: list[int]) -> str:
    raw = json.dumps({"q": _fingerprint(request), "k": last}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(request: SearchRequest) -> list[int] | None:
    """The cursor of a page token; it must come from the same conditions and order."""
    if request.page_token is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(request.page_token + "=" * (-len(request.page_token) % 4))
        data = json.loads(raw)
        keys = data["k"]
        ok = (
            data["q"] == _fingerprint(request)
            and isinstance(keys, list)
            and all(type(k) is int for k in keys)
        )
    except (ValueError, TypeError, KeyError):
        ok = False
    expected = 2 if request.order == "updated_at" else 1
    if not ok or len(keys) != expected:
        raise Rejection(
            "invalid_page_token",
            "page_token is not from this search (same conditions and order)",
            "page_token",
        )
    return list(keys)


def search(
    conn: Connection, company_id: str, request: SearchRequest, specs: dict[str, CustomFieldSpec]
) -> SearchPage:
    """One page of customers matching every condition, and the token of the next page."""
    clauses = [c.company_id == company_id, *(condition_clause(cd, specs) for cd in request.conditions)]
    cursor = decode_token(request)
    order: tuple[Any, ...] = (c.pk,)
    if request.order == "updated_at":
        order = (c.updated_at, c.pk)
        if cursor:
            # the >= bound lets the (company, updated_at, id) index seek straight to the cursor
            clauses += [c.updated_at >= cursor[0], or_(c.updated_at > cursor[0], c.pk > cursor[1])]
    elif cursor:
        clauses.append(c.pk > cursor[0])
    rows = conn.execute(
        select(db.customers).where(*clauses).order_by(*order).limit(request.page_size + 1)
    ).all()
    page, more = rows[: request.page_size], len(rows) > request.page_size
    token = None
    if more:
        last = page[-1]
        token = encode_token(
            request, [last.updated_at, last.pk] if request.order == "updated_at" else [last.pk]
        )
    return SearchPage(customers=customers_json(conn, company_id, page, specs), next_page_token=token)
