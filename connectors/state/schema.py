"""The state database's tables, as the migrations in ``connectors/migrations`` create them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()


class AwareDateTime(sa.types.TypeDecorator[datetime]):
    """UTC in the database; aware datetimes in Python even where SQLite drops the zone."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_WHEN = AwareDateTime()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("company", sa.String(128)),
    sa.Column("flow", sa.String(32)),
    sa.Column("cut", sa.String(32)),
    sa.Column("started_at", _WHEN),
    sa.Column("finished_at", _WHEN),
    sa.Column("state", sa.String(32)),  # "completed_with_rejections" (0006)
    sa.Column("counts", sa.JSON),
)
watermarks = sa.Table(
    "watermarks",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(64)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("updated_at", _WHEN),
)
links = sa.Table(
    "links",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("target_id", sa.String(64)),
    sa.Column("values_hash", sa.String(64)),
    sa.Column("updated_at", _WHEN),
)
quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("company", sa.String(128)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("target", sa.String(128)),
    sa.Column("stream", sa.String(64)),
    sa.Column("key", sa.String(320)),
    sa.Column("payload", sa.JSON),
    sa.Column("code", sa.String(128)),
    sa.Column("reason", sa.Text),
    sa.Column("field", sa.String(128)),
    sa.Column("status", sa.String(16)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", _WHEN),
    sa.Column("updated_at", _WHEN),
    sa.Column("reported_at", _WHEN),  # when a delivered report first named the row (outbox)
)
request_budget = sa.Table(
    "request_budget",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("requests", sa.Integer),
)
run_locks = sa.Table(
    "run_locks",
    metadata,
    sa.Column("company", sa.String(128), primary_key=True),
    sa.Column("run_id", sa.String(64)),
    sa.Column("acquired_at", _WHEN),
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("token", sa.String(32)),
    sa.Column("expires_at", _WHEN),
)
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("company", sa.String(128)),
    sa.Column("run_id", sa.String(64)),
    sa.Column("created_at", _WHEN),
    sa.Column("sent_at", _WHEN),
    sa.Column("status", sa.String(16)),
    sa.Column("attempts", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("rows", sa.JSON),
    sa.Column("message", sa.LargeBinary),
)
