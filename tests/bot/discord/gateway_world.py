"""The gateway tests' world: a fake Discord, a real app on a fresh SQLite database, and the
real ``DiscordPlatform`` serving against the fake (login, command sync, gateway), pointed
there by its settings (``DISCORD_API_BASE_URL`` / ``DISCORD_GATEWAY_URL``), as in
production. Every test also checks that the bot token never reached a log record."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.discord.platform import DiscordPlatform
from bot.runtime import build_delivery_worker
from digest.app import App, open_app
from digest.config import Settings
from digest.errors import NotFound
from digest.models import Destination, Subscription
from tests.support.fake_discord import FakeDiscord, FakeInteraction, FakeMember, FakeMessage

READY_WAIT = 0.05  # discord.py's wait after the last GUILD_CREATE (default 2 s)
START_TIMEOUT = 5.0


def discord_settings(tmp_path: Path, dc: FakeDiscord, **changes: Any) -> Settings:
    """Settings for the bot against ``dc``: the token and the fake's URLs, a SQLite file
    in ``tmp_path`` (the same file for every call: a restart sees the same database)."""
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'digest.db'}",
        "starter_feeds": "none",
        "discord_token": dc.token,
        "discord_api_base_url": dc.api_base,
        "discord_gateway_url": dc.gateway_url,
    }
    values.update(changes)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Bot:
    """A running platform and what the tests do with it."""

    dc: FakeDiscord
    app: App
    platform: DiscordPlatform
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: FakeMember | None = None,
        channel: Any = None,
        wait_followups: int = 0,
    ) -> FakeInteraction:
        """Use ``/name`` and wait for its answer (and ``wait_followups`` followups)."""
        payload = self.dc.command_interaction(name, options, user=user, channel=channel)
        interaction = await self.dc.interact(payload)
        await self.settled(interaction, wait_followups)
        return interaction

    async def click(
        self,
        custom_id: str,
        *,
        values: list[str] | None = None,
        message: FakeMessage | int | None = None,
        user: FakeMember | None = None,
    ) -> FakeInteraction:
        payload = self.dc.component_interaction(
            custom_id, values=values, message=message, user=user
        )
        interaction = await self.dc.interact(payload)
        await self.settled(interaction, 0)
        return interaction

    async def settled(self, interaction: FakeInteraction, followups: int) -> None:
        """Wait until a deferred ("thinking") response was filled in or deleted, and for
        ``followups`` followup messages."""

        def done() -> bool:
            original = interaction.original
            loading = original is not None and bool(original.data["flags"] & (1 << 7))
            still = loading and not original.deleted  # type: ignore[union-attr]
            return not still and len(interaction.followups) >= followups

        await self.dc.wait_until(done, what="the interaction's answer")

    def subscription(self, channel_id: int, thread: str = "") -> Subscription | None:
        try:
            return self.app.service.get_subscription(
                Destination("discord", str(channel_id), thread)
            )
        except NotFound:
            return None

    async def deliver(self) -> int:
        """Run the real delivery worker once with the platform's sender; cards sent."""
        worker = build_delivery_worker(
            self.app.settings, self.app, {"discord": self.platform.sender}
        )
        report = await worker.drain()
        return report.sent


@contextlib.asynccontextmanager
async def running_bot(dc: FakeDiscord, app: App, **options: Any) -> AsyncIterator[Bot]:
    """Build the platform for ``app``, serve until ready; stop and close on exit."""
    platform = DiscordPlatform(app.settings, app, guild_ready_timeout=READY_WAIT, **options)
    stop = asyncio.Event()
    task = asyncio.create_task(platform.serve(stop))
    try:
        ready = asyncio.ensure_future(platform.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, task}, timeout=START_TIMEOUT, return_when="FIRST_COMPLETED"
        )
        if ready not in done:
            ready.cancel()
            if task in done:
                task.result()
            raise AssertionError("the Discord platform did not get ready")
        yield Bot(dc, app, platform, stop, task)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, START_TIMEOUT)
        await platform.aclose()


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[App]:
    async with open_app(settings) as app:
        yield app


@contextlib.contextmanager
def token_never_logged(caplog: pytest.LogCaptureFixture, dc: FakeDiscord) -> Iterator[None]:
    """Capture every log record at DEBUG (discord.py's too); fail if one holds the token."""
    caplog.set_level(logging.DEBUG)
    yield
    records = [r for when in ("setup", "call") for r in caplog.get_records(when)]
    records += caplog.records  # this teardown's, so far
    assert records, "nothing was logged: the check would prove nothing"
    for record in records:
        text = record.getMessage() + str(record.exc_text or "")
        assert dc.token not in text, f"the token was logged by {record.name}"
