"""What the buttons under cards and digests carry (``callback_data``), and reading it back.

Telegram gives a callback button at most 64 bytes of data and hands it back verbatim when
the button is tapped, even weeks later and after a restart, so the data names the card by
id and nothing else (the card itself comes from the database)::

    w:<card_id>        "Why it matters"
    f:<card_id>        the FAQ menu
    q:<card_id>:<n>    FAQ question n (from 0)
    r:<card_id>        related cards
    c:<card_id>        open the full card (the numbered buttons under a digest)

Built by ``bot.telegram.render`` for the keyboards; read by the gateway's callback handler
with ``parse``, which raises ``ValueError`` for anything else: data from an older version,
another bot's buttons forwarded here, or garbage sent by a modified client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The values of ``Callback.action``.
WHY = "why"
FAQ = "faq"
FAQ_ITEM = "faq_item"
RELATED = "related"
OPEN_CARD = "open_card"

MAX_BYTES = 64  # Telegram's limit for callback_data
MAX_FAQ_ITEMS = 100  # question numbers 0..99: far above the 2-4 a card has
_MAX_ID_DIGITS = 19  # card ids fit a signed 64-bit column

_PREFIXES = {"w": WHY, "f": FAQ, "r": RELATED, "c": OPEN_CARD}
# [0-9], not \d: \d also matches other scripts' digits, which int() would accept.
_SIMPLE = re.compile(rf"([wfrc]):([0-9]{{1,{_MAX_ID_DIGITS}}})")
_ITEM = re.compile(rf"q:([0-9]{{1,{_MAX_ID_DIGITS}}}):([0-9]{{1,2}})")


@dataclass(frozen=True, slots=True)
class Callback:
    """A tapped button: ``action`` (one of WHY, FAQ, FAQ_ITEM, RELATED, OPEN_CARD) on
    ``card_id``; ``item`` is the FAQ question's index for FAQ_ITEM, else None."""

    action: str
    card_id: int
    item: int | None = None


def _checked(card_id: int) -> int:
    if isinstance(card_id, bool) or not isinstance(card_id, int) or card_id < 0:
        raise ValueError(f"a card id is a non-negative int, not {card_id!r}")
    if len(str(card_id)) > _MAX_ID_DIGITS:
        raise ValueError(f"card id {card_id} is too large for callback data")
    return card_id


def _done(data: str) -> str:
    # Cannot fail for ids the checks above let through; kept as the contract's guard.
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def why(card_id: int) -> str:
    return _done(f"w:{_checked(card_id)}")


def faq(card_id: int) -> str:
    return _done(f"f:{_checked(card_id)}")


def faq_item(card_id: int, n: int) -> str:
    """FAQ question ``n`` (0-based) of the card. Raises ValueError for n outside 0..99."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < MAX_FAQ_ITEMS:
        raise ValueError(f"a FAQ question number is 0..{MAX_FAQ_ITEMS - 1}, not {n!r}")
    return _done(f"q:{_checked(card_id)}:{n}")


def related(card_id: int) -> str:
    return _done(f"r:{_checked(card_id)}")


def open_card(card_id: int) -> str:
    return _done(f"c:{_checked(card_id)}")


def parse(data: str) -> Callback:
    """The button behind ``data``. Raises ValueError (a short message, safe to log) when it
    is not data these helpers made."""
    if not isinstance(data, str):
        raise ValueError("callback data is missing")
    simple = _SIMPLE.fullmatch(data)
    if simple:
        return Callback(_PREFIXES[simple[1]], int(simple[2]))
    item = _ITEM.fullmatch(data)
    if item:
        return Callback(FAQ_ITEM, int(item[1]), int(item[2]))
    raise ValueError(f"unknown button data {data[:MAX_BYTES]!r}")
