"""Asking about a card through the service: limits, cache, record, and the model's budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from digest.app import App, open_app
from digest.config import Settings
from digest.errors import InputError, NotFound, QuestionTooLong, RateLimited
from digest.models import Card, ModelAnswer, Usage
from digest.questions import question_key
from digest.sample_feeds import sample_feed_urls
from tests.support.clock import FakeClock


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
    usage = app.service.usage(days=1)[0]
    assert usage.questions == 3
    assert usage.cost_usd == pytest.approx(0.002)


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


async def test_past_the_budget_open_questions_get_quotes_not_model_calls(
    app: App, model: CountingModel
) -> None:
    card = app.service.list_cards(limit=1)[0]
    await app.service.ask(card.id, "Who paid for it?", "a")
    await app.service.ask(card.id, "What did the critics say?", "b")  # spend now 0.004
    answer = await app.service.ask(card.id, "Where is it?", "c")
    assert answer.method in {"extractive", "not_covered"}
    assert model.calls == 2


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
