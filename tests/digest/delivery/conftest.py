"""A delivery world for each test, on SQLite and on PostgreSQL: the outbox, subscriptions,
a recording fake sender ("fake" platform, fast rates) and a worker factory."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from sqlalchemy import Engine

from digest.delivery.pacing import Pacer, PlatformRates
from digest.delivery.policy import WorkerOptions
from digest.delivery.worker import DeliveryWorker
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.store.outbox import Outbox
from digest.store.repository import Repository
from digest.store.subscriptions import SubscriptionStore
from tests.support.clock import FakeClock
from tests.support.deliveries import add_subscriptions, make_card
from tests.support.fake_sender import FakeSender

# Fast enough that tests do not wait on pacing unless they ask for it.
FAST = PlatformRates(overall=10_000.0, chat=10_000.0, group=10_000.0)
OPTIONS = WorkerOptions(lease=60, batch=50, concurrency=8, retry_base=30, send_timeout=5)


@dataclass
class World:
    engine: Engine
    clock: FakeClock
    repo: Repository
    outbox: Outbox
    subscriptions: SubscriptionStore
    sender: FakeSender

    def subscribe(self, *chats: str, platform: str = "fake", thread: str = "") -> list[int]:
        return add_subscriptions(
            self.engine, chats, platform=platform, thread=thread, now=self.clock.now()
        )

    def card(self, title: str | None = None) -> int:
        return make_card(self.repo, title)

    def worker(
        self,
        *,
        senders: dict[str, Any] | None = None,
        rates: PlatformRates = FAST,
        **options: Any,
    ) -> DeliveryWorker:
        return DeliveryWorker(
            outbox=self.outbox,
            senders=senders if senders is not None else {"fake": self.sender},
            destinations=self.subscriptions,
            pacer=Pacer({"fake": rates}),
            clock=self.clock,
            options=replace(OPTIONS, **options),
            rng=random.Random(4),
        )


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    upgrade(engine)
    clock = FakeClock()
    yield World(
        engine=engine,
        clock=clock,
        repo=Repository(engine, clock),
        outbox=Outbox(engine, clock),
        subscriptions=SubscriptionStore(engine, clock),
        sender=FakeSender(),
    )
    engine.dispose()
