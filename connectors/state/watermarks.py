"""Watermarks: how far each target's stream has been committed; they only move forward."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.state.engine import StatePart, upsert
from connectors.state.schema import watermarks
from schemas import clock


class Watermarks(StatePart):
    def watermark(self, target: str, stream: str) -> str | None:
        query = sa.select(watermarks.c.value).where(
            watermarks.c.company == self.company, watermarks.c.target == target, watermarks.c.stream == stream
        )
        with self.engine.connect() as c:
            return c.execute(query).scalar_one_or_none()

    def commit_watermark(self, target: str, stream: str, value: str, run_id: str) -> bool:
        """Move a watermark forward (never back); True when it moved. Values compare as sortable text.

        One statement (insert, or update only where the stored value is smaller): workers committing
        at once end with the largest value, never a smaller one written after it.
        """
        with self.engine.begin() as c:
            insert = upsert(c, watermarks).values(
                company=self.company,
                target=target,
                stream=stream,
                value=value,
                run_id=run_id,
                updated_at=clock.now(),
            )
            moved = c.execute(
                insert.on_conflict_do_update(
                    index_elements=[watermarks.c.company, watermarks.c.target, watermarks.c.stream],
                    set_={k: insert.excluded[k] for k in ("value", "run_id", "updated_at")},
                    where=watermarks.c.value < insert.excluded.value,
                ).returning(watermarks.c.value)
            ).first()
        return moved is not None
