"""Words every chat adapter shows, in plain text (no markup: each adapter escapes for its
platform): cutting long text where a reader expects it, a card's meta line, the disclaimer,
how an answer was found, a digest's title.

Called by ``bot.telegram`` and ``bot.discord`` renderers and by ``bot.common.commands``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from digest.models import Answer, Card
from digest.schedules import zone

ELLIPSIS = "…"
DISCLAIMER = (
    "This summary was written by AI and may contain errors; the original article is the source."
)

# A sentence ends at . ! ? or … (maybe followed by a closing quote or bracket) before a space.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
_ORIGINS = {
    "why_it_matters": "From the card",
    "faq": "From the card",
    "model": "From the article",
    "extractive": "From the article (quoted)",
    "not_covered": "Not covered by the article",
}


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: whole when it fits, else cut after the last
    sentence that fits, else after the last whole word, ending with "…". Whitespace at the
    cut is dropped. A sentence boundary is only used when it keeps at least a third of the
    room (a tiny first sentence would throw away most of the text)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit] if limit > 0 else ""
    room = limit - len(ELLIPSIS)
    head = text[: room + 1]  # one more: a boundary right after the room still counts
    ends = [m.end() for m in _SENTENCE_END.finditer(head + " ") if m.end() <= room]
    if ends and ends[-1] >= room // 3:
        return text[: ends[-1]].rstrip()  # a whole sentence needs no ellipsis
    space = head.rfind(" ", 0, room + 1)
    body = text[:space] if space >= room // 3 else text[:room]
    return body.rstrip(" ,;:-–—") + ELLIPSIS


def date_text(when: datetime | None, timezone: str = "UTC") -> str:
    """ "29 Nov 2026" in ``timezone``; "" when unknown."""
    if when is None:
        return ""
    local = (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(zone(timezone))
    return f"{local.day} {local:%b %Y}"


def meta_line(card: Card, timezone: str = "UTC") -> str:
    """ "Policy · Reuters · 29 Nov 2026 · also reported by BBC, AP"."""
    parts = [card.category, card.source, date_text(card.published_at or card.created_at, timezone)]
    line = " · ".join(p for p in parts if p)
    others = [s.name for s in card.sources if s.name and s.name != card.source]
    if others:
        line += " · also reported by " + ", ".join(dict.fromkeys(others))
    return line


def answer_origin(answer: Answer) -> str:
    """How an answer was found, for the line under it."""
    origin = _ORIGINS.get(answer.method, "From the article")
    return origin + (" · answered before" if answer.cached else "")


def digest_title(slot: datetime | None, timezone: str = "UTC") -> str:
    """ "Your news digest · Sun 29 Nov, 08:00" in the subscriber's zone (now when unknown)."""
    when = (slot or datetime.now(UTC)).astimezone(zone(timezone))
    return f"Your news digest · {when:%a} {when.day} {when:%b, %H:%M}"
