"""The sync-state database, one module per concern behind one facade, ``StateStore``.

ledger (runs), watermarks, links, quarantine, request budget, run lock, and the notification outbox
(``connectors.state.outbox``); the tables in ``schema``, engine and migrations in ``engine``. Every
write is one transaction, so a crash leaves the state as it was before the write or after it, never
between; each write is safe when several workers of one company act at once (see each part).
"""

from __future__ import annotations

from types import TracebackType

from connectors.state.budget import RequestBudget
from connectors.state.engine import APPLICATION_NAME, make_engine, migrate
from connectors.state.ledger import Ledger
from connectors.state.links import Links
from connectors.state.locks import LOCK_LEASE, RunLock
from connectors.state.quarantine import Quarantine, QuarantinedRow, Rejection
from connectors.state.schema import AwareDateTime, metadata, quarantine, run_locks, runs
from connectors.state.watermarks import Watermarks

__all__ = [
    "APPLICATION_NAME",
    "LOCK_LEASE",
    "AwareDateTime",
    "QuarantinedRow",
    "Rejection",
    "StateStore",
    "make_engine",
    "metadata",
    "migrate",
    "quarantine",
    "run_locks",
    "runs",
]


class StateStore(Ledger, Watermarks, Links, Quarantine, RequestBudget, RunLock):
    """The state of one company's integration; close it (or use it in a ``with``) when done."""

    def __init__(self, url: str, company: str):
        engine = make_engine(url)
        migrate(engine)  # reads the schema's version; upgrades only a database behind the code
        super().__init__(engine, company)
        self.url = url

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
