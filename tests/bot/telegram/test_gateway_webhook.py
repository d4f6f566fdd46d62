"""Webhook mode: the gateway registers its URL and secret with ``setWebhook`` and serves the
webhook itself (aiohttp); updates with the right secret header are handled, anything else
gets 403 and is not."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

from bot.telegram.webhook import listen_address, webhook_path
from digest.config import Settings
from digest.errors import ConfigError
from tests.bot.telegram.gateway_world import gateway_world
from tests.support.fake_telegram import FakeTelegram

SECRET = "webhook-secret_123"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_updates_with_the_secret_are_handled_and_others_refused(
    settings: Settings, tg: FakeTelegram
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    chat = tg.private_chat(tg.alice)
    async with gateway_world(
        settings,
        tg,
        telegram_webhook_url=url,
        telegram_webhook_secret=SecretStr(SECRET),
        telegram_webhook_listen=f"127.0.0.1:{port}",
    ) as world:
        assert world.platform.application.updater is None  # no polling at all
        assert tg.webhook["url"] == url and tg.webhook["secret_token"] == SECRET
        assert tg.calls("getUpdates") == []

        tg.user_sends(chat, tg.alice, "/start")
        assert await tg.push_webhook() == [200]
        assert (await tg.next_sent(chat)).plain.startswith("I follow news feeds")

        update = {
            "update_id": 1,
            "message": {
                "message_id": 99,
                "date": 0,
                "chat": chat.payload(),
                "from": tg.alice.payload(),
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 403
            good = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            async with http.post(url, data=b"not json", headers=good) as response:
                assert response.status == 200  # dropped: Telegram would resend it forever
        tg.user_sends(chat, tg.alice, "/topics")
        assert await tg.push_webhook() == [200]
        assert (await tg.next_sent(chat)).plain.startswith("Topics:")
    assert len(tg.sent_to(chat)) == 2  # the forged /help was not answered


async def test_the_webhook_secret_stays_out_of_debug_logs(
    settings: Settings, tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # PTB logs each call's parameters at DEBUG
    port = free_port()
    async with gateway_world(
        settings,
        tg,
        telegram_webhook_url=f"http://127.0.0.1:{port}/hook",
        telegram_webhook_secret=SecretStr(SECRET),
        telegram_webhook_listen=f"127.0.0.1:{port}",
    ):
        assert tg.webhook["secret_token"] == SECRET
    messages = [r.getMessage() for r in caplog.records]
    assert any("setWebhook" in m and "<secret>" in m for m in messages)
    assert not [m for m in messages if SECRET in m]


def test_listen_addresses_and_paths() -> None:
    assert listen_address("0.0.0.0:8443") == ("0.0.0.0", 8443)
    assert listen_address("[::1]:80") == ("::1", 80)
    with pytest.raises(ConfigError, match="host:port"):
        listen_address("8443")
    assert webhook_path("https://bot.example.com") == "/"
    assert webhook_path("https://bot.example.com/tg/hook") == "/tg/hook"
