"""Initial sync state: runs ledger, watermarks, links, quarantine, request budget, run lock.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("company", sa.String(128), nullable=False, index=True),
        sa.Column("flow", sa.String(32), nullable=False),
        sa.Column("cut", sa.String(32)),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("finished_at", _WHEN),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    op.create_table(
        "watermarks",
        sa.Column("company", sa.String(128), primary_key=True),
        sa.Column("target", sa.String(128), primary_key=True),
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
    )
    op.create_table(
        "links",
        sa.Column("company", sa.String(128), primary_key=True),
        sa.Column("target", sa.String(128), primary_key=True),
        sa.Column("stream", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("target_id", sa.String(64)),
        sa.Column("values_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("company", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("key", sa.String(320), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("code", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("field", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
    )
    op.create_index("ix_quarantine_open", "quarantine", ["company", "target", "status"])
    op.create_table(
        "request_budget",
        sa.Column("company", sa.String(128), primary_key=True),
        sa.Column("target", sa.String(128), primary_key=True),
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("requests", sa.Integer, nullable=False),
    )
    op.create_table(
        "run_locks",
        sa.Column("company", sa.String(128), primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("acquired_at", _WHEN, nullable=False),
    )


def downgrade() -> None:
    for table in ("run_locks", "request_budget", "quarantine", "links", "watermarks", "runs"):
        op.drop_table(table)
