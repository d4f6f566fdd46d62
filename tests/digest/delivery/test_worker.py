"""The delivery worker: sending, recording, and each failure class (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import timedelta

import pytest

from digest.delivery.pacing import PlatformRates
from digest.errors import DestinationGone, RejectedContent, RetryLater
from digest.models import Destination
from tests.digest.delivery.conftest import World
from tests.support.deliveries import deliveries


def statuses(world: World) -> dict[str, str]:
    """chat -> status, for one delivery per chat."""
    subs = {s.id: s.destination.chat for s in world.subscriptions.list_subscriptions()}
    return {subs[r.subscription_id]: r.status for r in deliveries(world.engine)}


async def test_a_new_card_reaches_every_subscriber_once(world: World) -> None:
    world.subscribe("1", "2", "3")
    card = world.card()
    report = await world.worker().drain()
    assert report.sent == 3
    assert sorted(world.sender.chats()) == ["1", "2", "3"]
    assert all(m.cards[0].id == card and m.kind == "card" for m in world.sender.sent)
    assert statuses(world) == {"1": "sent", "2": "sent", "3": "sent"}
    for row in deliveries(world.engine):
        assert row.message_ids and row.sent_at == world.clock.now()
        assert world.outbox.card_for_message("fake", statuses and "1", row.message_ids[0]) in (
            card,
            None,
        )
    first = world.sender.sent[0]
    receipt_id = next(
        r.message_ids[0] for r in deliveries(world.engine) if r.id == first.delivery_id
    )
    assert world.outbox.card_for_message("fake", first.destination.chat, receipt_id) == card
    assert first.idempotency_key == f"d{first.delivery_id}" and first.attempt == 1
    assert (await world.worker().drain()).sent == 0  # nothing twice
    assert world.sender.duplicates() == 0


async def test_a_card_that_matches_nobody_sends_nothing(world: World) -> None:
    world.card()
    assert not await world.worker().drain()
    assert world.sender.calls == []


async def test_a_platform_without_a_sender_keeps_its_deliveries_pending(world: World) -> None:
    world.subscribe("1", platform="telegram")
    world.subscribe("2")
    world.card()
    await world.worker().drain()
    assert statuses(world) == {"1": "pending", "2": "sent"}
    (waiting,) = [r for r in deliveries(world.engine) if r.status == "pending"]
    assert waiting.attempts == 0 and waiting.claimed_until is None


async def test_a_rate_limit_pauses_the_chat_and_the_message_goes_after_it(world: World) -> None:
    world.subscribe("1", "2")
    world.card()
    world.sender.fail(RetryLater("Too Many Requests", retry_after=0.3), chat="1")
    loop = asyncio.get_running_loop()
    started = loop.time()
    report = await world.worker().drain()
    assert report.sent == 2 and report.retried == 0
    assert world.sender.chats() == ["2", "1"]  # the other chat did not wait
    assert loop.time() - started >= 0.3
    assert all(r.attempts == 1 for r in deliveries(world.engine))  # a 429 is not an attempt


async def test_a_long_platform_pause_gives_the_claims_back_due_when_it_ends(world: World) -> None:
    world.subscribe("1", "2")
    world.card()
    world.sender.fail(RetryLater("global", retry_after=120, scope="platform"))
    report = await world.worker(max_pause_wait=5).drain()
    assert report.sent == 0 and report.retried == 2
    for row in deliveries(world.engine):
        assert row.status == "pending" and row.attempts == 0
        assert row.due_at >= world.clock.now() + timedelta(seconds=119)


async def test_other_failures_back_off_exponentially_with_jitter(world: World) -> None:
    world.subscribe("1")
    world.card()
    world.sender.fail(RetryLater("HTTP 502"), times=2)
    worker = world.worker(retry_base=30, max_attempts=5)
    dues = []
    for _ in range(2):
        assert (await worker.drain()).retried == 1
        (row,) = deliveries(world.engine)
        dues.append(row.due_at - world.clock.now())
        assert row.last_error == "HTTP 502"
        world.clock.advance(hours=1)
    assert timedelta(seconds=15) <= dues[0] <= timedelta(seconds=30)
    assert timedelta(seconds=30) <= dues[1] <= timedelta(seconds=60)
    assert (await worker.drain()).sent == 1
    (row,) = deliveries(world.engine)
    assert (row.status, row.attempts) == ("sent", 3)


async def test_attempts_are_bounded(world: World) -> None:
    world.subscribe("1")
    world.card()
    world.sender.fail(RetryLater("HTTP 500"), times=None)
    worker = world.worker(max_attempts=3)
    for _ in range(5):
        await worker.drain()
        world.clock.advance(hours=2)
    (row,) = deliveries(world.engine)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 500")
    assert len(world.sender.calls) == 3


async def test_a_destination_that_is_gone_is_paused_and_never_sent_to_again(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.subscribe("gone", "ok")
    world.subscribe("gone", thread="7")
    for _ in range(3):
        world.card()
    world.sender.fail(DestinationGone("Forbidden: bot was kicked"), chat="gone", times=None)
    with caplog.at_level(logging.WARNING):
        await world.worker(per_chat=2).drain()
    assert "gone" in caplog.text
    assert len([m for m in world.sender.calls if m.destination.chat == "gone"]) == 1
    assert world.sender.chats().count("ok") == 3
    for sub in world.subscriptions.list_subscriptions(chat="gone"):
        assert not sub.active and sub.paused_reason == "Forbidden: bot was kicked"
    gone = [r for r in deliveries(world.engine) if r.status != "sent"]
    assert len(gone) == 6 and {r.status for r in gone} == {"dropped"}
    assert {r.last_error for r in gone} == {"Forbidden: bot was kicked"}
    world.card()  # a new card: not queued for the paused destination
    await world.worker().drain()
    assert len([m for m in world.sender.calls if m.destination.chat == "gone"]) == 1


async def test_a_thread_that_is_gone_pauses_only_that_thread(world: World) -> None:
    world.subscribe("9", thread="topic")
    world.subscribe("9")
    world.card()
    world.sender.fail(DestinationGone("message thread not found", thread_only=True), chat="9")
    await world.worker().drain()
    paused = world.subscriptions.get(Destination("fake", "9", "topic"))
    main = world.subscriptions.get(Destination("fake", "9", ""))
    assert not paused.active and main.active
    assert [m.destination.thread for m in world.sender.sent] == [""]


async def test_rejected_content_is_recorded_and_not_retried(world: World) -> None:
    world.subscribe("1")
    world.card()
    world.sender.fail(RejectedContent("Bad Request: message is too long"))
    report = await world.worker().drain()
    assert report.rejected == 1
    world.clock.advance(days=1)
    await world.worker().drain()
    (row,) = deliveries(world.engine)
    assert (row.status, row.last_error) == ("rejected", "Bad Request: message is too long")
    assert len(world.sender.calls) == 1


async def test_a_sender_bug_or_a_timeout_is_retried_later(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.subscribe("1")
    world.card()
    world.sender.fail(KeyError("oops"))
    with caplog.at_level(logging.ERROR):
        assert (await world.worker().drain()).retried == 1
    assert "Traceback" in caplog.text or "oops" in caplog.text
    world.clock.advance(hours=1)
    world.sender.latency = 1.0
    assert (await world.worker(send_timeout=0.1).drain()).retried == 1
    (row,) = deliveries(world.engine)
    assert row.last_error == "no answer within 0.1 s" and row.attempts == 2


async def test_a_paused_subscription_claimed_meanwhile_is_dropped(world: World) -> None:
    (sub,) = world.subscribe("1")
    world.card()
    (claimed,) = world.outbox.claim(platforms=["fake"], limit=10, per_chat=5, lease=timedelta(1))
    world.subscriptions.pause(sub, "paused by a user")
    world.outbox.release([claimed])  # a worker gave it back before it saw the pause
    await world.worker().drain()
    (row,) = deliveries(world.engine)
    assert (row.status, row.last_error) == ("dropped", "paused by a user")
    assert world.sender.calls == []


async def test_a_delivery_claimed_by_a_dead_worker_is_sent_after_its_lease(world: World) -> None:
    world.subscribe("1")
    world.card()
    world.outbox.claim(platforms=["fake"], limit=10, per_chat=5, lease=timedelta(seconds=60))
    assert (await world.worker().drain()).sent == 0  # still claimed
    world.clock.advance(seconds=61)
    assert (await world.worker().drain()).sent == 1
    (row,) = deliveries(world.engine)
    assert row.attempts == 2  # the dead worker's try counts


async def test_stop_lets_the_send_in_flight_finish_and_gives_the_rest_back(world: World) -> None:
    world.subscribe(*(str(n) for n in range(10)))
    world.card()
    world.sender.hold()
    worker = world.worker(concurrency=2, batch=10)
    draining = asyncio.create_task(worker.drain())
    for _ in range(500):
        if world.sender.in_flight == 2:
            break
        await asyncio.sleep(0.01)
    worker.stop()
    world.sender.release()
    report = await asyncio.wait_for(draining, 5)
    assert report.sent == 2 and report.released == 8
    rows = deliveries(world.engine)
    assert sorted(r.status for r in rows) == ["pending"] * 8 + ["sent"] * 2
    for row in rows:
        assert row.claimed_until is None and row.claim_token is None
        assert row.attempts == (1 if row.status == "sent" else 0)


async def test_one_chat_gets_its_cards_in_order_at_its_own_pace(world: World) -> None:
    world.subscribe("slow", "fast")
    cards = [world.card() for _ in range(3)]
    rates = PlatformRates(overall=1000.0, chat=10.0, group=10.0)
    await world.worker(rates=rates).drain()
    slow = [
        (m.cards[0].id, t)
        for m, t in zip(world.sender.sent, world.sender.sent_at, strict=True)
        if m.destination.chat == "slow"
    ]
    assert [card for card, _ in slow] == cards
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(slow)]
    assert all(gap >= 0.09 for gap in gaps), gaps


async def test_the_overall_rate_holds_and_the_platform_never_says_429(world: World) -> None:
    world.subscribe(*(str(n) for n in range(30)))
    world.card()
    world.sender.limit(rate=100.0)  # the platform's limit, enforced
    await world.worker(rates=PlatformRates(overall=100.0, chat=1.0, group=1.0)).drain()
    assert len(world.sender.sent) == 30 and world.sender.too_many == 0
    span = world.sender.sent_at[-1] - world.sender.sent_at[0]
    assert span >= 29 / 100 * 0.9


async def test_a_worker_faster_than_the_platform_obeys_its_429s(world: World) -> None:
    world.subscribe(*(str(n) for n in range(20)))
    world.card()
    world.sender.limit(rate=50.0)
    worker = world.worker()  # paced at 10,000/s: the platform refuses most
    for _ in range(20):
        await worker.drain()
        world.clock.advance(seconds=2)  # postponed ones are due again
        if len(world.sender.sent) == 20:
            break
    assert len(world.sender.sent) == 20 and world.sender.too_many > 0
    assert world.sender.duplicates() == 0
    assert all(r.attempts == 1 for r in deliveries(world.engine))  # 429s cost no attempt


async def test_a_retry_that_comes_due_during_a_long_drain_is_sent_by_it(world: World) -> None:
    world.subscribe(*(str(n) for n in range(10)))
    world.card()
    world.sender.fail(RetryLater("HTTP 502"), chat="0")
    slow = PlatformRates(overall=5.0, chat=5.0, group=5.0)  # ten chats take two seconds
    draining = asyncio.create_task(world.worker(rates=slow).drain())
    for _ in range(200):
        if world.sender.calls:
            break
        await asyncio.sleep(0.01)
    world.clock.advance(minutes=5)  # the retry is due while the drain still runs
    report = await asyncio.wait_for(draining, 10)
    assert (report.sent, report.retried) == (10, 1)
    assert sorted(world.sender.chats()) == sorted(str(n) for n in range(10))
    assert max(r.attempts for r in deliveries(world.engine)) == 2
