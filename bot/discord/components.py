"""The buttons and the FAQ menu under cards and digests: persistent, so they work on cards
posted long ago and after the bot restarted.

Each item is a ``discord.ui.DynamicItem`` whose ``custom_id`` carries the card id
(``card:why:<id>``, ``card:faq:<id>``, ``card:rel:<id>``, ``card:open:<id>``; at most 20
characters, Discord allows 100). A process that receives interactions registers the
classes once, ``client.add_dynamic_items(*DYNAMIC_ITEMS)``, and discord.py rebuilds the
item from any message's custom_id; nothing is kept per message (a view of dynamic items
and a link button is "fully dynamic": sending it stores no view).

The items hold no logic. Their callbacks hand the click to a ``FollowUps`` object that the
gateway side installs for its client::

    install_followups(client, followups)   # bot.discord.platform, before connecting
    client.add_dynamic_items(*DYNAMIC_ITEMS)

A click on a client without one (a process that only delivers, or a card whose handler is
gone) is answered "This card is no longer available", ephemerally, so Discord never shows
"This interaction failed".

The id in a template is 1 to 10 ASCII digits (``[0-9]``, not ``\\d``, which also matches
other scripts' digits that ``int`` accepts), and the callbacks refuse an id above
``MAX_CARD_ID`` (``cards.id`` is a 32-bit Integer on PostgreSQL: a larger id would fail the
query there). A custom_id that matches no template is answered by ``bot.discord.stale``; an
id that matches but is out of range is answered here, with the same ``STALE_BUTTON`` line.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import discord

from bot.common.text import cut
from bot.discord.render import usable_url
from digest.models import Card
from digest.store.tables import MAX_ROW_ID

UNAVAILABLE = "This card is no longer available."
STALE_BUTTON = "This button no longer works; use /digest for the latest cards."
# A card id in a custom_id: what ``int`` reads and the cards table can hold (see the docstring).
CARD_ID = r"(?P<id>[0-9]{1,10})"
MAX_CARD_ID = MAX_ROW_ID
WHY_LABEL = "Why it matters"
FAQ_PLACEHOLDER = "FAQ: pick a question"
RELATED_LABEL = "Related"
READ_LABEL = "Read article"
OPTION_LABEL_MAX = 100  # Discord's limit for a select option's label
FAQ_OPTIONS_MAX = 25  # and for the options of one menu
BUTTON_ROW, MENU_ROW = 0, 1

Interaction = discord.Interaction[Any]


class FollowUps(Protocol):
    """What the buttons and the FAQ menu call; implemented by the gateway side
    (``bot.discord.followups``). Each method must answer the interaction (within Discord's
    3 seconds, deferring when the answer takes longer) and handle a card that no longer
    exists itself."""

    async def why(self, interaction: Interaction, card_id: int) -> None: ...

    async def faq(self, interaction: Interaction, card_id: int, index: int) -> None: ...

    async def related(self, interaction: Interaction, card_id: int) -> None: ...

    async def open_card(self, interaction: Interaction, card_id: int) -> None: ...


# client -> its FollowUps; weak, so a closed and dropped client takes its handler with it.
_installed: weakref.WeakKeyDictionary[discord.Client, FollowUps] = weakref.WeakKeyDictionary()


def install_followups(client: discord.Client, followups: FollowUps) -> None:
    """Make ``followups`` answer the clicks that reach ``client``. Called by the gateway
    side when it builds its client; installing again replaces the previous one."""
    _installed[client] = followups


def followups_for(client: discord.Client) -> FollowUps | None:
    """The ``FollowUps`` installed for ``client``, or ``None``."""
    return _installed.get(client)


async def _unavailable(interaction: Interaction) -> None:
    await interaction.response.send_message(
        UNAVAILABLE, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


async def answer_stale(interaction: Interaction) -> None:
    """Answer a click on a component the bot no longer handles with ``STALE_BUTTON``,
    ephemerally. Called here for an out-of-range card id and by ``bot.discord.stale`` for a
    custom_id no item matches. Raises ``discord.HTTPException``, or
    ``discord.InteractionResponded`` when the interaction was answered already."""
    await interaction.response.send_message(
        STALE_BUTTON, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


async def _hand_over(
    interaction: Interaction, card_id: int, answer: Callable[[FollowUps], Awaitable[None]]
) -> None:
    """Give the click to the client's ``FollowUps``, or say the card is unavailable (or
    that the button cannot be one of ours, for an id no card can have)."""
    if card_id > MAX_CARD_ID:
        await answer_stale(interaction)
        return
    followups = followups_for(interaction.client)
    if followups is None:
        await _unavailable(interaction)
        return
    await answer(followups)


def _button(
    action: str, card_id: int, label: str, style: discord.ButtonStyle, row: int | None
) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label=label, style=style, custom_id=f"card:{action}:{card_id}", row=row
    )


class WhyButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"card:why:{CARD_ID}"):
    """ "Why it matters" on a card: answers with the card's why-it-matters paragraph."""

    def __init__(self, card_id: int) -> None:
        super().__init__(
            _button("why", card_id, WHY_LABEL, discord.ButtonStyle.primary, BUTTON_ROW)
        )
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> WhyButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        await _hand_over(interaction, self.card_id, lambda f: f.why(interaction, self.card_id))


class FaqSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=f"card:faq:{CARD_ID}"):
    """The FAQ menu: one option per card question; each option's value is the question's index
    among the card's FAQ items that have a question (``card_view`` leaves blank ones out)."""

    def __init__(self, card_id: int, questions: Sequence[str]) -> None:
        options = [
            discord.SelectOption(label=cut(q, OPTION_LABEL_MAX) or "?", value=str(i))
            for i, q in enumerate(questions[:FAQ_OPTIONS_MAX])
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"card:faq:{card_id}",
                placeholder=FAQ_PLACEHOLDER,
                options=options,
                row=MENU_ROW,
            )
        )
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FaqSelect:
        # The menu as posted (rebuilt from the message) keeps its questions.
        options = item.options if isinstance(item, discord.ui.Select) else []
        return cls(int(match["id"]), [o.label for o in options])

    async def callback(self, interaction: Interaction) -> None:
        values = self.item.values
        # A value is an index the menu was built with; anything else (a forged or garbled
        # choice, e.g. "²", which isdigit() accepts and int() refuses) is not a question.
        if not values or not re.fullmatch(r"[0-9]{1,2}", values[0]):
            await _unavailable(interaction)
            return
        index = int(values[0])
        await _hand_over(
            interaction, self.card_id, lambda f: f.faq(interaction, self.card_id, index)
        )


class RelatedButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"card:rel:{CARD_ID}"):
    """ "Related": lists the cards on the closest subjects (``card.related``)."""

    def __init__(self, card_id: int) -> None:
        super().__init__(
            _button("rel", card_id, RELATED_LABEL, discord.ButtonStyle.secondary, BUTTON_ROW)
        )
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RelatedButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: Interaction) -> None:
        await _hand_over(interaction, self.card_id, lambda f: f.related(interaction, self.card_id))


class OpenCardButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=f"card:open:{CARD_ID}"
):
    """A digest headline's number: opens that card (ephemerally, by the gateway side)."""

    def __init__(self, card_id: int, label: str) -> None:
        super().__init__(_button("open", card_id, label[:80], discord.ButtonStyle.secondary, None))
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> OpenCardButton:
        label = getattr(item, "label", None) or "Open"
        return cls(int(match["id"]), str(label))

    async def callback(self, interaction: Interaction) -> None:
        await _hand_over(
            interaction, self.card_id, lambda f: f.open_card(interaction, self.card_id)
        )


DYNAMIC_ITEMS = (WhyButton, FaqSelect, RelatedButton, OpenCardButton)


def card_view(card: Card) -> discord.ui.View:
    """A card's components: "Why it matters", "Related" (when the card has related cards)
    and "Read article" (when its URL is usable) in one row, the FAQ menu (when it has
    questions) in the next. Persistent: ``timeout=None``."""
    view = discord.ui.View(timeout=None)
    view.add_item(WhyButton(card.id))
    if card.related:
        view.add_item(RelatedButton(card.id))
    url = usable_url(card.url)
    if url:
        view.add_item(discord.ui.Button(label=READ_LABEL, url=url, row=BUTTON_ROW))
    questions = [f.question for f in card.faq if f.question.strip()]
    if questions:
        view.add_item(FaqSelect(card.id, questions))
    return view


def digest_view(cards: Sequence[Card], first_number: int = 1) -> discord.ui.View:
    """A digest message's components: a button per headline, labelled with its number
    (from ``first_number``), that opens the card; at most 25 (``render.digest_parts``
    puts no more in one message)."""
    view = discord.ui.View(timeout=None)
    for number, card in enumerate(cards[:25], start=first_number):
        view.add_item(OpenCardButton(card.id, str(number)))
    return view
