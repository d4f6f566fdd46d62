"""The instant fan-out: a new card queued for every subscription that wants it.

``fan_out_card`` runs inside the transaction that stores the card (``CardQueries.save_card``),
so a card and its deliveries are committed together or not at all: a process killed in the
middle leaves neither, and the card is made again later. Digests are ``digest.store.digests``.

A card reaches a subscription at most once, whatever mode: unique (subscription, card) on
``delivery_items`` decides, not care; and so does a story, whose cards in several languages
are one story to a subscriber: unique (subscription, story). A delivery whose item was
refused is deleted in the same transaction, so no empty delivery is ever committed.

Languages: a card goes to the subscriptions whose language (``digest.languages.
language_key``) is one of ``languages``: the default card to those that asked for none (or
for the default language by name), a card in German to those that asked for German, and the
default card again to those for whom no German card will come (``settle_with_default`` in
``digest.store.language_cards``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Integer,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import (
    cast as sql_cast,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlalchemy.types import TypeEngine

from digest.languages import language_key
from digest.schedules import quiet_until
from digest.store.tables import DeliveryItemRow, DeliveryRow, SubscriptionRow, UTCDateTime
from digest.subscriptions import CardFilter, CardText

_SUBS = cast(Table, SubscriptionRow.__table__)
_DELIVERIES = cast(Table, DeliveryRow.__table__)
_ITEMS = cast(Table, DeliveryItemRow.__table__)
_DELIVERY_COLUMNS = (
    "subscription_id", "kind", "status", "due_at", "attempts", "message_ids", "created_at",
)  # fmt: skip


def insert_ignoring_conflicts(s: Session) -> Any:
    # The same helper as digest.store.cards has; not imported from there because cards.py
    # imports this module.
    return postgresql.insert if _postgresql(s) else sqlite.insert


def card_filter(row: Any) -> CardFilter:  # a row with the three filter columns
    return CardFilter.build(
        row.categories or (), row.include_keywords or (), row.exclude_keywords or ()
    )


# -- instant: one card to every matching subscription ----------------------------------------


def fan_out_card(
    s: Session,
    *,
    card_id: int,
    story_id: int,
    card: CardText,
    now: datetime,
    languages: Collection[str] = ("",),
    subscribed_by: datetime | None = None,
) -> int:
    """Queue ``card_id`` (a card of ``story_id``) for every active instant subscription
    whose language key is in ``languages`` and whose filters match ``card``: one delivery
    (due now, or when the subscriber's quiet hours end) and its item each, in the caller's
    transaction. Subscriptions that already have the story (in any language) are skipped,
    and so are those created after ``subscribed_by`` (a card that comes after its story,
    e.g. a translation, goes to those who were subscribed when the story was carded).
    Returns how many deliveries were queued; 0 (and no rows) for a card that matches nobody.
    """
    wanted = _instant_matches(s, story_id, card, now, languages, subscribed_by)
    if not wanted:
        return 0
    delivery_of = _insert_deliveries(s, wanted, now)  # subscription id -> delivery id
    kept = _insert_items(s, card_id, story_id, [(d, sub_id) for sub_id, d in delivery_of.items()])
    refused = [d for d in delivery_of.values() if d not in kept]
    if refused:  # another transaction gave them this story first: no empty delivery stays
        s.execute(delete(_DELIVERIES).where(_DELIVERIES.c.id.in_(refused)))
    return len(kept)


def _instant_matches(
    s: Session,
    story_id: int,
    card: CardText,
    now: datetime,
    languages: Collection[str],
    subscribed_by: datetime | None,
) -> list[tuple[int, datetime]]:
    """(subscription id, due at) of the subscriptions that want the card."""
    # The filter lists come as JSON text, decoded once per distinct filter: thousands of
    # subscriptions share a handful ("[]" above all), and decoding is most of the cost.
    query = select(
        _SUBS.c.id,
        sql_cast(_SUBS.c.categories, Text),
        sql_cast(_SUBS.c.include_keywords, Text),
        sql_cast(_SUBS.c.exclude_keywords, Text),
        _SUBS.c.timezone,
        _SUBS.c.quiet_start,
        _SUBS.c.quiet_end,
        _SUBS.c.language,
    ).where(_SUBS.c.active.is_(True), _SUBS.c.mode == "instant")
    if subscribed_by is not None:
        query = query.where(_SUBS.c.created_at <= subscribed_by)
    rows = s.execute(query).all()
    have = set(s.scalars(select(_ITEMS.c.subscription_id).where(_ITEMS.c.story_id == story_id)))
    verdicts: dict[tuple[str, str, str], bool] = {}
    quiet: dict[tuple[str, str, str], datetime | None] = {}  # many share a zone and hours
    keys: dict[str | None, bool] = {}  # most share a language (None above all)
    wanted = []
    for sub_id, categories, include, exclude, timezone, quiet_start, quiet_end, lang in rows:
        if lang not in keys:
            keys[lang] = language_key(lang) in languages
        if not keys[lang]:
            continue
        lists = (categories, include, exclude)
        if lists not in verdicts:
            verdicts[lists] = CardFilter.build(*(json.loads(v or "[]") for v in lists)).matches(
                card
            )
        if sub_id in have or not verdicts[lists]:
            continue
        due = now
        if quiet_start and quiet_end:
            key = (timezone, quiet_start, quiet_end)
            if key not in quiet:
                quiet[key] = quiet_until(now, *key)
            due = quiet[key] or now
        wanted.append((sub_id, due))
    return wanted


def _insert_deliveries(
    s: Session, wanted: Sequence[tuple[int, datetime]], now: datetime
) -> dict[int, int]:
    """One card delivery per subscription; returns subscription id -> delivery id (matched by
    subscription: ordered RETURNING makes SQLite insert row by row)."""
    if _postgresql(s):
        # One INSERT ... SELECT from arrays: psycopg parses a 10,000-row VALUES statement
        # on the client for longer than the server takes to run it.
        rows = unnest(
            ("sub", [sub_id for sub_id, _ in wanted], Integer()),
            ("due", [due.astimezone(UTC).replace(tzinfo=None) for _, due in wanted], DateTime()),
        )
        statement = insert(_DELIVERIES).from_select(
            [
                "subscription_id",
                "kind",
                "status",
                "due_at",
                "attempts",
                "message_ids",
                "created_at",
            ],
            select(
                rows.c.sub,
                literal("card"),
                literal("pending"),
                rows.c.due,
                literal(0),
                literal([], JSON()),
                literal(now, UTCDateTime()),
            ),
        )
        found = s.execute(statement.returning(_DELIVERIES.c.subscription_id, _DELIVERIES.c.id))
    else:
        found = s.execute(
            insert(_DELIVERIES).returning(_DELIVERIES.c.subscription_id, _DELIVERIES.c.id),
            [
                {
                    "subscription_id": sub_id,
                    "kind": "card",
                    "status": "pending",
                    "due_at": due,
                    "attempts": 0,
                    "message_ids": [],
                    "created_at": now,
                }
                for sub_id, due in wanted
            ],
        )
    return {sub_id: delivery_id for sub_id, delivery_id in found}


def _insert_items(
    s: Session, card_id: int, story_id: int, deliveries: Sequence[tuple[int, int]]
) -> set[int]:
    """Items for (delivery id, subscription id) pairs, ignoring those that would give a
    subscription the card, or its story, twice; returns the delivery ids whose item went
    in."""
    returning = _ITEMS.c.delivery_id
    if _postgresql(s):
        rows = unnest(
            ("delivery", [d for d, _ in deliveries], Integer()),
            ("sub", [sub_id for _, sub_id in deliveries], Integer()),
        )
        statement = postgresql.insert(_ITEMS).from_select(
            ["delivery_id", "card_id", "subscription_id", "story_id", "position"],
            select(rows.c.delivery, literal(card_id), rows.c.sub, literal(story_id), literal(0)),
        )
        return set(s.scalars(statement.on_conflict_do_nothing().returning(returning)))
    statement = insert_ignoring_conflicts(s)(_ITEMS).on_conflict_do_nothing().returning(returning)
    rows_ = [
        {
            "delivery_id": d,
            "card_id": card_id,
            "subscription_id": sub_id,
            "story_id": story_id,
            "position": 0,
        }
        for d, sub_id in deliveries
    ]
    return set(s.scalars(statement, rows_))


def _postgresql(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def unnest(*columns: tuple[str, list[Any], TypeEngine[Any]]) -> TableValuedAlias:
    """PostgreSQL: parallel arrays as a table of rows, ``unnest(a, b) AS t(a, b)``."""
    arrays = [bindparam(name, values, type_=ARRAY(kind)) for name, values, kind in columns]
    return func.unnest(*arrays).table_valued(*(name for name, _, _ in columns)).render_derived()
