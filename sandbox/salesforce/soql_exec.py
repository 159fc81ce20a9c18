"""Runs a parsed SOQL query over one object's records: filter, group, having, order, page."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.objects import TEXT_TYPES, FieldSpec, ObjectSpec
from sandbox.salesforce.soql import BoolOp, Count, InList, Like, Operand, Query

Row = dict[str, Any]
Getter = Callable[[Operand], Any]


def format_datetime(value: datetime) -> str:
    """REST's date-time form, always UTC: 2026-01-31T09:00:00.000+0000."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


class Executor:
    """Checks the query's names against the object's fields and evaluates it."""

    def __init__(self, query: Query, spec: ObjectSpec):
        self.query = query
        self.spec = spec

    def field(self, name: str) -> FieldSpec:
        found = self.spec.field(name)
        if found is None:
            raise SalesforceError(
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{self.spec.name}'. If you are attempting to use a "
                "custom field, be sure to append the '__c' after the custom field name.",
            )
        return found

    def comparable(self, spec: FieldSpec, literal: Any) -> Any:
        """A literal in the field's stored form, or INVALID_FIELD when its type cannot match."""
        if literal is None:
            return None
        kind = spec.type
        ok = (
            (kind in TEXT_TYPES and isinstance(literal, str))
            or (kind == "boolean" and isinstance(literal, bool))
            or (kind == "datetime" and isinstance(literal, datetime))
            or (kind == "date" and isinstance(literal, date) and not isinstance(literal, datetime))
            or (kind not in TEXT_TYPES | {"boolean", "datetime", "date"} and isinstance(literal, int | float))
        )
        if not ok:
            quoted = "should not" if kind not in TEXT_TYPES else "must"
            raise SalesforceError(
                "INVALID_FIELD",
                f"value of filter criterion for field '{spec.name}' must be of type {kind} and "
                f"{quoted} be enclosed in quotes",
            )
        if isinstance(literal, datetime):  # folded as the stored value is ("…t09:00…"), so order holds
            return _fold(format_datetime(literal))
        if isinstance(literal, date):
            return literal.isoformat()
        return _fold(literal)

    def test(self, node: Any, get: Getter) -> bool:
        if isinstance(node, BoolOp):
            if node.op == "AND":
                return all(self.test(p, get) for p in node.parts)
            if node.op == "OR":
                return any(self.test(p, get) for p in node.parts)
            return not self.test(node.parts[0], get)
        value = _fold(get(node.left))
        if isinstance(node, InList):
            found = value in {self.literal(node.left, v) for v in node.values}
            return found != node.negated
        if node.op == "LIKE":
            pattern: Like = node.right
            return value is not None and pattern.regex().fullmatch(str(value)) is not None
        right = self.literal(node.left, node.right)
        if node.op == "=":
            return bool(value == right)
        if node.op == "!=":
            return bool(value != right)
        if value is None or right is None:
            return False
        return bool(
            {"<": value < right, "<=": value <= right, ">": value > right, ">=": value >= right}[node.op]
        )

    def literal(self, left: Operand, value: Any) -> Any:
        if isinstance(left, Count):
            return value
        return self.comparable(self.field(left), value)

    def check_names(self) -> None:
        q = self.query
        names = [s.expr for s in q.select] + list(q.group_by) + [k.expr for k in q.order_by]
        for name in names:
            if isinstance(name, str):
                self.field(name)
            elif name.field:
                self.field(name.field)
        self._check_condition(q.where, allow_count=False)
        self._check_condition(q.having, allow_count=True)
        if q.aggregate:
            grouped = {g.lower() for g in q.group_by}
            for item in q.select:
                if isinstance(item.expr, str) and item.expr.lower() not in grouped:
                    raise SalesforceError(
                        "MALFORMED_QUERY", f"Field must be grouped or aggregated: {item.expr}"
                    )

    def _check_condition(self, node: Any, allow_count: bool) -> None:
        if node is None:
            return
        if isinstance(node, BoolOp):
            for part in node.parts:
                self._check_condition(part, allow_count)
            return
        if isinstance(node.left, Count):
            if not allow_count:
                raise SalesforceError("MALFORMED_QUERY", "aggregate functions are only allowed in HAVING")
        else:
            self.literal(node.left, None)
            for value in node.values if isinstance(node, InList) else [node.right]:
                if not isinstance(value, Like):
                    self.literal(node.left, value)

    def run(self, records: Iterable[Row]) -> tuple[list[Row], int]:
        """Matching rows (whole records unless aggregate), ordered and paged, and totalSize."""
        self.check_names()
        q = self.query

        def getter(row: Row) -> Getter:
            return lambda name: row.get(self.field(name).name) if isinstance(name, str) else None

        rows = [r for r in records if q.where is None or self.test(q.where, getter(r))]
        if q.aggregate:
            return self._aggregate(rows)
        rows = self._order(rows, lambda row, expr: row.get(self.field(str(expr)).name))
        rows = self._page(rows)
        return rows, len(rows)

    def columns(self) -> list[str]:
        """API names of the selected fields (non-aggregate queries project rows onto these)."""
        return [self.field(s.expr).name for s in self.query.select if isinstance(s.expr, str)]

    def _aggregate(self, rows: list[Row]) -> tuple[list[Row], int]:
        q = self.query
        keys = [self.field(g).name for g in q.group_by]
        groups: dict[tuple[Any, ...], list[Row]] = {}
        for row in rows:
            groups.setdefault(tuple(_fold(row.get(k)) for k in keys), []).append(row)
        if not keys and not groups:
            groups[()] = []

        def value(group: list[Row], expr: Operand) -> Any:
            if isinstance(expr, Count):
                if expr.field is None:
                    return len(group)
                name = self.field(expr.field).name
                return sum(1 for r in group if r.get(name) is not None)
            return group[0].get(self.field(expr).name) if group else None

        selected = list(groups.values())
        if q.having is not None:
            selected = [g for g in selected if self.test(q.having, partial(value, g))]
        if len(q.select) == 1 and q.select[0].expr == Count(None) and not keys:
            return [], len(rows)
        selected = self._order(selected, value)
        selected = self._page(selected)
        out = []
        for group in selected:
            record: Row = {}
            expr_index = 0
            for item in q.select:
                if isinstance(item.expr, Count):
                    name = item.alias or f"expr{expr_index}"
                    expr_index += item.alias is None
                else:
                    name = self.field(item.expr).name
                record[name] = value(group, item.expr)
            out.append(record)
        return out, len(out)

    def _order(self, items: list[Any], value: Callable[[Any, Operand], Any]) -> list[Any]:
        for key in reversed(self.query.order_by):

            def sort_key(item: Any, key: Any = key) -> tuple[int, Any]:
                v = _fold(value(item, key.expr))
                null_rank = (1 if key.nulls_last else 0) if v is None else (0 if key.nulls_last else 1)
                if key.descending:
                    null_rank = 1 - null_rank
                return null_rank, v

            items = sorted(items, key=sort_key, reverse=key.descending)
        return items

    def _page(self, items: list[Any]) -> list[Any]:
        q = self.query
        end = None if q.limit is None else q.offset + q.limit
        return items[q.offset : end]


def _fold(value: Any) -> Any:
    """SOQL compares text case-insensitively."""
    return value.lower() if isinstance(value, str) else value
