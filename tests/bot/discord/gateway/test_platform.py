"""``DiscordPlatform`` as ``python -m bot`` uses it: one login shared by the sender and the
gateway, discord.py pointed at the configured endpoints only while the platform lives, and
``serve`` returning when stopped while sends may still finish until ``aclose``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import discord.gateway
import discord.http
import pytest

from bot.discord.platform import DISCORD_API, DISCORD_GATEWAY, DiscordPlatform, build
from bot.runtime import build_delivery_worker
from digest.config import Settings
from digest.errors import ConfigError
from tests.bot.discord.gateway_world import (
    discord_settings,
    opened,
    running_bot,
)
from tests.support.deliveries import make_card
from tests.support.fake_discord import FakeDiscord, rate_limited


async def test_endpoints_follow_the_settings_and_are_restored(
    tmp_path: Path, dc: FakeDiscord
) -> None:
    assert discord.http.Route.BASE == DISCORD_API
    async with opened(discord_settings(tmp_path, dc)) as app:
        platform = build(app.settings, app)
        assert dc.api_base == discord.http.Route.BASE
        assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == dc.gateway_url
        await platform.aclose()
    assert discord.http.Route.BASE == DISCORD_API
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == DISCORD_GATEWAY

    defaults = discord_settings(
        tmp_path, dc, discord_api_base_url=DISCORD_API, discord_gateway_url=DISCORD_GATEWAY
    )
    async with opened(defaults) as app:
        platform = build(defaults, app)
        assert discord.http.Route.BASE == DISCORD_API  # Discord's own: nothing patched
        await platform.aclose()


async def test_no_token_is_a_config_error(tmp_path: Path, dc: FakeDiscord) -> None:
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'd.db'}")  # type: ignore[call-arg]
    async with opened(settings) as app:
        with pytest.raises(ConfigError, match="DISCORD_BOT_TOKEN"):
            build(settings, app)


async def test_one_login_for_the_sender_and_the_gateway(tmp_path: Path, dc: FakeDiscord) -> None:
    async with opened(discord_settings(tmp_path, dc)) as app, running_bot(dc, app) as bot:
        await bot.command("subscribe", user=dc.admin)
        make_card(app.repo, "One")
        make_card(app.repo, "Two")
        assert await bot.deliver() == 2
    assert len(dc.requests_to("GET", "/users/@me")) == 1


async def test_serve_returns_when_stopped_and_sends_work_until_aclose(
    tmp_path: Path, dc: FakeDiscord
) -> None:
    async with opened(discord_settings(tmp_path, dc)) as app:
        platform = DiscordPlatform(app.settings, app, guild_ready_timeout=0.05)
        stop = asyncio.Event()
        serving = asyncio.create_task(platform.serve(stop))
        await asyncio.wait_for(platform.client.wait_until_ready(), 5)
        app.service.add_subscription("discord", str(dc.news.id))
        stop.set()
        await asyncio.wait_for(serving, 5)
        # the worker's shutdown grace: a send still goes out over the open session
        make_card(app.repo, "Sent while stopping")
        worker = build_delivery_worker(app.settings, app, {"discord": platform.sender})
        assert (await worker.drain()).sent == 1
        await platform.aclose()
        assert platform.client.is_closed()
    assert [m.embeds[0]["title"] for m in dc.channel_messages(dc.news.id)] == [
        "Sent while stopping"
    ]


async def test_a_rate_limited_command_sync_does_not_stop_the_gateway(
    tmp_path: Path, dc: FakeDiscord
) -> None:
    dc.fail_next("PUT /applications/*/commands", rate_limited(120.0))  # past discord.py's 30 s
    async with opened(discord_settings(tmp_path, dc)) as app:
        platform = DiscordPlatform(app.settings, app, guild_ready_timeout=0.05)
        stop = asyncio.Event()
        serving = asyncio.create_task(platform.serve(stop))
        try:
            for _ in range(300):
                if dc.gateway.identifies:
                    break
                await asyncio.sleep(0.01)
            assert dc.gateway.identifies and not serving.done()  # connected all the same
        finally:
            stop.set()
            await asyncio.wait_for(serving, 10)
            await platform.aclose()
