"""Workers sharing a bot divide the platform's overall rate: the roster in the database
(SQLite and PostgreSQL), the pacer's share, and a drain pacing at its part."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from digest.delivery.pacing import Pacer, PlatformRates
from digest.delivery.sender import OutgoingMessage, SendReceipt
from digest.delivery.share import SETTLE, TTL
from digest.delivery.worker import DeliveryWorker
from digest.errors import StorageError
from digest.store.roster import DeliveryRoster
from tests.digest.delivery.conftest import World
from tests.digest.delivery.test_pacing import Ticks
from tests.support.deliveries import deliveries
from tests.support.fake_sender import FakeSender

MINUTE = timedelta(seconds=60)


def test_the_roster_counts_the_workers_sending_to_each_platform(world: World) -> None:
    roster = DeliveryRoster(world.engine, world.clock)
    assert roster.check_in("a", ["telegram"], MINUTE) == {"telegram": 1}
    assert roster.check_in("b", ["telegram", "discord"], MINUTE) == {"telegram": 2, "discord": 1}
    assert roster.check_in("a", ["telegram"], MINUTE) == {"telegram": 2}  # again: still one
    roster.check_out("b")
    assert roster.check_in("a", ["telegram"], MINUTE) == {"telegram": 1}
    assert roster.check_in("a", [], MINUTE) == {}


def test_a_worker_that_stops_checking_in_drops_off(world: World) -> None:
    roster = DeliveryRoster(world.engine, world.clock)
    roster.check_in("dead", ["telegram"], MINUTE)  # then SIGKILL: it never checks out
    world.clock.advance(seconds=30)
    assert roster.check_in("alive", ["telegram"], MINUTE) == {"telegram": 2}
    world.clock.advance(seconds=31)
    assert roster.check_in("alive", ["telegram"], MINUTE) == {"telegram": 1}


def test_the_pacer_spaces_by_its_share_of_the_overall_rate() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": PlatformRates(overall=10.0, chat=100.0, group=100.0)}, monotonic=ticks)
    pacer.share("tg", 2)  # before the first slot
    assert pacer.overall_rate("tg") == 5.0
    assert pacer.reserve("tg", "1") == 0.0
    assert pacer.reserve("tg", "2") == pytest.approx(0.2 - 0.01)  # 5/s: 0.2 s apart (CATCH_UP)
    pacer.share("tg", 1)  # the other worker left: the next slots are 0.1 s apart
    ticks.now += 1.0
    assert pacer.reserve("tg", "3") == 0.0
    assert pacer.reserve("tg", "4") == pytest.approx(0.1 - 0.01)
    pacer.share("tg", 0)  # nonsense counts as alone
    assert pacer.overall_rate("tg") == 10.0


class _Noting(FakeSender):
    """Notes when each message went, and the worker's part of the rate then."""

    def __init__(self) -> None:
        super().__init__()
        self.pacer: Pacer | None = None
        self.times: list[float] = []
        self.rates: list[float] = []

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        assert self.pacer is not None
        self.times.append(time.monotonic())
        self.rates.append(self.pacer.overall_rate("fake"))
        return await super().send(message)


def _worker(world: World, sender: _Noting) -> DeliveryWorker:
    worker = world.worker(
        senders={"fake": sender}, rates=PlatformRates(overall=40.0, chat=1000.0, group=1000.0)
    )
    sender.pacer = worker._pacer
    return worker


async def test_a_drain_paces_at_its_share_while_another_worker_sends(world: World) -> None:
    world.subscribe(*(str(n) for n in range(12)))
    world.card()
    roster = DeliveryRoster(world.engine, world.clock)
    roster.check_in("other", ["fake"], TTL * 10)  # another process is sending to "fake"
    sender = _Noting()
    started = time.monotonic()
    report = await _worker(world, sender).drain()
    assert report.sent == 12
    assert sender.rates == [20.0] * 12  # 40/s shared by two, from the first message on
    # And only once the other worker has had its check-in to learn of this one.
    assert sender.times[0] - started >= SETTLE
    # 11 gaps of 50 ms, less the pacer's 10 ms of catch-up (alone: 25 ms).
    assert sender.times[-1] - sender.times[0] >= 11 * 0.04
    # It left the roster when it ended: the other worker has the whole rate again.
    assert roster.check_in("other", ["fake"], TTL) == {"fake": 1}
    assert {r.status for r in deliveries(world.engine)} == {"sent"}


async def test_alone_a_drain_keeps_the_whole_rate(world: World) -> None:
    world.subscribe(*(str(n) for n in range(12)))
    world.card()
    sender = _Noting()
    await _worker(world, sender).drain()
    assert sender.rates == [40.0] * 12


async def test_the_roster_out_of_reach_leaves_the_pace_as_it_was(world: World) -> None:
    world.subscribe("1", "2")
    world.card()
    worker = world.worker()

    def unreachable(*args: object, **kwargs: object) -> dict[str, int]:
        raise StorageError("database error: connection refused")

    worker.roster.check_in = unreachable  # type: ignore[method-assign]
    report = await asyncio.wait_for(worker.drain(), 30)
    assert report.sent == 2
