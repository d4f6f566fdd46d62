"""degraded answers: stand-ins for the model's answer are recorded but never served from the cache

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('degraded', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # Extractive answers recorded before this revision cannot tell a stand-in from a final
    # answer; with no paid reply behind them, answering them again costs at most one model
    # call each (nothing without a model).
    op.execute(
        "UPDATE questions SET degraded = true WHERE cached = false"
        " AND method IN ('extractive', 'not_covered') AND model IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_column('degraded')
