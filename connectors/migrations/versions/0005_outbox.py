"""The notification outbox, and when each quarantined row was first named in a delivered report.

Rows of runs whose email was recorded as sent (the ``notices`` table before this revision) count as
reported; every other open row is attached to the next report.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("company", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("rows", sa.JSON, nullable=False),
        sa.Column("message", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("company", "run_id", name="uq_outbox_run"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["company", "status"])
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE quarantine SET reported_at = (SELECT n.sent_at FROM notices n"
        " WHERE n.company = quarantine.company AND n.run_id = quarantine.run_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_column("reported_at")
    op.drop_index("ix_outbox_pending", "outbox")
    op.drop_table("outbox")
