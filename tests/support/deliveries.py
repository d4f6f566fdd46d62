"""Filling the outbox for delivery tests and benchmarks: subscriptions in bulk, and cards
made the real way (``Repository.save_card`` fans a new card out to every instant
subscription that wants it, in the card's transaction)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session

from digest.models import CardDraft, FaqItem, NewArticle
from digest.store.repository import Repository
from digest.store.tables import DeliveryRow, SubscriptionRow

_SUBS = cast(Table, SubscriptionRow.__table__)
_DELIVERIES = cast(Table, DeliveryRow.__table__)
_numbers = itertools.count(1)


class _NoMatch:
    """A story matcher that never joins articles: every article is a story of its own."""

    seen_up_to = 0

    def find(self, feed_id: int, title: str, text: str) -> int | None:
        return None

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None:
        return None


def add_subscriptions(
    engine: Engine,
    chats: Iterable[str],
    *,
    platform: str = "fake",
    thread: str = "",
    mode: str = "instant",
    now: datetime | None = None,
) -> list[int]:
    """Active subscriptions of every topic, one per chat, inserted in bulk; their ids."""
    now = now or datetime.now(UTC)
    rows = [
        {
            "platform": platform,
            "destination": chat,
            "thread": thread,
            "categories": [],
            "include_keywords": [],
            "exclude_keywords": [],
            "mode": mode,
            "schedule": "0 8 * * *",
            "timezone": "UTC",
            "max_cards": 10,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for chat in chats
    ]
    ids: list[int] = []
    with engine.begin() as conn:
        for start in range(0, len(rows), 1000):
            part = rows[start : start + 1000]
            ids.extend(
                conn.execute(
                    insert(_SUBS).returning(_SUBS.c.id, sort_by_parameter_order=True), part
                ).scalars()
            )
    return ids


def make_card(
    repo: Repository, title: str | None = None, *, card_draft: CardDraft | None = None
) -> int:
    """A new story with its card (``card_draft``, default ``draft()``); the card is fanned
    out as it is saved. Its id."""
    n = next(_numbers)
    feed = repo.add_feed(f"https://news.example.com/feed-{n}.xml", f"Feed {n}")
    article = NewArticle(
        entry_key=f"guid-{n}",
        url=f"https://news.example.com/story-{n}",
        title=title or f"Headline number {n}",
        author=None,
        published_at=datetime(2026, 11, 20, 8, tzinfo=UTC),
        text=f"Body of story {n}. It has two sentences.",
        image_url=None,
    )
    repo.store_entries(
        feed.id,
        [article],
        _NoMatch(),
        feed_title=f"Feed {n}",
        etag=None,
        last_modified=None,
        next_poll_at=repo._clock.now() + timedelta(hours=1),
    )
    story = repo.stories_without_cards(limit=1)[0]
    card_id = repo.save_card(story.id, card_draft or draft())
    assert card_id is not None
    return card_id


def draft(category: str = "World") -> CardDraft:
    return CardDraft(
        category=category,
        summary="A summary. Of two sentences.",
        takeaways=("one", "two", "three"),
        why_it_matters="Because.",
        faq=(FaqItem("What?", "This."), FaqItem("When?", "Now.")),
        engine="offline",
    )


def deliveries(engine: Engine, ids: Sequence[int] | None = None) -> list[DeliveryRow]:
    """Delivery rows (all, or ``ids``), by id."""
    query = select(DeliveryRow).order_by(DeliveryRow.id)
    if ids is not None:
        query = query.where(DeliveryRow.id.in_(list(ids)))
    with Session(engine) as s:
        return list(s.scalars(query))
