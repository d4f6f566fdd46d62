"""Many workers on one PostgreSQL, and a database that drops connections mid-run."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from digest.delivery.pacing import Pacer
from digest.delivery.policy import WorkerOptions
from digest.delivery.worker import DeliveryWorker
from digest.errors import StorageError
from digest.ports import SystemClock
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.store.outbox import Outbox
from digest.store.repository import Repository
from digest.store.subscriptions import SubscriptionStore
from tests.digest.delivery.conftest import FAST
from tests.support.deliveries import add_subscriptions, deliveries, make_card
from tests.support.fake_sender import FakeSender


@pytest.fixture
def pg_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite runs one delivery worker")
    return database_url


@pytest.fixture
def engines(pg_url: str) -> Iterator[list[Engine]]:
    made: list[Engine] = []
    yield made
    for engine in made:
        engine.dispose()


def worker_on(engine: Engine, sender: FakeSender, **options: object) -> DeliveryWorker:
    clock = SystemClock()
    return DeliveryWorker(
        outbox=Outbox(engine, clock),
        senders={"fake": sender},
        destinations=SubscriptionStore(engine, clock),
        pacer=Pacer({"fake": FAST}),
        clock=clock,
        options=WorkerOptions(**{"batch": 40, "concurrency": 8, **options}),  # type: ignore[arg-type]
    )


def seed(engine: Engine, chats: int) -> None:
    upgrade(engine)
    add_subscriptions(engine, (str(n) for n in range(chats)))
    make_card(Repository(engine, SystemClock()))


async def test_two_workers_claiming_at_once_never_send_a_delivery_twice(
    pg_url: str, engines: list[Engine]
) -> None:
    engines += [make_engine(pg_url), make_engine(pg_url)]
    seed(engines[0], 300)
    sender = FakeSender(latency=0.003)
    first, second = (worker_on(engine, sender) for engine in engines)
    reports = await asyncio.gather(first.drain(), second.drain())
    assert len(sender.sent) == 300 and sender.duplicates() == 0
    assert all(report.sent > 0 for report in reports), reports  # both took a share
    assert {r.status for r in deliveries(engines[0])} == {"sent"}


async def test_the_worker_recovers_when_the_database_drops_its_connections(
    pg_url: str, engines: list[Engine]
) -> None:
    name = f"digest-test-{uuid.uuid4().hex[:8]}"
    engines += [make_engine(f"{pg_url}&application_name={name}"), make_engine(pg_url)]
    worker_engine, admin = engines
    seed(admin, 200)
    sender = FakeSender(latency=0.005)
    worker = worker_on(worker_engine, sender, lease=5.0, send_timeout=1.0, batch=20)
    killed = 0

    async def restart_the_server_now_and_then() -> None:
        nonlocal killed
        while True:
            await asyncio.sleep(0.15)
            with admin.begin() as conn:
                killed += len(
                    conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE application_name = :name"
                        ),
                        {"name": name},
                    ).all()
                )

    async def deliver_job() -> None:  # what the scheduler's deliver job does, every tick
        while len({m.delivery_id for m in sender.sent}) < 200:
            with contextlib.suppress(StorageError):
                await worker.drain()
            await asyncio.sleep(0.05)

    killer = asyncio.create_task(restart_the_server_now_and_then())
    try:
        await asyncio.wait_for(deliver_job(), timeout=60)
    finally:
        killer.cancel()
    for _ in range(100):  # the last outcomes are recorded once the connection is back
        if {r.status for r in deliveries(admin)} == {"sent"}:
            break
        with contextlib.suppress(StorageError):
            await worker.drain()
        await asyncio.sleep(0.1)
    assert killed > 0
    assert {r.status for r in deliveries(admin)} == {"sent"}
    assert sender.duplicates() == 0
