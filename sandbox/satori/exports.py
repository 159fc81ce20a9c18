"""Cuts (02:00 and 11:00 JST) of action histories and masters, streamed as CSV or JSON lines.

Rows are read from the database in keyset chunks ordered by event id (or master id), so an export
of millions of rows never holds more than one chunk in memory and holds no long transaction.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, select

from sandbox.satori import db
from sandbox.satori.clock import iso_tokyo, to_micros
from sandbox.satori.wire import MASTER_OF_ACTION, ActionKind, MasterKind

CHUNK_ROWS = 5_000
Rows = Iterator[Sequence[dict[str, Any]]]


def action_chunks(
    engine: Engine,
    company_id: str,
    kind: ActionKind,
    cut: datetime,
    after: int = -1,
    chunk_rows: int = CHUNK_ROWS,
) -> Rows:
    """The actions of one kind recorded in the window of ``cut`` after event id ``after``, chunk by chunk."""
    chunk_rows = chunk_rows or CHUNK_ROWS
    a, cu, ms = db.actions.c, db.customers.c, db.masters.c
    master_join = and_(
        ms.company_id == a.company_id, ms.kind == MASTER_OF_ACTION[kind].value, ms.id == a.master_id
    )
    query = (
        select(
            a.event_id,
            a.kind,
            cu.pk,
            cu.hashcode,
            cu.email,
            a.master_id,
            ms.name,
            a.event_type,
            a.occurred_at,
            a.recorded_at,
            a.url,
        )
        .select_from(db.actions)
        .outerjoin(db.customers, cu.pk == a.customer_pk)
        .outerjoin(db.masters, master_join)
        .where(a.company_id == company_id, a.kind == kind.value, a.cut_at == to_micros(cut))
        .order_by(a.event_id)
        .limit(chunk_rows)
    )
    last = after
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(a.event_id > last)).all()
        if not rows:
            return
        last = rows[-1][0]
        yield [
            {
                "event_id": str(r[0]),
                "kind": r[1],
                "customer_id": None if r[2] is None else str(r[2]),
                "hashcode": r[3],
                "email": r[4],
                "master_id": r[5],
                "master_name": r[6],
                "event_type": r[7],
                "occurred_at": iso_tokyo(r[8]),
                "recorded_at": iso_tokyo(r[9]),
                "url": r[10],
            }
            for r in rows
        ]
        if len(rows) < chunk_rows:
            return


def master_chunks(engine: Engine, company_id: str, kind: MasterKind, cut: datetime) -> Rows:
    """The master table of one kind as of ``cut``: every entry created before the cut instant."""
    ms = db.masters.c
    query = (
        select(db.masters)
        .where(ms.company_id == company_id, ms.kind == kind.value, ms.created_at < to_micros(cut))
        .order_by(ms.id)
        .limit(CHUNK_ROWS)
    )
    last = ""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(query.where(ms.id > last)).all()
        if not rows:
            return
        last = rows[-1].id
        yield [
            {
                "id": r.id,
                "kind": r.kind,
                "name": r.name,
                "description": r.description,
                "status": r.status,
                "created_at": iso_tokyo(r.created_at),
                "updated_at": iso_tokyo(r.updated_at),
            }
            for r in rows
        ]
        if len(rows) < CHUNK_ROWS:
            return


def as_csv(columns: Sequence[str], chunks: Rows) -> Iterator[bytes]:
    """UTF-8 CSV (no BOM on the wire) with a header row and RFC 4180 quoting, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for chunk in chunks:
        writer.writerows([["" if row[col] is None else row[col] for col in columns] for row in chunk])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def as_jsonl(chunks: Rows) -> Iterator[bytes]:
    for chunk in chunks:
        yield "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in chunk).encode("utf-8")


MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/jsonl"}
