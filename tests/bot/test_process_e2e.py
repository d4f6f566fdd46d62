"""``python -m bot``, the real process as an operator runs it, against the local fake
Telegram and fake Discord: subscriptions made through both chats, a card written to the
database reaching both, its "Why it matters" button answered on both, and a clean exit on
SIGTERM without a traceback or a token in the logs. Also: a gateway whose Telegram token is
refused says so in one line and keeps retrying (``bot.telegram.platform``: ``getMe`` is
retried with backoff), and still stops cleanly; one whose Discord token is refused says so
in one line too.

Nothing here imports the bot's code to drive it: the test only sees what a chat user and an
operator see (the fakes' records, the process's stderr and exit status) and what an
operator's tooling may write (the database).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from digest.ports import SystemClock
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.store.repository import Repository
from tests.support.bot_process import BotProcess, bot_env
from tests.support.deliveries import draft, make_card
from tests.support.fake_discord import FakeDiscord, FakeInteraction, FakeMessage
from tests.support.fake_telegram import FakeTelegram

WAIT = 60.0  # seconds any single step may take on a loaded machine
WHY = "Chip makers must find new buyers within a year."
TITLE = "Chip export rules tightened"
DISCORD_LOADING = 1 << 7  # message flag of a deferred ("thinking") interaction response


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(query_deadline=WAIT) as fake:
        yield fake


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    # The bot answers within Discord's 3 s or defers; a loaded machine gets more time.
    async with FakeDiscord(interaction_deadline=WAIT) as fake:
        yield fake


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A migrated SQLite file (the bot's own start migrates too: here it finds nothing to
    do, so the test and the process never migrate at once)."""
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


def both_platforms(tg: FakeTelegram, dc: FakeDiscord) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": tg.token,
        "TELEGRAM_API_BASE_URL": tg.base_url,  # the prefix the token is appended to
        "DISCORD_BOT_TOKEN": dc.token,
        "DISCORD_API_BASE_URL": dc.api_base,
        "DISCORD_GATEWAY_URL": dc.gateway_url,
    }


def secrets_of(*tokens: str) -> list[str]:
    """Every form a token may leak in: whole, URL-quoted, and a Telegram token's secret
    half (after the bot id)."""
    found = set()
    for token in tokens:
        found |= {token, quote(token, safe=""), token.partition(":")[2] or token}
    return sorted(found)


def assert_clean_logs(bot: BotProcess, *tokens: str) -> None:
    err, out = bot.stderr, bot.stdout
    assert "Traceback" not in err, err
    for secret in secrets_of(*tokens):
        assert secret not in err and secret not in out, "a token reached the output"


def button_custom_id(message: FakeMessage, label: str) -> str:
    """The custom_id of the button labelled ``label`` on a Discord message."""
    stack = list(message.components)
    while stack:
        item = stack.pop()
        if item.get("label") == label and "custom_id" in item:
            return str(item["custom_id"])
        stack.extend(item.get("components") or [])
    raise AssertionError(f"no {label!r} button on message {message.id}: {message.components}")


def discord_answer(interaction: FakeInteraction) -> str:
    """What the person who used the command or button reads ("" while the bot thinks)."""
    original = interaction.original
    if original is not None and not original.deleted:
        loading = bool(int(original.data.get("flags") or 0) & DISCORD_LOADING)
        return "" if loading else original.content
    if interaction.callback is not None:
        return interaction.callback.content or ""
    return ""


async def discord_answered(dc: FakeDiscord, payload: dict[str, Any], expected: str) -> str:
    """Send an interaction and wait until its answer contains ``expected``; the answer."""
    interaction = await dc.interact(payload, timeout=WAIT)
    await dc.wait_until(
        lambda: expected in discord_answer(interaction),
        WAIT,
        what=f"an answer containing {expected!r}",
    )
    assert interaction.late_callbacks == 0
    assert interaction.callback is not None and interaction.callback.ephemeral
    return discord_answer(interaction)


# INFO is what an operator sees by default; DEBUG shows every library's request lines, the
# likeliest place for a token to leak.
@pytest.mark.parametrize("log_level", ["INFO", "DEBUG"])
async def test_both_platforms_subscribe_receive_a_card_and_answer_its_button(
    tmp_path: Path, tg: FakeTelegram, dc: FakeDiscord, database_url: str, log_level: str
) -> None:
    env = bot_env(database_url, DIGEST_LOG_LEVEL=log_level, **both_platforms(tg, dc))
    bot = BotProcess(tmp_path, env)
    try:
        await bot.wait_for_log("telegram gateway running as @newsdigest_bot", timeout=WAIT)
        await bot.wait_for_log("slash commands synced", timeout=WAIT)
        await dc.wait_until(lambda: bool(dc.gateway.live), WAIT, what="a gateway session")

        # Subscriptions, made the way people make them.
        chat = tg.private_chat(tg.alice)
        tg.user_sends(chat, tg.alice, "/subscribe")
        subscribed = await tg.next_sent(chat, timeout=WAIT)
        assert subscribed.plain.startswith("Subscribed."), subscribed.plain
        answer = await discord_answered(
            dc, dc.command_interaction("subscribe", user=dc.admin), "Subscribed."
        )
        assert answer.startswith("Subscribed."), answer

        # A card written to the database while the bot runs (as the summarizer would, in
        # this or another worker process) is fanned out and delivered to both chats.
        engine = make_engine(database_url)
        try:
            card_draft = replace(draft("Business"), why_it_matters=WHY)
            card_id = make_card(Repository(engine, SystemClock()), TITLE, card_draft=card_draft)
        finally:
            engine.dispose()

        card = await tg.next_sent(chat, timeout=WAIT)  # the bot's next message: the card
        assert card.plain.startswith(TITLE), card.plain
        assert card.parse_mode == "HTML" and card.text is not None and "<" in card.text
        why_data = card.button("Why it matters")["callback_data"]
        await dc.wait_until(
            lambda: bool(dc.channel_messages(dc.news.id)), WAIT, what="the card in Discord"
        )
        [posted] = dc.channel_messages(dc.news.id)
        [embed] = posted.embeds
        assert embed["title"].startswith(TITLE)
        assert posted.body["allowed_mentions"] == {"parse": []}

        # "Why it matters" on both.
        query = tg.user_taps(card, why_data)
        why = await tg.next_sent(chat, timeout=WAIT)
        assert WHY in why.plain and (why.reply_parameters or {}).get("message_id") == (
            card.message_id
        )
        await tg.wait_for(
            lambda: any(a["callback_query_id"] == query for a in tg.callback_answers),
            WAIT,
            what="the tap answered",
        )
        click = dc.component_interaction(
            button_custom_id(posted, "Why it matters"), message=posted, user=dc.member
        )
        assert WHY in await discord_answered(dc, click, WHY)
        assert dc.channel_messages(dc.news.id) == [posted]  # the answer went to the clicker

        assert bot.running()
        assert await bot.stop(timeout=WAIT) == 0, bot.stderr
    finally:
        bot.kill()
    assert "stopped" in bot.stderr.splitlines()[-1], bot.stderr
    assert_clean_logs(bot, tg.token, dc.token)
    assert not [line for line in bot.stderr.splitlines() if " ERROR " in line], bot.stderr
    # Delivered once, though the worker ran many times meanwhile (Discord: checked above).
    assert [m.plain.startswith(TITLE) for m in tg.sent_to(chat)].count(True) == 1
    assert str(card_id) in why_data


REFUSED = "Telegram refused the bot token (check TELEGRAM_BOT_TOKEN)"


async def test_a_gateway_with_a_refused_telegram_token_says_so_and_keeps_retrying(
    tmp_path: Path, tg: FakeTelegram, database_url: str
) -> None:
    wrong = "123456789:AAF-this-token-was-revoked-by-botfather"
    assert wrong != tg.token
    env = bot_env(database_url, TELEGRAM_BOT_TOKEN=wrong, TELEGRAM_API_BASE_URL=tg.base_url)
    bot = BotProcess(tmp_path, env, "--role", "gateway")
    try:
        # The documented behaviour: getMe is retried with backoff (5 s, then 10 s, ...), each
        # refusal logged in one line, until the process is stopped.
        seen = await bot.wait_for_log(REFUSED, count=2, timeout=WAIT)
        assert bot.running()
        assert await bot.stop(timeout=WAIT) == 0, bot.stderr
    finally:
        bot.kill()
    lines = bot.stderr.splitlines()
    refusals = [line for line in lines if REFUSED in line]
    assert len(refusals) >= 2 and all(re.search(r" ERROR bot\.telegram", r) for r in refusals)
    after = lines[lines.index(refusals[0]) + 1]
    assert "connecting to Telegram again in 5 s" in after, seen  # nothing between: one line
    assert "telegram gateway running as" not in bot.stderr
    assert tg.calls("getUpdates") == []  # never got past the token
    assert_clean_logs(bot, wrong)


async def test_a_gateway_with_a_refused_discord_token_says_so_and_exits_1(
    tmp_path: Path, dc: FakeDiscord, database_url: str
) -> None:
    wrong = "MTAwrong.discord-bot.token-revoked"
    assert wrong != dc.token
    env = bot_env(
        database_url,
        DISCORD_BOT_TOKEN=wrong,
        DISCORD_API_BASE_URL=dc.api_base,
        DISCORD_GATEWAY_URL=dc.gateway_url,
    )
    bot = BotProcess(tmp_path, env, "--role", "gateway")
    try:
        await bot.wait_for_log("Discord refused the bot token: check DISCORD_BOT_TOKEN")
        # Its only gateway ended: the process exits 1 by itself, so a service manager sees
        # the failure instead of an idle process.
        assert await asyncio.to_thread(bot.process.wait, WAIT) == 1, bot.stderr
        assert "no chat gateway is running: exiting" in bot.stderr
    finally:
        bot.kill()
    assert dc.gateway.identifies == []  # never got past the login
    assert_clean_logs(bot, wrong)
