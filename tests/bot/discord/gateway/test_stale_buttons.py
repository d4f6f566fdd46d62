"""Interactions the bot no longer handles, with the real ``DiscordPlatform`` (discord.py 2.7)
on the fake Discord: a click on a button from an older release, with a garbled or an
out-of-range card id, is answered once, ephemerally, with ``STALE_BUTTON``; clicks that an
item takes (a card's buttons, a stored view's button) are answered by that item alone; and
a slash command (or its autocomplete) the bot no longer has gets ``STALE_COMMAND``."""

from __future__ import annotations

import logging
from typing import Any

import discord
import pytest

from bot.common.commands import CARD_GONE
from bot.discord.commands_reply import SOMETHING_WRONG
from bot.discord.components import MAX_CARD_ID, STALE_BUTTON
from bot.discord.stale import STALE_COMMAND
from digest.app import App
from tests.bot.discord.gateway.test_followups import delivered_card
from tests.bot.discord.gateway_world import (
    Bot,
    running_bot,
)
from tests.support.fake_discord import FakeDiscord, FakeInteraction, FakeMessage
from tests.support.fake_discord_messages import new_message

BUTTON, SELECT = 2, 3


def old_message(dc: FakeDiscord, *components: tuple[int, str]) -> FakeMessage:
    """A message already in the news channel, posted by an older release of the bot: one
    row of ``(type, custom_id)`` components (a select gets one option)."""
    row: list[dict[str, Any]] = []
    for kind, custom_id in components:
        if kind == SELECT:
            option = {"label": "Who is affected?", "value": "0"}
            row.append({"type": SELECT, "custom_id": custom_id, "options": [option]})
        else:
            row.append({"type": BUTTON, "style": 1, "label": "Why", "custom_id": custom_id})
    return new_message(
        dc, dc.news.id, {"content": "old card", "components": [{"type": 1, "components": row}]}
    )


def callbacks_sent(dc: FakeDiscord, interaction: FakeInteraction) -> int:
    """How many answers the bot attempted (accepted or refused with 40060)."""
    return len(dc.requests_to("POST", f"/interactions/{interaction.id}/*/callback"))


def stale_answer(dc: FakeDiscord, interaction: FakeInteraction) -> str | None:
    callback = interaction.callback
    assert callback is not None and callback.type == 4, "answered with a message"
    assert callback.ephemeral and callback.data["flags"] & 64
    assert callback.data["allowed_mentions"] == {"parse": []}
    assert callbacks_sent(dc, interaction) == 1
    return callback.content


@pytest.mark.parametrize(
    ("kind", "custom_id"),
    [
        (BUTTON, "w:12"),  # another format (an older release)
        (BUTTON, "card:why:"),  # no id
        (BUTTON, "card:why:12x"),  # garbled id
        (BUTTON, "card:why:١٢"),  # other-script digits: int() would read 12
        (BUTTON, "card:why:" + "9" * 30),  # too long for any card id
        (BUTTON, f"card:why:{MAX_CARD_ID + 1}"),  # fits the template, not the cards table
        (BUTTON, f"card:open:{2**32}"),
        (SELECT, f"card:faq:{MAX_CARD_ID + 1}"),
        (SELECT, "card:faq:old"),
    ],
)
async def test_a_button_no_item_handles_is_answered_once_ephemerally(
    app: App, dc: FakeDiscord, caplog: pytest.LogCaptureFixture, kind: int, custom_id: str
) -> None:
    message = old_message(dc, (kind, custom_id))
    async with running_bot(dc, app) as bot:
        values = ["0"] if kind == SELECT else None
        click = await bot.click(custom_id, message=message, values=values)
    assert stale_answer(dc, click) == STALE_BUTTON
    assert dc.channel_messages(dc.news.id) == [message]  # nothing posted for everyone
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING and "discord" in r.name]
    assert logged == [], [r.getMessage() for r in logged]


async def test_card_buttons_are_answered_by_their_item_alone(
    app: App, dc: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(dc, app) as bot:
        card_id, message = await delivered_card(bot)
        why = await bot.click(f"card:why:{card_id}", message=message)
        faq = await bot.click(f"card:faq:{card_id}", values=["0"], message=message)
        # A last, stale click: its answer comes after any second answer to the clicks above
        # would have been attempted (each listener runs as soon as its interaction arrives).
        old = await bot.click("w:1", message=old_message(dc, (BUTTON, "w:1")))

    assert why.callback is not None and why.original is not None
    assert "Chip makers must find new buyers" in why.original.content
    assert faq.original is not None and "Makers of advanced chips" in faq.original.content
    assert callbacks_sent(dc, why) == 1 and callbacks_sent(dc, faq) == 1
    assert stale_answer(dc, old) == STALE_BUTTON
    stale_logs = [r.getMessage() for r in caplog.records if r.name == "bot.discord.stale"]
    assert stale_logs == ["Discord: click on a component no longer handled (custom_id 'w:1')"]


class Confirm(discord.ui.View):
    """A plain (not dynamic) view stored for its message: discord.py's view store routes
    its clicks by message id and custom_id."""

    @discord.ui.button(label="Confirm", custom_id="confirm")
    async def confirm(
        self, interaction: discord.Interaction[Any], _: discord.ui.Button[Any]
    ) -> None:
        await interaction.response.send_message("confirmed", ephemeral=True)


async def test_a_stored_views_button_is_left_to_the_view(app: App, dc: FakeDiscord) -> None:
    async with running_bot(dc, app) as bot:
        channel = bot.platform.client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("confirm?", view=Confirm())
        confirmed = await bot.click("confirm", message=sent.id)
        # The same custom_id on a message with no stored view is no one's.
        stray = await bot.click("confirm", message=old_message(dc, (BUTTON, "confirm")))
        await bot.click("w:1", message=old_message(dc, (BUTTON, "w:1")))  # see above

    assert confirmed.callback is not None and confirmed.callback.content == "confirmed"
    assert callbacks_sent(dc, confirmed) == 1
    assert stale_answer(dc, stray) == STALE_BUTTON


async def test_a_deleted_cards_button_keeps_its_own_answer(app: App, dc: FakeDiscord) -> None:
    # The stale answer is for custom_ids no item takes; a card item answers for its card.
    message = old_message(dc, (BUTTON, "card:why:5"))
    async with running_bot(dc, app) as bot:
        click = await bot.click("card:why:5", message=message)
    assert click.callback is not None and click.callback.content == CARD_GONE
    assert callbacks_sent(dc, click) == 1


# -- commands ---------------------------------------------------------------------------------


async def test_a_command_the_bot_no_longer_has(
    app: App, dc: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(dc, app) as bot:
        answer = await bot.command("headlines")  # a command of an older release
    assert stale_answer(dc, answer) == STALE_COMMAND
    assert STALE_COMMAND != SOMETHING_WRONG
    assert not [r for r in caplog.records if r.exc_info], "a stale command is not our error"
    assert any(r.getMessage().endswith("/headlines") for r in caplog.records)


async def test_autocomplete_of_a_command_the_bot_no_longer_has(bot: Bot) -> None:
    dc = bot.dc
    payload = dc.autocomplete_interaction("headlines", {"topic": "bus"}, "topic")
    answered = await dc.interact(payload)
    assert answered.callback is not None and answered.callback.type == 8
    assert answered.callback.data["choices"] == []
    assert callbacks_sent(dc, answered) == 1


async def test_a_command_the_bot_has_is_answered_as_before(bot: Bot) -> None:
    answer = await bot.command("topics")
    assert answer.callback is not None and answer.callback.ephemeral
    assert answer.callback.content is not None and answer.callback.content.startswith("Topics: ")
    assert callbacks_sent(bot.dc, answer) == 1
