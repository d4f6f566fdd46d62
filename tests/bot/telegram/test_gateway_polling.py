"""Long polling survives Telegram refusing the token for a while: PTB's own polling loop
ends for good on a 401/404 from getUpdates, so the platform connects and polls again."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.telegram import platform
from digest.config import Settings
from tests.bot.telegram.gateway_world import gateway_world
from tests.support.fake_telegram import FakeTelegram, api_error


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def test_polling_resumes_after_telegram_refused_the_token_for_a_while(
    settings: Settings,
    tg: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(platform, "FIRST_RETRY", 0.05)
    caplog.set_level(logging.DEBUG)
    chat = tg.private_chat(tg.alice)
    async with gateway_world(settings, tg):
        tg.fail_next("getUpdates", error=api_error(401, "Unauthorized"))
        tg.fail_next("getMe", error=api_error(401, "Unauthorized"))  # the first retry, too
        tg.user_sends(chat, tg.alice, "/start")  # ends the pending long poll
        await tg.next_sent(chat)
        await tg.wait_for(lambda: len(tg.calls("getMe")) >= 3, what="two getMe retries")
        tg.user_sends(chat, tg.alice, "/help")
        assert "/subscribe" in (await tg.next_sent(chat)).plain
    # Left serving without an error (the ``async with`` ends in ``serve``'s cleanup).
    lines = [r.getMessage() for r in caplog.records]
    assert any("refused the bot token while polling" in line for line in lines)
    text = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert tg.token.partition(":")[2] not in text
