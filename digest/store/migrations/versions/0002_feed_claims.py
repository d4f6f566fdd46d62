"""feed claims

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 13:29:20.701002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.tables


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_until', digest.store.tables.UTCDateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')

