"""Card making: exactly one card per story, the daily budget, and model failures."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from digest.app import App, open_app
from digest.cardmaker import BATCH_LEASE, CLAIM_LEASE, CardMaker
from digest.config import Settings
from digest.errors import ModelError
from digest.models import CardDraft, NewArticle, Story, Usage
from digest.ports import SpendMeter
from digest.spend import BUDGET_ENGINE, DailyBudget
from digest.store.ledger import Ledger
from digest.summarize.anthropic_client import LONGEST_WAIT
from digest.summarize.offline import OfflineEngine
from tests.support.clock import FakeClock


class PaidEngine:
    """A stand-in for a model engine: an offline card with a price, counting its calls."""

    name = "claude"

    def __init__(self, cost: float = 0.01, fail: bool = False, delay: float = 0.0) -> None:
        self.calls: list[int] = []
        self.cost = cost
        self.fail = fail
        self.delay = delay
        self.meter: SpendMeter | None = None
        self._offline = OfflineEngine(["World", "General"])

    async def make_card(self, story: Story, *, language: str | None = None) -> CardDraft:
        self.calls.append(story.id)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise ModelError("overloaded", retry_after=30)
        draft = await self._offline.make_card(story)
        usage = Usage(model="fake-model", input_tokens=1000, output_tokens=200, cost_usd=self.cost)
        if self.meter is not None:
            self.meter.record(usage, purpose="card")
        return dataclasses.replace(draft, engine="claude", usage=usage, checked=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))


@pytest.fixture
async def app(db_settings: Settings, clock: FakeClock) -> AsyncIterator[App]:
    async with open_app(db_settings, clock=clock) as application:
        yield application


def add_stories(app: App, count: int) -> None:
    feed = app.repo.add_feed("https://example.com/feed.xml", "Example")
    articles = [
        NewArticle(
            entry_key=f"e{n}",
            url=f"https://example.com/{n}",
            title=f"Story number {n} about topic {n * 7}",
            author=None,
            published_at=datetime(2026, 11, 20, 8, tzinfo=UTC),
            text=f"Officials announced plan {n} on Monday. It will cost {n} million euros. "
            "Critics said the plan could affect thousands of residents. Work starts in May.",
            image_url=None,
        )
        for n in range(count)
    ]
    app.repo.store_entries(
        feed.id,
        articles,
        _NoMatch(),
        feed_title="Example",
        etag=None,
        last_modified=None,
        next_poll_at=datetime(2026, 11, 21, tzinfo=UTC),
    )


class _NoMatch:
    seen_up_to = 0

    def find(self, feed_id: int, title: str, text: str) -> int | None:
        return None

    def add(self, story_id: int, feed_id: int, title: str, text: str) -> None:
        pass


def maker(app: App, settings: Settings, clock: FakeClock, engine: PaidEngine) -> CardMaker:
    budget = DailyBudget(Ledger(app.repo.engine), clock, daily_usd=settings.daily_budget_usd)
    engine.meter = budget
    return CardMaker(
        settings=settings,
        repo=app.repo,
        budget=budget,
        engine=engine,
        offline=OfflineEngine(settings.categories),
        clock=clock,
    )


async def test_two_makers_at_once_summarize_each_story_once(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    add_stories(app, 12)
    first, second = PaidEngine(delay=0.01), PaidEngine(delay=0.01)
    made = await asyncio.gather(
        maker(app, db_settings, clock, first).make_cards(100),
        maker(app, db_settings, clock, second).make_cards(100),
    )
    assert sorted(first.calls + second.calls) == sorted(s for s in range(1, 13))
    assert len(made[0]) + len(made[1]) == 12
    assert app.repo.counts()["cards"] == 12
    # and again: nothing left to pay for
    assert await maker(app, db_settings, clock, PaidEngine()).make_cards(100) == []


async def test_the_daily_budget_switches_to_offline_cards_until_midnight(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    settings = db_settings.model_copy(update={"daily_budget_usd": 0.025})
    add_stories(app, 5)
    engine = PaidEngine(cost=0.01)
    ids = await maker(app, settings, clock, engine).make_cards(100)
    cards = [app.repo.get_card(i) for i in ids]
    assert [c.engine for c in cards] == ["claude"] * 3 + [BUDGET_ENGINE] * 2
    assert len(engine.calls) == 3
    assert cards[0].usage is not None and cards[0].usage.cost_usd == pytest.approx(0.01)
    assert cards[-1].usage is None
    usage = app.service.usage(days=1)
    assert usage[0].cards_by_engine == {"claude": 3, BUDGET_ENGINE: 2}
    assert usage[0].cost_usd == pytest.approx(0.03)
    assert usage[0].input_tokens == 3000

    clock.advance(hours=1, minutes=1)  # past midnight UTC: a new day, a new budget
    add_more = app.repo.add_feed("https://example.org/feed.xml")
    app.repo.store_entries(
        add_more.id,
        [NewArticle("n", "https://example.org/n", "A new day", None, None, "Text. More.", None)],
        _NoMatch(),
        feed_title=None,
        etag=None,
        last_modified=None,
        next_poll_at=clock.now() + timedelta(hours=1),
    )
    (new_id,) = await maker(app, settings, clock, engine).make_cards(100)
    assert app.repo.get_card(new_id).engine == "claude"


async def test_a_model_failure_leaves_stories_for_the_next_round(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    add_stories(app, 3)
    failing = PaidEngine(fail=True)
    assert await maker(app, db_settings, clock, failing).make_cards(100) == []
    assert len(failing.calls) == 1  # the API is down: the rest of the round waits
    assert app.repo.counts()["cards"] == 0
    working = PaidEngine()
    assert len(await maker(app, db_settings, clock, working).make_cards(100)) == 3


async def test_a_claim_held_by_a_crashed_process_runs_out(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    add_stories(app, 2)
    claimed = app.repo.claim_stories_for_cards(limit=10, lease=CLAIM_LEASE)
    assert len(claimed) == 2  # ...and this process dies without a card
    assert await maker(app, db_settings, clock, PaidEngine()).make_cards(100) == []
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    assert len(await maker(app, db_settings, clock, PaidEngine()).make_cards(100)) == 2


async def test_cards_know_related_cards_on_the_same_subject(app: App) -> None:
    feed = app.repo.add_feed("https://example.com/feed.xml", "Example")
    texts = {
        "Port Elling approves harbour dredging plan": "The harbour authority of Port Elling "
        "approved dredging of the main channel. The harbour dredging will cost 48 million "
        "euros. Shipping companies welcomed the harbour plan.",
        "Court challenge filed against Port Elling harbour dredging": "Environmental groups "
        "filed a court challenge against the Port Elling harbour dredging. They say dredging "
        "the harbour channel harms birds. The harbour authority will defend the plan.",
        "Rovers win the national cup final": "Port Amsel Rovers won the national cup final "
        "on Sunday. The striker scored twice. Fans celebrated in the old town.",
    }
    articles = [
        NewArticle(
            f"k{n}",
            f"https://example.com/{n}",
            title,
            None,
            datetime(2026, 11, 20, 8, n, tzinfo=UTC),
            text,
            None,
        )
        for n, (title, text) in enumerate(texts.items())
    ]
    app.repo.store_entries(
        feed.id,
        articles,
        _NoMatch(),
        feed_title=None,
        etag=None,
        last_modified=None,
        next_poll_at=datetime(2026, 11, 21, tzinfo=UTC),
    )
    await app.service.make_cards()
    cards = {c.title: c for c in app.service.list_cards(limit=10)}
    dredging, court, cup = (cards[t] for t in texts)
    assert court.related == (dredging.id,)  # made after it, on the same subject
    assert cup.related == ()


def claimed_stories(app: App, clock: FakeClock) -> int:
    from sqlalchemy import func, select

    from digest.store.tables import StoryRow

    with app.repo.engine.connect() as conn:
        return int(
            conn.scalar(select(func.count()).where(StoryRow.card_claimed_until > clock.now())) or 0
        )


def test_a_claim_outlasts_the_slowest_card() -> None:
    # three requests (first try, retry, claim-check regeneration), each at its longest wait
    assert CLAIM_LEASE.total_seconds() >= 3 * LONGEST_WAIT
    assert BATCH_LEASE > CLAIM_LEASE


async def test_stories_are_claimed_one_at_a_time(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    add_stories(app, 4)
    engine = PaidEngine()
    seen: list[int] = []
    original = engine.make_card

    async def watching(story: Story, *, language: str | None = None) -> CardDraft:
        seen.append(claimed_stories(app, clock))
        return await original(story, language=language)

    engine.make_card = watching  # type: ignore[method-assign]
    assert len(await maker(app, db_settings, clock, engine).make_cards(100)) == 4
    # while a card is written, only its own story is held: the others stay free for
    # other processes, and no claim waits behind slow requests until it runs out
    assert seen == [1, 1, 1, 1]
    assert claimed_stories(app, clock) == 0


async def test_a_claim_that_ran_out_is_not_released_by_its_old_owner(
    app: App, clock: FakeClock
) -> None:
    add_stories(app, 1)
    (old,) = app.repo.claim_stories_for_cards(limit=1, lease=CLAIM_LEASE)
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    (new,) = app.repo.claim_stories_for_cards(limit=1, lease=CLAIM_LEASE)
    assert new.story.id == old.story.id and new.until != old.until
    app.repo.release_story(old)  # the slow first owner gives up...
    assert app.repo.claim_stories_for_cards(limit=1, lease=CLAIM_LEASE) == []  # ...not ours
    assert app.repo.extend_claim(old, CLAIM_LEASE) is None
    assert app.repo.extend_claim(new, CLAIM_LEASE) is not None


async def test_every_paid_card_counts_against_the_budget_even_when_it_loses_the_race(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    add_stories(app, 1)
    engine = PaidEngine(cost=0.02)
    (claim,) = app.repo.claim_stories_for_cards(limit=1, lease=CLAIM_LEASE)
    budget = DailyBudget(Ledger(app.repo.engine), clock, daily_usd=1.0)
    engine.meter = budget
    draft = await engine.make_card(claim.story)
    assert app.repo.save_card(claim.story.id, draft) is not None
    assert app.repo.save_card(claim.story.id, draft) is None  # a second, paid copy loses
    second = await engine.make_card(claim.story)
    assert app.repo.save_card(claim.story.id, second) is None
    assert budget.spent_today() == pytest.approx(0.04)  # both replies were paid for


async def test_a_story_that_breaks_the_engine_is_tried_once_per_round(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    add_stories(app, 3)
    engine = PaidEngine()
    original = engine.make_card

    async def breaking(story: Story, *, language: str | None = None) -> CardDraft:
        if story.id == 1:
            engine.calls.append(story.id)
            raise RuntimeError("a bug")
        return await original(story, language=language)

    engine.make_card = breaking  # type: ignore[method-assign]
    made = await maker(app, db_settings, clock, engine).make_cards(100)
    assert len(made) == 2
    assert engine.calls.count(1) == 1  # kept claimed, not retried in a hot loop
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    assert len(await maker(app, db_settings, clock, PaidEngine()).make_cards(100)) == 1
