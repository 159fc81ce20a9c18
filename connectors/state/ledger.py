"""The runs ledger: one row per run, opened when it starts, closed once with its outcome and counts."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from connectors.state.engine import StatePart
from connectors.state.schema import runs
from schemas import clock


class Ledger(StatePart):
    def start_run(self, flow: str, cut: str | None = None, run_id: str | None = None) -> str:
        run_id = run_id or uuid.uuid4().hex
        with self.engine.begin() as c:
            c.execute(
                runs.insert().values(
                    id=run_id,
                    company=self.company,
                    flow=flow,
                    cut=cut,
                    started_at=clock.now(),
                    state="running",
                    counts={},
                )
            )
        return run_id

    def finish_run(self, run_id: str, state: str, counts: dict[str, Any]) -> bool:
        """Close a running ledger row; False when it was closed already (the first record stands: a
        run recorded as stopped by a signal is not turned into crashed by the hook that follows)."""
        with self.engine.begin() as c:
            result = c.execute(
                runs.update()
                .where(runs.c.id == run_id, runs.c.state == "running")
                .values(finished_at=clock.now(), state=state, counts=counts)
            )
        return bool(result.rowcount)

    def run(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        return dict(row) if row else None

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        query = sa.select(runs).where(runs.c.company == self.company).order_by(runs.c.started_at.desc())
        with self.engine.connect() as c:
            return [dict(r) for r in c.execute(query.limit(limit)).mappings()]
