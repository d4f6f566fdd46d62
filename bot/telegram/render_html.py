"""Telegram HTML built from pieces that know how long they will look.

Telegram limits a message to 4,096 characters and a caption to 1,024, counted on the text
*after* it parsed the HTML: tags and the escaping of ``&<>"`` cost nothing. So every piece
here carries its markup and the length of what the reader will see, in UTF-16 code units
(the Bot API's unit; never fewer than the code points TDLib checks, so a message measured
this way is never refused as too long). Text is cut *before* it is escaped and wrapped
(``fit``), so a cut never lands inside a tag or an ``&amp;``.

Used by ``bot.telegram.render`` and ``bot.telegram.render_digest`` only.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.common.text import cut

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (a character outside the BMP, such as most emoji, is 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines too) made one space."""
    return " ".join(text.split())


def fit(text: str, units: int) -> str:
    """``text`` cut (``bot.common.text.cut``: at a sentence, else a word, ending "…") to at
    most ``units`` UTF-16 code units. ``cut`` counts code points; a text rich in emoji is
    longer in UTF-16, so the limit is lowered by the excess until it fits."""
    if units <= 0:
        return ""
    limit = units
    while True:
        result = cut(text, limit)
        over = utf16_len(result) - units
        if over <= 0:
            return result
        limit -= over


@dataclass(frozen=True, slots=True)
class Html:
    """A piece of a message: ``markup`` as sent, ``length`` as Telegram counts the text."""

    markup: str
    length: int

    def __add__(self, other: Html) -> Html:
        return Html(self.markup + other.markup, self.length + other.length)


EMPTY = Html("", 0)
NEWLINE = Html("\n", 1)


def text(value: str) -> Html:
    """Plain text, escaped: whatever it contains (``<b>``, ``&amp;``, ``</a>``) shows as typed."""
    return Html(html.escape(value, quote=False), utf16_len(value))


def wrap(tag: str, inner: Html) -> Html:
    """``inner`` in a simple formatting tag (b, i, u, s, code, blockquote)."""
    return Html(f"<{tag}>{inner.markup}</{tag}>", inner.length)


def bold(value: str) -> Html:
    return wrap("b", text(value))


def italic(value: str) -> Html:
    return wrap("i", text(value))


def usable_url(url: str | None) -> str | None:
    """``url`` when Telegram takes it as a link or URL button: http(s) with a dotted host
    name and no whitespace (anything else fails a button with "Wrong HTTP URL" or
    "Unsupported URL protocol" and would cost the whole message). Else None."""
    if not url or any(ch.isspace() for ch in url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:  # e.g. a malformed IPv6 literal or port
        return None
    if parts.scheme.lower() not in ("http", "https") or "." not in host.strip("."):
        return None
    return url


def link(label: str, url: str | None) -> Html:
    """``label`` linked to ``url`` (attribute escaped, quotes included); plain text when
    the URL is not one Telegram would link."""
    target = usable_url(url)
    if target is None:
        return text(label)
    inner = text(label)
    return Html(f'<a href="{html.escape(target, quote=True)}">{inner.markup}</a>', inner.length)


def join(pieces: list[Html], separator: Html = NEWLINE) -> Html:
    """The non-empty pieces with ``separator`` between them."""
    result = EMPTY
    for piece in (p for p in pieces if p.length):
        result = piece if not result.length else result + separator + piece
    return result
