"""cards per language: one card per (story, language), claims for the other languages,
and a story reaches a subscription once

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 04:30:00.000000
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

import digest.store.tables


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# SQLite keeps the old unique (story_id) unnamed; batch mode names what it reflects by this.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_story_unique() -> str:
    sqlite = op.get_bind().dialect.name == "sqlite"
    return "uq_cards_story_id" if sqlite else "cards_story_id_key"


# The rows that point at a card (ON DELETE CASCADE).
_CARD_DEPENDENTS = ('questions', 'sent_messages', 'delivery_items')


@contextmanager
def _cards_table_rebuilt() -> Iterator[None]:
    """SQLite changes a constraint by copying the table and dropping the old one; with
    foreign keys on (``digest.store.db``), dropping ``cards`` would delete every question,
    sent message and delivery item of its cards. They are kept aside meanwhile (the
    pragma cannot be turned off inside the migration's transaction)."""
    if op.get_bind().dialect.name != 'sqlite':
        yield
        return
    for table in _CARD_DEPENDENTS:
        op.execute(f"CREATE TEMP TABLE keep_{table} AS SELECT * FROM {table}")
        op.execute(f"DELETE FROM {table}")
    yield
    for table in _CARD_DEPENDENTS:
        op.execute(f"INSERT INTO {table} SELECT * FROM keep_{table}")
        op.execute(f"DROP TABLE keep_{table}")


def upgrade() -> None:
    # Every existing card is its story's default-language card: lang_key "".
    with _cards_table_rebuilt():
        with op.batch_alter_table('cards', naming_convention=_SQLITE_NAMES) as batch_op:
            batch_op.add_column(
                sa.Column('lang_key', sa.String(length=64), server_default='', nullable=False)
            )
            batch_op.drop_constraint(_old_story_unique(), type_='unique')
            batch_op.create_unique_constraint('uq_cards_story_language', ['story_id', 'lang_key'])

    op.create_table('language_cards',
    sa.Column('story_id', sa.Integer(), nullable=False),
    sa.Column('lang_key', sa.String(length=64), nullable=False),
    sa.Column('claimed_until', digest.store.tables.UTCDateTime(), nullable=True),
    sa.Column('settled', sa.String(length=16), nullable=True),
    sa.Column('settled_at', digest.store.tables.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['story_id'], ['stories.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('story_id', 'lang_key')
    )

    # delivery_items.story_id: filled from the cards (one card per story so far, so no
    # subscription has a story twice yet), then required and unique per subscription.
    with op.batch_alter_table('delivery_items') as batch_op:
        batch_op.add_column(sa.Column('story_id', sa.Integer(), nullable=True))
    op.execute(
        "UPDATE delivery_items SET story_id ="
        " (SELECT cards.story_id FROM cards WHERE cards.id = delivery_items.card_id)"
    )
    with op.batch_alter_table('delivery_items') as batch_op:
        batch_op.alter_column('story_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            'fk_delivery_items_story_id', 'stories', ['story_id'], ['id'], ondelete='CASCADE'
        )
        batch_op.create_unique_constraint(
            'uq_delivery_items_story', ['story_id', 'subscription_id']
        )


def downgrade() -> None:
    with op.batch_alter_table('delivery_items') as batch_op:
        batch_op.drop_constraint('uq_delivery_items_story', type_='unique')
        batch_op.drop_constraint('fk_delivery_items_story_id', type_='foreignkey')
        batch_op.drop_column('story_id')
    op.drop_table('language_cards')
    # Only the default cards fit the old one-card-per-story rule.
    op.execute("DELETE FROM cards WHERE lang_key <> ''")
    with _cards_table_rebuilt():
        with op.batch_alter_table('cards', naming_convention=_SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint('uq_cards_story_language', type_='unique')
            batch_op.create_unique_constraint(_old_story_unique(), ['story_id'])
            batch_op.drop_column('lang_key')
