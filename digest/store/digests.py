"""Digests in the outbox: one per subscription and slot, whatever runs at once.

``enqueue_digests`` runs from the scheduler (``SubscriptionStore.enqueue_due_digests``),
possibly in several processes at the same moment. The database decides:

- ``last_slot`` only moves forward, by a compare-and-set in the transaction that enqueues
  the digest; on PostgreSQL the rows are locked in id order with SKIP LOCKED, so two
  processes split the subscriptions between them instead of waiting (or deadlocking);
- unique (subscription, slot) on ``deliveries`` and unique (subscription, card) and
  (subscription, story) on ``delivery_items`` refuse a second digest or a story given
  twice, should the first rule ever be bypassed (a delivery left without items is deleted
  in the same transaction).

A digest holds one card per story, in the subscriber's language: the story's card in that
language when it exists; else its default card once no other will come (the row in
``language_cards`` is settled "default") or once the default card is older than
``TRANSLATION_WAIT``; until then the story waits for the next digest. So that a waiting
story is not lost, a subscriber with a language looks ``TRANSLATION_WAIT`` further back
than its previous slot (what it already has is skipped by story).

Subscriptions due at the same slot (most are: 08:00 is popular) are handled together, a few
hundred per transaction, with set-wise statements: 10,000 digests are a few hundred
statements, not tens of thousands.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Integer, Table, delete, literal, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

from digest.errors import InvalidSubscription
from digest.languages import language_key
from digest.schedules import latest_due_slot, next_slot
from digest.store.db import transaction
from digest.store.fanout import card_filter, insert_ignoring_conflicts, unnest
from digest.store.language_cards import SETTLED_DEFAULT, TRANSLATION_WAIT, joined_text
from digest.store.tables import (
    CardRow,
    DeliveryItemRow,
    DeliveryRow,
    LanguageCardRow,
    StoryRow,
    SubscriptionRow,
    UTCDateTime,
)
from digest.subscriptions import CardText

log = logging.getLogger(__name__)

_SUBS = cast(Table, SubscriptionRow.__table__)
_DELIVERIES = cast(Table, DeliveryRow.__table__)
_ITEMS = cast(Table, DeliveryItemRow.__table__)
_CARDS = cast(Table, CardRow.__table__)
_STORIES = cast(Table, StoryRow.__table__)
_LANGS = cast(Table, LanguageCardRow.__table__)

FIRST_DIGEST_WINDOW = timedelta(hours=24)  # a first digest collects the last day's cards
# A card's created_at is taken before its transaction commits (a fan-out to thousands of
# subscribers takes a while): one committed just after a slot was collected carries a time
# before that slot. Each digest looks back this much further; stories already given to the
# subscription are skipped, so nothing comes twice.
COMMIT_MARGIN = timedelta(minutes=10)
_DIGEST_COLUMNS = (
    "subscription_id", "kind", "slot", "status", "due_at", "attempts", "message_ids", "created_at",
)  # fmt: skip
GROUP_SIZE = 500  # subscriptions per transaction (and under SQLite's parameter limit)


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
    due: dict[datetime, list[Any]] = {}
    for row in rows:
        slot = _due_slot(row, now)
        if slot is not None:
            due.setdefault(slot, []).append(row)
    texts: dict[int, CardText] = {}  # a card is read once per run, however many want it
    enqueued = 0
    for slot, group in sorted(due.items()):
        for start in range(0, len(group), GROUP_SIZE):
            with transaction(sessions) as s:
                enqueued += enqueue_slot(s, group[start : start + GROUP_SIZE], slot, now, texts)
    return enqueued


def _due_slot(row: Any, now: datetime) -> datetime | None:
    after = row.last_slot or row.created_at
    try:
        # Usually the next slot is still ahead: one trigger step, no search.
        upcoming = next_slot(row.schedule, row.timezone, after)
        if upcoming is None or upcoming > now:
            return None
        return latest_due_slot(row.schedule, row.timezone, after, now)
    except InvalidSubscription as e:  # a stored schedule the code no longer accepts
        log.error("subscription %d: %s", row.id, e)
        return None


def enqueue_slot(
    s: Session, subs: Sequence[Any], slot: datetime, now: datetime, texts: dict[int, CardText]
) -> int:
    """Enqueue the digests of ``subs`` (subscription rows, possibly stale) for ``slot`` in
    the caller's transaction: for each, the matching stories not yet given to it, newest
    first, at most ``max_cards``, carded since its previous slot (the last 24 hours the
    first time), each as the card in its language (see the module docstring). Returns how
    many digests were enqueued: not those another process took, nor those no card matched
    (their ``last_slot`` moves on all the same)."""
    taken = set(_take_slot(s, [row.id for row in subs], slot))
    mine = [row for row in subs if row.id in taken]
    if not mine:
        return 0
    keys = {row.id: language_key(row.language) for row in mine}
    since = {}
    for row in mine:
        previous = row.last_slot - COMMIT_MARGIN if row.last_slot else None
        since[row.id] = previous or slot - FIRST_DIGEST_WINDOW
        if keys[row.id]:  # a story that waited for its translation last time
            since[row.id] -= TRANSLATION_WAIT
    start = min(since.values())
    stories = _stories_since(s, start, now, texts, {k for k in keys.values() if k})
    given = _given(s, list(taken), start)
    late = now - TRANSLATION_WAIT
    chosen: dict[int, list[tuple[int, int]]] = {}
    for row in mine:
        wanted = card_filter(row)
        picked: list[tuple[int, int]] = []
        for story in stories:  # newest first
            if len(picked) >= row.max_cards:
                break
            if story.carded_at <= since[row.id] or (row.id, story.story_id) in given:
                continue
            card = story.card_for(keys[row.id], late)
            if card is not None and wanted.matches(card[1]):
                picked.append((card[0], story.story_id))
        if picked:
            chosen[row.id] = picked
    return _insert_digests(s, chosen, slot, now)


def _take_slot(s: Session, ids: list[int], slot: datetime) -> list[int]:
    """The compare-and-set: ``last_slot`` = ``slot`` where it is earlier; returns the ids it
    moved. A row another transaction holds is skipped (PostgreSQL): that one enqueues it."""
    behind = (
        _SUBS.c.active.is_(True)
        & (_SUBS.c.mode == "digest")
        & (_SUBS.c.last_slot.is_(None) | (_SUBS.c.last_slot < slot))
    )
    lockable = (
        select(_SUBS.c.id)
        .where(_SUBS.c.id.in_(ids), behind)
        .order_by(_SUBS.c.id)
        .with_for_update(skip_locked=True)  # SQLite: nothing; its writers take turns
    )
    moved = s.scalars(
        update(_SUBS)
        .where(_SUBS.c.id.in_(lockable.scalar_subquery()), behind)
        .values(last_slot=slot)
        .returning(_SUBS.c.id)
    )
    return list(moved)


@dataclass(slots=True)
class _StoryCards:
    """A story's cards as a digest chooses among them."""

    story_id: int
    carded_at: datetime  # when its default card was made
    default: tuple[int, CardText]
    others: dict[str, tuple[int, CardText]] = field(default_factory=dict)  # key -> card
    settled_default: set[str] = field(default_factory=set)  # keys given the default card

    def card_for(self, key: str, late: datetime) -> tuple[int, CardText] | None:
        """(card id, text to filter) for a subscriber of language ``key``; ``None`` while
        its card may still come."""
        if not key:
            return self.default
        if key in self.others:
            return self.others[key]
        if key in self.settled_default or self.carded_at <= late:
            return self.default
        return None


def _default_cards(since: datetime, now: datetime) -> Select[Any]:
    return select(_CARDS.c.story_id).where(
        _CARDS.c.lang_key == "", _CARDS.c.created_at > since, _CARDS.c.created_at <= now
    )


def _stories_since(
    s: Session, since: datetime, now: datetime, texts: dict[int, CardText], keys: set[str]
) -> list[_StoryCards]:
    """The stories whose default card was made in (since, now], newest first, with their
    cards in the languages ``keys`` and which of those were settled with the default."""
    rows = s.execute(
        select(
            _CARDS.c.id,
            _CARDS.c.story_id,
            _CARDS.c.created_at,
            _CARDS.c.category,
            _CARDS.c.summary,
            _CARDS.c.takeaways,
            _STORIES.c.title,
        )
        .join(_STORIES, _STORIES.c.id == _CARDS.c.story_id)
        .where(_CARDS.c.lang_key == "", _CARDS.c.created_at > since, _CARDS.c.created_at <= now)
        .order_by(_CARDS.c.created_at.desc(), _CARDS.c.id.desc())
    )
    found = [_StoryCards(row.story_id, row.created_at, (row.id, _text(row, texts))) for row in rows]
    if not keys or not found:
        return found
    by_story = {story.story_id: story for story in found}
    in_window = _default_cards(since, now).scalar_subquery()
    others = s.execute(
        select(
            _CARDS.c.id,
            _CARDS.c.story_id,
            _CARDS.c.lang_key,
            _CARDS.c.category,
            _CARDS.c.summary,
            _CARDS.c.takeaways,
            _STORIES.c.title,
        )
        .join(_STORIES, _STORIES.c.id == _CARDS.c.story_id)
        .where(_CARDS.c.lang_key.in_(sorted(keys)), _CARDS.c.story_id.in_(in_window))
    )
    for row in others:
        story = by_story.get(row.story_id)
        if story is not None:
            story.others[row.lang_key] = (row.id, joined_text(story.default[1], _text(row, texts)))
    settled = s.execute(
        select(_LANGS.c.story_id, _LANGS.c.lang_key).where(
            _LANGS.c.settled == SETTLED_DEFAULT,
            _LANGS.c.lang_key.in_(sorted(keys)),
            _LANGS.c.story_id.in_(in_window),
        )
    )
    for story_id, key in settled:
        if story_id in by_story:
            by_story[story_id].settled_default.add(key)
    return found


def _text(row: Any, texts: dict[int, CardText]) -> CardText:
    text = texts.get(row.id)
    if text is None:
        text = texts[row.id] = CardText.of(
            title=row.title,
            category=row.category,
            summary=row.summary,
            takeaways=row.takeaways or (),
        )
    return text


def _given(s: Session, sub_ids: list[int], since: datetime) -> set[tuple[int, int]]:
    """(subscription, story) pairs already queued or sent, among stories carded since."""
    carded = select(_CARDS.c.story_id).where(_CARDS.c.lang_key == "", _CARDS.c.created_at > since)
    rows = s.execute(
        select(_ITEMS.c.subscription_id, _ITEMS.c.story_id).where(
            _ITEMS.c.subscription_id.in_(sub_ids), _ITEMS.c.story_id.in_(carded.scalar_subquery())
        )
    )
    return {(sub_id, story_id) for sub_id, story_id in rows}


def _insert_digests(
    s: Session, chosen: dict[int, list[tuple[int, int]]], slot: datetime, now: datetime
) -> int:
    """``chosen``: subscription -> its (card, story) pairs, in order."""
    if not chosen:
        return 0
    delivery_of = _insert_deliveries(s, list(chosen), slot, now)
    if not delivery_of:
        return 0
    rows = [
        (d, card_id, sub_id, story_id, i)
        for sub_id, d in delivery_of.items()
        for i, (card_id, story_id) in enumerate(chosen[sub_id])
    ]
    filled = _insert_items(s, rows)
    empty = [d for d in delivery_of.values() if d not in filled]
    if empty:  # every card of it was given meanwhile: no empty digest stays
        s.execute(delete(_DELIVERIES).where(_DELIVERIES.c.id.in_(empty)))
    return len(delivery_of) - len(empty)


def _insert_deliveries(
    s: Session, sub_ids: list[int], slot: datetime, now: datetime
) -> dict[int, int]:
    """Digest deliveries for ``slot``, ignoring those that exist; subscription -> delivery."""
    returning = (_DELIVERIES.c.subscription_id, _DELIVERIES.c.id)
    if s.get_bind().dialect.name == "postgresql":  # arrays: see fanout._insert_deliveries
        subs = unnest(("sub", sub_ids, Integer()))
        statement = postgresql.insert(_DELIVERIES).from_select(
            [*_DIGEST_COLUMNS],
            select(
                subs.c.sub,
                literal("digest"),
                literal(slot, UTCDateTime()),
                literal("pending"),
                literal(slot, UTCDateTime()),
                literal(0),
                literal([], JSON()),
                literal(now, UTCDateTime()),
            ),
        )
        found = s.execute(statement.on_conflict_do_nothing().returning(*returning))
    else:
        found = s.execute(
            insert_ignoring_conflicts(s)(_DELIVERIES)
            .on_conflict_do_nothing()
            .returning(*returning),
            [
                {
                    "subscription_id": sub_id,
                    "kind": "digest",
                    "slot": slot,
                    "status": "pending",
                    "due_at": slot,
                    "attempts": 0,
                    "message_ids": [],
                    "created_at": now,
                }
                for sub_id in sub_ids
            ],
        )
    return {sub_id: delivery_id for sub_id, delivery_id in found}


def _insert_items(s: Session, rows: list[tuple[int, int, int, int, int]]) -> set[int]:
    """(delivery, card, subscription, story, position) items, ignoring a card or story
    given twice; returns the deliveries that got at least one."""
    returning = _ITEMS.c.delivery_id
    if s.get_bind().dialect.name == "postgresql":
        columns = ("delivery", "card", "sub", "story", "position")
        table = unnest(*((name, [r[i] for r in rows], Integer()) for i, name in enumerate(columns)))
        statement = postgresql.insert(_ITEMS).from_select(
            ["delivery_id", "card_id", "subscription_id", "story_id", "position"],
            select(*(table.c[name] for name in columns)),
        )
        return set(s.scalars(statement.on_conflict_do_nothing().returning(returning)))
    statement = insert_ignoring_conflicts(s)(_ITEMS).on_conflict_do_nothing().returning(returning)
    values = [
        {"delivery_id": d, "card_id": c, "subscription_id": sub, "story_id": st, "position": i}
        for d, c, sub, st, i in rows
    ]
    return set(s.scalars(statement, values))
