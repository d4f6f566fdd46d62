"""Cards in the subscribers' languages: one card per (story, language), each subscriber gets
one card per story (its language's, or the default one when its own cannot come), on
SQLite and PostgreSQL, instant and digest."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from digest.app import App, open_app
from digest.cardmaker import CLAIM_LEASE, CardMaker
from digest.config import Settings
from digest.errors import ModelError
from digest.languages import language_key, language_name, same_language
from digest.models import CardDraft, NewArticle, Story, Subscription, Usage
from digest.ports import CardEngine, SpendMeter
from digest.spend import BUDGET_ENGINE, DailyBudget
from digest.store import fanout, language_cards
from digest.store.db import make_engine
from digest.store.language_cards import TRANSLATION_WAIT
from digest.store.ledger import Ledger
from digest.store.repository import Repository
from digest.store.tables import CardRow, DeliveryItemRow, DeliveryRow
from digest.subscriptions import CardText, SubscriptionOptions
from digest.summarize.offline import OfflineEngine
from tests.digest.test_cardmaker import _NoMatch, add_stories
from tests.digest.test_claude_pipeline import claude_settings, load_samples
from tests.support.clock import FakeClock
from tests.support.fake_anthropic import FakeAnthropic, extractive_card


class Translator:
    """A stand-in model engine: an offline card, marked with the language asked for and
    priced, recording (story, language) of every call; ``fail_in`` languages raise."""

    name = "claude"

    def __init__(
        self, cost: float = 0.01, delay: float = 0.0, fail_in: tuple[str, ...] = ()
    ) -> None:
        self.calls: list[tuple[int, str | None]] = []
        self.cost = cost
        self.delay = delay
        self.fail_in = fail_in
        self.meter: SpendMeter | None = None
        self._offline = OfflineEngine(["World", "General"])

    async def make_card(self, story: Story, *, language: str | None = None) -> CardDraft:
        self.calls.append((story.id, language))
        await asyncio.sleep(self.delay)
        if language in self.fail_in:
            raise ModelError("overloaded", retry_after=30)
        draft = await self._offline.make_card(story)
        usage = Usage(model="fake-model", input_tokens=1000, output_tokens=200, cost_usd=self.cost)
        if self.meter is not None:
            self.meter.record(usage, purpose="card")
        summary = f"[{language}] {draft.summary}" if language else draft.summary
        return dataclasses.replace(
            draft, engine="claude", usage=usage, language=language, summary=summary
        )

    def languages(self) -> list[str | None]:
        return [language for _, language in self.calls]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 7, 0, tzinfo=UTC))


@pytest.fixture
async def app(db_settings: Settings, clock: FakeClock) -> AsyncIterator[App]:
    async with open_app(db_settings, clock=clock) as application:
        yield application


def maker(
    app: App,
    clock: FakeClock,
    engine: CardEngine | None = None,
    *,
    budget_usd: float = 10.0,
    language: str | None = None,
    repo: Repository | None = None,
) -> CardMaker:
    settings = app.settings.model_copy(update={"language": language})
    offline = OfflineEngine(settings.categories)
    db = (repo or app.repo).engine
    budget = DailyBudget(Ledger(db), clock, daily_usd=budget_usd)
    if isinstance(engine, Translator):
        engine.meter = budget
    return CardMaker(
        settings=settings,
        repo=repo or app.repo,
        budget=budget,
        engine=engine or offline,
        offline=offline,
        clock=clock,
    )


def subscribe(app: App, chat: str, language: str | None = None, **options: str) -> Subscription:
    return app.service.add_subscription(
        "telegram", chat, options=SubscriptionOptions(language=language, **options)
    )


def received(app: App, sub: Subscription) -> list[int]:
    """The card ids queued for ``sub``, in the order of their deliveries."""
    with app.repo.engine.connect() as conn:
        rows = conn.execute(
            select(DeliveryItemRow.card_id)
            .join(DeliveryRow, DeliveryRow.id == DeliveryItemRow.delivery_id)
            .where(DeliveryItemRow.subscription_id == sub.id)
            .order_by(DeliveryRow.id, DeliveryItemRow.position)
        )
        return list(rows.scalars())


def cards_by_language(engine: Engine) -> dict[tuple[int, str], int]:
    """(story, language key) -> card id, of every card."""
    with engine.connect() as conn:
        rows = conn.execute(select(CardRow.story_id, CardRow.lang_key, CardRow.id))
        return {(story, key): card for story, key, card in rows}


# -- language names ----------------------------------------------------------------------------


def test_codes_english_and_own_names_are_one_language() -> None:
    assert {language_key(v) for v in ("de", "German", " deutsch ", "GERMAN", "de-AT")} == {"de"}
    assert language_key("Français") == language_key("fr") == "fr"
    assert language_key(None) == language_key("  ") == ""
    assert language_key("Klingon") == "klingon"  # unknown: kept as typed, case-folded
    assert language_key("xx-YY") == "xx-yy"
    assert language_name("de") == "German" and language_name("klingon") == "klingon"
    assert same_language("Deutsch", "de") and not same_language("de", None)


# -- instant -----------------------------------------------------------------------------------


async def test_a_german_and_a_default_subscriber_get_different_cards_each_once(
    app: App, clock: FakeClock
) -> None:
    plain, german = subscribe(app, "1"), subscribe(app, "2", "German")
    add_stories(app, 2)
    engine = Translator()
    made = await maker(app, clock, engine).make_cards(100)
    assert engine.calls == [(1, None), (2, None), (1, "German"), (2, "German")]
    cards = cards_by_language(app.repo.engine)
    assert sorted(made) == sorted(cards.values())
    assert sorted(received(app, plain)) == sorted([cards[(1, "")], cards[(2, "")]])
    assert sorted(received(app, german)) == sorted([cards[(1, "de")], cards[(2, "de")]])
    german_card = app.repo.get_card(cards[(1, "de")])
    assert german_card.language == "German" and german_card.summary.startswith("[German]")
    assert [c.id for c in app.service.list_cards(10)] == [cards[(2, "")], cards[(1, "")]]
    # another round: nothing more to write, nothing sent again
    assert await maker(app, clock, engine).make_cards(100) == []
    assert len(engine.calls) == 4
    assert len(received(app, plain)) == len(received(app, german)) == 2


async def test_de_german_and_deutsch_share_one_card(app: App, clock: FakeClock) -> None:
    subs = [
        subscribe(app, str(n), language) for n, language in enumerate(["de", "German", "deutsch"])
    ]
    add_stories(app, 1)
    engine = Translator()
    await maker(app, clock, engine).make_cards(100)
    assert engine.calls == [(1, None), (1, "German")]  # one German card, asked as "German"
    german = cards_by_language(app.repo.engine)[(1, "de")]
    assert [received(app, sub) for sub in subs] == [[german]] * 3


async def test_the_default_language_asked_for_by_name_is_the_default_card(
    app: App, clock: FakeClock
) -> None:
    sub = subscribe(app, "1", "de")
    add_stories(app, 1)
    engine = Translator()
    await maker(app, clock, engine, language="German").make_cards(100)
    assert engine.calls == [(1, "German")]  # the default card is German already
    assert received(app, sub) == [cards_by_language(app.repo.engine)[(1, "")]]


async def test_two_makers_at_once_pay_for_each_story_and_language_once(
    app: App, db_settings: Settings, clock: FakeClock
) -> None:
    subscribe(app, "1", "German")
    subscribe(app, "2", "fr")
    add_stories(app, 6)
    # Two processes: their own connections to the same database.
    other_db = make_engine(db_settings.database_url)
    try:
        other = Repository(other_db, clock)
        first, second = Translator(delay=0.01), Translator(delay=0.01)
        await asyncio.gather(
            maker(app, clock, first).make_cards(100),
            maker(app, clock, second, repo=other).make_cards(100),
        )
    finally:
        other_db.dispose()
    calls = sorted(first.calls + second.calls, key=lambda c: (c[0], c[1] or ""))
    assert calls == [(s, lang) for s in range(1, 7) for lang in (None, "French", "German")]
    assert len(cards_by_language(app.repo.engine)) == 18


async def test_past_the_budget_the_german_subscriber_gets_the_default_card_once(
    app: App, clock: FakeClock
) -> None:
    plain, german = subscribe(app, "1"), subscribe(app, "2", "German")
    add_stories(app, 1)
    engine = Translator(cost=0.01)
    await maker(app, clock, engine, budget_usd=0.01).make_cards(100)  # spent by the first card
    assert engine.calls == [(1, None)]
    cards = cards_by_language(app.repo.engine)
    assert list(cards) == [(1, "")]
    assert received(app, plain) == received(app, german) == [cards[(1, "")]]
    clock.advance(days=1)  # a new budget: the story is settled, nothing paid, nothing resent
    await maker(app, clock, engine).make_cards(100)
    assert engine.calls == [(1, None)]
    assert received(app, german) == [cards[(1, "")]]


async def test_with_the_budget_spent_from_the_start_everyone_gets_the_budget_card(
    app: App, clock: FakeClock
) -> None:
    german = subscribe(app, "2", "German")
    add_stories(app, 1)
    engine = Translator()
    await maker(app, clock, engine, budget_usd=0.0).make_cards(100)
    assert engine.calls == []
    (card,) = received(app, german)
    assert app.repo.get_card(card).engine == BUDGET_ENGINE


async def test_the_offline_engine_gives_everyone_the_default_card_at_once(
    app: App, clock: FakeClock
) -> None:
    plain, german = subscribe(app, "1"), subscribe(app, "2", "German")
    add_stories(app, 2)
    made = await maker(app, clock).make_cards(100)  # no model: cannot translate
    assert len(made) == 2 and set(cards_by_language(app.repo.engine)) == {(1, ""), (2, "")}
    assert sorted(received(app, german)) == sorted(received(app, plain)) == sorted(made)
    assert await maker(app, clock).make_cards(100) == []
    assert len(received(app, german)) == 2


async def test_a_model_that_keeps_failing_in_german_delivers_the_default_card_after_the_wait(
    app: App, clock: FakeClock
) -> None:
    german = subscribe(app, "2", "German")
    add_stories(app, 1)
    engine = Translator(fail_in=("German",))
    await maker(app, clock, engine).make_cards(100)
    assert received(app, german) == []  # waiting for its German card
    clock.advance(minutes=10)
    await maker(app, clock, engine).make_cards(100)  # tried again, failed again
    assert engine.languages() == [None, "German", "German"] and received(app, german) == []
    clock.advance(seconds=TRANSLATION_WAIT.total_seconds())
    await maker(app, clock, engine).make_cards(100)
    default = cards_by_language(app.repo.engine)[(1, "")]
    assert received(app, german) == [default]
    engine.fail_in = ()
    await maker(app, clock, engine).make_cards(100)  # settled: no German card paid late
    assert engine.languages() == [None, "German", "German"]
    assert received(app, german) == [default]


async def test_a_subscription_that_changes_language_gets_new_stories_in_the_new_one(
    app: App, clock: FakeClock
) -> None:
    sub = subscribe(app, "1", "German")
    add_stories(app, 1)
    engine = Translator()
    await maker(app, clock, engine).make_cards(100)
    app.service.update_subscription(sub.id, SubscriptionOptions(language="French"))
    clock.advance(minutes=5)
    add_more_stories(app, 1)
    await maker(app, clock, engine).make_cards(100)
    cards = cards_by_language(app.repo.engine)
    assert received(app, sub) == [cards[(1, "de")], cards[(2, "fr")]]
    assert (1, "fr") not in cards  # the old story is not written, nor sent, again
    app.service.update_subscription(sub.id, SubscriptionOptions(language=""))
    add_more_stories(app, 1, start=1)
    await maker(app, clock, engine).make_cards(100)
    assert received(app, sub)[-1] == cards_by_language(app.repo.engine)[(3, "")]


def add_more_stories(app: App, count: int, start: int = 0) -> None:
    """Stories from another feed (``add_stories`` always adds the same feed)."""
    feed = app.repo.add_feed(f"https://example.org/{start}/feed.xml", "Other")
    articles = [
        NewArticle(
            entry_key=f"o{start}-{n}",
            url=f"https://example.org/{start}/{n}",
            title=f"Another story {start} {n} on subject {n * 11}",
            author=None,
            published_at=datetime(2026, 11, 20, 6, tzinfo=UTC),
            text="The council voted on Tuesday. The budget grows by 3 percent next year.",
            image_url=None,
        )
        for n in range(count)
    ]
    app.repo.store_entries(
        feed.id,
        articles,
        _NoMatch(),
        feed_title="Other",
        etag=None,
        last_modified=None,
        next_poll_at=datetime(2026, 11, 21, tzinfo=UTC),
    )


# -- the (subscription, story) guard -------------------------------------------------------------


async def test_the_database_refuses_a_second_card_of_one_story_for_a_subscription(
    app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = subscribe(app, "1", "German")
    add_stories(app, 1)
    await maker(app, clock, Translator()).make_cards(100)
    cards = cards_by_language(app.repo.engine)
    assert received(app, sub) == [cards[(1, "de")]]
    text = CardText.of(title="x", category="World", summary="", takeaways=())
    # The default card offered again to the German subscriber: skipped as "has the story"...
    with app.repo._session() as s:
        n = fanout.fan_out_card(
            s, card_id=cards[(1, "")], story_id=1, card=text, now=clock.now(), languages=("de",)
        )
        assert n == 0
    # ...and, should that check be bypassed (a race), refused by unique (subscription,
    # story), leaving no empty delivery behind.
    monkeypatch.setattr(fanout, "_instant_matches", lambda *args: [(sub.id, clock.now())])
    with app.repo._session() as s:
        n = fanout.fan_out_card(s, card_id=cards[(1, "")], story_id=1, card=text, now=clock.now())
        assert n == 0
    assert received(app, sub) == [cards[(1, "de")]]
    with app.repo.engine.connect() as conn:
        assert len(conn.execute(select(DeliveryRow.id)).all()) == 1


# -- digests -----------------------------------------------------------------------------------


async def test_digests_hold_each_story_once_in_the_subscribers_language(
    app: App, clock: FakeClock
) -> None:
    daily = {"mode": "digest", "times": "08:00"}
    plain, german = subscribe(app, "1", **daily), subscribe(app, "2", "German", **daily)
    add_stories(app, 2)
    engine = Translator()
    await maker(app, clock, engine).make_cards(100)
    clock.current = datetime(2026, 11, 20, 8, 0, 30, tzinfo=UTC)
    assert app.service.enqueue_due_digests() == 2
    cards = cards_by_language(app.repo.engine)
    assert received(app, plain) == [cards[(2, "")], cards[(1, "")]]
    assert received(app, german) == [cards[(2, "de")], cards[(1, "de")]]
    clock.current = datetime(2026, 11, 21, 8, 0, 30, tzinfo=UTC)
    assert app.service.enqueue_due_digests() == 0  # nothing new: nothing twice


async def test_a_digest_waits_for_a_translation_then_takes_the_default_card(
    app: App, clock: FakeClock
) -> None:
    german = subscribe(app, "2", "German", mode="digest", times="08:00,09:00")
    add_stories(app, 1)
    clock.current = datetime(2026, 11, 20, 7, 50, tzinfo=UTC)
    await maker(app, clock, Translator(fail_in=("German",))).make_cards(100)
    clock.current = datetime(2026, 11, 20, 8, 0, 30, tzinfo=UTC)
    assert app.service.enqueue_due_digests() == 0  # its German card may still come
    clock.current = datetime(2026, 11, 20, 9, 0, 30, tzinfo=UTC)  # past the wait
    assert app.service.enqueue_due_digests() == 1  # the story was not lost at 08:00
    assert received(app, german) == [cards_by_language(app.repo.engine)[(1, "")]]


async def test_an_offline_digest_in_german_gets_the_default_card_at_once(
    app: App, clock: FakeClock
) -> None:
    german = subscribe(app, "2", "German", mode="digest", times="08:00")
    add_stories(app, 1)
    clock.current = datetime(2026, 11, 20, 7, 55, tzinfo=UTC)
    (card,) = await maker(app, clock).make_cards(100)
    clock.current = datetime(2026, 11, 20, 8, 0, 30, tzinfo=UTC)
    assert app.service.enqueue_due_digests() == 1  # settled "default": no wait
    assert received(app, german) == [card]


# -- claims ------------------------------------------------------------------------------------


async def test_the_database_decides_a_language_claim_not_what_a_process_read(
    app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe(app, "1", "German")
    add_stories(app, 2)
    await maker(app, clock, Translator(fail_in=("German",))).make_cards(100)
    # Story 1's German claim was taken and given back (the model failed); story 2's never.
    wanted = app.repo.wanted_languages()
    first = app.repo.claim_language_cards(wanted=wanted, limit=5, lease=CLAIM_LEASE)
    assert [(c.story.id, c.lang_key) for c in first] == [(1, "de"), (2, "de")]
    # Another process read both as free just before: its claims must fail, on both paths
    # (the row it would insert exists; the row it would take is held).
    monkeypatch.setattr(language_cards, "_free", lambda row, now: True)
    assert app.repo.claim_language_cards(wanted=wanted, limit=5, lease=CLAIM_LEASE) == []
    # Claims that ran out are taken over; their old owner can then neither extend nor
    # release them, nor settle them.
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 1)
    taken = app.repo.claim_language_cards(wanted=wanted, limit=5, lease=CLAIM_LEASE)
    assert [(c.story.id, c.lang_key) for c in taken] == [(1, "de"), (2, "de")]
    assert app.repo.extend_claim(first[0], CLAIM_LEASE) is None
    app.repo.release_story(first[0])
    assert app.repo.settle_with_default(first[0]) == 0
    assert app.repo.claim_language_cards(wanted=wanted, limit=5, lease=CLAIM_LEASE) == []
    # A settled row is never claimed again, however free it looks; a released one is.
    assert app.repo.settle_with_default(taken[0]) == 1  # the default card goes
    app.repo.release_story(taken[1])
    again = app.repo.claim_language_cards(wanted=wanted, limit=5, lease=CLAIM_LEASE)
    assert [(c.story.id, c.lang_key) for c in again] == [(2, "de")]


# -- through the real SDK, against the fake Anthropic API ---------------------------------------


async def test_claude_writes_the_german_cards_and_answers_questions_about_them(
    settings: Settings,
) -> None:
    async with FakeAnthropic() as api:
        api.responder = extractive_card
        async with open_app(claude_settings(settings, api)) as app:
            plain, german = subscribe(app, "1"), subscribe(app, "2", "Deutsch")
            stories = await load_samples(app)
            made = await app.service.make_cards()
            assert len(made) == 2 * stories
            requests = [str(r.json) for r in api.message_requests]
            asked_german = [r for r in requests if "in this language: German." in r]
            assert len(requests) == 2 * stories and len(asked_german) == stories
            cards = cards_by_language(app.repo.engine)
            assert sorted(received(app, plain)) == sorted(
                card for (_, key), card in cards.items() if key == ""
            )
            german_cards = sorted(card for (_, key), card in cards.items() if key == "de")
            assert sorted(received(app, german)) == german_cards
            assert {app.repo.get_card(c).language for c in german_cards} == {"German"}
            assert await app.service.make_cards() == []  # nothing paid twice
            assert len(api.message_requests) == 2 * stories
            # Questions work per card: a German card is answered like any other.
            answer = await app.service.ask(german_cards[0], "Who is paying for this?", "t:1")
            assert answer.method == "model"
