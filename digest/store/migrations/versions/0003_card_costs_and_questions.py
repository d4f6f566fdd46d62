"""card costs, claim check, related cards, questions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 13:34:25.846643
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.tables


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults let the new NOT NULL columns be added to tables that already have rows.
    op.create_table('questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('asker', sa.String(length=128), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('question_key', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('method', sa.String(length=32), nullable=False),
    sa.Column('quotes', sa.JSON(), nullable=False),
    sa.Column('cached', sa.Boolean(), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('input_tokens', sa.Integer(), nullable=False),
    sa.Column('output_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('created_at', digest.store.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index('ix_questions_asker_time', ['asker', 'created_at'], unique=False)
        batch_op.create_index('ix_questions_card_key', ['card_id', 'question_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_questions_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('input_tokens', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('output_tokens', sa.Integer(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('cost_usd', sa.Float(), nullable=False, server_default=sa.text('0')))
        batch_op.add_column(sa.Column('checked', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('unchecked_terms', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column('related', sa.JSON(), nullable=False, server_default=sa.text("'[]'")))

    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_claimed_until', digest.store.tables.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_column('card_claimed_until')

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_column('related')
        batch_op.drop_column('unchecked_terms')
        batch_op.drop_column('checked')
        batch_op.drop_column('cost_usd')
        batch_op.drop_column('output_tokens')
        batch_op.drop_column('input_tokens')
        batch_op.drop_column('model')

    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questions_created_at'))
        batch_op.drop_index('ix_questions_card_key')
        batch_op.drop_index('ix_questions_asker_time')

    op.drop_table('questions')
