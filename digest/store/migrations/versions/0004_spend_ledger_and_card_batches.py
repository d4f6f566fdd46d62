"""spend ledger and card batches

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 15:31:49.596055
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.tables


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('card_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.String(length=128), nullable=False),
    sa.Column('story_ids', sa.JSON(), nullable=False),
    sa.Column('language', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', digest.store.tables.UTCDateTime(), nullable=False),
    sa.Column('claimed_until', digest.store.tables.UTCDateTime(), nullable=True),
    sa.Column('stories_claimed_until', digest.store.tables.UTCDateTime(), nullable=False),
    sa.Column('ended_at', digest.store.tables.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('batch_id')
    )
    with op.batch_alter_table('card_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_batches_status'), ['status'], unique=False)

    op.create_table('spend',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', digest.store.tables.UTCDateTime(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('spend', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spend_at'), ['at'], unique=False)

    # What cards and answers cost before this revision becomes the ledger's first rows, so the
    # daily budget of an upgraded database still counts today's spend.
    for table, purpose in (('cards', 'card'), ('questions', 'answer')):
        op.execute(
            f"INSERT INTO spend (at, purpose, model, input_tokens, output_tokens, cost_usd) "
            f"SELECT created_at, '{purpose}', model, input_tokens, output_tokens, cost_usd "
            f"FROM {table} WHERE model IS NOT NULL AND (input_tokens > 0 OR cost_usd > 0)"
        )



def downgrade() -> None:
    with op.batch_alter_table('spend', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spend_at'))

    op.drop_table('spend')
    with op.batch_alter_table('card_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_batches_status'))

    op.drop_table('card_batches')
