"""The whole path with Claude: sample feeds → stories → cards from a fake Anthropic API,
through the real SDK over HTTP, built by the composition root from settings."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from digest.app import App, open_app
from digest.config import Settings
from digest.sample_feeds import sample_feed_urls
from tests.support.fake_anthropic import FakeAnthropic, extractive_card, overloaded

KEY = "sk-ant-test-0123456789-secret"


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as fake:
        fake.responder = extractive_card
        yield fake


def claude_settings(settings: Settings, api: FakeAnthropic, **changes: object) -> Settings:
    return settings.model_copy(
        update={
            "anthropic_api_key": SecretStr(KEY),
            "anthropic_base_url": api.url,
            "model_max_retries": 0,
            **changes,
        }
    )


async def load_samples(app: App) -> int:
    for url in sample_feed_urls():
        app.service.add_feed_unchecked(url)
    reports = await app.service.poll()
    return sum(r.new_stories for r in reports)


async def test_each_story_costs_exactly_one_model_request(
    settings: Settings, api: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = claude_settings(settings, api)
    async with open_app(config) as app:
        stories = await load_samples(app)
        made = await app.service.make_cards()
        assert len(made) == stories
        assert len(api.message_requests) == stories  # 1.00 request per unique story
        assert await app.service.make_cards() == []
        assert len(api.message_requests) == stories
        cards = app.service.list_cards(limit=100)
        assert {c.engine for c in cards} == {"claude"}
        assert all(c.usage and c.usage.cost_usd > 0 for c in cards)
        (today,) = app.service.usage(days=1)
        assert today.cards_by_engine == {"claude": stories}
        assert today.cost_usd == pytest.approx(sum(c.usage.cost_usd for c in cards if c.usage))
        # an open question goes to the model once, then comes from the record
        answer = await app.service.ask(cards[0].id, "Who is paying for this?", "telegram:1")
        assert answer.method == "model" and answer.quotes
        again = await app.service.ask(cards[0].id, "who is paying for this", "telegram:2")
        assert again.cached and again.text == answer.text
        assert len(api.message_requests) == stories + 1
    assert api.message_requests[0].headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in caplog.text


async def test_past_the_budget_cards_are_offline_until_midnight(
    settings: Settings, api: FakeAnthropic
) -> None:
    config = claude_settings(settings, api, daily_budget_usd=0.0)
    async with open_app(config) as app:
        stories = await load_samples(app)
        await app.service.make_cards()
        assert api.message_requests == []
        engines = {c.engine for c in app.service.list_cards(limit=100)}
        assert engines == {"offline-budget"}
        assert app.repo.counts()["cards"] == stories


async def test_an_overloaded_api_leaves_stories_for_the_next_round(
    settings: Settings, api: FakeAnthropic
) -> None:
    api.script(overloaded())
    config = claude_settings(settings, api)
    async with open_app(config) as app:
        stories = await load_samples(app)
        assert await app.service.make_cards() == []
        assert len(await app.service.make_cards()) == stories  # the API is back
        assert {c.engine for c in app.service.list_cards(limit=100)} == {"claude"}


async def test_without_a_key_everything_works_offline(settings: Settings) -> None:
    async with open_app(settings) as app:
        stories = await load_samples(app)
        assert len(await app.service.make_cards()) == stories
        assert {c.engine for c in app.service.list_cards(limit=100)} == {"offline"}


async def test_a_backlog_goes_through_one_message_batch_at_half_price(
    settings: Settings, api: FakeAnthropic
) -> None:
    config = claude_settings(settings, api, use_batches=True)
    api.batch_polls = 0  # ended when first looked at
    async with open_app(config) as app:
        stories = await load_samples(app)
        assert stories >= 10  # enough for a batch
        assert await app.service.make_cards() == []  # submitted: the round does not wait
        made = await app.service.make_cards()
        assert len(made) == stories
        creates = [
            r for r in api.requests if r.method == "POST" and r.path == "/v1/messages/batches"
        ]
        assert len(creates) == 1
        assert len(creates[0].json["requests"]) == stories
        assert api.message_requests == []  # every item came back valid and checked
        cards = app.service.list_cards(limit=100)
        assert {c.engine for c in cards} == {"claude"}
        assert all(c.checked for c in cards)


async def test_digest_poll_makes_checked_claude_cards(
    settings: Settings, api: FakeAnthropic, tmp_path: Path
) -> None:
    """The command an operator runs, in its own process, against the fake API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "ANTHROPIC_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        ANTHROPIC_API_KEY=KEY,
        ANTHROPIC_BASE_URL=api.url,
        DIGEST_MODEL_MAX_RETRIES="0",
    )
    async with open_app(settings) as app:
        for url in sample_feed_urls():
            app.service.add_feed_unchecked(url)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "digest"),
        "poll",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    assert "new cards" in out.decode()
    assert KEY not in out.decode() + err.decode()
    async with open_app(settings) as app:
        cards = app.service.list_cards(limit=100)
    assert cards and {c.engine for c in cards} == {"claude"}
    assert all(c.checked for c in cards)
    assert len(api.message_requests) == len(cards)
