"""Links: per record, its id in the target and a hash of the values last sent, so unchanged rows
are skipped."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from connectors.http import chunked
from connectors.state.engine import StatePart, upsert
from connectors.state.schema import links
from schemas import clock

Link = tuple[str | None, str]  # (target id, values hash)


class Links(StatePart):
    def link_hashes(self, target: str, stream: str, keys: Iterable[str]) -> dict[str, Link]:
        found: dict[str, Link] = {}
        with self.engine.connect() as c:
            for chunk in chunked(list(keys), 500):
                query = sa.select(links.c.key, links.c.target_id, links.c.values_hash).where(
                    links.c.company == self.company,
                    links.c.target == target,
                    links.c.stream == stream,
                    links.c.key.in_(chunk),
                )
                found.update({r.key: (r.target_id, r.values_hash) for r in c.execute(query)})
        return found

    def links_of(self, target: str, stream: str) -> dict[str, Link]:
        """Every link of one target's stream: key → (target id, values hash)."""
        query = sa.select(links.c.key, links.c.target_id, links.c.values_hash).where(
            links.c.company == self.company, links.c.target == target, links.c.stream == stream
        )
        with self.engine.connect() as c:
            return {r.key: (r.target_id, r.values_hash) for r in c.execute(query)}

    def save_links(self, target: str, stream: str, rows: Iterable[tuple[str, str | None, str]]) -> int:
        """Upsert (key, target_id, values_hash) rows in one transaction (a key given twice: the last).

        Keys are written in sorted order, so two workers saving overlapping keys wait for each other
        row by row instead of deadlocking; neither fails on a key the other inserted first.
        """
        now = clock.now()
        latest = {key: (tid, digest) for key, tid, digest in rows}
        items = [
            {
                "company": self.company,
                "target": target,
                "stream": stream,
                "key": key,
                "target_id": tid,
                "values_hash": digest,
                "updated_at": now,
            }
            for key, (tid, digest) in sorted(latest.items())
        ]
        if not items:
            return 0
        with self.engine.begin() as c:
            insert = upsert(c, links)
            statement = insert.on_conflict_do_update(
                index_elements=[links.c.company, links.c.target, links.c.stream, links.c.key],
                set_={k: insert.excluded[k] for k in ("target_id", "values_hash", "updated_at")},
            )
            for chunk in chunked(items, 500):
                c.execute(statement, chunk)
        return len(items)
