"""Request budgets: requests counted per target and scope (an app, an org) per business day."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.state.engine import StatePart, upsert
from connectors.state.schema import request_budget


class RequestBudget(StatePart):
    def requests_used(self, target: str, scope: str, day: str) -> int:
        query = sa.select(request_budget.c.requests).where(
            request_budget.c.company == self.company,
            request_budget.c.target == target,
            request_budget.c.scope == scope,
            request_budget.c.day == day,
        )
        with self.engine.connect() as c:
            return int(c.execute(query).scalar_one_or_none() or 0)

    def add_requests(self, target: str, scope: str, day: str, count: int) -> int:
        """Count requests made; returns the day's total. One statement: no increment is ever lost."""
        return self._count(target, scope, day, count, None) or 0

    def spend_requests(self, target: str, scope: str, day: str, count: int, limit: int) -> bool:
        """Count ``count`` requests only if the day's total stays within ``limit``; False when not.

        Checked and counted in one statement, so workers spending at once never pass the limit together.
        """
        return count <= limit and self._count(target, scope, day, count, limit) is not None

    def _count(self, target: str, scope: str, day: str, count: int, limit: int | None) -> int | None:
        with self.engine.begin() as c:
            insert = upsert(c, request_budget).values(
                company=self.company, target=target, scope=scope, day=day, requests=count
            )
            total = request_budget.c.requests + insert.excluded.requests
            statement = insert.on_conflict_do_update(
                index_elements=[request_budget.c[k] for k in ("company", "target", "scope", "day")],
                set_={"requests": total},
                where=None if limit is None else total <= limit,
            ).returning(request_budget.c.requests)
            counted = c.execute(statement).scalar_one_or_none()
        return None if counted is None else int(counted)
