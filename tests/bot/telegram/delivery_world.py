"""A world for the Telegram sender's tests: the fake Bot API, the real PTB bot pointed at it,
the real app (database on SQLite or PostgreSQL), and the real delivery worker wired to a
``TelegramSender`` as ``python -m bot`` wires it (on_migrate -> move_subscription).

Cards are stored the real way (``Repository.store_entries`` + ``save_card``), which fans
each new card out to every instant subscription, so a test writes a card and drains.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from telegram import Bot

from bot.telegram.sender import TelegramSender
from digest.app import App, open_app
from digest.config import Settings
from digest.delivery.pacing import Pacer, PlatformRates, telegram_group
from digest.delivery.policy import WorkerOptions
from digest.delivery.worker import DeliveryWorker
from digest.models import CardDraft, FaqItem, NewArticle, Subscription
from digest.store.outbox import Outbox
from digest.store.tables import DeliveryRow
from digest.subscriptions import SubscriptionOptions
from tests.support.clock import FakeClock
from tests.support.fake_telegram import FakeChat, FakeTelegram
from tests.support.fake_telegram_ptb import ptb_application

# Titles, sources and summaries a feed may well carry: markup look-alikes and entities.
NASTY = 'Q&A: <b>Chips</b> & "</a>" &amp; <script>x</script> 1 < 2 > 0 <i'
FAST = PlatformRates(overall=10_000.0, chat=10_000.0, group=10_000.0, is_group=telegram_group)
OPTIONS = WorkerOptions(lease=60, batch=100, concurrency=16, retry_base=30, send_timeout=5)
_numbers = itertools.count(1)


class _EveryArticleAStory:
    """A story matcher that never joins articles: every article is a story of its own."""

    seen_up_to = 0

    def find(self, feed_id: int, title: str, text: str) -> int | None:
        return None

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None:
        return None


@dataclass
class TelegramWorld:
    tg: FakeTelegram
    app: App
    clock: FakeClock
    bot: Bot
    sender: TelegramSender
    migrations: list[tuple[str, str]] = field(default_factory=list)

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.app.repo.engine, self.clock)

    def worker(self, rates: PlatformRates = FAST, **options: Any) -> DeliveryWorker:
        """The worker ``bot.runtime.build_delivery_worker`` builds, on this world's clock."""
        return DeliveryWorker(
            outbox=self.outbox,
            senders={"telegram": self.sender},
            destinations=self.app.service.subscriptions,
            pacer=Pacer({"telegram": rates}),
            clock=self.clock,
            options=replace(OPTIONS, **options),
            rng=random.Random(5),
        )

    def subscribe(
        self, chat: FakeChat | str, *, thread: str | None = None, **options: str
    ) -> Subscription:
        where = chat if isinstance(chat, str) else str(chat.id)
        return self.app.service.add_subscription(
            "telegram", where, thread=thread, options=SubscriptionOptions(**options)
        )

    def card(
        self,
        title: str = "Chip makers agree on export rules",
        *,
        summary: str = "Regulators and chip makers agreed on new rules. They start in May.",
        takeaways: tuple[str, str, str] = ("Rules agreed", "Start in May", "Chips affected"),
        source: str = "Tech Wire",
        category: str = "Business",
        image_url: str | None = None,
        faq: Sequence[FaqItem] = (FaqItem("Who is affected?", "Chip makers."),),
    ) -> int:
        """A new card, fanned out to every instant subscription as it is saved; its id."""
        repo = self.app.repo
        n = next(_numbers)
        feed = repo.add_feed(f"https://news.example.com/tg-feed-{n}.xml", source)
        article = NewArticle(
            entry_key=f"tg-guid-{n}",
            url=f"https://news.example.com/story-{n}?a=1&b=2",
            title=title,
            author=None,
            published_at=datetime(2026, 11, 20, 8, tzinfo=UTC),
            text=summary,
            image_url=image_url,
        )
        repo.store_entries(
            feed.id,
            [article],
            _EveryArticleAStory(),
            feed_title=source,
            etag=None,
            last_modified=None,
            next_poll_at=self.clock.now() + timedelta(hours=1),
        )
        story = repo.stories_without_cards(limit=1)[0]
        draft = CardDraft(
            category=category,
            summary=summary,
            takeaways=takeaways,
            why_it_matters="Because exports are a third of the market.",
            faq=tuple(faq),
            engine="offline",
        )
        card_id = repo.save_card(story.id, draft)
        assert card_id is not None
        return card_id

    def deliveries(self) -> list[DeliveryRow]:
        with Session(self.app.repo.engine) as s:
            return list(s.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))

    def subscription(self, sub: Subscription) -> Subscription:
        return self.app.service.get_subscription(sub.id)


@asynccontextmanager
async def telegram_world(
    settings: Settings, tg: FakeTelegram, **builder_options: Any
) -> AsyncIterator[TelegramWorld]:
    """The app on ``settings``' database, a PTB bot on ``tg`` (initialized: ``getMe``), and
    a sender whose ``on_migrate`` moves the subscription as the gateway wires it."""
    clock = FakeClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    async with (
        open_app(settings, clock=clock) as app,
        ptb_application(tg, **builder_options) as ptb,
    ):
        migrations: list[tuple[str, str]] = []

        def on_migrate(old: str, new: str) -> None:
            migrations.append((old, new))
            app.service.move_subscription("telegram", old, new)

        sender = TelegramSender(ptb.bot, on_migrate)
        yield TelegramWorld(tg, app, clock, ptb.bot, sender, migrations)
