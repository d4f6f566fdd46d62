"""What the buttons and the FAQ menu under cards and digests answer: ``CardFollowUps``,
the ``FollowUps`` of ``bot.discord.components``, installed on the client by
``bot.discord.platform`` (``install_followups``).

Every answer is ephemeral, to the person who clicked: a click is one reader's curiosity,
and a channel full of "why it matters" repeats would bury the cards.

"Why it matters" and a FAQ choice answer from the card itself: its why-it-matters
paragraph and the FAQ answer the card engine wrote with the card. They are what the core's
answer service returns for those questions too (methods ``why_it_matters`` and ``faq``),
but asking the service would count each click against the reader's hourly question limit
(``DIGEST_QUESTIONS_PER_HOUR``) and store it as a question, for text already on the card.
Free-form questions go through ``/ask`` and the service. The answer says how it was found
(``render.answer_text`` -> "From the card").

A card that no longer exists (deleted, or a click on a very old message) is answered
"This card is no longer available".
"""

from __future__ import annotations

from typing import Any

import discord

from bot.common.commands import CARD_GONE, CommandError, Commands
from bot.common.text import cut
from bot.discord.commands_reply import DEFER_AFTER, guarded, in_time, send
from bot.discord.components import card_view, digest_view
from bot.discord.render import DESCRIPTION_MAX, answer_text, card_embed, headline
from digest.models import Answer, Card

Interaction = discord.Interaction[Any]

WHY_QUESTION = "Why does this matter?"
NO_WHY = "This card has no “why it matters” note; ask about it with /ask."
FAQ_GONE = "That question is no longer on this card; ask it with /ask."
NO_RELATED = "No related stories for this card yet."
RELATED_TITLE = "Related stories"


class CardFollowUps:
    """Answers the clicks on a card's buttons and menu (the ``FollowUps`` protocol)."""

    def __init__(self, commands: Commands, *, defer_after: float = DEFER_AFTER) -> None:
        self.commands = commands
        self.defer_after = defer_after

    async def _card(self, interaction: Interaction, card_id: int) -> Card:
        card = await in_time(
            interaction,
            lambda: self.commands.card(card_id),
            ephemeral=True,
            defer_after=self.defer_after,
        )
        if card is None:
            raise CommandError(CARD_GONE)
        return card

    async def why(self, interaction: Interaction, card_id: int) -> None:
        async def run() -> None:
            card = await self._card(interaction, card_id)
            if not card.why_it_matters.strip():
                raise CommandError(NO_WHY)
            answer = Answer(card.why_it_matters, "why_it_matters")
            await send(interaction, answer_text(WHY_QUESTION, answer), ephemeral=True)

        await guarded(interaction, "why-it-matters button", run)

    async def faq(self, interaction: Interaction, card_id: int, index: int) -> None:
        """``index`` counts the card's FAQ items with a question, as ``card_view`` lists
        them in the menu."""

        async def run() -> None:
            card = await self._card(interaction, card_id)
            items = [f for f in card.faq if f.question.strip()]
            if not 0 <= index < len(items) or not items[index].answer.strip():
                raise CommandError(FAQ_GONE)
            item = items[index]
            answer = Answer(item.answer, "faq")
            await send(interaction, answer_text(item.question, answer), ephemeral=True)

        await guarded(interaction, "FAQ menu", run)

    async def related(self, interaction: Interaction, card_id: int) -> None:
        """The related cards as numbered headlines, with a button each to open the card."""

        async def run() -> None:
            def load() -> list[Card]:
                card = self.commands.card(card_id)
                if card is None:
                    raise CommandError(CARD_GONE)
                found = (self.commands.card(i) for i in card.related)
                return [c for c in found if c is not None]

            cards = await in_time(interaction, load, ephemeral=True, defer_after=self.defer_after)
            if not cards:
                raise CommandError(NO_RELATED)
            lines = "\n\n".join(headline(n, c) for n, c in enumerate(cards, start=1))
            embed = discord.Embed(title=RELATED_TITLE, description=cut(lines, DESCRIPTION_MAX))
            await send(interaction, embeds=[embed], view=digest_view(cards), ephemeral=True)

        await guarded(interaction, "related button", run)

    async def open_card(self, interaction: Interaction, card_id: int) -> None:
        """A digest's numbered button: the whole card, with its own buttons and menu."""

        async def run() -> None:
            card = await self._card(interaction, card_id)
            await send(interaction, embeds=[card_embed(card)], view=card_view(card), ephemeral=True)

        await guarded(interaction, "open-card button", run)
