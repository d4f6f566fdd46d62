"""Digest enqueueing on SQLite and PostgreSQL: slots, windows, DST, and two processes at once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from digest.store import digests
from digest.store.db import make_engine
from digest.store.repository import Repository
from digest.store.subscriptions import SubscriptionStore
from digest.store.tables import SubscriptionRow
from tests.digest.store import test_subscriptions as base
from tests.support.clock import FakeClock

# The fixtures and helpers of the subscription tests, on both backends.
clock, engine, repo, subs = base.clock, base.engine, base.repo, base.subs
deliveries, items, make_card, spec = base.deliveries, base.items, base.make_card, base.spec


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def digest_items(engine: Engine, delivery_id: int) -> list[int]:
    return [card for d, _, card, _ in items(engine) if d == delivery_id]


def test_a_new_subscription_has_no_backlog_and_its_first_digest_holds_the_last_day(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 19, 7)
    too_old = make_card(repo, "Old news")
    clock.current = at(2026, 11, 20, 9)
    sports = make_card(repo, "Match report", category="Sports")
    clock.current = at(2026, 11, 20, 11)
    recent = make_card(repo, "Markets rally")
    clock.current = at(2026, 11, 20, 12)
    sub = subs.add(spec(mode="digest", categories=("Business",), schedule="0 8 * * *"))
    assert subs.enqueue_due_digests() == 0  # 08:00 today came before the subscription

    clock.current = at(2026, 11, 21, 7, 59)
    assert subs.enqueue_due_digests() == 0
    clock.current = at(2026, 11, 21, 8, 0, 30)
    newest = make_card(repo, "Bank merger")
    assert subs.enqueue_due_digests() == 1
    [digest] = deliveries(engine)
    assert (digest.kind, digest.status, digest.subscription_id) == ("digest", "pending", sub.id)
    assert digest.slot == digest.due_at == at(2026, 11, 21, 8)
    assert digest_items(engine, digest.id) == [newest, recent]  # newest first, Business only
    assert too_old not in digest_items(engine, digest.id) and sports not in digest_items(
        engine, digest.id
    )
    assert subs.get(sub.id).last_slot == at(2026, 11, 21, 8)
    assert subs.enqueue_due_digests() == 0  # the slot is taken


def test_each_digest_holds_new_cards_only_at_most_max_cards(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 20, 7)
    subs.add(spec(mode="digest", max_cards=2))
    first = [make_card(repo, f"Day one {n}") for n in range(3)]
    clock.current = at(2026, 11, 20, 8, 10)  # the enqueue runs late; a card came meanwhile
    late = make_card(repo, "Just after eight")
    assert subs.enqueue_due_digests() == 1
    clock.current = at(2026, 11, 21, 8)
    second = make_card(repo, "Day two")
    assert subs.enqueue_due_digests() == 1
    one, two = deliveries(engine)
    assert digest_items(engine, one.id) == [late, first[2]]  # the newest two
    # since the previous slot, without the card already sent ("late" was after 08:00)
    assert digest_items(engine, two.id) == [second]


def test_a_slot_with_no_matching_card_enqueues_nothing_but_moves_on(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 20, 7)
    sub = subs.add(spec(mode="digest", include_keywords=("volcano",)))
    make_card(repo, "Markets rally")
    clock.current = at(2026, 11, 20, 8)
    assert subs.enqueue_due_digests() == 0
    assert deliveries(engine) == [] and subs.get(sub.id).last_slot == at(2026, 11, 20, 8)


def test_after_downtime_only_the_latest_missed_slot_is_enqueued(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 10, 7)
    subs.add(spec(mode="digest"))
    clock.current = at(2026, 11, 10, 8)
    make_card(repo, "Before")
    assert subs.enqueue_due_digests() == 1
    for day in range(11, 16):
        clock.current = at(2026, 11, day, 12)
        make_card(repo, f"Day {day}")
    clock.current = at(2026, 11, 16, 9)  # five slots missed
    assert subs.enqueue_due_digests() == 1
    assert [d.slot for d in deliveries(engine)] == [at(2026, 11, 10, 8), at(2026, 11, 16, 8)]
    assert len(digest_items(engine, deliveries(engine)[1].id)) == 5  # every day's card


def test_instant_and_paused_subscriptions_get_no_digests(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 20, 7)
    subs.add(spec("-1"))
    paused = subs.add(spec("-2", mode="digest"))
    subs.pause(paused.id, "x")
    make_card(repo)
    clock.current = at(2026, 11, 20, 9)
    assert subs.enqueue_due_digests() == 0
    assert [d.kind for d in deliveries(engine)] == ["card"]


@pytest.mark.parametrize(
    ("tz", "schedule", "start", "expected"),
    [
        (
            "Europe/Berlin",
            "30 2 * * *",
            at(2026, 3, 27, 12),
            # 02:30 CET; the clocks jump from 02:00 to 03:00: at 03:00 CEST; 02:30 CEST
            [at(2026, 3, 28, 1, 30), at(2026, 3, 29, 1, 0), at(2026, 3, 30, 0, 30)],
        ),
        (
            "Europe/Berlin",
            "30 2 * * *",
            at(2026, 10, 23, 12),
            # 02:30 CEST; once on the night 02:30 happens twice; 02:30 CET
            [at(2026, 10, 24, 0, 30), at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30)],
        ),
        (
            "America/New_York",
            "0 8 * * *",
            at(2026, 3, 6, 14),
            [at(2026, 3, 7, 13), at(2026, 3, 8, 12), at(2026, 3, 9, 12)],  # 08:00 EST, EDT
        ),
    ],
)
def test_a_clock_crossing_a_dst_change(
    repo: Repository,
    subs: SubscriptionStore,
    engine: Engine,
    clock: FakeClock,
    tz: str,
    schedule: str,
    start: datetime,
    expected: list[datetime],
) -> None:
    clock.current = start
    subs.add(spec(mode="digest", schedule=schedule, timezone=tz))
    while clock.current < start + timedelta(days=3):
        if clock.current.minute == 0 and clock.current.hour % 4 == 0:
            make_card(repo, f"News at {clock.current.isoformat()}")
        subs.enqueue_due_digests()
        clock.advance(minutes=15)
    assert [d.slot for d in deliveries(engine)] == expected
    every_item = [(sub, card) for _, sub, card, _ in items(engine)]
    assert len(every_item) == len(set(every_item))


def test_the_same_slot_enqueued_twice_makes_one_digest_even_with_a_stale_view(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 20, 7)
    sub = subs.add(spec(mode="digest"))
    cards = [make_card(repo, f"Card {n}") for n in range(3)]
    clock.current = at(2026, 11, 20, 8)
    with engine.connect() as c:
        stale = c.execute(
            select(SubscriptionRow.__table__).where(SubscriptionRow.id == sub.id)
        ).one()
    slot = at(2026, 11, 20, 8)
    with repo._session() as s:
        assert digests.enqueue_slot(s, [stale], slot, clock.now(), {}) == 1
    with repo._session() as s:  # the compare-and-set on last_slot refuses it
        assert digests.enqueue_slot(s, [stale], slot, clock.now(), {}) == 0
    with engine.begin() as c:  # and were it lost, the unique (subscription, slot) refuses it
        c.execute(update(SubscriptionRow).values(last_slot=None))
    with repo._session() as s:
        assert digests.enqueue_slot(s, [stale], slot, clock.now(), {}) == 0
    assert len(deliveries(engine)) == 1
    assert sorted(digest_items(engine, deliveries(engine)[0].id)) == cards


def test_two_processes_enqueuing_the_same_slots_at_once_make_one_digest_each(
    database_url: str, repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 20, 7)
    subscribers = [subs.add(spec(f"-{n}", mode="digest")) for n in range(1, 21)]
    engines = [make_engine(database_url) for _ in range(2)]
    stores = [SubscriptionStore(e, clock) for e in engines]
    counts: list[int] = []
    errors: list[BaseException] = []
    try:
        for day in range(20, 24):
            clock.current = at(2026, 11, day, 7)
            for n in range(3):
                make_card(repo, f"Day {day} card {n}")
            now = at(2026, 11, day, 8)
            barrier = threading.Barrier(2)

            def run(
                store: SubscriptionStore, now: datetime = now, gate: threading.Barrier = barrier
            ) -> None:
                try:
                    gate.wait(timeout=10)
                    counts.append(store.enqueue_due_digests(now))
                except BaseException as e:  # reported by the main thread
                    errors.append(e)

            threads = [threading.Thread(target=run, args=(store,)) for store in stores]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
    finally:
        for e in engines:
            e.dispose()
    assert errors == []
    rows = deliveries(engine)
    assert sum(counts) == len(rows) == 4 * len(subscribers)
    assert len({(d.subscription_id, d.slot) for d in rows}) == len(rows)
    for d in rows:
        assert len(digest_items(engine, d.id)) == 3  # one set of items, that day's cards


def test_a_card_committed_just_after_its_slot_was_collected_comes_in_the_next_digest(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = at(2026, 11, 20, 7)
    subs.add(spec(mode="digest"))
    clock.current = at(2026, 11, 20, 8)
    assert subs.enqueue_due_digests() == 0  # nothing committed yet...
    clock.current = at(2026, 11, 20, 7, 59, 58)  # ...a card stamped before the slot commits
    straddling = make_card(repo, "Stamped before the slot, committed after")
    clock.current = at(2026, 11, 21, 8)
    assert subs.enqueue_due_digests() == 1
    [digest] = deliveries(engine)
    assert digest_items(engine, digest.id) == [straddling]
