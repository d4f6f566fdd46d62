"""delivery workers: who sends to each platform now, to share its rate

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.tables


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'delivery_workers',
        sa.Column('worker', sa.String(length=36), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('alive_until', digest.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('worker', 'platform'),
    )


def downgrade() -> None:
    op.drop_table('delivery_workers')
