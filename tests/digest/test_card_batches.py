"""Message Batches of cards that outlive their process: submit, restart, collect — on SQLite
and PostgreSQL, with the real SDK talking HTTP to the fake Anthropic API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from digest import card_batches
from digest.card_batches import MAX_WAIT, RESULTS_PATIENCE
from digest.cardmaker import BATCH_LEASE, CLAIM_LEASE
from digest.config import Settings
from digest.errors import ModelError, StorageError
from digest.models import CardDraft, Story
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.summarize import anthropic_batches
from digest.summarize.offline import OfflineEngine
from digest.summarize.pricing import cost_usd
from tests.support.card_batches import (
    MODEL,
    START,
    Process,
    add_stories,
    batch_calls,
    claimed_until,
    free_stories,
    rows,
)
from tests.support.clock import FakeClock
from tests.support.fake_anthropic import (
    FakeAnthropic,
    bad_request,
    canceled,
    card_reply,
    expired,
    malformed_reply,
    overloaded,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic(batch_polls=2) as server:
        yield server
    assert server.unexpected == 0, "requests nobody scripted"


@pytest.fixture
def database(db_settings: Settings) -> Iterator[str]:
    db = make_engine(db_settings.database_url)
    upgrade(db)
    db.dispose()
    yield db_settings.database_url


@pytest.fixture
async def start(
    database: str, api: FakeAnthropic, clock: FakeClock
) -> AsyncIterator[Callable[..., Process]]:
    """Starts a process; every one is stopped at the end of the test."""
    started: list[Process] = []

    def factory(**options: Any) -> Process:
        started.append(Process(database, api, clock, **options))
        return started[-1]

    yield factory
    for process in started:
        await process.close()


# -- the point: a restart loses nothing ------------------------------------------------------


async def test_a_batch_submitted_before_a_restart_is_collected_after_it(
    start: Callable[..., Process], api: FakeAnthropic, clock: FakeClock
) -> None:
    first = start()
    ids = add_stories(first.repo, 3)
    api.script(*(card_reply(input_tokens=1_500, output_tokens=400) for _ in ids))
    await first.submit()
    assert batch_calls(api, "create") == 1 and batch_calls(api, "retrieve") == 0
    (row,) = rows(first.db)
    assert (row.status, row.story_ids, row.language) == ("running", ids, None)
    assert all(claimed_until(first.db, i) == START + BATCH_LEASE for i in ids)
    await first.close()  # the process stops; the batch runs on at the API

    clock.advance(minutes=30)
    second = start()  # a new process: new engine, new client, nothing in memory
    assert await second.collect() == []  # still running: its stories' claims move on
    assert all(claimed_until(second.db, i) == clock.now() + BATCH_LEASE for i in ids)
    assert free_stories(second) == []

    clock.advance(minutes=30)
    made = await second.collect()
    assert len(made) == 3 and sorted(second.saved) == ids
    assert batch_calls(api, "create") == 1 and batch_calls(api, "results") == 1
    assert api.message_requests == []  # nothing asked again, nothing paid twice
    batch_price = cost_usd(MODEL, 1_500, 400, batch=True)
    for card in second.repo.list_cards(limit=10):
        assert card.engine == "claude" and card.category == "Policy"
        assert card.usage is not None and card.usage.cost_usd == pytest.approx(batch_price)
    assert [u.cost_usd for u in second.meter.recorded] == pytest.approx([batch_price] * 3)
    (row,) = rows(second.db)
    assert row.status == "done" and row.ended_at == clock.now() and row.claimed_until is None
    assert all(claimed_until(second.db, i) is None for i in ids)

    requests = len(api.requests)
    assert await second.collect() == []
    assert len(api.requests) == requests  # nothing left to ask about


async def test_a_running_batch_keeps_its_stories_past_the_first_lease(
    start: Callable[..., Process], api: FakeAnthropic, clock: FakeClock
) -> None:
    api.batch_polls = 1_000
    process = start(max_wait=timedelta(hours=24))
    ids = add_stories(process.repo, 2)
    api.script(card_reply(), card_reply())
    await process.submit()
    for _ in range(3):  # three rounds an hour apart: 3 h, past the submit's BATCH_LEASE
        clock.advance(hours=1)
        assert await process.collect() == []
    assert free_stories(process) == []
    assert all(claimed_until(process.db, i) == clock.now() + BATCH_LEASE for i in ids)
    assert batch_calls(api, "retrieve") == 3 and batch_calls(api, "cancel") == 0


# -- waiting too long ----------------------------------------------------------------------


async def test_past_max_wait_the_batch_is_cancelled_and_what_it_did_is_used(
    start: Callable[..., Process], api: FakeAnthropic, clock: FakeClock
) -> None:
    api.batch_polls = 1_000
    api.cancel_polls, api.cancel_keeps = 2, 2  # the cancel takes 2 polls; 2 items were done
    process = start()
    ids = add_stories(process.repo, 4)
    api.script(*(card_reply() for _ in ids))
    await process.submit()
    clock.advance(minutes=90)
    assert await process.collect() == [] and batch_calls(api, "cancel") == 0

    clock.advance(minutes=31)  # past MAX_WAIT (2 h)
    assert clock.now() - START > MAX_WAIT
    assert await process.collect() == []
    assert batch_calls(api, "cancel") == 1
    assert rows(process.db)[0].status == "cancelling"
    assert await process.collect() == []  # "canceling": waited for, not cancelled again
    assert free_stories(process) == []

    made = await process.collect()  # ended: the 2 billed answers become cards
    assert len(made) == 2 and sorted(process.saved) == ids[:2]
    assert batch_calls(api, "cancel") == 1 and batch_calls(api, "results") == 1
    assert api.message_requests == []  # nothing redone
    assert free_stories(process) == ids[2:]  # the cancelled ones: single requests next
    assert rows(process.db)[0].status == "done"


async def test_a_batch_left_with_no_story_to_finish_is_cancelled(
    start: Callable[..., Process], api: FakeAnthropic, clock: FakeClock
) -> None:
    api.batch_polls = 1_000
    process = start()
    ids = add_stories(process.repo, 2)
    api.script(card_reply(), card_reply())
    await process.submit()
    for story_id in ids:  # say a claim ran out and single requests made the cards
        story = process.repo.get_story(story_id)
        process.repo.save_card(story_id, await OfflineEngine(["Policy"]).make_card(story))
    assert await process.collect() == []
    assert batch_calls(api, "cancel") == 1 and batch_calls(api, "results") == 0
    assert rows(process.db)[0].status == "done"


# -- per-item outcomes ---------------------------------------------------------------------


async def test_items_that_failed_go_back_to_single_requests(
    start: Callable[..., Process], api: FakeAnthropic
) -> None:
    api.batch_polls = 1
    process = start()
    ids = add_stories(process.repo, 5)
    api.script(
        card_reply(),  # succeeded
        overloaded(),  # errored
        expired(),
        canceled(),
        malformed_reply(),  # succeeded, but no card: complete_card's one retry...
    )
    await process.submit()
    api.script(card_reply())  # ...is a single request
    made = await process.collect()

    assert len(made) == 2 and sorted(process.saved) == [ids[0], ids[4]]
    assert len(api.message_requests) == 1
    assert "Your previous answer was rejected" in str(api.message_requests[0].json)
    assert free_stories(process) == ids[1:4]
    assert rows(process.db)[0].status == "done"


async def test_a_failed_retry_gives_its_story_back_and_after_several_the_rest_waits(
    start: Callable[..., Process], api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(card_batches, "FINISH_CONCURRENCY", 1)
    api.batch_polls = 1
    process = start()
    ids = add_stories(process.repo, 5)
    api.script(*(malformed_reply() for _ in ids))  # every answer needs a retry
    await process.submit()
    api.script(*(bad_request("down") for _ in range(card_batches.GIVE_UP_AFTER)))
    assert await process.collect() == []
    assert len(api.message_requests) == card_batches.GIVE_UP_AFTER
    given_back = ids[: card_batches.GIVE_UP_AFTER]
    assert free_stories(process) == given_back  # next round: single requests
    row = rows(process.db)[0]  # the others' answers are paid for: they wait in the batch
    assert row.status == "running" and row.story_ids == ids[card_batches.GIVE_UP_AFTER :]

    api.script(card_reply(), card_reply())  # the API is back
    made = await process.collect()
    assert len(made) == 2 and sorted(process.saved) == ids[card_batches.GIVE_UP_AFTER :]
    assert batch_calls(api, "results") == 2 and rows(process.db)[0].status == "done"


async def test_results_that_cannot_be_read_are_read_later_then_given_up(
    start: Callable[..., Process], api: FakeAnthropic, clock: FakeClock
) -> None:
    api.batch_polls = 1
    process = start()
    add_stories(process.repo, 2)
    api.script(card_reply(), card_reply())
    await process.submit()
    api.fail_batch_api("results", bad_request("results are not ready"))
    assert await process.collect() == []
    assert rows(process.db)[0].status == "running" and free_stories(process) == []
    assert len(await process.collect()) == 2  # read the next round
    assert api.message_requests == []

    more = add_stories(process.repo, 1)
    api.script(card_reply())
    await process.submit()
    api.fail_batch_api("results", bad_request("gone"), bad_request("gone"))
    assert await process.collect() == []  # ended: noted, and tried again next round...
    clock.advance(seconds=RESULTS_PATIENCE.total_seconds())
    assert await process.collect() == []  # ...until RESULTS_PATIENCE after the end
    assert free_stories(process) == more
    assert [r.status for r in rows(process.db)] == ["done", "done"]


async def test_a_batch_whose_status_cannot_be_read_lets_its_claims_run_out(
    start: Callable[..., Process], api: FakeAnthropic, clock: FakeClock
) -> None:
    process = start()
    ids = add_stories(process.repo, 1)
    api.script(card_reply())
    await process.submit()
    api.fail_batch_api("retrieve", *(bad_request("no such batch") for _ in range(2)))
    clock.advance(hours=1)
    assert await process.collect() == []
    assert claimed_until(process.db, ids[0]) == START + BATCH_LEASE  # not pushed out
    clock.advance(hours=30)
    assert await process.collect() == []  # given up
    assert rows(process.db)[0].status == "done"
    assert free_stories(process) == ids


# -- stories that got a card some other way --------------------------------------------------


async def test_a_story_carded_meanwhile_is_skipped_and_a_live_claim_left_alone(
    start: Callable[..., Process], api: FakeAnthropic, clock: FakeClock
) -> None:
    api.batch_polls = 1
    process = start()
    ids = add_stories(process.repo, 3)
    api.script(card_reply(), card_reply(), card_reply())
    await process.submit()
    # Hours without any process collecting: the batch's claims run out, and the
    # single-request path makes one story's card and is busy with another.
    clock.advance(hours=4)
    offline = OfflineEngine(["Policy"])
    first = process.repo.get_story(ids[0])
    offline_card = process.repo.save_card(first.id, await offline.make_card(first))
    (busy,) = process.repo.claim_stories_for_cards(limit=1, lease=CLAIM_LEASE, story_ids=[ids[1]])

    made = await process.collect()
    assert len(made) == 1 and process.saved == [ids[2]]
    assert process.repo.get_card(offline_card).engine == "offline"
    assert claimed_until(process.db, ids[1]) == busy.until  # the other process's claim
    assert api.message_requests == []
    assert rows(process.db)[0].status == "done"


# -- concurrency ---------------------------------------------------------------------------


async def test_two_processes_collecting_at_once_make_each_card_once(
    start: Callable[..., Process], api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(anthropic_batches, "MAX_BATCH_REQUESTS", 3)
    api.batch_polls = 1
    one, two = start(), start()
    ids = add_stories(one.repo, 6)
    api.script(*(card_reply() for _ in ids))
    await one.submit()
    assert batch_calls(api, "create") == 2

    made = await asyncio.gather(one.collect(), two.collect(), one.collect(), two.collect())
    assert sum(len(m) for m in made) == 6
    assert sorted(one.saved + two.saved) == ids
    assert one.saved and two.saved  # each process collected one of the batches
    assert batch_calls(api, "results") == 2  # each batch read once
    assert len(one.meter.recorded) + len(two.meter.recorded) == 6  # each answer counted once
    assert api.message_requests == []
    assert {r.status for r in rows(one.db)} == {"done"}


async def test_a_long_results_pass_keeps_holding_the_batch(
    start: Callable[..., Process],
    api: FakeAnthropic,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(card_batches, "FINISH_CONCURRENCY", 1)
    api.batch_polls = 1
    one, two = start(), start()
    ids = add_stories(one.repo, 3)
    api.script(*(card_reply() for _ in ids))
    await one.submit()
    taken_over: list[object] = []
    save = one.save

    def slow_save(story: Story, draft: CardDraft) -> int | None:
        clock.advance(seconds=card_batches.ROW_LEASE.total_seconds() * 0.6)
        taken_over.append(two.store.claim_next(lease=card_batches.ROW_LEASE))
        return save(story, draft)

    one.save = slow_save  # type: ignore[method-assign]
    assert len(await one.collect()) == 3
    assert taken_over == [None, None, None]  # 3 x 0.6 leases: renewed on the way
    assert rows(one.db)[0].status == "done"


# -- submitting ----------------------------------------------------------------------------


async def test_a_batch_that_cannot_be_created_gives_its_stories_back(
    start: Callable[..., Process], api: FakeAnthropic
) -> None:
    process = start()
    ids = add_stories(process.repo, 3)
    api.fail_batch_api("create", bad_request("no batches today"))
    with pytest.raises(ModelError, match="no batches today"):
        await process.submit()
    assert free_stories(process) == ids
    assert rows(process.db) == []


async def test_a_batch_that_cannot_be_stored_is_cancelled_and_its_stories_given_back(
    start: Callable[..., Process], api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.batch_polls = 1_000
    process = start()
    ids = add_stories(process.repo, 2)
    api.script(card_reply(), card_reply())

    def broken(*args: object, **kwargs: object) -> list[int]:
        raise StorageError("database error: disk full")

    monkeypatch.setattr(process.store, "add", broken)
    with pytest.raises(StorageError):
        await process.submit()
    assert batch_calls(api, "cancel") == 1
    assert free_stories(process) == ids


async def test_the_batch_keeps_the_language_asked_for(
    start: Callable[..., Process], api: FakeAnthropic
) -> None:
    api.batch_polls = 1
    process = start()
    add_stories(process.repo, 1)
    api.script(card_reply())
    await process.submit(language="German")
    assert rows(process.db)[0].language == "German"
    assert "in this language: German." in str(api.batch_requests[0].json)
    (card_id,) = await process.collect()
    assert process.repo.get_card(card_id).language == "German"


def test_a_negative_wait_is_refused(start: Callable[..., Process]) -> None:
    with pytest.raises(ValueError, match="max_wait"):
        start(max_wait=timedelta(minutes=-1))
