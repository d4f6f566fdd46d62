"""Helpers for the tests of the Message Batches flow (``digest.card_batches``): a "process"
of the bot (its own database engine, SDK client, Claude engine and ``CardBatches``), stories
about the sample article, and what the database and the fake API saw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from digest.card_batches import CardBatches
from digest.cardmaker import BATCH_LEASE, CLAIM_LEASE
from digest.config import Settings
from digest.models import CardDraft, NewArticle, Story, Usage
from digest.store.batches import BatchStore
from digest.store.cards import StoryClaim
from digest.store.db import make_engine
from digest.store.repository import Repository
from digest.store.tables import CardBatchRow, StoryRow
from digest.summarize.anthropic_engine import ClaudeEngine
from digest.summarize.offline import OfflineEngine
from tests.support.claude import KEY
from tests.support.clock import FakeClock
from tests.support.fake_anthropic import SAMPLE_ARTICLE, FakeAnthropic

MODEL = "claude-haiku-5-5"
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Meter:
    """A spend meter that allows everything and remembers what was recorded."""

    def __init__(self) -> None:
        self.recorded: list[Usage] = []

    def allows(self) -> bool:
        return True

    def record(self, usage: Usage, *, purpose: str) -> None:
        self.recorded.append(usage)


class Process:
    """One process of the bot: its own database engine, SDK client, card engine, batches."""

    def __init__(self, url: str, api: FakeAnthropic, clock: FakeClock, **options: Any) -> None:
        categories = Settings(_env_file=None).categories  # type: ignore[call-arg]
        self.db = make_engine(url)
        self.repo = Repository(self.db, clock)
        self.store = BatchStore(self.db, clock)
        self.client = anthropic.AsyncAnthropic(
            api_key=KEY, base_url=api.url, max_retries=0, timeout=5.0
        )
        self.meter = Meter()
        self.engine = ClaudeEngine(
            self.client,
            model=MODEL,
            categories=categories,
            fallback=OfflineEngine(categories),
            meter=self.meter,
        )
        self.batches = CardBatches(
            self.engine, repo=self.repo, store=self.store, clock=clock, **options
        )
        self.saved: list[int] = []

    def save(self, story: Story, draft: CardDraft) -> int | None:
        card_id = self.repo.save_card(story.id, draft)
        if card_id is not None:
            self.saved.append(story.id)
        return card_id

    async def submit(self, limit: int = 100, language: str | None = None) -> list[StoryClaim]:
        claims = self.repo.claim_stories_for_cards(limit=limit, lease=BATCH_LEASE)
        await self.batches.submit(claims, language=language)
        return claims

    async def collect(self) -> list[int]:
        return await self.batches.collect(self.save)

    async def close(self) -> None:
        await self.client.close()
        self.db.dispose()


def add_stories(repo: Repository, count: int) -> list[int]:
    """``count`` stories about the sample article, oldest first; their ids."""
    feed = repo.add_feed(f"https://news{len(repo.list_feeds())}.example.com/feed.xml", "News")
    articles = [
        NewArticle(
            entry_key=f"e{n}",
            url=f"https://news.example.com/{feed.id}/{n}",
            title=f"Riverton approves flood barrier, part {n}",
            author=None,
            published_at=START,
            text=SAMPLE_ARTICLE,
            image_url=None,
        )
        for n in range(count)
    ]
    repo.store_entries(
        feed.id,
        articles,
        _NoMatch(),
        feed_title="News",
        etag=None,
        last_modified=None,
        next_poll_at=START + timedelta(hours=1),
    )
    return [s.id for s in repo.stories_without_cards(limit=1_000)][-count:]


class _NoMatch:
    seen_up_to = 0

    def find(self, feed_id: int, title: str, text: str) -> int | None:
        return None

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None:
        pass


def batch_kind(method: str, path: str) -> str:
    """``create``, ``list``, ``retrieve``, ``cancel`` or ``results``."""
    parts = path.split("/")[4:]  # after "/v1/messages/batches"
    if not parts:
        return "create" if method == "POST" else "list"
    return "retrieve" if len(parts) == 1 else parts[1]


def batch_calls(api: FakeAnthropic, kind: str) -> int:
    """Calls to one batch endpoint (see ``batch_kind``)."""
    return sum(1 for r in api.batch_requests if batch_kind(r.method, r.path) == kind)


def rows(db: Engine) -> list[CardBatchRow]:
    with Session(db) as s:
        return list(s.scalars(select(CardBatchRow).order_by(CardBatchRow.id)))


def claimed_until(db: Engine, story_id: int) -> datetime | None:
    with Session(db) as s:
        return s.scalar(select(StoryRow.card_claimed_until).where(StoryRow.id == story_id))


def free_stories(process: Process) -> list[int]:
    """The stories the single-request path could take now (claimed, then given back)."""
    claims = process.repo.claim_stories_for_cards(limit=100, lease=CLAIM_LEASE)
    for claim in claims:
        process.repo.release_story(claim)
    return sorted(c.story.id for c in claims)
