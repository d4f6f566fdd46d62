"""Asking about a card through the service: limits, cache, record, and the model's budget.

The model-backed tests build the app from settings, so the real ``ClaudeAnswerer`` (with the
daily budget as its meter) talks to the fake Anthropic API through the real SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from digest.app import App, open_app
from digest.config import Settings
from digest.errors import InputError, NotFound, QuestionTooLong, RateLimited
from digest.models import Answer, Card, ModelAnswer, Usage
from digest.questions import question_key
from digest.sample_feeds import sample_feed_urls
from tests.support.clock import FakeClock
from tests.support.fake_anthropic import (
    FakeAnthropic,
    Reply,
    extractive_card,
    malformed_reply,
    overloaded,
)

KEY = "sk-ant-api03-QUESTIONS-never-to-be-seen-0123456789"


class CountingModel:
    """A model answerer stand-in that quotes the article's first sentence and has a price."""

    def __init__(self) -> None:
        self.calls = 0

    async def answer(self, card: Card, article_text: str, question: str) -> ModelAnswer:
        self.calls += 1
        first = article_text.split(". ")[0] + "."
        return ModelAnswer(
            text=f"The article says: {first}",
            covered=True,
            quotes=(first,),
            usage=Usage(model="fake", input_tokens=500, output_tokens=50, cost_usd=0.002),
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
def model() -> CountingModel:
    return CountingModel()


@pytest.fixture
async def app(db_settings: Settings, clock: FakeClock, model: CountingModel) -> AsyncIterator[App]:
    settings = db_settings.model_copy(update={"questions_per_hour": 3, "daily_budget_usd": 0.003})
    async with open_app(settings, clock=clock, model_answerer=model) as application:
        for url in sample_feed_urls()[:1]:
            application.service.add_feed_unchecked(url)
        await application.service.poll()
        await application.service.make_cards()
        yield application


async def test_why_it_matters_needs_no_model_and_open_questions_use_it_once(
    app: App, model: CountingModel
) -> None:
    card = app.service.list_cards(limit=1)[0]
    why = await app.service.ask(card.id, "So what?", "telegram:1")
    assert (why.method, why.text) == ("why_it_matters", card.why_it_matters)
    assert model.calls == 0

    first = await app.service.ask(card.id, "Who paid for it?", "telegram:1")
    again = await app.service.ask(card.id, "  who PAID for it ", "telegram:2")
    assert first.method == "model" and not first.cached
    assert again.cached and again.text == first.text
    assert again.quotes == first.quotes  # with their sources
    assert model.calls == 1
    assert app.service.usage(days=1)[0].questions == 3


async def test_the_rate_limit_is_per_asker_and_says_when_to_come_back(
    app: App, clock: FakeClock
) -> None:
    card = app.service.list_cards(limit=1)[0]
    for _ in range(3):
        await app.service.ask(card.id, "why does this matter?", "discord:7")
    clock.advance(minutes=20)
    with pytest.raises(RateLimited, match="try again in 40 minutes") as info:
        await app.service.ask(card.id, "why does this matter?", "discord:7")
    assert info.value.retry_after == pytest.approx(40 * 60)
    await app.service.ask(card.id, "why does this matter?", "discord:8")  # someone else
    clock.advance(minutes=41)
    await app.service.ask(card.id, "why does this matter?", "discord:7")


async def test_bad_questions_are_clear_errors(app: App) -> None:
    card = app.service.list_cards(limit=1)[0]
    for empty in ("   ", "\u200b", "\u200b \u2060"):
        with pytest.raises(InputError, match="ask a question"):
            await app.service.ask(card.id, empty, "a")
    with pytest.raises(QuestionTooLong, match="at most 300"):
        await app.service.ask(card.id, "why " * 100, "a")
    with pytest.raises(NotFound):
        await app.service.ask(card.id + 1000, "why?", "a")
    odd = await app.service.ask(card.id, "🤔🤔🤔 ??? !!!", "a")
    assert odd.text


def test_question_keys_ignore_case_punctuation_and_spacing() -> None:
    assert question_key("Who paid for it?") == question_key("  who PAID   for it ")
    assert question_key("Who paid for it?") != question_key("Who built it?")


# -- with Claude (the fake API) --------------------------------------------------------------


def costly(reply: Reply) -> Reply:
    """``reply`` priced far above the test budget (200,000 input tokens: $0.02)."""
    return replace(reply, input_tokens=200_000)


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        server.responder = extractive_card  # valid cards; grounded answers quoting the text
        yield server
    assert server.unexpected == 0


@pytest.fixture
async def claude_app(
    db_settings: Settings, clock: FakeClock, api: FakeAnthropic
) -> AsyncIterator[App]:
    settings = db_settings.model_copy(
        update={
            "anthropic_api_key": SecretStr(KEY),
            "anthropic_base_url": api.url,
            "model_max_retries": 0,
            "questions_per_hour": 100,
            "daily_budget_usd": 0.01,  # the cards cost about a tenth of it
        }
    )
    async with open_app(settings, clock=clock) as application:
        application.service.add_feed_unchecked(sample_feed_urls()[0])
        await application.service.poll()
        assert await application.service.make_cards()
        yield application


def spent_today(app: App) -> float:
    return app.service.usage(days=1)[0].cost_usd


async def ask_open(app: App, asker: str = "telegram:1") -> tuple[Card, Answer]:
    card = app.service.list_cards(limit=1)[0]
    return card, await app.service.ask(card.id, "Who is paying for this?", asker)


async def test_a_model_answer_is_paid_once_and_then_served_from_the_record(
    claude_app: App, api: FakeAnthropic
) -> None:
    before, requests = spent_today(claude_app), len(api.message_requests)
    card, first = await ask_open(claude_app)
    assert first.method == "model" and not first.cached and first.quotes
    assert len(api.message_requests) == requests + 1
    paid = spent_today(claude_app) - before
    assert paid > 0  # the answer's reply is in the spend ledger

    again = await claude_app.service.ask(card.id, "who is PAYING for this", "discord:2")
    assert again.cached and (again.method, again.text) == ("model", first.text)
    assert len(api.message_requests) == requests + 1
    assert spent_today(claude_app) == pytest.approx(before + paid)


async def test_a_rejected_reply_is_counted_against_the_budget(
    claude_app: App, api: FakeAnthropic
) -> None:
    before = spent_today(claude_app)
    api.script(replace(malformed_reply(), input_tokens=50_000, output_tokens=100))
    _, answer = await ask_open(claude_app)
    assert answer.method in {"extractive", "not_covered"}
    assert spent_today(claude_app) - before == pytest.approx((50_000 * 0.10 + 100 * 0.50) / 1e6)


async def test_an_answer_made_during_an_outage_is_not_served_from_the_record_when_it_ends(
    claude_app: App, api: FakeAnthropic
) -> None:
    api.script(overloaded())  # 529, no retries configured
    _, during = await ask_open(claude_app)
    assert during.method in {"extractive", "not_covered"} and not during.cached
    requests = len(api.message_requests)

    _, after = await ask_open(claude_app, "telegram:2")  # the API is back
    assert after.method == "model" and not after.cached
    assert len(api.message_requests) == requests + 1
    _, later = await ask_open(claude_app, "telegram:3")
    assert later.cached and later.method == "model" and later.text == after.text
    assert len(api.message_requests) == requests + 1
    assert claude_app.service.usage(days=1)[0].questions == 3  # the stand-in is recorded too


async def test_past_the_budget_open_questions_get_quotes_not_model_calls(
    claude_app: App, api: FakeAnthropic
) -> None:
    api.responder = lambda params: costly(extractive_card(params))
    card, first = await ask_open(claude_app)
    assert first.method == "model"  # and the budget is now spent
    requests = len(api.message_requests)
    answer = await claude_app.service.ask(card.id, "Where is it?", "b")
    assert answer.method in {"extractive", "not_covered"}
    why = await claude_app.service.ask(card.id, "So what?", "b")
    assert why.method == "why_it_matters"
    assert len(api.message_requests) == requests


async def test_a_question_answered_past_the_budget_goes_to_the_model_the_next_day(
    claude_app: App, api: FakeAnthropic, clock: FakeClock
) -> None:
    api.responder = lambda params: costly(extractive_card(params))
    card, _ = await ask_open(claude_app)
    stand_in = await claude_app.service.ask(card.id, "Where is it?", "b")
    assert stand_in.method in {"extractive", "not_covered"}
    clock.advance(days=1)
    api.responder = extractive_card
    requests = len(api.message_requests)
    answer = await claude_app.service.ask(card.id, "Where is it?", "c")
    assert answer.method == "model" and not answer.cached
    assert len(api.message_requests) == requests + 1
