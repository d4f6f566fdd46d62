"""Plain, frozen values that cross layer boundaries.

Storage rows (``digest.store.tables``) are converted to these at the repository boundary,
so adapters and engines never hold a live database object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Feed:
    id: int
    url: str
    title: str | None
    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    last_polled_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetcher returns. ``not_modified`` means a 304: ``content`` is empty."""

    url: str
    status: int
    content: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None
    retry_after: float | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One feed entry as parsed, before identity and storage.

    ``text`` is plain text (markup removed); ``is_teaser`` says the feed carried only a short
    summary, so the article page is worth fetching for the full text.
    """

    guid: str | None
    link: str | None
    title: str
    author: str | None
    published: datetime | None
    text: str
    is_teaser: bool
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str | None
    link: str | None
    entries: tuple[ParsedEntry, ...]
    ttl_minutes: int | None = None
    warning: str | None = None  # a "bozo" error that still yielded entries


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    text: str
    image_url: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    feed_id: int
    entry_id: str
    url: str
    title: str
    author: str | None
    published_at: datetime | None
    text: str
    image_url: str | None
    story_id: int | None
    source_name: str = ""


@dataclass(frozen=True, slots=True)
class Story:
    """Articles from one or more feeds about the same event; ``articles[0]`` is the lead."""

    id: int
    title: str
    created_at: datetime
    articles: tuple[Article, ...] = ()

    @property
    def lead(self) -> Article:
        return self.articles[0]

    @property
    def sources(self) -> tuple[Source, ...]:
        return tuple(Source(a.source_name, a.url) for a in self.articles)


@dataclass(frozen=True, slots=True)
class FaqItem:
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class CardDraft:
    """What a card engine produces; the repository turns it into a stored ``Card``."""

    category: str
    summary: str
    takeaways: tuple[str, str, str]
    why_it_matters: str
    faq: tuple[FaqItem, ...]
    engine: str
    language: str | None = None
    usage: Usage | None = None  # model engines: what the card cost
    # Claim check (model engines): None = not checked (offline cards copy the source);
    # False = kept although these terms were not found in the source text.
    checked: bool | None = None
    unchecked_terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and cost of one or more model requests."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    requests: int = 1

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            model=self.model,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            requests=self.requests + other.requests,
        )


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    story_id: int
    title: str
    url: str
    source: str
    published_at: datetime | None
    category: str
    summary: str
    takeaways: tuple[str, ...]
    why_it_matters: str
    faq: tuple[FaqItem, ...]
    engine: str
    created_at: datetime
    sources: tuple[Source, ...] = field(default_factory=tuple)
    image_url: str | None = None
    language: str | None = None
    usage: Usage | None = None
    checked: bool | None = None
    unchecked_terms: tuple[str, ...] = ()
    related: tuple[int, ...] = ()  # ids of up to 3 recent cards on the closest subjects

    def to_json(self) -> dict[str, object]:
        """The card's public JSON shape (``digest cards show --json``)."""
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "source": self.source,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "category": self.category,
            "summary": self.summary,
            "takeaways": list(self.takeaways),
            "why_it_matters": self.why_it_matters,
            "faq": [{"question": f.question, "answer": f.answer} for f in self.faq],
            "sources": [{"name": s.name, "url": s.url} for s in self.sources],
            "image_url": self.image_url,
            "engine": self.engine,
            "language": self.language,
            "checked": self.checked,
            "unchecked_terms": list(self.unchecked_terms),
            "related": list(self.related),
        }


@dataclass(frozen=True, slots=True)
class PollReport:
    """What one poll of one feed did; the CLI prints these and tests assert on them."""

    feed_id: int
    url: str
    status: str  # "ok", "not_modified", "error", "skipped"
    new_articles: int = 0
    new_stories: int = 0
    error: str | None = None
    next_poll_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An entry ready to store: identity worked out, text final. Built by the poller."""

    entry_key: str
    url: str  # canonical
    title: str
    author: str | None
    published_at: datetime | None
    text: str
    image_url: str | None


@dataclass(frozen=True, slots=True)
class Quote:
    """A sentence from the article that supports an answer."""

    text: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    """What a model answerer returns: the answer, whether the article covers the question,
    quotes it relied on, and what it cost."""

    text: str
    covered: bool
    quotes: tuple[str, ...] = ()
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The answer to a reader's follow-up question about a card.

    ``method`` says how it was found: ``why_it_matters``, ``faq``, ``model``, ``extractive``
    or ``not_covered``.
    """

    text: str
    method: str
    quotes: tuple[Quote, ...] = ()
    cached: bool = False


@dataclass(frozen=True, slots=True)
class Destination:
    """Where messages go: a chat or channel on one platform, optionally a thread in it
    (a Telegram forum topic, a Discord thread); ``thread`` "" means none."""

    platform: str  # "telegram", "discord", ...
    chat: str  # the platform's chat or channel id, as text
    thread: str = ""


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """A subscription's settings, validated (``digest.subscriptions.apply_options`` builds
    it from what a person typed); the store turns it into a ``Subscription``.

    ``categories`` empty = every category; keywords are plain text matched as whole words,
    case-insensitively. ``schedule`` is one or more 5-field cron expressions separated by
    ";" (``digest.schedules``), read in ``timezone``; it matters in ``digest`` mode only, and
    quiet hours ("HH:MM" in ``timezone``) in ``instant`` mode only.
    """

    destination: Destination
    label: str | None = None
    categories: tuple[str, ...] = ()
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    mode: str = "instant"  # "instant" | "digest"
    schedule: str = "0 8 * * *"
    timezone: str = "UTC"
    max_cards: int = 10
    language: str | None = None
    quiet_start: str | None = None
    quiet_end: str | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A stored subscription: its settings, whether it is active (else why it is paused),
    and the last digest slot enqueued for it."""

    id: int
    spec: SubscriptionSpec
    active: bool
    paused_reason: str | None
    last_slot: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def destination(self) -> Destination:
        return self.spec.destination

    @property
    def mode(self) -> str:
        return self.spec.mode
