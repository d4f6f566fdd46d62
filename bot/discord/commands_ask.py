"""``/ask question [card]``: a follow-up question about a card, answered in the channel.

The card is the one picked in the ``card`` option (autocomplete offers the channel's latest
cards, or recent cards containing what was typed; its value is the card id), else the
newest card the bot posted in this channel (``Commands.latest_card_in``).

Where the answer goes: **in the channel, as the interaction's own response** (not in a
thread on the card). Why:

- it is the only reply path that needs no permission in the channel: the interaction
  webhook works where the bot may not send messages or create threads, and
  nothing has to be cleaned up when a thread cannot be made;
- Discord shows it as a reply to "<person> used /ask", so the question, the asker and the
  answer stay together where the person asked; a thread per question would scatter one
  card's conversation over many threads (and a thread on a card exists only when the card
  was posted in this very channel, not for a card picked from search);
- used inside a thread, ``/ask`` answers in that thread, so a community that prefers
  threads already gets them.

The answer may need the model (seconds), so the response is deferred first ("thinking",
public, since the answer will be); an error then replaces it with an ephemeral line for
the asker alone (``commands_reply.refuse``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
from discord import app_commands
from discord.utils import escape_markdown

from bot.common.commands import CARD_GONE, CommandError, Commands
from bot.common.text import cut
from bot.discord.commands_access import here
from bot.discord.commands_reply import defer, guarded, send
from bot.discord.render import CONTENT_MAX, answer_text
from digest.models import Answer, Card, Destination

Interaction = discord.Interaction[Any]

NO_CARD_HERE = "No card has been posted in this channel yet: pick one in the card option of /ask."
CHOICES_MAX = 25
CHOICE_NAME_MAX = 100  # Discord's limit for an autocomplete choice's name


def asker_id(interaction: Interaction) -> str:
    """Who asked, for the core's hourly question limit."""
    return f"discord:{interaction.user.id}"


def answer_content(card: Card, question: str, answer: Answer) -> str:
    """The channel message: which card it is about, then the answer as the render helper
    formats it (question, answer, quotes, how it was found). The card line is dropped when
    the whole would pass Discord's 2,000 characters."""
    text = answer_text(question, answer)
    about = f"About: **{escape_markdown(cut(card.title, 200))}**\n"
    return about + text if len(about) + len(text) <= CONTENT_MAX else text


def choice_name(card: Card) -> str:
    name = " · ".join(p for p in (card.title.strip(), card.category) if p)
    return cut(" ".join(name.split()), CHOICE_NAME_MAX) or f"Card {card.id}"


class AskCommand:
    """``/ask`` and its card autocomplete over ``Commands``."""

    def __init__(self, commands: Commands) -> None:
        self.commands = commands

    async def ask(self, interaction: Interaction, question: str, card: str | None) -> None:
        async def run() -> None:
            await defer(interaction, ephemeral=False)
            dest = here(interaction)
            chosen = await asyncio.to_thread(self.pick, dest, card)
            answer = await self.commands.ask(chosen.id, question, asker_id(interaction))
            await send(interaction, answer_content(chosen, question, answer), ephemeral=False)

        await guarded(interaction, "/ask", run)

    def pick(self, dest: Destination, value: str | None) -> Card:
        """The card ``/ask`` is about. Raises ``CommandError``: no card posted here, a card
        that no longer exists, or typed text that matches no recent card."""
        typed = " ".join((value or "").split())
        if not typed:
            latest = self.commands.latest_card_in(dest)
            if latest is None:
                raise CommandError(NO_CARD_HERE)
            return latest
        if typed.isascii() and typed.isdigit():  # a choice from the autocomplete list
            # A number past any database id is no card (and would overflow SQLite).
            found = self.commands.card(int(typed)) if len(typed) <= 18 else None
            if found is None:
                raise CommandError(CARD_GONE)
            return found
        matches = self.commands.search_cards(typed, 1, dest=dest)  # typed, no choice picked
        if not matches:
            raise CommandError(
                f'No recent card matches "{cut(typed, 60)}": pick one from the card list.'
            )
        return matches[0]

    async def complete_card(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Autocomplete for the ``card`` option: the channel's latest cards when nothing is
        typed, else recent cards containing every typed word. Must answer within 3 s
        (autocomplete cannot be deferred); a database search of recent cards is far below."""
        dest = here(interaction)

        def find() -> list[Card]:
            if current.strip():
                return self.commands.search_cards(current, CHOICES_MAX, dest=dest)
            return self.commands.latest_cards(dest, CHOICES_MAX)

        try:
            cards = await asyncio.to_thread(find)
        except CommandError:
            return []
        return [app_commands.Choice(name=choice_name(c), value=str(c.id)) for c in cards]
