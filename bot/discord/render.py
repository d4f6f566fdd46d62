"""Cards and answers as Discord shows them: pure functions from core values to
``discord.Embed`` and message text, within every Discord limit.

Called by ``bot.discord.sender`` (cards, digests) and the gateway side (``/digest``,
follow-up answers). Nothing here talks to Discord or raises on long input: every text is
cut where a reader expects it (``bot.common.text.cut``: after a sentence, else a word).

Limits (Discord's, checked by its API with 50035 "Invalid Form Body"): embed title 256,
description 4,096, field name 256 and value 1,024, footer 2,048, and 6,000 for the sum of
title, description, field names and values, footer text and author name in one message;
message content 2,000.

Markup: article texts are plain text, so Discord markdown in them (``*``, ``_``, ``~``,
``|``, backquotes, ``[text](url)`` masked links, ``#`` headers) is escaped with a backslash
(Discord shows the character as typed). Mentions (``@everyone``, ``<@&1>``, ``<@2>``) are
left as they are: nothing the bot posts may ping anyone, and that is guaranteed by
``allowed_mentions`` none on every send (``bot.discord.sender``), not by mangling the text.
Footers are not markdown on Discord, so they are not escaped.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import discord
from discord.utils import escape_markdown

from bot.common.text import DISCLAIMER, answer_origin, cut, digest_title, meta_line
from digest.models import Answer, Card

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
CONTENT_MAX = 2000
URL_MAX = 2048  # Discord refuses longer embed and button URLs

TAKEAWAYS = "Key takeaways"
WHY_IT_MATTERS = "Why it matters"
BULLET = "• "

GREY = 0x95A5A6
# The default taxonomy (digest.config.DEFAULT_CATEGORIES), each its own colour.
CATEGORY_COLOURS: dict[str, int] = {
    "world": 0x3498DB,
    "policy": 0x9B59B6,
    "business": 0x2ECC71,
    "technology": 0x1ABC9C,
    "science": 0x5865F2,
    "health": 0xE91E63,
    "climate": 0x1F8B4C,
    "security": 0xE74C3C,
    "sports": 0xE67E22,
    "culture": 0xF1C40F,
    "general": GREY,
}
# Other configured categories: one of these, chosen by a checksum of the name, so the
# colour is the same in every process and after every restart (``hash()`` is not).
_EXTRA_COLOURS = (0x206694, 0x71368A, 0xAD1457, 0xC27C0E, 0xA84300, 0x11806A, 0x992D22)
DIGEST_COLOUR = 0x5865F2

# A digest: at most this many cards per message (its "Open" buttons fill 5 rows of 5).
DIGEST_CARDS_PER_MESSAGE = 25
ONE_LINE = 160  # a digest headline's summary


def category_colour(category: str) -> int:
    """The embed colour of ``category``: fixed for the default taxonomy, stable for any
    other name, grey for none."""
    key = category.strip().casefold()
    if not key:
        return GREY
    known = CATEGORY_COLOURS.get(key)
    if known is not None:
        return known
    return _EXTRA_COLOURS[zlib.crc32(key.encode()) % len(_EXTRA_COLOURS)]


def usable_url(url: str | None) -> str | None:
    """``url`` when Discord accepts it for an embed link, thumbnail or link button
    (http(s), at most 2,048 characters); ``None`` otherwise, so the message still goes."""
    if url and url.startswith(("https://", "http://")) and len(url) <= URL_MAX:
        return url
    return None


def plain(text: str, limit: int) -> str:
    """Plain ``text`` as Discord markdown, escaped, in at most ``limit`` characters."""
    return cut(escape_markdown(text.strip()), limit)


def embed_size(embed: discord.Embed) -> int:
    """Characters Discord counts towards the 6,000 total of a message's embeds."""
    total = len(embed.title or "") + len(embed.description or "")
    total += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    total += len(embed.footer.text or "") + len(embed.author.name or "")
    return total


def _bullets(items: Sequence[str], limit: int) -> str:
    """Items as "• " lines in at most ``limit`` characters; when they do not fit, each is
    cut to an equal share (at a sentence or word), so none is dropped."""
    items = [i for i in (t.strip() for t in items) if i]
    if not items:
        return ""
    lines = [BULLET + escape_markdown(i) for i in items]
    if len("\n".join(lines)) <= limit:
        return "\n".join(lines)
    share = (limit - (len(items) - 1)) // len(items)  # the newlines between them
    return "\n".join(BULLET + cut(escape_markdown(i), share - len(BULLET)) for i in items)


def _utc(when: datetime) -> datetime:
    # discord.py reads a naive datetime as local time; the core's naive times are UTC.
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def card_embed(card: Card) -> discord.Embed:
    """The card's embed: linked title, the summary, "Key takeaways" and "Why it matters"
    fields, a footer with category, source, date and the disclaimer, the publication time,
    the category's colour and the story's image. Within every limit; when the total would
    pass 6,000 the summary gives up what is needed (the fields and footer are short)."""
    title = plain(card.title, TITLE_MAX) or "Untitled story"
    # The disclaimer always stays whole; a long "also reported by" list gives way.
    footer = cut(meta_line(card), FOOTER_MAX - len(DISCLAIMER) - 1) + "\n" + DISCLAIMER
    fields = [
        (TAKEAWAYS, _bullets(card.takeaways, FIELD_VALUE_MAX)),
        (WHY_IT_MATTERS, plain(card.why_it_matters, FIELD_VALUE_MAX)),
    ]
    fields = [(name, value) for name, value in fields if value]
    used = len(title) + len(footer) + sum(len(n) + len(v) for n, v in fields)
    # At most 256 + 2,048 + 2 * (14 + 1,024) = 4,380 used: the summary keeps at least 1,620.
    description = plain(card.summary, min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - used))
    when = card.published_at or card.created_at
    embed = discord.Embed(
        title=title,
        url=usable_url(card.url),
        description=description or None,
        colour=category_colour(card.category),
        timestamp=_utc(when) if when else None,
    )
    for name, value in fields:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=footer)
    image = usable_url(card.image_url)
    if image:
        embed.set_thumbnail(url=image)
    return embed


# -- digests -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestPart:
    """One message of a digest: its embed and the cards it lists, in order."""

    embed: discord.Embed
    cards: tuple[Card, ...]
    first_number: int  # the number shown before its first headline


def _link_text(title: str) -> str:
    # Square brackets would end a masked link's text early; round ones read the same.
    return escape_markdown(title).replace("[", "(").replace("]", ")")


def _link_target(url: str) -> str:
    # A ")" or a space would end the link's URL early: percent-encode them.
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


META_MAX = 100  # "category · source" in a digest line (feed titles can be any length)
HEADLINE_MAX = 1_000  # one digest entry: a part always has room for at least one


def headline(number: int, card: Card) -> str:
    """One digest entry: "**3.** [Title](url)" and a one-line summary with the source."""
    title = _link_text(cut(card.title, TITLE_MAX)) or "Untitled story"
    url = usable_url(card.url)
    head = f"**{number}.** " + (f"[{title}]({_link_target(url)})" if url else f"**{title}**")
    line = plain(card.summary, ONE_LINE)
    meta = cut(" · ".join(p for p in (card.category, card.source) if p), META_MAX)
    tail = " · ".join(p for p in (line, escape_markdown(meta)) if p)
    entry = f"{head}\n{tail}" if tail else head
    if len(entry) > HEADLINE_MAX:  # a title or URL that outgrew every cut: the text only
        entry = f"**{number}.** " + plain(card.title, HEADLINE_MAX - 20)
    return entry


def digest_parts(
    cards: Sequence[Card], slot: datetime | None, timezone: str = "UTC"
) -> list[DigestPart]:
    """The digest as messages of one embed each: numbered headlines in order, as many per
    message as fit (description 4,096, total 6,000, 25 cards); titled with the slot in the
    subscriber's ``timezone`` and "(2/3)" when split. Never empty."""
    title = digest_title(slot, timezone)
    footer = DISCLAIMER
    room = min(DESCRIPTION_MAX, EMBED_TOTAL_MAX - len(title) - len(" (99/99)") - len(footer))
    groups: list[tuple[list[str], list[Card], int]] = []
    lines: list[str] = []
    taken: list[Card] = []
    start = 1
    for number, card in enumerate(cards, start=1):
        entry = headline(number, card)
        size = len("\n\n".join([*lines, entry]))
        if taken and (size > room or len(taken) >= DIGEST_CARDS_PER_MESSAGE):
            groups.append((lines, taken, start))
            lines, taken, start = [], [], number
        lines.append(entry)
        taken.append(card)
    if taken or not groups:
        groups.append((lines, taken, start))
    parts = []
    for index, (group_lines, group_cards, first) in enumerate(groups, start=1):
        suffix = f" ({index}/{len(groups)})" if len(groups) > 1 else ""
        embed = discord.Embed(
            title=title + suffix,
            description="\n\n".join(group_lines) or "No new stories this time.",
            colour=DIGEST_COLOUR,
            timestamp=_utc(slot) if slot else None,
        )
        embed.set_footer(text=footer)
        parts.append(DigestPart(embed, tuple(group_cards), first))
    return parts


def digest_embeds(
    cards: Sequence[Card], slot: datetime | None, timezone: str = "UTC"
) -> list[discord.Embed]:
    """The digest's embeds, one per message, in order (see ``digest_parts``)."""
    return [part.embed for part in digest_parts(cards, slot, timezone)]


# -- answers -----------------------------------------------------------------------------


def answer_text(question: str, answer: Answer, *, quotes: int = 2) -> str:
    """A follow-up answer as message content (at most 2,000 characters): the question in
    bold, the answer, up to ``quotes`` supporting quotes, and how it was found
    (``answer_origin``) in small print. Called by the gateway side for buttons, the FAQ
    menu and ``/ask``."""
    origin = f"-# {answer_origin(answer)}"
    asked = f"**Q:** {plain(question, 300)}" if question.strip() else ""
    quoted = [f"> {plain(q.text, 300)}" for q in answer.quotes[:quotes] if q.text.strip()]
    fixed = len(origin) + len(asked) + sum(len(q) + 1 for q in quoted) + 2
    body = plain(answer.text, CONTENT_MAX - fixed) or "No answer."
    return "\n".join(p for p in (asked, body, *quoted, origin) if p)
