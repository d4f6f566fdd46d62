"""The bot token never reaches a log line or a person: not through httpx's request lines,
PTB's DEBUG logs, a refused token's error text, nor a failing handler's traceback."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator

import pytest

from bot.common.commands import Commands
from bot.telegram import log_filter
from bot.telegram.handlers import SOMETHING_WENT_WRONG
from bot.telegram.platform import build
from digest.app import open_app
from digest.config import Settings
from tests.bot.telegram.gateway_world import gateway_settings, gateway_world
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_telegram_errors import blocked_by_user, retry_after

WRONG_TOKEN = "123456789:AAH-refused-token-that-must-not-leak"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it (message and traceback)."""
    formatter = logging.Formatter("%(name)s %(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


def test_the_filter_scrubs_messages_arguments_and_tracebacks() -> None:
    token = "987654321:AAE-secret-part-of-the-token"
    scrubber = log_filter.TokenFilter(token)
    try:
        raise RuntimeError(f"bad URL https://api.telegram.org/bot{token}/getMe")
    except RuntimeError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "calling %s failed", (f"/bot{token}/getMe",), None
        )
        record.exc_info = sys.exc_info()
    assert scrubber.filter(record) is True
    text = logging.Formatter().format(record)
    assert token not in text and "AAE-secret-part-of-the-token" not in text
    assert "calling /bot<token>/getMe failed" in text and "bot<token>/getMe" in record.exc_text


async def test_a_whole_conversation_logs_no_token(
    settings: Settings, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = tg.private_chat(tg.alice)
    async with gateway_world(settings, tg):
        tg.user_sends(chat, tg.alice, "/start")
        await tg.next_sent(chat)
    logged = everything_logged(caplog)
    assert "<token>" in logged  # PTB logs its URLs at DEBUG: they were there, scrubbed
    assert tg.token not in logged and tg.token.split(":")[1] not in logged
    httpx_info = [r for r in caplog.records if r.name == "httpx" and r.levelno < logging.WARNING]
    assert httpx_info == []


async def test_a_refused_token_is_logged_without_the_token(
    settings: Settings, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    configured = gateway_settings(settings, tg)
    configured = configured.model_copy(
        update={"telegram_token": type(configured.telegram_token)(WRONG_TOKEN)}
    )
    async with open_app(configured) as app:
        platform = build(configured, app)
        stop = asyncio.Event()
        serving = asyncio.create_task(platform.serve(stop))
        await tg.wait_for(
            lambda: any("refused the bot token" in r.getMessage() for r in caplog.records),
            what="the refusal to be logged",
        )
        stop.set()
        await asyncio.wait_for(serving, 5)
        await platform.aclose()
    logged = everything_logged(caplog)
    assert "Telegram refused the bot token (check TELEGRAM_BOT_TOKEN)" in logged
    assert WRONG_TOKEN not in logged and WRONG_TOKEN.split(":")[1] not in logged


async def test_a_failing_handler_logs_scrubbed_and_tells_the_person_once(
    settings: Settings,
    tg: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: Commands) -> str:
        raise RuntimeError(f"cannot reach https://api.telegram.org/bot{tg.token}/getMe")

    monkeypatch.setattr(Commands, "topics_text", broken)
    chat = tg.private_chat(tg.bob)
    async with gateway_world(settings, tg):
        tg.user_sends(chat, tg.bob, "/topics")
        told = await tg.next_sent(chat)
        tg.user_sends(chat, tg.bob, "/help")  # later updates are handled as usual
        assert (await tg.next_sent(chat)).plain.startswith("/start")
    assert told.plain == SOMETHING_WENT_WRONG
    assert [m.plain for m in tg.sent_to(chat)].count(SOMETHING_WENT_WRONG) == 1
    failures = [
        r for r in caplog.records if "failed" in r.getMessage() and "update" in r.getMessage()
    ]
    assert len(failures) == 1 and "RuntimeError" in failures[0].getMessage()
    assert tg.token not in everything_logged(caplog)


async def test_a_chat_that_blocked_the_bot_mid_answer_is_paused_not_told(
    settings: Settings,
    tg: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22 warns on RetryAfter reads otherwise
    chat = tg.private_chat(tg.bob)
    async with gateway_world(settings, tg) as world:
        tg.user_sends(chat, tg.bob, "/subscribe")
        await tg.next_sent(chat)
        tg.fail_next("sendMessage", chat, error=blocked_by_user())
        tg.user_sends(chat, tg.bob, "/help")
        await tg.wait_for(
            lambda: not getattr(world.subscription(chat), "active", True), what="the pause"
        )
        tg.fail_next("sendMessage", chat, error=retry_after(30))
        tg.user_sends(chat, tg.bob, "/topics")
        await tg.wait_for(lambda: len(tg.calls("sendMessage")) == 3)
        tg.user_sends(chat, tg.bob, "/help")  # later updates are handled as usual
        assert (await tg.next_sent(chat)).plain.startswith("/start")
    sub = world.subscription(chat)
    assert sub is not None and "blocked" in (sub.paused_reason or "")
    assert len(tg.calls("sendMessage")) == 4  # no "Something went wrong" after either
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
