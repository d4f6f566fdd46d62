"""Filling the outbox: a new card's instant deliveries, and the digests that are due.

``fan_out_card`` runs inside the transaction that stores the card (``CardQueries.save_card``),
so a card and its deliveries are committed together or not at all: a process killed in the
middle leaves neither, and the card is made again later. ``enqueue_digests`` runs from the
scheduler (``SubscriptionStore.enqueue_due_digests``), possibly in several processes at once.

Nothing here relies on callers being careful; the database decides:

- a card reaches a subscription at most once, whatever mode: unique (subscription, card) on
  ``delivery_items``; an instant delivery whose item was refused is deleted in the same
  transaction, so no empty delivery is ever committed;
- one digest per (subscription, slot): unique (subscription, slot) on ``deliveries``, and
  ``last_slot`` only moves forward, by a compare-and-set that also serialises two processes
  working on one subscription (the second sees the slot taken and does nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, delete, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from digest.errors import InvalidSubscription
from digest.schedules import latest_due_slot, next_slot, quiet_until
from digest.store.db import transaction
from digest.store.tables import (
    CardRow,
    DeliveryItemRow,
    DeliveryRow,
    StoryRow,
    SubscriptionRow,
)
from digest.subscriptions import CardFilter, CardText

log = logging.getLogger(__name__)

_SUBS = cast(Table, SubscriptionRow.__table__)
_DELIVERIES = cast(Table, DeliveryRow.__table__)
_ITEMS = cast(Table, DeliveryItemRow.__table__)
_CARDS = cast(Table, CardRow.__table__)
_STORIES = cast(Table, StoryRow.__table__)

FIRST_DIGEST_WINDOW = timedelta(hours=24)  # a first digest collects the last day's cards


def _insert_ignoring_conflicts(s: Session) -> Any:
    # The same helper as digest.store.cards has; not imported from there because cards.py
    # imports this module.
    return postgresql.insert if s.get_bind().dialect.name == "postgresql" else sqlite.insert


def _filter(row: Any) -> CardFilter:  # a row with the three filter columns
    return CardFilter.build(
        row.categories or (), row.include_keywords or (), row.exclude_keywords or ()
    )


# -- instant: one card to every matching subscription ----------------------------------------


def fan_out_card(s: Session, *, card_id: int, card: CardText, now: datetime) -> int:
    """Queue ``card_id`` for every active instant subscription whose filters match it: one
    delivery (due now, or when the subscriber's quiet hours end) and its item each, in the
    caller's transaction. Subscriptions that already have the card are skipped. Returns how
    many deliveries were queued; 0 (and no rows) for a card that matches nobody."""
    wanted = _instant_matches(s, card_id, card, now)
    if not wanted:
        return 0
    delivery_of = _insert_deliveries(s, wanted, now)  # subscription id -> delivery id
    kept = _insert_items(s, card_id, [(d, sub_id) for sub_id, d in delivery_of.items()])
    refused = [d for d in delivery_of.values() if d not in kept]
    if refused:  # another transaction gave them this card first: no empty delivery stays
        s.execute(delete(_DELIVERIES).where(_DELIVERIES.c.id.in_(refused)))
    return len(kept)


def _instant_matches(
    s: Session, card_id: int, card: CardText, now: datetime
) -> list[tuple[int, datetime]]:
    """(subscription id, due at) of the subscriptions that want the card."""
    rows = s.execute(
        select(
            _SUBS.c.id,
            _SUBS.c.categories,
            _SUBS.c.include_keywords,
            _SUBS.c.exclude_keywords,
            _SUBS.c.timezone,
            _SUBS.c.quiet_start,
            _SUBS.c.quiet_end,
        ).where(_SUBS.c.active.is_(True), _SUBS.c.mode == "instant")
    ).all()
    have = set(s.scalars(select(_ITEMS.c.subscription_id).where(_ITEMS.c.card_id == card_id)))
    quiet: dict[tuple[str, str, str], datetime | None] = {}  # many share a zone and hours
    wanted = []
    for row in rows:
        if row.id in have or not _filter(row).matches(card):
            continue
        due = now
        if row.quiet_start and row.quiet_end:
            key = (row.timezone, row.quiet_start, row.quiet_end)
            if key not in quiet:
                quiet[key] = quiet_until(now, *key)
            due = quiet[key] or now
        wanted.append((row.id, due))
    return wanted


def _insert_deliveries(
    s: Session, wanted: Sequence[tuple[int, datetime]], now: datetime
) -> dict[int, int]:
    """One card delivery per subscription; returns subscription id -> delivery id. Matched
    by subscription, not by row order: ordered RETURNING makes SQLite insert row by row."""
    rows = s.execute(
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
    return {sub_id: delivery_id for sub_id, delivery_id in rows}


def _insert_items(s: Session, card_id: int, deliveries: Sequence[tuple[int, int]]) -> set[int]:
    """Items for (delivery id, subscription id) pairs, ignoring those that would give a
    subscription the card twice; returns the delivery ids whose item went in."""
    statement = (
        _insert_ignoring_conflicts(s)(_ITEMS)
        .on_conflict_do_nothing()
        .returning(_ITEMS.c.delivery_id)
    )
    rows = [
        {"delivery_id": d, "card_id": card_id, "subscription_id": sid, "position": 0}
        for d, sid in deliveries
    ]
    return set(s.execute(statement, rows).scalars())


# -- digests: one per subscription and slot ------------------------------------------------------


def enqueue_digests(sessions: sessionmaker[Session], now: datetime) -> int:
    """For each active digest subscription whose schedule has a slot in (last slot, now]
    (from its creation the first time, so a new subscription has no backlog), enqueue one
    digest for the latest such slot (after downtime the missed ones are not sent one by
    one). Returns how many digests were enqueued. Safe to run in several processes at once.
    """
    with transaction(sessions) as s:
        rows = s.execute(
            select(_SUBS).where(_SUBS.c.active.is_(True), _SUBS.c.mode == "digest")
        ).all()
    texts: dict[int, CardText] = {}  # a card is read once per run, however many want it
    enqueued = 0
    for row in rows:
        after = row.last_slot or row.created_at
        try:
            # Usually the next slot is still ahead: one trigger step, no search.
            upcoming = next_slot(row.schedule, row.timezone, after)
            if upcoming is None or upcoming > now:
                continue
            slot = latest_due_slot(row.schedule, row.timezone, after, now)
        except InvalidSubscription as e:  # a stored schedule the code no longer accepts
            log.error("subscription %d: %s", row.id, e)
            continue
        if slot is None:
            continue
        with transaction(sessions) as s:
            if enqueue_slot(s, row, slot, now, texts):
                enqueued += 1
    return enqueued


def enqueue_slot(
    s: Session, sub: Row[Any], slot: datetime, now: datetime, texts: dict[int, CardText]
) -> bool:
    """Enqueue ``sub``'s digest for ``slot`` in the caller's transaction: the matching cards
    not yet given to the subscription, newest first, at most ``max_cards``, created since
    its previous slot (the last 24 hours the first time). ``sub`` may be stale: the
    compare-and-set on ``last_slot`` and the unique constraints decide. Returns whether a
    digest was enqueued (not when another process took the slot, nor when no card matched:
    ``last_slot`` moves on either way)."""
    # First, and as a write: it takes the row (PostgreSQL) or the database (SQLite) for
    # this transaction, so of two processes on one slot the second waits, then sees it taken.
    taken = s.execute(
        update(_SUBS)
        .where(
            _SUBS.c.id == sub.id,
            _SUBS.c.active.is_(True),
            _SUBS.c.mode == "digest",
            (_SUBS.c.last_slot.is_(None)) | (_SUBS.c.last_slot < slot),
        )
        .values(last_slot=slot)
        .returning(_SUBS.c.id)
    ).first()
    if taken is None:
        return False
    since = sub.last_slot or slot - FIRST_DIGEST_WINDOW
    card_ids = _digest_cards(s, sub, since, now, texts)
    if not card_ids:
        return False
    delivery_id = s.scalar(
        _insert_ignoring_conflicts(s)(_DELIVERIES)
        .values(
            subscription_id=sub.id,
            kind="digest",
            slot=slot,
            status="pending",
            due_at=slot,
            attempts=0,
            message_ids=[],
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(_DELIVERIES.c.id)
    )
    if delivery_id is None:
        return False
    rows = [
        {"delivery_id": delivery_id, "card_id": c, "subscription_id": sub.id, "position": i}
        for i, c in enumerate(card_ids)
    ]
    statement = (
        _insert_ignoring_conflicts(s)(_ITEMS).on_conflict_do_nothing().returning(_ITEMS.c.card_id)
    )
    if not list(s.execute(statement, rows).scalars()):
        s.execute(delete(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id))
        return False
    return True


def _digest_cards(
    s: Session, sub: Row[Any], since: datetime, now: datetime, texts: dict[int, CardText]
) -> list[int]:
    """Ids of the cards for ``sub``'s digest, newest first."""
    already = exists().where(_ITEMS.c.subscription_id == sub.id, _ITEMS.c.card_id == _CARDS.c.id)
    rows = s.execute(
        select(
            _CARDS.c.id, _CARDS.c.category, _CARDS.c.summary, _CARDS.c.takeaways, _STORIES.c.title
        )
        .join(_STORIES, _STORIES.c.id == _CARDS.c.story_id)
        .where(_CARDS.c.created_at > since, _CARDS.c.created_at <= now, ~already)
        .order_by(_CARDS.c.created_at.desc(), _CARDS.c.id.desc())
    )
    wanted = _filter(sub)
    chosen: list[int] = []
    for row in rows:
        text = texts.get(row.id)
        if text is None:
            text = texts[row.id] = CardText.of(
                title=row.title,
                category=row.category,
                summary=row.summary,
                takeaways=row.takeaways or (),
            )
        if wanted.matches(text):
            chosen.append(row.id)
            if len(chosen) >= sub.max_cards:
                break
    return chosen
