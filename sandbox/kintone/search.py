"""GET records.json and the cursor API's record selection: filter, order, offset and limit."""

from __future__ import annotations

import bisect
from decimal import Decimal, InvalidOperation

from sandbox.kintone.errors import KintoneError
from sandbox.kintone.query import BoolOp, Cond, Node, Query, parse_query, syntax_error
from sandbox.kintone.query_eval import Predicate, compile_where, sort_records
from sandbox.kintone.records import record_fields
from sandbox.kintone.store import App, Record

MAX_LIMIT = 500
MAX_OFFSET = 10_000
DEFAULT_LIMIT = 100


def parse_checked(text: str, *, for_cursor: bool) -> Query:
    """The query with kintone's paging limits enforced (GAIA_QU01 / GAIA_QU02)."""
    query = parse_query(text)
    if for_cursor and (query.limit is not None or query.offset is not None):
        raise syntax_error("カーソルの作成時にlimitとoffsetは指定できません。")
    if query.limit is not None and query.limit > MAX_LIMIT:
        raise KintoneError("GAIA_QU01")
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise KintoneError("GAIA_QU02")
    return query


def select(
    app: App,
    records: dict[int, Record],
    text: str,
    login: str,
    *,
    for_cursor: bool = False,
    count: bool = False,
) -> tuple[list[Record], int | None]:
    """Matching records in the query's order (one page unless ``for_cursor``) and, if asked, their count."""
    query = parse_checked(text, for_cursor=for_cursor)
    fields = record_fields(app)
    matches = compile_where(query.where, fields, login)
    offset = query.offset or 0
    limit = None if for_cursor else (query.limit if query.limit is not None else DEFAULT_LIMIT)
    order = query.order or [("$id", True)]
    if len(order) == 1 and order[0][0] == "$id" and limit is not None and not count:
        return _seek(records, query.where, matches, descending=order[0][1], offset=offset, limit=limit), None
    found = sort_records([r for r in records.values() if matches(r)], query, fields)
    total = len(found) if count else None
    end = None if limit is None else offset + limit
    return found[offset:end], total


def _seek(
    records: dict[int, Record],
    where: Node | None,
    matches: Predicate,
    *,
    descending: bool,
    offset: int,
    limit: int,
) -> list[Record]:
    """Ordered by ``$id`` alone: walk ids in order from the query's own ``$id`` bound, stop when full."""
    ids = sorted(records)
    if descending:
        ids.reverse()
    else:
        floor = _id_floor(where)
        if floor is not None:
            ids = ids[bisect.bisect_left(ids, floor) :]
    out: list[Record] = []
    skipped = 0
    for rid in ids:
        record = records[rid]
        if not matches(record):
            continue
        if skipped < offset:
            skipped += 1
            continue
        out.append(record)
        if len(out) >= limit:
            break
    return out


def _id_floor(node: Node | None) -> int | None:
    """The lowest id a top-level ``$id >`` / ``$id >=`` condition allows (the filter still applies)."""
    conds: tuple[Node, ...] = ()
    if isinstance(node, Cond):
        conds = (node,)
    elif isinstance(node, BoolOp) and node.op == "and":
        conds = node.parts
    floors: list[int] = []
    for cond in conds:
        if (
            isinstance(cond, Cond)
            and cond.field == "$id"
            and cond.op in (">", ">=")
            and isinstance(cond.values[0], str)
        ):
            try:
                bound = Decimal(cond.values[0])
            except InvalidOperation:
                continue
            floors.append(int(bound) if cond.op == ">=" else int(bound) + 1)
    return max(floors) if floors else None
