"""The real Discord platform against the fake Discord: the fixtures of every gateway test.
Every test here also checks that the bot token never reaches a log line."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from digest.app import App
from tests.bot.discord.gateway_world import (
    Bot,
    discord_settings,
    opened,
    running_bot,
    token_never_logged,
)
from tests.support.fake_discord import FakeDiscord


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.05) as fake:
        yield fake


@pytest.fixture(autouse=True)
def no_token_in_logs(caplog: pytest.LogCaptureFixture, dc: FakeDiscord) -> Iterator[None]:
    with token_never_logged(caplog, dc):
        yield


@pytest.fixture
async def app(tmp_path: Path, dc: FakeDiscord) -> AsyncIterator[App]:
    async with opened(discord_settings(tmp_path, dc)) as made:
        yield made


@pytest.fixture
async def bot(dc: FakeDiscord, app: App) -> AsyncIterator[Bot]:
    async with running_bot(dc, app) as running:
        yield running
