"""The notification outbox: a failure report is recorded before it is sent and marked sent only
after the SMTP server accepted it.

A report that could not be delivered (a refusing relay, a kill while sending) stays pending and is
sent again by the next run or by ``renkei notify --resend``. A quarantined row counts as reported
only once a message naming it was accepted (``quarantine.reported_at``); until then every report
attaches it again. One entry per run: asking twice for a run's report sends it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import sqlalchemy as sa

from connectors.state import StateStore
from connectors.state.quarantine import QuarantinedRow
from connectors.state.schema import outbox, quarantine
from schemas import clock


@dataclass(frozen=True)
class Entry:
    """One run's report: the message as built (secrets masked), the quarantine rows it names."""

    id: int
    run_id: str
    created_at: datetime
    status: str
    attempts: int
    last_error: str | None
    rows: list[int]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Outbox:
    def __init__(self, store: StateStore):
        self.store = store
        self.company = store.company

    def record(self, run_id: str, message: EmailMessage, rows: list[int]) -> Entry:
        """Keep the run's report before it is sent; the run's first record stands."""
        existing = self.entry(run_id)
        if existing is not None:
            return existing
        values = {
            "company": self.company,
            "run_id": run_id,
            "created_at": clock.now(),
            "status": "pending",
            "attempts": 0,
            "rows": rows,
            "message": message.as_bytes(),
        }
        try:
            with self.store.engine.begin() as c:
                c.execute(outbox.insert().values(**values))
        except sa.exc.IntegrityError:  # another thread or process recorded it first
            pass
        recorded = self.entry(run_id)
        assert recorded is not None
        return recorded

    def entry(self, run_id: str) -> Entry | None:
        found = self._entries(outbox.c.run_id == run_id)
        return found[0] if found else None

    def pending(self) -> list[Entry]:
        """Reports not delivered yet, oldest first."""
        return self._entries(outbox.c.status == "pending")

    def delivered(self, entry: Entry) -> None:
        """The server accepted the message: it is sent, and every row it names is reported."""
        now = clock.now()
        with self.store.engine.begin() as c:
            c.execute(
                outbox.update()
                .where(outbox.c.id == entry.id)
                .values(status="sent", sent_at=now, attempts=outbox.c.attempts + 1, last_error=None)
            )
            c.execute(
                quarantine.update()
                .where(quarantine.c.id.in_(entry.rows), quarantine.c.reported_at.is_(None))
                .values(reported_at=now)
            )

    def not_delivered(self, entry: Entry, error: str) -> None:
        """The attempt failed (``error`` already masked): the entry stays pending for the next run."""
        with self.store.engine.begin() as c:
            c.execute(
                outbox.update()
                .where(outbox.c.id == entry.id)
                .values(attempts=outbox.c.attempts + 1, last_error=error)
            )

    def unreported(self) -> list[QuarantinedRow]:
        """Open quarantine rows no accepted message has named yet."""
        query = sa.select(quarantine.c.id).where(
            quarantine.c.company == self.company,
            quarantine.c.status == "open",
            quarantine.c.reported_at.is_(None),
        )
        with self.store.engine.connect() as c:
            ids = set(c.execute(query).scalars())
        return [row for row in self.store.quarantined() if row.id in ids]

    def _entries(self, *where: sa.ColumnElement[bool]) -> list[Entry]:
        query = sa.select(outbox).where(outbox.c.company == self.company, *where).order_by(outbox.c.id)
        with self.store.engine.connect() as c:
            rows = c.execute(query).mappings().all()
        return [
            Entry(
                r["id"],
                r["run_id"],
                r["created_at"],
                r["status"],
                r["attempts"],
                r["last_error"],
                list(r["rows"] or []),
                bytes(r["message"]),
            )
            for r in rows
        ]
