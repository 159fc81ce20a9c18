"""The quarantine: rejected rows kept with their reason until a user replays or dismisses them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from connectors.http import chunked
from connectors.state.engine import StatePart, serialize
from connectors.state.schema import quarantine
from schemas import clock


@dataclass(frozen=True)
class QuarantinedRow:
    id: int
    run_id: str
    target: str
    stream: str
    key: str
    payload: dict[str, Any]
    code: str
    reason: str
    field: str | None
    status: str
    note: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A row to put in the quarantine: its key, what was sent, and the rule or target message."""

    key: str
    payload: dict[str, Any]
    code: str
    reason: str
    field: str | None = None


class Quarantine(StatePart):
    def quarantine_rows(self, run_id: str, target: str, stream: str, rows: Iterable[Rejection]) -> int:
        """Keep rejected rows where a user can fix and replay them; one open entry per key.

        A row rejected again for the same reason keeps its open entry (and its first run), so a problem
        is reported once, not on every run; a new reason supersedes the old entry. Returns the new ones.
        Writers of one target's stream take turns (``serialize``), so two workers rejecting the same
        row at once still leave one open entry.
        """
        now = clock.now()
        items = {
            r.key: {
                "company": self.company,
                "run_id": run_id,
                "target": target,
                "stream": stream,
                "key": r.key,
                "payload": r.payload,
                "code": r.code,
                "reason": r.reason,
                "field": r.field,
                "status": "open",
                "note": None,
                "created_at": now,
                "updated_at": now,
            }
            for r in rows
        }
        added = 0
        with self.engine.begin() as c:
            serialize(c, "quarantine", self.company, target, stream)
            for chunk in chunked(list(items.values()), 500):
                where = (
                    quarantine.c.company == self.company,
                    quarantine.c.target == target,
                    quarantine.c.stream == stream,
                    quarantine.c.status == "open",
                    quarantine.c.key.in_([i["key"] for i in chunk]),
                )
                known = {
                    (r.key, r.code, r.reason)
                    for r in c.execute(
                        sa.select(quarantine.c.key, quarantine.c.code, quarantine.c.reason).where(*where)
                    )
                }
                fresh = [i for i in chunk if (i["key"], i["code"], i["reason"]) not in known]
                if not fresh:
                    continue
                c.execute(
                    quarantine.update()
                    .where(*where[:-1], quarantine.c.key.in_([i["key"] for i in fresh]))
                    .values(status="superseded", updated_at=now)
                )
                c.execute(quarantine.insert(), fresh)
                added += len(fresh)
        return added

    def quarantined(
        self, target: str | None = None, code: str | None = None, status: str = "open"
    ) -> list[QuarantinedRow]:
        query = sa.select(quarantine).where(
            quarantine.c.company == self.company, quarantine.c.status == status
        )
        if target:
            query = query.where(quarantine.c.target == target)
        if code:
            query = query.where(quarantine.c.code == code)
        with self.engine.connect() as c:
            rows = c.execute(query.order_by(quarantine.c.id)).mappings().all()
        return [
            QuarantinedRow(
                r["id"],
                r["run_id"],
                r["target"],
                r["stream"],
                r["key"],
                r["payload"],
                r["code"],
                r["reason"],
                r["field"],
                r["status"],
                r["note"],
            )
            for r in rows
        ]

    def resolve_quarantine(self, ids: Iterable[int], status: str, note: str | None = None) -> int:
        """Mark entries replayed or dismissed (with who/why in the note: dismissals are audited)."""
        if status not in ("replayed", "dismissed", "open"):
            raise ValueError(f"unknown quarantine status {status!r}")
        id_list = list(ids)
        with self.engine.begin() as c:
            result = c.execute(
                quarantine.update()
                .where(quarantine.c.company == self.company, quarantine.c.id.in_(id_list))
                .values(status=status, note=note, updated_at=clock.now())
            )
        return int(result.rowcount or 0)
