"""The seams of the core: small Protocols that real implementations and test fakes both satisfy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

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

if TYPE_CHECKING:  # the SDK's types, named by the one module allowed to import it
    from digest.summarize.anthropic_batches import CardParams, Client
    from digest.summarize.anthropic_client import Reply


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
class BatchCardEngine(Protocol):
    """What the Message Batches flow (``digest.card_batches``) needs from a model card engine
    (``ClaudeEngine``): the SDK client to send batches through, the model to price answers
    at, the first request of a card (``card_params``: one batch item), and the rest of the
    card path for an answer that came back from a batch (``complete_card``: validation, one
    retry, the claim check, the offline fallback, spend recording). ``complete_card`` raises
    ``ModelError`` when a request it had to make failed."""

    @property
    def client(self) -> Client: ...

    @property
    def model(self) -> str: ...

    def card_params(self, story: Story, *, language: str | None = None) -> CardParams: ...

    async def complete_card(
        self, story: Story, first: Reply | None, *, language: str | None = None
    ) -> CardDraft: ...


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
