"""SQLAlchemy table definitions (typed declarative models).

Only ``digest.store`` touches these; everything else sees the frozen values of
``digest.models``. Uniqueness lives here, in the database, so that running any step twice
(or in two processes at once) cannot store a row twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zone type and hands back naive values; storing naive UTC and
    re-attaching UTC on the way out makes both backends behave the same.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text, e.g. from a hand-written query
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Integer ids are 32-bit on PostgreSQL: a larger one in a query fails there ("integer out of
# range") instead of finding nothing, so lookups by an id a person or a button supplied
# check it first.
MAX_ROW_ID = 2**31 - 1


class Base(DeclarativeBase):
    pass


class FeedRow(Base):
    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    url_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Set while a process polls the feed; a claim past this time is free to take again.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class StoryRow(Base):
    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Set while a process writes the story's card, so no two processes pay for one story.
    card_claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ArticleRow(Base):
    __tablename__ = "articles"
    __table_args__ = (
        # The same entry polled twice is stored once...
        UniqueConstraint("feed_id", "entry_hash", name="uq_articles_feed_entry"),
        # ...and so is an entry whose guid changed but whose canonical URL did not.
        UniqueConstraint("feed_id", "url_hash", name="uq_articles_feed_url"),
        Index("ix_articles_url_hash", "url_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False)
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), nullable=False, index=True
    )
    entry_key: Mapped[str] = mapped_column(Text, nullable=False)
    entry_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    url_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    author: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    image_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class CardRow(Base):
    __tablename__ = "cards"
    __table_args__ = (
        # One card per story and language, whatever runs twice.
        UniqueConstraint("story_id", "lang_key", name="uq_cards_story_language"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), nullable=False
    )
    # ``digest.languages.language_key`` of the language the card was asked for: "" for the
    # story's default card (``DIGEST_LANGUAGE``), made first and for every story; a code
    # ("de") for a card made for subscribers who asked for another language. Not NULL, so
    # the unique constraint holds for the default card on every backend.
    lang_key: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default="")
    category: Mapped[str] = mapped_column(String(64), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    takeaways: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    why_it_matters: Mapped[str] = mapped_column(Text, nullable=False)
    faq: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False)
    engine: Mapped[str] = mapped_column(String(32), nullable=False)
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    # What the card cost (model engines); zero for offline cards.
    model: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    # Claim check: NULL = not checked (offline cards copy their source).
    checked: Mapped[bool | None] = mapped_column(Boolean)
    unchecked_terms: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    related: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)


class LanguageCardRow(Base):
    """A story's card in another language than the default: who is writing it (a claim,
    like ``stories.card_claimed_until`` for the default card) and how it was settled.

    ``settled`` "card": the card exists; "default": its subscribers were given the default
    card instead (no model, the budget spent, the default card already in that language,
    or the wait ran out). A settled row is never claimed again: no card is paid twice, no
    subscriber waits forever."""

    __tablename__ = "language_cards"

    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
    )
    lang_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    settled: Mapped[str | None] = mapped_column(String(16))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class QuestionRow(Base):
    """Every follow-up question and its answer: the record, the cache and the rate limit."""

    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_asker_time", "asker", "created_at"),
        Index("ix_questions_card_key", "card_id", "question_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), nullable=False)
    asker: Mapped[str] = mapped_column(String(128), nullable=False)
    question: Mapped[str] = mapped_column(Text, nullable=False)
    question_key: Mapped[str] = mapped_column(String(64), nullable=False)  # normalised, hashed
    answer: Mapped[str] = mapped_column(Text, nullable=False)
    method: Mapped[str] = mapped_column(String(32), nullable=False)
    quotes: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False, default=list)
    cached: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # An answer that stood in for the model's (outage, rejected reply, budget spent): kept
    # in the record, never served from the cache.
    degraded: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    model: Mapped[str | None] = mapped_column(String(64))
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class SpendRow(Base):
    """One paid model reply, written when it arrives: the daily budget counts every reply,
    including those that never became a card or an answer (rejected, superseded, lost to a
    crash or to a card another process stored first)."""

    __tablename__ = "spend"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)  # "card" | "answer"
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    input_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)


class CardBatchRow(Base):
    """A Message Batch in flight: kept so that a restart collects its (paid) results instead
    of asking again. Its stories stay claimed while it runs (``digest.store.batches``)."""

    __tablename__ = "card_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    # The stories the batch still has to finish: each one leaves the list when it gets its
    # card or is given back to the single-request path.
    story_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    language: Mapped[str | None] = mapped_column(String(64))
    # "running" -> "cancelling" (past its wait) -> "done" once its results are taken.
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Set while a process checks the batch or reads its results.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The ``stories.card_claimed_until`` of the story claims this batch holds: how a process
    # that takes the batch over tells the batch's claims from other processes' claims.
    stories_claimed_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # When the batch was first seen ended (results unreadable for long are given up).
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubscriptionRow(Base):
    """Where cards go (a chat, channel or thread on one platform) and which, how and when."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("platform", "destination", "thread", name="uq_subscriptions_destination"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)  # "telegram", "discord"
    destination: Mapped[str] = mapped_column(String(64), nullable=False)  # chat/channel id
    thread: Mapped[str] = mapped_column(String(64), nullable=False, default="")  # "" = none
    label: Mapped[str | None] = mapped_column(Text)  # the chat's title, for people
    categories: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # [] = all
    include_keywords: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    exclude_keywords: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="instant")
    # Digest slots: 5-field cron expressions joined by ";", read in ``timezone`` (08:00 daily).
    schedule: Mapped[str] = mapped_column(String(128), nullable=False, default="0 8 * * *")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    max_cards: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    language: Mapped[str | None] = mapped_column(String(64))
    quiet_start: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" in ``timezone``
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # The last digest slot enqueued: the next one is computed from it.
    last_slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DeliveryRow(Base):
    """The outbox: one message (an instant card, or a digest for one slot) to send.

    A second row for the same digest slot is impossible (unique subscription + slot), and a
    card reaches a subscription at most once (``DeliveryItemRow``), whatever runs twice.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "slot", name="uq_deliveries_slot"),
        Index("ix_deliveries_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # "card" | "digest"
    slot: Mapped[datetime | None] = mapped_column(UTCDateTime)  # digests only
    # "pending" -> "sent", or "failed" (attempts used up), "rejected" (content refused),
    # "dropped" (destination gone).
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Set while a worker sends it; a claim past this time is free to take again.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    message_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryItemRow(Base):
    """A card in a delivery, in order. Unique per subscription: a card is sent there once,
    and so is a story (a story has a card per language; a subscriber gets one of them)."""

    __tablename__ = "delivery_items"
    __table_args__ = (
        UniqueConstraint("subscription_id", "card_id", name="uq_delivery_items_card"),
        # story first: the fan-out looks up who has a story already.
        UniqueConstraint("story_id", "subscription_id", name="uq_delivery_items_story"),
    )

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    card_id: Mapped[int] = mapped_column(
        ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False
    )
    # The card's story, copied so the database can refuse a second card of one story.
    story_id: Mapped[int] = mapped_column(
        ForeignKey("stories.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class SentMessageRow(Base):
    """A message the bot posted: how a reply or a button press on it finds its card."""

    __tablename__ = "sent_messages"
    __table_args__ = (
        UniqueConstraint("platform", "chat", "message_id", name="uq_sent_messages_message"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), nullable=False)
    chat: Mapped[str] = mapped_column(String(64), nullable=False)
    message_id: Mapped[str] = mapped_column(String(64), nullable=False)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DeliveryWorkerRow(Base):
    """A delivery worker sending to a platform now, until ``alive_until`` unless it checks in
    again: the workers of one bot divide the platform's overall rate among themselves."""

    __tablename__ = "delivery_workers"

    worker: Mapped[str] = mapped_column(String(36), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    alive_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
