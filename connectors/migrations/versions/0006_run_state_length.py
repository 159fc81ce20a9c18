"""A run's state holds "completed_with_rejections" (25 characters): ``runs.state`` widened to 32.

SQLite never enforced the old length of 16; PostgreSQL refused to close such a run. Only databases
that enforce lengths are altered (SQLite would copy the whole table for nothing).

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("runs", "state", type_=sa.String(32), existing_type=sa.String(16))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("runs", "state", type_=sa.String(16), existing_type=sa.String(32))
