"""Edges of the delivery worker found in review: a subscription removed mid-send, a drain
longer than its card cache, a destination resumed within a drain, a shutdown past its
grace (both backends)."""

from __future__ import annotations

import asyncio

import pytest

from bot.scheduler import Jobs
from digest.delivery import run
from digest.delivery.pacing import PlatformRates
from digest.delivery.sender import OutgoingMessage, SendReceipt
from digest.errors import DestinationGone
from digest.models import Destination, SubscriptionSpec
from tests.digest.delivery.conftest import World
from tests.support.deliveries import deliveries
from tests.support.fake_sender import FakeSender


async def wait_for_sends(world: World, n: int) -> None:
    for _ in range(500):
        if world.sender.in_flight >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{n} sends never started")


async def test_unsubscribing_during_a_send_blocks_nothing_and_repeats_nothing(
    world: World,
) -> None:
    gone, stays = world.subscribe("1", "2")
    world.card()
    world.sender.hold()
    worker = world.worker()
    draining = asyncio.create_task(worker.drain())
    await wait_for_sends(world, 2)
    world.subscriptions.remove(gone)  # its delivery row goes while the message is posted
    world.sender.release()

    report = await asyncio.wait_for(draining, 10)  # before the fix: never returned

    assert report.sent == 2  # both were posted; one of them for a subscription now gone
    assert [(r.subscription_id, r.status) for r in deliveries(world.engine)] == [(stays, "sent")]
    world.clock.advance(seconds=3600)  # every lease long gone: nothing is sent again
    await world.worker().drain()
    assert sorted(world.sender.chats()) == ["1", "2"] and world.sender.duplicates() == 0


async def test_a_drain_past_its_card_cache_still_sends_every_card(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run, "_CARD_CACHE", 3)  # cut while claims still wait in lanes
    for n in range(12):  # each chat gets cards no other chat gets
        world.subscriptions.add(
            SubscriptionSpec(Destination("fake", str(n)), include_keywords=(f"topic{n}",))
        )
        for _ in range(3):
            world.card(f"News about topic{n}")
    paced = PlatformRates(overall=10_000.0, chat=20.0, group=20.0)  # claims queue per chat
    report = await world.worker(rates=paced, batch=12, per_chat=3).drain()
    assert report.sent == 36 and report.dropped == 0
    assert {r.status for r in deliveries(world.engine)} == {"sent"}


class _HoldsChat(FakeSender):
    """Holds sends to one chat until released; fails the first send to another."""

    def __init__(self, held: str) -> None:
        super().__init__()
        self.held = held
        self.gate = asyncio.Event()

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        if message.destination.chat == self.held:
            await self.gate.wait()
        return await super().send(message)


async def test_a_destination_resumed_within_a_drain_gets_its_new_cards(world: World) -> None:
    kicked, _ = world.subscribe("1", "2")
    world.card()
    sender = _HoldsChat("2")  # keeps the drain running
    sender.fail(DestinationGone("Forbidden: bot was kicked"), chat="1")
    # chat 2 is held for as long as this takes: no send timeout may end it meanwhile
    worker = world.worker(senders={"fake": sender}, send_timeout=120, lease=300)
    draining = asyncio.create_task(worker.drain())
    for _ in range(500):
        if not world.subscriptions.get(kicked).active:
            break
        await asyncio.sleep(0.01)
    world.subscriptions.resume(kicked)  # the bot was added back
    before = {r.id for r in deliveries(world.engine)}
    new = world.card()
    for _ in range(6000):  # until the drain has claimed the new delivery (or sent it)
        rows = [r for r in deliveries(world.engine) if r.subscription_id == kicked]
        if any(r.claim_token or r.status == "sent" for r in rows if r.id not in before):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the new delivery was not claimed while chat 2 was held")
    sender.gate.set()
    report = await asyncio.wait_for(draining, 10)
    assert report.dropped == 1 and report.sent == 3
    assert [m.cards[0].id for m in sender.sent if m.destination.chat == "1"] == [new]


async def test_a_shutdown_past_its_grace_lets_the_send_finish_and_records_it(
    world: World,
) -> None:
    world.subscribe(*(str(n) for n in range(4)))
    world.card()
    world.sender.hold()
    worker = world.worker(concurrency=2, batch=4)
    jobs = Jobs.__new__(Jobs)  # only the job tracking and shutdown of the real class
    jobs.worker, jobs.in_flight, jobs.scheduler = worker, set(), _Stopped()
    job = asyncio.create_task(jobs._tracked("deliver", worker.drain)())
    await wait_for_sends(world, 2)

    async def platform_answers_late() -> None:
        await asyncio.sleep(0.5)
        world.sender.release()

    answering = asyncio.create_task(platform_answers_late())
    await jobs.shutdown(grace=0.1)  # cancels the drain while two sends are in flight
    await answering
    await job

    rows = deliveries(world.engine)
    assert sorted(r.status for r in rows) == ["pending", "pending", "sent", "sent"]
    assert all(r.claim_token is None for r in rows)  # recorded or given back, none left held
    world.clock.advance(seconds=3600)
    await world.worker().drain()
    assert sorted(world.sender.chats()) == ["0", "1", "2", "3"]
    assert world.sender.duplicates() == 0


class _Stopped:
    running = False
