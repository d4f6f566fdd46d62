"""Helpers of the Discord sender tests: the idempotent login the gateway side supplies,
and a ``Side`` bundling the fake Discord, the client, the sender and a delivery worker."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, replace
from typing import Any

import discord

from bot.discord.sender import DiscordSender
from digest.delivery.pacing import Pacer
from digest.delivery.worker import DeliveryWorker
from tests.digest.delivery.conftest import FAST, OPTIONS, World
from tests.support.deliveries import deliveries
from tests.support.fake_discord import FakeDiscord

WRONG_TOKEN = "MTAwrong.token-that-must-never-be-printed"


class OnceLogin:
    """The idempotent login the gateway side gives the sender: HTTP only, once."""

    def __init__(self, client: discord.Client, token: str) -> None:
        self.client, self.token, self.calls = client, token, 0
        self._lock = asyncio.Lock()
        self._done = False

    async def __call__(self) -> None:
        async with self._lock:
            if not self._done:
                self.calls += 1
                await self.client.login(self.token)
                self._done = True


@dataclass
class Side:
    """The Discord side of a test: the fake, the client, the sender and its login."""

    dc: FakeDiscord
    client: discord.Client
    sender: DiscordSender
    login: OnceLogin
    world: World

    def worker(self, **options: Any) -> DeliveryWorker:
        return DeliveryWorker(
            outbox=self.world.outbox,
            senders={"discord": self.sender},
            destinations=self.world.subscriptions,
            pacer=Pacer({"discord": FAST}),
            clock=self.world.clock,
            options=replace(OPTIONS, **options),
            rng=random.Random(4),
        )

    def subscribe(self, channel: int, thread: int | None = None) -> int:
        [sub] = self.world.subscribe(
            str(channel), platform="discord", thread=str(thread) if thread else ""
        )
        return sub

    def statuses(self) -> list[str]:
        return [r.status for r in deliveries(self.world.engine)]


def make_side(dc: FakeDiscord, world: World, token: str) -> Side:
    # The gateway side builds its client with max_ratelimit_timeout=30 (discord.py's
    # minimum): a longer 429 is raised as discord.RateLimited instead of slept inside send.
    client = discord.Client(intents=discord.Intents.default(), max_ratelimit_timeout=30.0)
    login = OnceLogin(client, token)
    return Side(dc, client, DiscordSender(client, login), login, world)
