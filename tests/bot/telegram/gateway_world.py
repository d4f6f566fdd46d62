"""The Telegram gateway as ``python -m bot`` runs it, for tests and the benchmark: the real
app on a test database, ``bot.telegram.platform.build`` pointed at a ``FakeTelegram``, and
``serve`` running (long polling, or the webhook) until the block ends.

Cards are written the real way (``tests.support.deliveries.make_card``: saving a card fans
it out to every instant subscription) and delivered by the real delivery worker
(``bot.runtime.build_delivery_worker``) through the platform's own sender.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from pydantic import SecretStr

from bot.runtime import build_delivery_worker
from bot.telegram.platform import TelegramPlatform, build
from digest.app import App, open_app
from digest.config import Settings
from digest.errors import NotFound
from digest.models import CardDraft, Destination, FaqItem, Subscription
from tests.support.deliveries import make_card
from tests.support.fake_telegram import FakeChat, FakeTelegram

# A draft with every part a button shows.
DRAFT = CardDraft(
    category="Business",
    summary="Regulators and chip makers agreed on new export rules. They start in May.",
    takeaways=("Rules agreed", "Start in May", "Chips affected"),
    why_it_matters="Exports are a third of the chip market.",
    faq=(FaqItem("Who is affected?", "Chip makers."), FaqItem("When?", "In May.")),
    engine="offline",
)


def gateway_settings(settings: Settings, tg: FakeTelegram, **changes: Any) -> Settings:
    """``settings`` with the fake's token and URL (and ``changes``, by field name)."""
    update: dict[str, Any] = {
        "telegram_token": SecretStr(tg.token),
        "telegram_api_base_url": tg.base_url,
    }
    return settings.model_copy(update=update | changes)


@dataclass
class GatewayWorld:
    tg: FakeTelegram
    app: App
    settings: Settings
    platform: TelegramPlatform

    def card(self, title: str = "Chip makers agree on export rules", **draft: Any) -> int:
        """A new card, fanned out to every instant subscription; its id."""
        return make_card(self.app.repo, title, card_draft=replace(DRAFT, **draft))

    async def deliver(self) -> int:
        """Run the real delivery worker over the outbox once; how many messages it sent."""
        senders = {"telegram": self.platform.sender}
        report = await build_delivery_worker(self.settings, self.app, senders).drain()
        return report.sent

    def subscription(self, chat: FakeChat | str) -> Subscription | None:
        where = chat if isinstance(chat, str) else str(chat.id)
        try:
            return self.app.service.get_subscription(Destination("telegram", where))
        except NotFound:
            return None


@contextlib.asynccontextmanager
async def serving(settings: Settings, app: App) -> AsyncIterator[TelegramPlatform]:
    """``build`` + ``serve`` until the block ends, then ``aclose`` (as ``bot.runtime``)."""
    platform = build(settings, app)
    stop = asyncio.Event()
    task = asyncio.create_task(platform.serve(stop))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not platform.application.running:
            if task.done():
                task.result()  # raises what serve raised
                raise AssertionError("serve returned before the gateway ran")
            if loop.time() > deadline:
                raise AssertionError("the gateway did not start")
            await asyncio.sleep(0.01)
        yield platform
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        await platform.aclose()


@contextlib.asynccontextmanager
async def gateway_world(
    settings: Settings,
    tg: FakeTelegram,
    *,
    app_options: dict[str, Any] | None = None,
    **changes: Any,
) -> AsyncIterator[GatewayWorld]:
    """The gateway serving ``tg``; ``changes`` to the settings by field name, ``app_options``
    for ``open_app`` (e.g. ``model_answerer``)."""
    configured = gateway_settings(settings, tg, **changes)
    async with (
        open_app(configured, **(app_options or {})) as app,
        serving(configured, app) as platform,
    ):
        yield GatewayWorld(tg, app, configured, platform)
