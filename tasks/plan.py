"""The dry run (`renkei plan`): the sync's own code path with every write replaced by a record of it.

A target or the MA is wrapped so that reads go through and writes are answered as if they had
happened, while each one is recorded per record and per field (value now → value after). The state
store is wrapped so that no watermark, link or quarantine entry changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from connectors.satori import SatoriClient
from connectors.state import Rejection, StateStore
from schemas.mapping import TargetRecord, flatten_customer, jsonable
from schemas.outcomes import RowOutcome
from tasks.load import Record, TwoWay


@dataclass(frozen=True)
class PlannedChange:
    target: str
    direction: str  # "MA → target" or "target → MA"
    key: str
    action: str  # create | update | reject
    field: str
    before: str | None
    after: str | None
    reason: str | None = None


@dataclass
class PlanBook:
    changes: list[PlannedChange] = field(default_factory=list)

    def record(
        self, target: str, direction: str, key: str, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> RowOutcome:
        action = "create" if before is None else "update"
        for name, value in after.items():
            old = None if before is None else before.get(name)
            if before is not None and _text(old) == _text(value):
                continue
            self.changes.append(PlannedChange(target, direction, key, action, name, _text(old), _text(value)))
        return RowOutcome.created(key, key) if before is None else RowOutcome.updated(key, key)

    def rejected(self, target: str, direction: str, outcome: RowOutcome) -> None:
        self.changes.append(
            PlannedChange(
                target,
                direction,
                outcome.key,
                "reject",
                outcome.field or "",
                None,
                None,
                f"{outcome.code}: {outcome.message}",
            )
        )


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(jsonable(value)) if not isinstance(value, str) else value


OUT = "MA → target"
IN = "target → MA"


class PlannedTarget:
    """A target whose writes are recorded, not sent; its current records are read once to compare."""

    def __init__(self, inner: TwoWay, key_field: str, book: PlanBook):
        self.inner = inner
        self.name = inner.name
        self.key_field = key_field
        self.book = book
        self._current: dict[str, dict[str, Any]] | None = None

    def _now(self) -> dict[str, dict[str, Any]]:
        if self._current is None:
            self._current = {
                str(r.values.get(self.key_field)): r.values
                for page in self.inner.changed_records(None)
                for r in page
            }
        return self._current

    @property
    def batch_rows(self) -> int:
        return self.inner.batch_rows

    def upsert_customers(self, records: list[Record]) -> list[RowOutcome]:
        current = self._now()
        return [
            self.book.record(self.name, OUT, key, current.get(str(record.get(self.key_field))), record)
            for key, record in records
        ]

    def upsert_actions(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        return [self.book.record(self.name, f"{OUT} ({kind})", key, None, record) for key, record in records]

    def upsert_masters(self, kind: str, records: list[Record]) -> list[RowOutcome]:
        return [self.book.record(self.name, f"{OUT} (master {kind})", k, None, r) for k, r in records]

    def changed_records(self, since: datetime | None) -> Iterator[list[TargetRecord]]:
        return self.inner.changed_records(since)

    def read_rejections(self) -> list[RowOutcome]:
        return self.inner.read_rejections()

    def close(self) -> None:
        self.inner.close()


class PlannedMA:
    """The MA client with reads passed through and bulk writes recorded."""

    def __init__(self, inner: SatoriClient, target: str, book: PlanBook):
        self.inner = inner
        self.target = target
        self.book = book

    def bulk_get(self, *, emails: Iterable[str] = (), hashcodes: Iterable[str] = ()) -> list[dict[str, Any]]:
        return self.inner.bulk_get(emails=emails, hashcodes=hashcodes)

    def bulk_upsert(
        self, rows: Iterable[dict[str, Any]], key: Literal["email", "hashcode"] = "email"
    ) -> list[RowOutcome]:
        rows = list(rows)
        keys = [str(r[key]) for r in rows]
        found = self.inner.bulk_get(emails=keys) if key == "email" else self.inner.bulk_get(hashcodes=keys)
        current = {str(c.get(key)): flatten_customer(c) for c in found}
        return [
            self.book.record(self.target, IN, k, current.get(k), flatten_customer(r))
            for k, r in zip(keys, rows, strict=True)
        ]


class ReadOnlyState(StateStore):
    """The state store with every write turned into a no-op; rejections go into the plan instead."""

    def __init__(self, inner: StateStore, book: PlanBook):
        self.url, self.company, self.engine = inner.url, inner.company, inner.engine
        self.book = book

    def commit_watermark(self, target: str, stream: str, value: str, run_id: str) -> bool:
        return False

    def save_links(self, target: str, stream: str, rows: Iterable[tuple[str, str | None, str]]) -> int:
        return 0

    def quarantine_rows(self, run_id: str, target: str, stream: str, rows: Iterable[Rejection]) -> int:
        rejected = [RowOutcome.rejected(r.key, r.code, r.reason, r.field) for r in rows]
        for outcome in rejected:
            self.book.rejected(target, stream, outcome)
        return len(rejected)

    def add_requests(self, target: str, scope: str, day: str, count: int) -> int:
        return self.requests_used(target, scope, day) + count

    def spend_requests(self, target: str, scope: str, day: str, count: int, limit: int) -> bool:
        return self.requests_used(target, scope, day) + count <= limit
