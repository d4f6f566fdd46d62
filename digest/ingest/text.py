"""Plain text out of feed fragments: entry content, titles and authors, HTML or plain text.

``digest.ingest.parse`` calls these for every entry of every feed, so they sit on the poll
cycle's hot path: HTML goes through libxml2 (lxml), which makes ``html_to_text`` about three
times faster than with the pure-Python ``html.parser``. That stays the fallback for the few inputs
libxml2 reads differently or gives up on. Everything here is pure and never raises.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from lxml import etree

__all__ = [
    "TolerantParser",
    "html_to_text",
    "join_paragraphs",
    "looks_like_markup",
    "plain_text",
    "single_line",
]

# Elements whose start and end break a paragraph.
_BLOCKS = frozenset(
    "address article aside blockquote dd details div dl dt figcaption figure footer h1 h2 h3"  # noqa: SIM905
    " h4 h5 h6 header hr li main nav ol p pre section summary table tr ul".split()
)
# Elements whose content is never text a reader sees.
_INVISIBLE = frozenset(
    ["script", "style", "noscript", "template", "iframe", "object", "svg", "math", "head"]
)
# The same for libxml2's tree, where <head> may hold visible text: after a leading <script>,
# <style> or <meta>, libxml2 keeps elements it does not know (<figure>, <section>, <time>...)
# in the <head> it implied. What <head> really hides, <title>, is hidden instead.
_INVISIBLE_IN_TREE = (_INVISIBLE - {"head"}) | {"title"}
# C0 controls other than tab/newline/CR, DEL, and zero-width characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\ufeff]")
# What a numeric character reference may still produce after _CONTROL has run ("&#1;"): libxml2
# decodes it, html.unescape drops it, and \x01 would pass for a <br> marker.
_REFERENCED_CONTROL = re.compile("[\x01-\x08\x0b\x0e-\x1f\x7f]")
# Tags that betray HTML in a field declared as plain text. Not any "<word>": "Jane <jane@x.org>"
# is a plain-text author.
_MARKUP = re.compile(
    r"</?(a|abbr|b|big|blockquote|br|cite|code|div|em|font|h[1-6]|i|iframe|img|li|ol|p|q|s|"
    r"script|small|span|strong|style|sub|sup|table|u|ul)\b[^>]*>|<!--"
    r"|&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]\w*);",
    re.IGNORECASE,
)
_BLANK_LINE = re.compile(r"\n\s*\n")
# Markers while collecting (_CONTROL and _REFERENCED_CONTROL removed every real one): a
# paragraph break and a <br>.
_PARA = "\x00"
_LINE = "\x01"
# 1x1 (or 0x0) images are tracking pixels, never a lead image.
_PIXEL = frozenset({"0", "1"})


def looks_like_markup(value: str) -> bool:
    """Whether a string declared as plain text carries tags or entities anyway."""
    return bool(_MARKUP.search(value))


def html_to_text(markup: str) -> tuple[str, str | None]:
    """Plain text of an HTML fragment, and the ``src`` of its first visible image.

    Paragraphs are separated by a blank line, ``<br>`` becomes a newline (two in a row end a
    paragraph), scripts and styles are dropped, entities decoded, whitespace collapsed. Never
    raises. Called by ``parse_feed`` for entry content, titles and authors.
    """
    markup = _CONTROL.sub("", markup)
    if "<" not in markup and "&" not in markup:
        # Nothing to parse (most titles and authors): the parsers would return it unchanged.
        return single_line(markup), None
    # Marked sections ("<![", Word's conditional comments) stay with html.parser, whose reading
    # of them is settled (a malformed one is kept as text); libxml2 drops it up to the next ">".
    collected = None if "<![" in markup else _collect_with_lxml(markup)
    parts, image = collected or _collect_with_html_parser(markup)
    return _paragraphs("".join(parts)), image


def _collect_with_lxml(markup: str) -> tuple[list[str], str | None] | None:
    """Visible text (with paragraph and line markers) and the first image; ``None`` when libxml2
    could not read all of the markup.

    libxml2 stops at a resource limit (nesting deeper than 256 elements; huge_tree would only
    move the limit) and keeps the tree built so far, so a fatal error means text was lost and
    ``html.parser``, which has no depth limit, reads the markup instead.
    """
    # One parser per call (about 1 µs): a parser's error_log describes its latest run, and a
    # shared one could be read while another thread runs it.
    parser = etree.HTMLParser(
        encoding="utf-8",
        recover=True,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
    )
    try:
        # Bytes, not str: lxml refuses a str that starts with an XML declaration naming an
        # encoding. Lone surrogates (no UTF-8 form) become "?".
        root = etree.fromstring(markup.encode("utf-8", "replace"), parser)
    except (etree.LxmlError, ValueError):
        return None
    if root is None or parser.error_log.filter_from_fatals():
        return None
    scrub = "&#" in markup  # only a numeric reference can bring a control character back
    parts: list[str] = []
    image: str | None = None
    # iterwalk is iterative: no recursion whatever the depth.
    walk = etree.iterwalk(root, events=("start", "end"))
    for event, element in walk:
        tag = element.tag
        if event == "start":
            if tag in _INVISIBLE_IN_TREE:
                walk.skip_subtree()  # its "end" still comes, and its tail is visible
                continue
            if tag in _BLOCKS:
                parts.append(_PARA)
            elif tag == "br":
                parts.append(_LINE)
            elif tag == "img" and image is None:
                image = _image_src(element.get("src"), element.get("width"), element.get("height"))
            text = element.text
        else:
            if tag in _BLOCKS:
                parts.append(_PARA)
            text = element.tail
        if text:
            parts.append(_REFERENCED_CONTROL.sub("", text) if scrub else text)
    return parts, image


def _image_src(src: str | None, width: str | None, height: str | None) -> str | None:
    """``src`` unless it is missing or empty or the image is a tracking pixel."""
    if not src or not src.strip() or width in _PIXEL or height in _PIXEL:
        return None
    return src


class TolerantParser(HTMLParser):
    """``html.parser`` that does not raise on a malformed ``<![`` (Word's conditional comments
    gone wrong): those three characters are read as text instead."""

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            self.handle_data(self.rawdata[i : i + 3])
            return i + 3

    def read(self, markup: str) -> None:
        """Feed all of ``markup``; whatever the stdlib still objects to ends the reading, and
        what was collected until then stands."""
        try:
            self.feed(markup)
            self.close()
        except AssertionError:  # html.parser's way of reporting unparseable input
            pass


class _TextCollector(TolerantParser):
    """Collects visible text and the first image. The stdlib parser is event-driven (no depth
    limit, no recursion), forgiving, and decodes entities itself (``convert_charrefs``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.image: str | None = None
        self._hidden = 0  # depth inside invisible elements

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append(_PARA)
        elif tag == "br":
            self.parts.append(_LINE)
        elif tag == "img" and self.image is None and not self._hidden:
            found = dict(attrs)
            self.image = _image_src(found.get("src"), found.get("width"), found.get("height"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INVISIBLE:  # <script/> opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append(_PARA)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _collect_with_html_parser(markup: str) -> tuple[list[str], str | None]:
    collector = _TextCollector()
    collector.read(markup)
    return collector.parts, collector.image


def _paragraphs(collected: str) -> str:
    """Collected text with markers as paragraphs (blank-line separated) of lines (one per
    ``<br>``), whitespace collapsed. An empty line, i.e. two ``<br>`` with only whitespace
    between them, ends a paragraph: that is how many feeds separate paragraphs."""
    paragraphs: list[str] = []
    # Newlines in the source are only whitespace. One collapse for the whole text: the markers
    # are not whitespace, so no run crosses them, and each piece only needs a strip() after.
    for block in " ".join(collected.split()).split(_PARA):
        if _LINE not in block:
            block = block.strip()
            if block:
                paragraphs.append(block)
            continue
        lines: list[str] = []
        for segment in block.split(_LINE):
            line = segment.strip()
            if line:
                lines.append(line)
            elif lines:
                paragraphs.append("\n".join(lines))
                lines = []
        if lines:
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def plain_text(value: str) -> str:
    """Plain text with its paragraphs (blank-line separated) kept and other whitespace, single
    newlines included (hard-wrapped lines), collapsed to one space."""
    paragraphs = _BLANK_LINE.split(_CONTROL.sub("", value))
    return join_paragraphs(" ".join(p.split()) for p in paragraphs)


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    """Non-empty paragraphs joined by a blank line; spaces collapsed and trimmed on each line."""
    cleaned = []
    for paragraph in paragraphs:
        lines = (" ".join(line.split()) for line in paragraph.split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            cleaned.append(text)
    return "\n\n".join(cleaned)


def single_line(text: str) -> str:
    """``text`` with all whitespace, newlines included, collapsed to single spaces."""
    return " ".join(text.split())
