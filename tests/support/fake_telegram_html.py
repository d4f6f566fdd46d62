"""Telegram's HTML for the fake Bot API: ``parse_mode=HTML`` parsing, then the trimming and
length limits applied to the result. (The entities Telegram adds to what users type, and its
URL rules, live in ``fake_telegram_entities``.)

``parse_html`` follows TDLib's ``parse_html`` (what the Bot API server runs): the supported
tags are b/strong, i/em, u/ins, s/strike/del, span class="tg-spoiler", tg-spoiler, a href,
code (class="language-x"), pre, blockquote (optionally ``expandable``) and tg-emoji; the only
named entities are ``&lt; &gt; &amp; &quot;``, numeric ones are decimal or hex, and the ``;``
is optional. Errors are TDLib's, with UTF-8 byte offsets into the text as sent, e.g.
``Unsupported start tag "foo" at byte offset 3``; the server prefixes them with
``can't parse entities: ``.

One deliberate difference (``strict_ampersand``, on by default): real Telegram keeps a ``&``
that starts no valid entity as a literal ``&``; the fake rejects it, so a test catches
dynamic text that was not escaped (with strictness off the fake behaves exactly as Telegram).

Offsets and lengths of entities are in UTF-16 code units, as in the Bot API; the length
limits (4096 for text, 1024 for captions) count code points of the text after parsing and
trimming, as TDLib does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_telegram_entities import checked_link, utf16_len

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_TAGS = frozenset(_SIMPLE) | {"a", "tg-emoji", "pre", "code", "blockquote"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\r\n\v\0"  # TDLib's is_space; "\0" also stands for the end of the text


class HtmlError(ValueError):
    """The text does not parse; ``str(error)`` is TDLib's message."""


@dataclass
class ParsedText:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def _at(text: str, i: int) -> str:
    return text[i] if i < len(text) else "\0"


def _byte_offset(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """The character ``&...`` at ``pos`` stands for and the index after it, or None."""
    end = pos + 1
    if _at(text, end) == "#":
        end += 1
        value = 0
        if _at(text, end) == "x":
            end += 1
            while _at(text, end) in "0123456789abcdefABCDEF":
                value = value * 16 + int(text[end], 16)
                end += 1
        else:
            while _at(text, end).isascii() and _at(text, end).isdigit():
                value = value * 10 + int(text[end])
                end += 1
        if value == 0 or value >= 0x10FFFF or end - pos >= 10 or 0xD800 <= value <= 0xDFFF:
            return None
        char = chr(value)
    else:
        while _at(text, end).isascii() and _at(text, end).isalpha():
            end += 1
        named = _NAMED.get(text[pos + 1 : end])
        if named is None:
            return None
        char = named
    return char, end + 1 if _at(text, end) == ";" else end


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    start: int  # index in the output list, to read an <a> without href


def parse_html(text: str, *, strict_ampersand: bool = True) -> ParsedText:
    """Parse ``text`` as Telegram's HTML. Raises ``HtmlError``."""
    out: list[str] = []
    offset = 0
    entities: list[dict[str, Any]] = []
    stack: list[_Open] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                offset += utf16_len(decoded[0])
                i = decoded[1]
                continue
            if strict_ampersand:
                raise HtmlError(
                    f'Unescaped "&" at byte offset {_byte_offset(text, i)}: write &amp; '
                    "(fake Telegram strict_ampersand; real Telegram shows it as is)"
                )
        if char != "<":
            out.append(char)
            offset += utf16_len(char)
            i += 1
            continue
        begin = i
        i += 1
        if _at(text, i) == "/":
            i = _end_tag(text, begin, i, stack, entities, out, offset)
            continue
        while _at(text, i) not in _SPACE and _at(text, i) != ">":
            i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        tag = text[begin + 1 : i].lower()
        if tag not in _TAGS:
            raise HtmlError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        argument, i = _attributes(text, tag, begin, i)
        if tag == "span" and argument != "spoiler":
            raise HtmlError(
                'Tag "span" must have class "tg-spoiler" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        stack.append(_Open(tag, argument, offset, len(out)))
        i += 1  # the ">"
    if stack:
        raise HtmlError(f"Can't find end tag corresponding to start tag {stack[-1].tag}")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


def _attributes(text: str, tag: str, begin: int, i: int) -> tuple[str, int]:
    """Read a start tag's attributes from ``i`` up to its ``>``; returns what TDLib keeps
    (href, code language, span class without "tg-", emoji id, "expandable") and the index of
    the ``>``."""
    argument = ""
    where = f'the tag "{tag}" at byte offset {_byte_offset(text, begin)}'
    while _at(text, i) != ">":
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if _at(text, i) == ">":
            break
        name_start = i
        while _at(text, i) not in _SPACE and _at(text, i) not in "=>":
            i += 1
        name = text[name_start:i]
        if not name:
            raise HtmlError(f"Empty attribute name in {where}")
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if tag == "blockquote" and name == "expandable" and _at(text, i) != "=":
            argument = "expandable"
            continue
        if _at(text, i) != "=":
            raise HtmlError(f"Expected equal sign in declaration of an attribute of {where}")
        i += 1
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if i >= len(text):
            raise HtmlError(
                f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        if text[i] not in "'\"":
            token_start = i
            while _at(text, i).isascii() and (_at(text, i).isalnum() or _at(text, i) in ".-"):
                i += 1
            value = text[token_start:i].lower()
            if _at(text, i) not in _SPACE and _at(text, i) != ">":
                raise HtmlError(
                    f"Unexpected end of name token at byte offset {_byte_offset(text, token_start)}"
                )
        else:
            quote = text[i]
            i += 1
            chars: list[str] = []
            while i < len(text) and text[i] != quote:
                decoded = _decode_entity(text, i) if text[i] == "&" else None
                if decoded is not None:
                    chars.append(decoded[0])
                    i = decoded[1]
                else:
                    chars.append(text[i])
                    i += 1
            i += 1 if i < len(text) else 0
            value = "".join(chars)
        if i >= len(text):
            raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        if tag == "a" and name == "href":
            argument = value
        elif tag == "code" and name == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and name == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and name == "emoji-id":
            argument = value
    return argument, i


def _end_tag(
    text: str,
    begin: int,
    i: int,
    stack: list[_Open],
    entities: list[dict[str, Any]],
    out: list[str],
    offset: int,
) -> int:
    """Close the innermost open tag at ``</...>`` starting at ``begin``; returns the index
    after the ``>``."""
    if not stack:
        raise HtmlError(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
    while _at(text, i) not in _SPACE and _at(text, i) != ">":
        i += 1
    name = text[begin + 2 : i].lower()
    while i < len(text) and text[i] in _SPACE:
        i += 1
    if _at(text, i) != ">":
        raise HtmlError(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
    opened = stack.pop()
    if name and name != opened.tag:
        raise HtmlError(
            f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
            f'expected "</{opened.tag}>", found "</{name}>"'
        )
    length = offset - opened.offset
    if length > 0:
        entity = _entity(opened, length, "".join(out[opened.start :]), entities)
        if entity is not None:
            entities.append(entity)
    return i + 1


def _entity(
    opened: _Open, length: int, inner: str, entities: list[dict[str, Any]]
) -> dict[str, Any] | None:
    base: dict[str, Any] = {"offset": opened.offset, "length": length}
    tag = opened.tag
    if tag in _SIMPLE:
        return {"type": _SIMPLE[tag], **base}
    if tag == "tg-emoji":
        if not opened.argument.isdigit() or int(opened.argument) == 0:
            raise HtmlError("Invalid custom emoji identifier specified")
        return {"type": "custom_emoji", **base, "custom_emoji_id": opened.argument}
    if tag == "a":
        url = checked_link(opened.argument or inner)
        return None if url is None else {"type": "text_link", **base, "url": url}
    if tag == "blockquote":
        kind = "expandable_blockquote" if opened.argument == "expandable" else "blockquote"
        return {"type": kind, **base}
    same_span = bool(entities) and (entities[-1]["offset"], entities[-1]["length"]) == (
        opened.offset,
        length,
    )
    if tag == "pre":
        if same_span and entities[-1]["type"] == "code" and entities[-1].get("language"):
            entities[-1]["type"] = "pre"
            return None
        return {"type": "pre", **base}
    # code: inside a <pre> of the same span with a language it makes the pre a code block
    if same_span and entities[-1]["type"] == "pre" and opened.argument:
        entities[-1]["language"] = opened.argument
        return None
    entity = {"type": "code", **base}
    if opened.argument:  # dropped unless a <pre> closes around it (see above)
        entity["language"] = opened.argument
    return entity


def finish_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the languages TDLib keeps only while pairing <pre><code class=...>."""
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    return entities


def trim(parsed: ParsedText) -> ParsedText:
    """Telegram strips leading and trailing whitespace; entities move and shrink with it."""
    stripped = parsed.text.strip()
    if stripped == parsed.text:
        return parsed
    cut = utf16_len(parsed.text[: len(parsed.text) - len(parsed.text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for entity in parsed.entities:
        start = max(entity["offset"] - cut, 0)
        end = min(entity["offset"] + entity["length"] - cut, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, kept)


def format_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None, *, strict: bool
) -> ParsedText:
    """What Telegram stores for ``text`` sent with ``parse_mode`` or explicit ``entities``.
    Raises ``HtmlError`` for bad HTML. MarkdownV2/Markdown are not simulated: the text is
    kept as sent, without entities."""
    if parse_mode is not None and parse_mode.lower() == "html":
        parsed = parse_html(text, strict_ampersand=strict)
        parsed.entities = finish_entities(parsed.entities)
    else:
        parsed = ParsedText(text, list(entities or []))
    return trim(parsed)
