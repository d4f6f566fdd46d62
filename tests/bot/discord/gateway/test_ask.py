"""``/ask`` through the real platform: deferred ("thinking", in public), then answered in the
channel by the core's answer service; the card picked by autocomplete; errors to the asker
alone; no pings; and the bot token never in a log or a response."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import discord
import pytest

from bot.common.commands import CARD_GONE
from bot.discord.commands_ask import NO_CARD_HERE
from bot.discord.platform import DiscordPlatform
from digest.app import App
from tests.bot.discord.gateway_world import (
    READY_WAIT,
    Bot,
    discord_settings,
    opened,
    token_never_logged,
)
from tests.support.deliveries import draft, make_card
from tests.support.fake_discord import FakeDiscord, FakeInteraction

WRONG_TOKEN = "MTAwrong.gateway-token-that-must-never-be-printed"
CARD = replace(draft("Policy"), why_it_matters="Chip makers must find new buyers soon.")


@pytest.fixture(autouse=True)
def no_token_in_logs(caplog: pytest.LogCaptureFixture, dc: FakeDiscord) -> Iterator[None]:
    with token_never_logged(caplog, dc):
        yield
    assert WRONG_TOKEN not in caplog.text


@pytest.fixture
async def app(tmp_path: Path, dc: FakeDiscord) -> AsyncIterator[App]:
    async with opened(discord_settings(tmp_path, dc, questions_per_hour=3)) as made:
        yield made


async def post_card(bot: Bot, title: str, why: str | None = None) -> int:
    """A card delivered to the news channel by the worker (so it is "the latest card here")."""
    if bot.subscription(bot.dc.news.id) is None:
        await bot.command("subscribe", user=bot.dc.admin)
    card_id = make_card(
        bot.app.repo, title, card_draft=replace(CARD, why_it_matters=why or CARD.why_it_matters)
    )
    assert await bot.deliver() == 1
    return card_id


def public_answer(interaction: FakeInteraction) -> str:
    assert interaction.callback is not None and interaction.callback.type == 5  # deferred
    assert not interaction.callback.ephemeral
    assert interaction.original is not None and not interaction.original.ephemeral
    return interaction.original.content


def error_reply(interaction: FakeInteraction) -> str:
    """An error after the public deferral: the thinking message is gone, the text went to
    the asker alone."""
    assert interaction.original is not None and interaction.original.deleted
    [reply] = interaction.followups
    assert reply.ephemeral
    return reply.content


async def test_ask_about_the_latest_card_here(bot: Bot) -> None:
    dc = bot.dc
    await post_card(bot, "Central bank holds rates")
    await post_card(bot, "Chip export rules tightened")
    asked = await bot.command("ask", {"question": "Why does this matter?"}, user=dc.member)
    text = public_answer(asked)
    assert text.startswith("About: **Chip export rules tightened**")
    assert "Chip makers must find new buyers soon." in text
    assert "From the card" in text  # how it was found
    assert asked.original in dc.channel_messages(dc.news.id)  # in the channel, for everyone


async def test_ask_about_a_card_picked_by_autocomplete(bot: Bot) -> None:
    dc = bot.dc
    wanted = await post_card(bot, "Central bank holds rates")
    await post_card(bot, "Chip export rules tightened")
    typed = dc.autocomplete_interaction(
        "ask", {"question": "why?", "card": "central bank"}, "card", user=dc.member
    )
    completion = await dc.interact(typed)
    assert completion.callback is not None and completion.callback.type == 8
    choices = completion.callback.data["choices"]
    assert choices == [{"name": "Central bank holds rates · Policy", "value": str(wanted)}]
    blank = dc.autocomplete_interaction("ask", {"question": "x", "card": ""}, "card")
    latest = await dc.interact(blank)
    assert latest.callback is not None and len(latest.callback.data["choices"]) == 2

    asked = await bot.command("ask", {"question": "Why does it matter?", "card": str(wanted)})
    assert public_answer(asked).startswith("About: **Central bank holds rates**")
    # typed without picking a choice: the best match of the words
    typed_only = await bot.command("ask", {"question": "Why does it matter?", "card": "central"})
    assert public_answer(typed_only).startswith("About: **Central bank holds rates**")


async def test_an_open_question_is_answered_from_the_article(bot: Bot) -> None:
    await post_card(bot, "Chip export rules tightened")
    asked = await bot.command("ask", {"question": "Who wrote the body of the story?"})
    text = public_answer(asked)
    assert "**Q:** Who wrote the body of the story?" in text
    assert "From the article" in text or "Not covered by the article" in text


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"question": "why?"}, NO_CARD_HERE),
        ({"question": "why?", "card": "987654"}, CARD_GONE),
        ({"question": "why?", "card": "9" * 30}, CARD_GONE),  # past any id (and SQLite's)
        ({"question": "why?", "card": "no such words"}, 'No recent card matches "no such words"'),
    ],
)
async def test_errors_go_to_the_asker_alone(
    bot: Bot, options: dict[str, str], expected: str
) -> None:
    asked = await bot.command("ask", options, wait_followups=1)
    assert error_reply(asked).startswith(expected)
    assert bot.dc.channel_messages(bot.dc.news.id) == []


async def test_the_hourly_question_limit_is_a_one_line_reply(bot: Bot) -> None:
    await post_card(bot, "Chip export rules tightened")
    for _ in range(3):
        public_answer(await bot.command("ask", {"question": "Why does this matter?"}))
    limited = await bot.command("ask", {"question": "Why does this matter?"}, wait_followups=1)
    text = error_reply(limited)
    assert "questions in the last hour" in text and "\n" not in text


async def test_an_answer_with_mentions_pings_nobody(bot: Bot) -> None:
    dc = bot.dc
    card_id = await post_card(
        bot,
        "Chip export rules tightened",
        why=f"@everyone should know, says <@&{dc.moderators.id}> and <@{dc.admin.id}>.",
    )
    asked = await bot.command("ask", {"question": "Why does this matter?"})
    assert "@everyone" in public_answer(asked)
    why = await bot.click(f"card:why:{card_id}")
    assert why.original is not None and "@everyone" in why.original.content
    assert dc.pings == 0


async def test_the_token_is_in_no_response_or_record(bot: Bot) -> None:
    dc = bot.dc
    await post_card(bot, "Chip export rules tightened")
    await bot.command("ask", {"question": "Why does this matter?"})
    await bot.command("ask", {"question": "x", "card": "987654"}, wait_followups=1)
    await bot.command("settings")
    recorded = repr(dc.messages) + repr(dc.callbacks) + repr(dc.requests)
    assert dc.token not in recorded


async def test_a_refused_token_stops_the_gateway_with_a_clear_log(
    tmp_path: Path, dc: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    settings = discord_settings(tmp_path, dc, discord_token=WRONG_TOKEN)
    async with opened(settings) as app:
        platform = DiscordPlatform(settings, app, guild_ready_timeout=READY_WAIT)
        try:
            with pytest.raises(discord.LoginFailure):
                await asyncio.wait_for(platform.serve(asyncio.Event()), 5)
        finally:
            await platform.aclose()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "Discord refused the bot token: check DISCORD_BOT_TOKEN"
    ]
    assert dc.command_syncs == [] and dc.gateway.identifies == []
