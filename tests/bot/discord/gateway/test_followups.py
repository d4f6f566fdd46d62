"""Clicks on delivered cards: a card subscribed with ``/subscribe`` and posted by the real
delivery worker through the platform's sender, then "Why it matters", a FAQ choice,
"Related" and a digest's card button, answered ephemerally to the person who clicked;
and the buttons of a card posted before a restart."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import discord
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.common.commands import CARD_GONE
from bot.discord.components import card_view
from bot.discord.followups import NO_RELATED
from digest.app import App
from digest.models import FaqItem
from digest.store.tables import CardRow
from tests.bot.discord.gateway_world import (
    Bot,
    discord_settings,
    opened,
    running_bot,
)
from tests.support.deliveries import draft, make_card
from tests.support.fake_discord import FakeDiscord, FakeInteraction, FakeMessage

CARD = replace(
    draft("Policy"),
    why_it_matters="Chip makers must find new buyers within a year.",
    faq=(
        FaqItem("Who is affected?", "Makers of advanced chips and their clients."),
        FaqItem("When does it start?", "In January."),
    ),
)


async def delivered_card(
    bot: Bot, title: str = "Chip export rules tightened"
) -> tuple[int, FakeMessage]:
    """Subscribe the news channel (as an admin would), make a card and deliver it."""
    await bot.command("subscribe", user=bot.dc.admin)
    card_id = make_card(bot.app.repo, title, card_draft=CARD)
    assert await bot.deliver() == 1
    [message] = bot.dc.channel_messages(bot.dc.news.id)
    return card_id, message


def answer_of(interaction: FakeInteraction) -> str:
    assert interaction.callback is not None and interaction.callback.ephemeral
    assert interaction.original is not None and interaction.original.ephemeral
    return interaction.original.content


async def test_why_it_matters_and_a_faq_choice_are_answered_to_the_clicker(
    app: App, dc: FakeDiscord
) -> None:
    async with running_bot(dc, app) as bot:
        card_id, message = await delivered_card(bot)
        assert message.body["allowed_mentions"] == {"parse": []}
        why = await bot.click(f"card:why:{card_id}", user=dc.member)
        faq = await bot.click(f"card:faq:{card_id}", values=["1"], user=dc.member)

    why_text = answer_of(why)
    assert "Chip makers must find new buyers within a year." in why_text
    assert "From the card" in why_text
    faq_text = answer_of(faq)
    assert "When does it start?" in faq_text and "In January." in faq_text
    assert "From the card" in faq_text
    # nothing was added to the channel: only the card
    assert dc.channel_messages(dc.news.id) == [message]
    assert dc.pings == 0


async def test_buttons_work_after_a_restart(tmp_path: Path, dc: FakeDiscord) -> None:
    settings = discord_settings(tmp_path, dc)
    async with opened(settings) as app, running_bot(dc, app) as bot:
        card_id, message = await delivered_card(bot)

    # a new process: new app, new platform, same database; the old message's custom_ids
    async with opened(settings) as app, running_bot(dc, app) as bot:
        why = await bot.click(f"card:why:{card_id}", message=message)
        faq = await bot.click(f"card:faq:{card_id}", values=["0"], message=message)

    assert "Chip makers must find new buyers" in answer_of(why)
    assert "Makers of advanced chips" in answer_of(faq)
    assert len(dc.gateway.identifies) == 2


async def test_a_card_that_no_longer_exists(app: App, dc: FakeDiscord) -> None:
    async with running_bot(dc, app) as bot:
        card_id = make_card(app.repo, "Soon gone", card_draft=CARD)
        card = app.service.get_card(card_id)
        gone = replace(card, id=card_id + 1000)  # a card id the database does not have
        channel = bot.platform.client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("an old card", view=card_view(gone))
        why = await bot.click(f"card:why:{gone.id}")
        faq = await bot.click(f"card:faq:{gone.id}", values=["0"])
    assert answer_of(why) == CARD_GONE
    assert answer_of(faq) == CARD_GONE


async def test_a_faq_choice_no_longer_on_the_card(app: App, dc: FakeDiscord) -> None:
    async with running_bot(dc, app) as bot:
        card_id, _ = await delivered_card(bot)
        answer = await bot.click(f"card:faq:{card_id}", values=["7"])
    assert "no longer on this card" in answer_of(answer)


def set_related(app: App, card_id: int, related: list[int]) -> None:
    # What the card maker stores for a card with related stories (digest.summarize.related).
    with Session(app.repo.engine) as session, session.begin():
        session.execute(update(CardRow).where(CardRow.id == card_id).values(related=related))


async def test_related_cards_and_opening_one(app: App, dc: FakeDiscord) -> None:
    async with running_bot(dc, app) as bot:
        await bot.command("subscribe", user=dc.admin)
        older = make_card(app.repo, "Earlier chip rules", card_draft=CARD)
        assert await bot.deliver() == 1
        card_id = make_card(app.repo, "Chip export rules tightened", card_draft=CARD)
        set_related(app, card_id, [older])
        assert await bot.deliver() == 1
        card_message = dc.channel_messages(dc.news.id)[-1]
        assert card_message.component(f"card:rel:{card_id}") is not None
        related = await bot.click(f"card:rel:{card_id}", message=card_message)
        assert related.original is not None
        opened_card = await bot.click(f"card:open:{older}", message=related.original)

    assert related.callback is not None and related.callback.ephemeral
    [embed] = related.original.embeds
    assert embed["title"] == "Related stories" and "Earlier chip rules" in embed["description"]
    assert opened_card.original is not None and opened_card.original.ephemeral
    [shown] = opened_card.original.embeds
    assert shown["title"] == "Earlier chip rules"
    ids = [c.get("custom_id") for row in opened_card.original.components for c in row["components"]]
    assert f"card:why:{older}" in ids and f"card:faq:{older}" in ids


async def test_a_card_without_related_cards(app: App, dc: FakeDiscord) -> None:
    async with running_bot(dc, app) as bot:
        card_id, _ = await delivered_card(bot)
        channel = bot.platform.client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        # an old message still showing "Related" for a card whose related list is gone
        shown = replace(app.service.get_card(card_id), related=(card_id,))
        sent = await channel.send("card", view=card_view(shown))
        answer = await bot.click(f"card:rel:{card_id}", message=sent.id)
    assert answer_of(answer) == NO_RELATED
