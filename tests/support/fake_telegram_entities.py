"""Entities Telegram adds to what users type (``/commands``, ``@mentions``), and its URL
rules for inline keyboard buttons and ``<a href>`` links.

Offsets and lengths are in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- entities Telegram adds to what users type --------------------------------------------

_WORD = re.compile(r"\w")
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(@[A-Za-z0-9_]{3,32})?")
_MENTION = re.compile(r"@([A-Za-z0-9_]{4,32})")


def _is_word(char: str) -> bool:
    return bool(char) and bool(_WORD.match(char))


def auto_entities(text: str) -> list[dict[str, Any]]:
    """``bot_command`` and ``mention`` entities as Telegram adds them (TDLib's rules: a
    command is not glued to a word, ``/``, ``<`` or ``>`` on either side)."""
    found: list[dict[str, Any]] = []
    for match in _COMMAND.finditer(text):
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        if any(c and (_is_word(c) or c in "/<>@") for c in (before, after)):
            continue
        found.append(_span("bot_command", text, match.start(), match.end()))
    for match in _MENTION.finditer(text):
        before = text[match.start() - 1] if match.start() else ""
        after = text[match.end()] if match.end() < len(text) else ""
        if _is_word(before) or _is_word(after):
            continue
        if any(e["type"] == "bot_command" and _overlaps(e, text, match) for e in found):
            continue
        found.append(_span("mention", text, match.start(), match.end()))
    return sorted(found, key=lambda e: e["offset"])


def _span(kind: str, text: str, start: int, end: int) -> dict[str, Any]:
    return {"type": kind, "offset": utf16_len(text[:start]), "length": utf16_len(text[start:end])}


def _overlaps(entity: dict[str, Any], text: str, match: re.Match[str]) -> bool:
    start = utf16_len(text[: match.start()])
    return bool(entity["offset"] <= start < entity["offset"] + entity["length"])


# -- URLs ----------------------------------------------------------------------------------

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HOST = re.compile(r"^[A-Za-z0-9\-._~%!$&'()*+,;=\[\]:]+$")


def checked_link(url: str) -> str | None:
    """The link a text_link entity keeps, or None when TDLib would drop it."""
    return None if url_problem(url) else (url if "://" in url else f"http://{url}")


def url_problem(url: str) -> str | None:
    """None for a URL Telegram accepts in a button or link (http, https, tg, ton; a bare
    host means http), else TDLib's reason."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        other = _SCHEME.match(url)  # "javascript:…", "mailto:…"; "host:8080" is a port
        if other and not url[other.end() :][:1].isdigit():
            return "Unsupported URL protocol"
        scheme, rest = "http", url
    scheme = scheme.lower()
    if scheme in ("tg", "ton"):
        return None if rest and re.match(r"^[A-Za-z0-9_\-]+", rest) else f"Wrong {scheme} URL"
    if scheme not in ("http", "https"):
        return "Unsupported URL protocol"
    host = urlsplit(f"http://{rest}").hostname or ""
    if not host or not _HOST.match(host) or "." not in host.strip("."):
        return "Wrong HTTP URL"
    return None
