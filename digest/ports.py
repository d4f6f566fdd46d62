"""The seams of the core: small Protocols that real implementations and test fakes both satisfy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from digest.models import (
    Card,
    CardDraft,
    ExtractedPage,
    FetchResult,
    ModelAnswer,
    ParsedFeed,
    Story,
    Usage,
)


class Fetcher(Protocol):
    """Fetches one URL. Raises ``FetchError`` subclasses; never returns a 4xx/5xx."""

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult: ...


class FeedParser(Protocol):
    """Turns fetched bytes into entries. Pure: no I/O. Raises ``ParseError``."""

    def __call__(self, content: bytes, *, url: str, content_type: str | None) -> ParsedFeed: ...


class ArticleExtractor(Protocol):
    """Finds the main text and lead image of an article page; ``None`` when it cannot."""

    def __call__(self, html: bytes, *, url: str) -> ExtractedPage | None: ...


class CardEngine(Protocol):
    """Writes a card for a story. ``name`` is recorded on every card it makes.

    ``language`` asks for the card's language (a name or code such as "German" or "de");
    engines that cannot translate keep the source language and leave ``language`` unset.
    """

    name: str

    async def make_card(self, story: Story, *, language: str | None = None) -> CardDraft: ...


@runtime_checkable
class BatchCardEngine(CardEngine, Protocol):
    """A card engine that can also write many cards in one cheaper, slower batch.

    Returns story id → draft; a story left out could not be done and is retried later.
    """

    async def make_cards_batch(
        self,
        stories: Sequence[Story],
        *,
        language: str | None = None,
        poll_interval: float = ...,
        max_wait: float = ...,
    ) -> dict[int, CardDraft]: ...


class ModelAnswerer(Protocol):
    """Answers a question about a card from the article text alone, with one model call."""

    async def answer(self, card: Card, article_text: str, question: str) -> ModelAnswer: ...


class SpendMeter(Protocol):
    """The daily model budget, as model clients see it: ask ``allows()`` before each paid
    request (retries included) and ``record`` each paid reply as it arrives."""

    def allows(self) -> bool: ...

    def record(self, usage: Usage, *, purpose: str) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
