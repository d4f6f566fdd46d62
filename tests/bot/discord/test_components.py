"""Persistent card components with the real discord.py client on the fake Discord: a card
posted by one process (the delivery worker, HTTP only) is clicked in another that started
later; the click reaches the installed ``FollowUps`` with the card id (and the FAQ index),
and a client without one answers "no longer available" ephemerally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import discord
import pytest

from bot.discord.components import (
    DYNAMIC_ITEMS,
    UNAVAILABLE,
    card_view,
    digest_view,
    followups_for,
    install_followups,
)
from bot.discord.render import card_embed, digest_embeds
from digest.models import Card, FaqItem
from tests.support.fake_discord import FakeDiscord, point_discord_py_at, running_client

READY_WAIT = 0.05


def make_card(card_id: int) -> Card:
    when = datetime(2026, 11, 29, 8, tzinfo=UTC)
    return Card(
        id=card_id,
        story_id=1,
        title=f"Card {card_id}",
        url=f"https://news.example.com/{card_id}",
        source="Wire",
        published_at=when,
        category="Science",
        summary="A summary.",
        takeaways=("a", "b", "c"),
        why_it_matters="Because.",
        faq=(FaqItem("Who?", "Them."), FaqItem("When?", "Now."), FaqItem("Where?", "Here.")),
        engine="offline",
        created_at=when,
        related=(3,),
    )


class RecordingFollowUps:
    """A stand-in for the gateway's follow-ups: records each call and answers it."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def _answer(self, interaction: discord.Interaction[Any], *call: Any) -> None:
        self.calls.append(call)
        await interaction.response.send_message(repr(call), ephemeral=True)

    async def why(self, interaction: discord.Interaction[Any], card_id: int) -> None:
        await self._answer(interaction, "why", card_id)

    async def faq(self, interaction: discord.Interaction[Any], card_id: int, index: int) -> None:
        await self._answer(interaction, "faq", card_id, index)

    async def related(self, interaction: discord.Interaction[Any], card_id: int) -> None:
        await self._answer(interaction, "related", card_id)

    async def open_card(self, interaction: discord.Interaction[Any], card_id: int) -> None:
        await self._answer(interaction, "open", card_id)


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.05) as fake:
        yield fake


def make_client() -> discord.Client:
    return discord.Client(intents=discord.Intents.default(), guild_ready_timeout=READY_WAIT)


async def post_as_worker(dc: FakeDiscord) -> None:
    """A card and a digest, posted over HTTP by a client that never connects."""
    worker = make_client()
    with point_discord_py_at(dc):
        await worker.login(dc.token)
        channel = worker.get_partial_messageable(dc.news.id)
        none = discord.AllowedMentions.none()
        card = make_card(42)
        await channel.send(embed=card_embed(card), view=card_view(card), allowed_mentions=none)
        cards = [make_card(7), make_card(8)]
        await channel.send(
            embed=digest_embeds(cards, None)[0], view=digest_view(cards), allowed_mentions=none
        )
        await worker.close()


async def test_clicks_after_a_restart_reach_the_followups(dc: FakeDiscord) -> None:
    await post_as_worker(dc)
    card_message, digest_message = dc.channel_messages(dc.news.id)
    followups = RecordingFollowUps()
    client = make_client()  # a new process: it knows only what it registers
    install_followups(client, followups)
    client.add_dynamic_items(*DYNAMIC_ITEMS)
    async with running_client(dc, client):
        why = await dc.interact(dc.component_interaction("card:why:42", message=card_message))
        faq = await dc.interact(
            dc.component_interaction("card:faq:42", message=card_message, values=["2"])
        )
        related = await dc.interact(dc.component_interaction("card:rel:42"))
        opened = await dc.interact(dc.component_interaction("card:open:8", message=digest_message))

    assert followups.calls == [("why", 42), ("faq", 42, 2), ("related", 42), ("open", 8)]
    for interaction in (why, faq, related, opened):
        assert interaction.callback is not None and interaction.callback.ephemeral
    assert followups_for(client) is followups


async def test_a_client_without_followups_says_the_card_is_gone(dc: FakeDiscord) -> None:
    await post_as_worker(dc)
    client = make_client()
    client.add_dynamic_items(*DYNAMIC_ITEMS)
    async with running_client(dc, client):
        why = await dc.interact(dc.component_interaction("card:why:42"))
        faq = await dc.interact(dc.component_interaction("card:faq:42", values=["0"]))
    for interaction in (why, faq):
        assert interaction.callback is not None
        assert interaction.callback.content == UNAVAILABLE and interaction.callback.ephemeral
        assert interaction.callback.data["allowed_mentions"] == {"parse": []}
