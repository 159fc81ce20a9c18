"""Evaluating a parsed query against stored records, with kintone's per-type operator rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.kintone.errors import KintoneError
from sandbox.kintone.fields import ENTITY_TYPES, FieldDef, FieldRuleError, parse_date, parse_datetime
from sandbox.kintone.query import COMPARISONS, Cond, Func, Node, Query, Value, syntax_error
from schemas import clock

TENANT_TZ = ZoneInfo("Asia/Tokyo")
ORDERED = (*COMPARISONS, "in", "not in")
OPERATORS: dict[str, tuple[str, ...]] = {
    "__ID__": ORDERED,
    "__REVISION__": ORDERED,
    "RECORD_NUMBER": ORDERED,
    "NUMBER": ORDERED,
    "SINGLE_LINE_TEXT": ("=", "!=", "in", "not in", "like", "not like"),
    "LINK": ("=", "!=", "in", "not in", "like", "not like"),
    "MULTI_LINE_TEXT": ("like", "not like", "is empty", "is not empty"),
    "RICH_TEXT": ("like", "not like", "is empty", "is not empty"),
    "DROP_DOWN": ("in", "not in"),
    "RADIO_BUTTON": ("in", "not in"),
    "CHECK_BOX": ("in", "not in"),
    "MULTI_SELECT": ("in", "not in"),
    "CREATOR": ("in", "not in"),
    "MODIFIER": ("in", "not in"),
    "USER_SELECT": ("in", "not in"),
    "ORGANIZATION_SELECT": ("in", "not in"),
    "GROUP_SELECT": ("in", "not in"),
    "FILE": ("like", "not like", "is empty", "is not empty"),
    "DATE": COMPARISONS,
    "TIME": COMPARISONS,
    "DATETIME": COMPARISONS,
    "CREATED_TIME": COMPARISONS,
    "UPDATED_TIME": COMPARISONS,
}
NEGATIVE = frozenset({"not in", "not like", "is not empty"})
Record = dict[str, Any]
Predicate = Callable[[Record], bool]


def compile_where(node: Node | None, fields: dict[str, FieldDef], login: str) -> Predicate:
    """A predicate over stored values; GAIA_IQ11 for an unknown field, GAIA_IQ03 for a bad operator.

    ``fields`` are the record's fields; a table's own fields are named by their bare code too.
    """
    if node is None:
        return lambda _record: True
    if isinstance(node, Cond):
        table = _table_of(node, fields)
        return _condition(node, fields, login) if table is None else _in_table(table, [node], login)
    if node.op == "or":
        alternatives = [compile_where(p, fields, login) for p in node.parts]
        return lambda record: any(p(record) for p in alternatives)
    # kintone joins positive conditions on one table with "and" row by row: one row must meet them all
    same_row: dict[str, list[Cond]] = {}
    others: list[Node] = []
    for part in node.parts:
        table = _table_of(part, fields)
        if isinstance(part, Cond) and table is not None and part.op not in NEGATIVE:
            same_row.setdefault(table.code, []).append(part)
        else:
            others.append(part)
    tables = {t.code: t for t in fields.values() if t.fields}
    parts = [compile_where(p, fields, login) for p in others]
    parts += [_in_table(tables[code], conds, login) for code, conds in same_row.items()]
    return lambda record: all(p(record) for p in parts)


def _table_of(node: Node, fields: dict[str, FieldDef]) -> FieldDef | None:
    """The table whose field a condition names, or None for a field of the record itself."""
    if not isinstance(node, Cond) or node.field in fields:
        return None
    return next((t for t in fields.values() if node.field in t.fields), None)


def _in_table(table: FieldDef, conds: list[Cond], login: str) -> Predicate:
    """Conditions on a table's fields: some row meets them all; a negative one (not in …) needs every
    row. A record without rows matches neither. ``=`` and ``!=`` are refused in tables (GAIA_IQ07)."""
    for cond in conds:
        if cond.op in ("=", "!="):
            raise KintoneError("GAIA_IQ07", cond.field, cond.op)
    tests = [_predicate(table.fields[cond.field], cond, login) for cond in conds]
    negative = len(conds) == 1 and conds[0].op in NEGATIVE
    code = table.code

    def matches(record: Record) -> bool:
        rows = [{c: cell["value"] for c, cell in row["value"].items()} for row in record.get(code) or []]
        if not rows:
            return False
        if negative:
            return all(tests[0](row) for row in rows)
        return any(all(test(row) for test in tests) for row in rows)

    return matches


def _field(name: str, fields: dict[str, FieldDef]) -> FieldDef:
    found = fields.get(name)
    if found is None:
        raise KintoneError("GAIA_IQ11", name)
    return found


def _condition(cond: Cond, fields: dict[str, FieldDef], login: str) -> Predicate:
    return _predicate(_field(cond.field, fields), cond, login)


def _predicate(fdef: FieldDef, cond: Cond, login: str) -> Predicate:
    if cond.op not in OPERATORS.get(fdef.type, ()):
        raise KintoneError("GAIA_IQ03", cond.field, cond.op)
    code, kind, op = fdef.code, fdef.type, cond.op
    if op in ("is empty", "is not empty"):
        want = op == "is empty"
        return lambda r: (r.get(code) in (None, "", [])) == want
    if op in ("like", "not like"):
        pattern = _word_pattern(_literal(cond.values[0]))
        want = op == "like"
        return lambda r: bool(pattern.search(_text(r.get(code)))) == want
    if op in ("in", "not in"):
        wanted = {_in_value(v, login) for v in cond.values}
        want = op == "in"
        if kind in ("CHECK_BOX", "MULTI_SELECT"):
            return lambda r: (bool(set(r.get(code) or [""]) & wanted)) == want
        if kind in ("CREATOR", "MODIFIER"):
            return lambda r: ((r.get(code) or {}).get("code") in wanted) == want
        if kind in ENTITY_TYPES:  # `in ("")` finds the records with nobody selected
            return lambda r: bool(({e["code"] for e in r.get(code) or []} or {""}) & wanted) == want
        if kind in ("NUMBER", "__ID__", "__REVISION__", "RECORD_NUMBER"):
            numbers = {_decimal(w) for w in wanted}
            return lambda r: (_decimal(r.get(code)) in numbers) == want
        return lambda r: ((r.get(code) or "") in wanted) == want
    return _comparison(code, kind, op, cond.values[0])


def _comparison(code: str, kind: str, op: str, value: Value) -> Predicate:
    lo: Any
    hi: Any
    key: Callable[[Any], Any]
    if kind in ("NUMBER", "__ID__", "__REVISION__", "RECORD_NUMBER"):
        lo = hi = _decimal(_literal(value))
        if lo is None:
            raise syntax_error()
        key, inclusive = _decimal, True
    elif kind in ("SINGLE_LINE_TEXT", "LINK"):
        lo = hi = _literal(value)
        key, inclusive = (lambda v: v or ""), True
    elif kind == "TIME":
        lo = hi = _literal(value)
        key, inclusive = (lambda v: v), True
    elif kind == "DATE":
        lo, hi = _date_range(value)
        key, inclusive = (lambda v: v), False
    else:
        lo, hi = _datetime_range(value)
        key, inclusive = (lambda v: v), False
    return _range_test(code, op, lo, hi, key, inclusive)


def _range_test(
    code: str, op: str, lo: Any, hi: Any, key: Callable[[Any], Any], inclusive: bool
) -> Predicate:
    """Compare a value against [lo, hi] (inclusive) or [lo, hi) (a day or a minute)."""

    def test(record: Record) -> bool:
        raw = record.get(code)
        if raw in (None, ""):
            return (op == "=" and lo == "") or (op == "!=" and lo != "")
        v = key(raw)
        if v is None:
            return op == "!="
        inside = lo <= v <= hi if inclusive else lo <= v < hi
        if op == "=":
            return inside
        if op == "!=":
            return not inside
        if op == ">":
            return v > hi if inclusive else v >= hi
        if op == ">=":
            return v >= lo
        if op == "<":
            return v < lo
        return v <= hi if inclusive else v < hi

    return test


def _text(value: Any) -> str:
    """What ``like`` searches: the text, or the names of a FILE field's files."""
    if isinstance(value, list):
        return " ".join(str(item.get("name", "")) for item in value if isinstance(item, dict))
    return str(value or "")


def _literal(value: Value) -> str:
    if isinstance(value, Func):
        raise syntax_error()
    return value


def _in_value(value: Value, login: str) -> str:
    if isinstance(value, Func):
        if value.name == "LOGINUSER":
            return login
        raise syntax_error()
    return value


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _word_pattern(needle: str) -> re.Pattern[str]:
    """kintone's like is a word match: "keyword" matches like "keyword" but not like "key"."""
    start = r"(?<![0-9A-Za-z])" if needle[:1].isalnum() and needle[:1].isascii() else ""
    end = r"(?![0-9A-Za-z])" if needle[-1:].isalnum() and needle[-1:].isascii() else ""
    return re.compile(start + re.escape(needle) + end, re.IGNORECASE)


def _today() -> date:
    return clock.now().astimezone(TENANT_TZ).date()


def _function_day(func: Func) -> date:
    today = _today()
    if func.name == "TODAY":
        return today
    if func.name == "YESTERDAY":
        return today - timedelta(days=1)
    if func.name == "TOMORROW":
        return today + timedelta(days=1)
    if func.name == "FROM_TODAY" and len(func.args) == 2:
        try:
            amount = int(func.args[0])
        except ValueError:
            raise syntax_error() from None
        unit = func.args[1].upper()
        days = {"DAYS": 1, "WEEKS": 7}.get(unit)
        if days:
            return today + timedelta(days=amount * days)
        if unit in ("MONTHS", "YEARS"):
            months = today.year * 12 + today.month - 1 + amount * (12 if unit == "YEARS" else 1)
            return _clamped_day(months // 12, months % 12 + 1, today.day)
    raise syntax_error()


def _clamped_day(year: int, month: int, day: int) -> date:
    while True:
        try:
            return date(year, month, day)
        except ValueError:
            day -= 1


def _date_range(value: Value) -> tuple[str, str]:
    day = _function_day(value) if isinstance(value, Func) else _parse_day(value)
    return day.isoformat(), (day + timedelta(days=1)).isoformat()


def _parse_day(text: str) -> date:
    try:
        return parse_date(text)
    except FieldRuleError:
        raise syntax_error() from None


def _datetime_range(value: Value) -> tuple[str, str]:
    """A datetime literal is its minute; a date (or TODAY()) is that whole day in the tenant's zone."""
    if isinstance(value, Func) and value.name == "NOW":
        start = clock.now().replace(second=0, microsecond=0)
        return _utc(start), _utc(start + timedelta(minutes=1))
    if isinstance(value, Func) or len(value) <= 10:
        day = _function_day(value) if isinstance(value, Func) else _parse_day(value)
        start = datetime.combine(day, datetime.min.time(), TENANT_TZ)
        return _utc(start), _utc(start + timedelta(days=1))
    try:
        start = parse_datetime(value).replace(second=0, microsecond=0)
    except FieldRuleError:
        raise syntax_error() from None
    return _utc(start), _utc(start + timedelta(minutes=1))


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def sort_records(records: list[Record], query: Query, fields: dict[str, FieldDef]) -> list[Record]:
    """kintone's order: the query's ``order by``, else ``$id desc``; ties broken by ``$id desc``."""
    order = query.order or [("$id", True)]
    out = sorted(records, key=lambda r: int(r["$id"]), reverse=True)
    for name, descending in reversed(order):
        fdef = _field(name, fields)
        numeric = fdef.type in ("NUMBER", "__ID__", "__REVISION__", "RECORD_NUMBER")
        out.sort(key=partial(_sort_key, fdef.code, numeric), reverse=descending)
    return out


def _sort_key(code: str, numeric: bool, record: Record) -> tuple[int, Any]:
    value = record.get(code)
    if value in (None, "", []):
        return (0, 0 if numeric else "")
    if numeric:
        return (1, _decimal(value) or Decimal(0))
    if isinstance(value, list):
        return (1, ",".join(map(str, value)))
    if isinstance(value, dict):
        return (1, str(value.get("code", "")))
    return (1, str(value))
