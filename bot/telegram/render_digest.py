"""A digest as Telegram messages: a dated header, numbered linked headlines each with a
one-line summary, and a numbered button per card that opens the full card.

Split from ``bot.telegram.render`` (which re-exports it) for size. When the cards do not
fit one message (4,096 characters as Telegram counts them, or ``MAX_BUTTONS`` buttons) the
digest becomes several messages, in order, numbering continued; every part after the first
says it continues the digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.common.text import digest_title
from bot.telegram import callbacks
from bot.telegram.render_html import (
    TEXT_LIMIT,
    Html,
    bold,
    fit,
    join,
    link,
    one_line,
    text,
)
from digest.models import Card

HEADLINE_MAX = 200
SUMMARY_LINE_MAX = 160  # about one line on a phone
BUTTONS_PER_ROW = 5  # "1" … "5": wide enough to tap, Telegram allows more
MAX_BUTTONS = 30  # per message: a taller keyboard buries the chat (Telegram's cap is 100)
_GAP = Html("\n\n", 2)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """One message of a digest: HTML ``text`` and the buttons of its cards."""

    text: str
    keyboard: InlineKeyboardMarkup


def _headline(number: int, card: Card) -> Html:
    title = fit(one_line(card.title), HEADLINE_MAX) or "Untitled story"
    head = bold(f"{number}. ") + link(title, card.url)
    return join([head, text(fit(one_line(card.summary), SUMMARY_LINE_MAX))])


def _keyboard(numbered: list[tuple[int, Card]]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(str(n), callback_data=callbacks.open_card(card.id))
        for n, card in numbered
    ]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


def digest_messages(
    cards: Sequence[Card], slot: datetime | None, timezone: str = "UTC"
) -> list[RenderedDigest]:
    """The digest of ``cards`` (in the order given) for ``slot``, shown in ``timezone``:
    one message, or several in order when limits require. [] for no cards. Called by
    ``bot.telegram.sender`` for "digest" deliveries and by the gateway for ``/digest``."""
    if not cards:
        return []
    title = one_line(digest_title(slot, timezone))
    first, later = bold(title), bold(f"{title} (continued)")
    parts: list[list[tuple[int, Card, Html]]] = [[]]
    used = first.length
    for number, card in enumerate(cards, start=1):
        item = _headline(number, card)
        current = parts[-1]
        full = used + _GAP.length + item.length > TEXT_LIMIT or len(current) == MAX_BUTTONS
        if current and full:
            parts.append([])
            current, used = parts[-1], later.length
        current.append((number, card, item))
        used += _GAP.length + item.length
    return [
        RenderedDigest(
            join([first if i == 0 else later] + [item for _, _, item in part], _GAP).markup,
            _keyboard([(n, card) for n, card, _ in part]),
        )
        for i, part in enumerate(parts)
    ]
