"""Subscriptions and the instant fan-out, on SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select, update

from digest.errors import DuplicateSubscription, NotFound
from digest.models import CardDraft, Destination, FaqItem, NewArticle, SubscriptionSpec
from digest.store import fanout
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.store.repository import Repository
from digest.store.subscriptions import SubscriptionStore
from digest.store.tables import DeliveryItemRow, DeliveryRow
from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[3]
TG = "telegram"


class NoMatcher:
    """Every article is a story of its own."""

    seen_up_to = 0

    def find(self, feed_id: int, title: str, text: str) -> int | None:
        return None

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None:
        pass


_serial = itertools.count(1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    db = make_engine(database_url)
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture
def repo(engine: Engine, clock: FakeClock) -> Repository:
    return Repository(engine, clock)


@pytest.fixture
def subs(engine: Engine, clock: FakeClock) -> SubscriptionStore:
    return SubscriptionStore(engine, clock)


def spec(chat: str = "-1001", thread: str = "", **values: object) -> SubscriptionSpec:
    return SubscriptionSpec(destination=Destination(TG, chat, thread), **values)  # type: ignore[arg-type]


def draft(category: str = "Business", summary: str = "Shares rose. Markets moved.") -> CardDraft:
    return CardDraft(
        category=category,
        summary=summary,
        takeaways=("One point.", "Two points.", "Three points."),
        why_it_matters="Because it does.",
        faq=(FaqItem("What?", "This."), FaqItem("When?", "Now.")),
        engine="offline",
    )


def new_story(repo: Repository, title: str) -> int:
    """A story of one article; returns its id."""
    feeds = repo.list_feeds()
    feed_id = feeds[0].id if feeds else repo.add_feed("https://news.example.com/feed.xml").id
    n = next(_serial)
    repo.store_entries(
        feed_id,
        [
            NewArticle(
                entry_key=f"guid-{n}",
                url=f"https://news.example.com/{n}",
                title=title,
                author=None,
                published_at=None,
                text=f"Body {n}.",
                image_url=None,
            )
        ],
        NoMatcher(),
        feed_title="News",
        etag=None,
        last_modified=None,
        next_poll_at=repo._clock.now(),
    )
    return max(s.id for s in repo.stories_without_cards(limit=10_000) if s.title == title)


def make_card(repo: Repository, title: str = "Markets rally", **kw: str) -> int:
    card_id = repo.save_card(new_story(repo, title), draft(**kw))
    assert card_id is not None
    return card_id


def deliveries(engine: Engine) -> list[DeliveryRow]:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        return list(s.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def items(engine: Engine) -> list[tuple[int, int, int, int]]:
    """(delivery, subscription, card, position) of every delivery item."""
    t = DeliveryItemRow
    with engine.connect() as c:
        rows = c.execute(
            select(t.delivery_id, t.subscription_id, t.card_id, t.position).order_by(
                t.delivery_id, t.position
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


# -- managing -------------------------------------------------------------------------------


def test_add_get_list_update_remove(subs: SubscriptionStore, clock: FakeClock) -> None:
    added = subs.add(spec(categories=("Business",), label="Team"))
    assert added.active and added.paused_reason is None and added.last_slot is None
    assert added.created_at == clock.now() and added.spec.categories == ("Business",)
    assert subs.get(added.id) == added
    assert subs.get(Destination(TG, "-1001")) == added
    other = subs.add(spec("-1001", thread="7"))  # another thread of the same chat
    discord = subs.add(SubscriptionSpec(destination=Destination("discord", "42")))
    assert [s.id for s in subs.list_subscriptions()] == [added.id, other.id, discord.id]
    assert [s.id for s in subs.list_subscriptions(platform="discord")] == [discord.id]
    assert [s.id for s in subs.list_subscriptions(chat="-1001")] == [added.id, other.id]

    clock.advance(minutes=5)
    changed = subs.update(added.id, replace(added.spec, max_cards=3, label=None))
    assert changed.spec.max_cards == 3 and changed.spec.label is None
    assert changed.updated_at == clock.now() and changed.created_at == added.created_at

    assert subs.remove(added.id).id == added.id
    with pytest.raises(NotFound, match="no subscription"):
        subs.get(added.id)
    with pytest.raises(NotFound):
        subs.remove(Destination(TG, "nowhere"))


def test_the_same_destination_twice_is_a_clear_error(subs: SubscriptionStore) -> None:
    first = subs.add(spec())
    with pytest.raises(DuplicateSubscription, match=f"already has subscription {first.id}"):
        subs.add(spec(mode="digest"))
    assert len(subs.list_subscriptions()) == 1


def test_switching_to_digest_mode_starts_the_schedule_now(
    subs: SubscriptionStore, clock: FakeClock
) -> None:
    sub = subs.add(spec())
    clock.advance(hours=3)
    digest = subs.update(sub.id, replace(sub.spec, mode="digest"))
    assert digest.last_slot == clock.now()
    clock.advance(hours=1)
    again = subs.update(sub.id, replace(digest.spec, schedule="0 18 * * *"))
    assert again.last_slot == digest.last_slot  # a schedule change keeps it


def test_pause_drops_pending_deliveries_and_resume_sends_new_cards(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    sub = subs.add(spec())
    make_card(repo, "Before pause")
    paused = subs.pause(sub.id, "paused by a user")
    assert not paused.active and paused.paused_reason == "paused by a user"
    assert [d.status for d in deliveries(engine)] == ["dropped"]
    assert deliveries(engine)[0].last_error == "paused by a user"
    make_card(repo, "While paused")
    assert len(deliveries(engine)) == 1  # nothing queued for a paused subscription
    resumed = subs.resume(sub.id)
    assert resumed.active and resumed.paused_reason is None
    make_card(repo, "After resume")
    assert [d.status for d in deliveries(engine)] == ["dropped", "pending"]


def test_resuming_a_digest_restarts_its_schedule(subs: SubscriptionStore, clock: FakeClock) -> None:
    sub = subs.add(spec(mode="digest"))
    subs.pause(sub.id, "x")
    clock.advance(days=3)
    assert subs.resume(sub.id).last_slot == clock.now()


def test_pause_for_destination_pauses_there_and_drops_unclaimed_pending_deliveries(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    main = subs.add(spec("-1001"))
    topic = subs.add(spec("-1001", thread="9"))
    elsewhere = subs.add(spec("-2002"))
    make_card(repo, "One")
    make_card(repo, "Two")
    ids: dict[int, list[int]] = {main.id: [], topic.id: [], elsewhere.id: []}
    for d in deliveries(engine):
        ids[d.subscription_id].append(d.id)
    sent, claimed = ids[main.id][0], ids[main.id][1]
    with engine.begin() as c:
        c.execute(update(DeliveryRow).where(DeliveryRow.id == sent).values(status="sent"))
        c.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == claimed)
            .values(claimed_until=clock.now() + timedelta(minutes=1), claim_token="w1")
        )

    paused = subs.pause_for_destination(TG, "-1001", "", "bot was kicked")
    assert [s.id for s in paused] == [main.id]  # only the chat itself, not its thread
    assert paused[0].paused_reason == "bot was kicked"
    status = {d.id: d.status for d in deliveries(engine)}
    assert status[sent] == "sent" and status[claimed] == "pending"  # the worker's to finish
    assert all(status[d] == "pending" for d in ids[topic.id] + ids[elsewhere.id])

    whole_chat = subs.pause_for_destination(TG, "-1001", None, "chat not found")
    assert [s.id for s in whole_chat] == [main.id, topic.id]
    status = {d.id: d.status for d in deliveries(engine)}
    assert all(status[d] == "dropped" for d in ids[topic.id])
    assert all(status[d] == "pending" for d in ids[elsewhere.id])
    assert subs.pause_for_destination(TG, "nowhere", None, "gone") == []


def test_move_keeps_the_subscription_under_the_new_chat_id(
    repo: Repository, subs: SubscriptionStore, engine: Engine
) -> None:
    group = subs.add(spec("-1001", include_keywords=("ai",)))
    topic = subs.add(spec("-1001", thread="3"))
    already = subs.add(spec("-100999", thread="3"))  # the supergroup's thread has one
    make_card(repo, "AI news")
    moved = subs.move(TG, "-1001", "-100999")
    assert [m.id for m in moved] == [group.id, already.id]
    assert moved[0].destination == Destination(TG, "-100999")
    assert moved[0].spec.include_keywords == ("ai",)
    with pytest.raises(NotFound):
        subs.get(topic.id)
    assert {d.subscription_id for d in deliveries(engine)} == {group.id, already.id}
    assert subs.move(TG, "-1001", "-100999") == []


def test_the_delivery_side_finds_a_deliverys_subscription(
    repo: Repository, subs: SubscriptionStore, engine: Engine
) -> None:
    a, b = subs.add(spec("-1")), subs.add(spec("-2"))
    make_card(repo)
    by_sub = {d.subscription_id: d.id for d in deliveries(engine)}
    assert subs.subscription_for_delivery(by_sub[b.id]) == b
    assert subs.subscriptions_by_id([a.id, b.id, 999]) == {a.id: a, b.id: b}
    with pytest.raises(NotFound):
        subs.subscription_for_delivery(12345)


# -- fan-out ---------------------------------------------------------------------------------


def test_a_new_card_reaches_every_matching_active_instant_subscription(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    everything = subs.add(spec("-1"))
    business = subs.add(spec("-2", categories=("Business",)))
    subs.add(spec("-3", categories=("Sports",)))
    keyword = subs.add(spec("-4", include_keywords=("rally",)))
    subs.add(spec("-5", exclude_keywords=("markets",)))
    subs.add(spec("-6", mode="digest"))
    paused = subs.add(spec("-7"))
    subs.pause(paused.id, "x")

    card = make_card(repo, "Markets rally", category="Business")
    rows = deliveries(engine)
    assert {d.subscription_id for d in rows} == {everything.id, business.id, keyword.id}
    assert all(d.kind == "card" and d.status == "pending" and d.slot is None for d in rows)
    assert all(d.due_at == clock.now() and d.attempts == 0 for d in rows)
    assert sorted((i[1], i[2]) for i in items(engine)) == sorted(
        (s, card) for s in (everything.id, business.id, keyword.id)
    )


def test_a_card_that_matches_nobody_leaves_no_rows(
    repo: Repository, subs: SubscriptionStore, engine: Engine
) -> None:
    subs.add(spec("-1", categories=("Sports",)))
    make_card(repo, "Markets rally")
    make_card(repo, "No subscribers at all")
    assert deliveries(engine) == [] and items(engine) == []


def test_quiet_hours_delay_a_card_until_they_end_in_the_subscribers_zone(
    repo: Repository, subs: SubscriptionStore, engine: Engine, clock: FakeClock
) -> None:
    clock.current = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)  # 23:00 in Berlin, DST ends
    night = subs.add(spec("-1", timezone="Europe/Berlin", quiet_start="22:00", quiet_end="07:00"))
    tokyo = subs.add(spec("-2", timezone="Asia/Tokyo", quiet_start="22:00", quiet_end="07:00"))
    lunch = subs.add(spec("-3", quiet_start="12:00", quiet_end="13:00"))  # UTC, not now
    loud = subs.add(spec("-4"))
    make_card(repo)
    due = {d.subscription_id: d.due_at for d in deliveries(engine)}
    assert due[night.id] == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)  # 07:00 CET, 10 h later
    assert due[tokyo.id] == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 06:00 -> 07:00 JST
    assert due[lunch.id] == due[loud.id] == clock.now()


def test_saving_a_card_twice_fans_out_once(
    repo: Repository, subs: SubscriptionStore, engine: Engine
) -> None:
    subs.add(spec("-1"))
    story = new_story(repo, "Once")
    assert repo.save_card(story, draft()) is not None
    assert repo.save_card(story, draft()) is None  # the story has its card
    assert len(deliveries(engine)) == 1 and len(items(engine)) == 1


def test_fan_out_again_creates_no_second_item_and_no_empty_delivery(
    repo: Repository,
    subs: SubscriptionStore,
    engine: Engine,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = subs.add(spec("-1")), subs.add(spec("-2"))
    card = make_card(repo)
    story = repo.get_card(card).story_id
    text = fanout.CardText.of(title="Markets rally", category="Business", summary="", takeaways=())
    with repo._session() as s:
        assert fanout.fan_out_card(s, card_id=card, story_id=story, card=text, now=clock.now()) == 0
    # A race lost: the subscription got the card from another transaction after this one
    # looked. The item is refused, and its delivery must not stay behind.
    real = fanout._instant_matches
    monkeypatch.setattr(
        fanout, "_instant_matches", lambda s, *args: [(a.id, clock.now()), (b.id, clock.now())]
    )
    with repo._session() as s:
        assert fanout.fan_out_card(s, card_id=card, story_id=story, card=text, now=clock.now()) == 0
    monkeypatch.setattr(fanout, "_instant_matches", real)
    assert len(deliveries(engine)) == 2 and len(items(engine)) == 2


def test_a_failure_during_fan_out_rolls_back_the_card_too(
    repo: Repository, subs: SubscriptionStore, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs.add(spec("-1"))
    story = new_story(repo, "Doomed")

    def broken(*args: object) -> set[int]:
        raise RuntimeError("crash in the middle of the fan-out")

    monkeypatch.setattr(fanout, "_insert_items", broken)
    with pytest.raises(RuntimeError):
        repo.save_card(story, draft())
    assert repo.counts()["cards"] == 0 and deliveries(engine) == []
    monkeypatch.undo()
    assert repo.save_card(story, draft()) is not None  # made again later, fanned out once
    assert len(deliveries(engine)) == 1 and len(items(engine)) == 1


def test_sigkill_in_the_middle_of_a_fan_out_leaves_no_card_and_no_delivery(
    database_url: str, repo: Repository, subs: SubscriptionStore, engine: Engine
) -> None:
    for n in range(50):
        subs.add(spec(f"-{n + 1}"))
    story = new_story(repo, "Killed")
    script = textwrap.dedent(
        f"""
        import os, signal
        from datetime import UTC, datetime
        from digest.models import CardDraft, FaqItem
        from digest.store import fanout
        from digest.store.db import make_engine
        from digest.store.repository import Repository
        from tests.support.clock import FakeClock

        real = fanout._insert_items
        def insert_then_die(*args):
            real(*args)  # deliveries and items written, not committed
            os.kill(os.getpid(), signal.SIGKILL)
        fanout._insert_items = insert_then_die
        repo = Repository(make_engine({database_url!r}), FakeClock())
        repo.save_card({story}, CardDraft(
            category="World", summary="S.", takeaways=("a", "b", "c"),
            why_it_matters="W.", faq=(FaqItem("Q?", "A."),), engine="offline"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == -9, result.stderr.decode()
    assert repo.counts()["cards"] == 0 and deliveries(engine) == [] and items(engine) == []
    assert repo.save_card(story, draft()) is not None
    assert len(deliveries(engine)) == 50 and len(items(engine)) == 50


def test_fan_out_to_thousands_of_subscriptions_is_a_few_statements(
    repo: Repository, engine: Engine, clock: FakeClock
) -> None:
    rows = [
        {
            "platform": TG,
            "destination": str(-n),
            "thread": "",
            "categories": [] if n % 2 else ["Business"],
            "include_keywords": ["rally"] if n % 3 == 0 else [],
            "exclude_keywords": ["crypto"] if n % 5 == 0 else [],
            "mode": "instant",
            "schedule": "0 8 * * *",
            "timezone": "Europe/Berlin" if n % 7 == 0 else "UTC",
            "quiet_start": "22:00" if n % 7 == 0 else None,
            "quiet_end": "07:00" if n % 7 == 0 else None,
            "max_cards": 10,
            "active": True,
            "created_at": clock.now(),
            "updated_at": clock.now(),
        }
        for n in range(1, 3001)
    ]
    from sqlalchemy import insert

    from digest.store.tables import SubscriptionRow

    with engine.begin() as c:
        c.execute(insert(SubscriptionRow), rows)
    make_card(repo, "Markets rally", category="Business")
    story = new_story(repo, "Sports news")
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        repo.save_card(story, draft(category="Sports", summary="Crypto fans cheered."))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # one read of the subscriptions, bulk inserts in batches: not one statement per row
    assert len(statements) < 20, statements
    with engine.connect() as c:
        per_card = dict(
            c.execute(
                select(DeliveryItemRow.card_id, func.count()).group_by(DeliveryItemRow.card_id)
            ).all()
        )
    # card 2: odd n (every topic), minus include "rally" (n % 3) and exclude "crypto" (n % 5)
    assert sorted(per_card.values()) == [800, 3000]
    assert len(deliveries(engine)) == 3800  # no delivery without its item
