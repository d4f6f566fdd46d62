"""Text out of HTML: an article page's main text (trafilatura) and a feed fragment's plain text.

``extract_article`` satisfies ``digest.ports.ArticleExtractor``; the poller calls it on the page
of a teaser entry, with bytes it already fetched. ``html_to_text`` and friends are used by
``digest.ingest.parse`` for entry content and titles. Everything here is pure: trafilatura is
only ever given bytes or text (its ``fetch_url`` is never called), and nothing here raises.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import trafilatura

from digest.models import ExtractedPage

__all__ = [
    "MIN_TEXT_CHARS",
    "extract_article",
    "html_to_text",
    "looks_like_markup",
    "plain_text",
    "single_line",
]

log = logging.getLogger(__name__)

# Less main text than this is a paywall stub, a cookie wall or an index page, not an article.
MIN_TEXT_CHARS = 200

# --- article pages -------------------------------------------------------------------------

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""",
    re.IGNORECASE,
)
_BODY_START = re.compile(r"<body[\s>]", re.IGNORECASE)
# Lead-image meta tags, best first.
_IMAGE_KEYS = (
    "og:image",
    "og:image:url",
    "og:image:secure_url",
    "twitter:image",
    "twitter:image:src",
)


def extract_article(html: bytes, *, url: str) -> ExtractedPage | None:
    """The main text of an article page and its lead image (og:image / twitter:image).

    ``url`` is the page's final URL; relative image URLs resolve against it (or the page's
    ``<base href>``). Returns ``None`` when the page has no main text of at least
    ``MIN_TEXT_CHARS`` characters. Never raises: bad bytes and trafilatura failures give ``None``.
    """
    document = _decode(html)
    if "<" not in document[:65536]:
        return None  # not markup at all; trafilatura would only log an error about it
    try:
        extracted = trafilatura.extract(
            document,
            url=url,
            output_format="txt",
            include_comments=False,
            include_tables=False,  # flattened tables read as noise in a summary
            include_images=False,
            include_links=False,
            deduplicate=False,  # its cache is process-wide; our input is one page
            with_metadata=False,  # metadata runs htmldate; we read the two meta tags ourselves
        )
    except Exception as e:  # trafilatura and lxml can fail in many ways; a page is optional
        log.info("could not extract %s: %s: %s", url, type(e).__name__, e)
        return None
    # trafilatura writes one paragraph per line; the rest of the core separates them by a blank.
    text = _join_paragraphs((extracted or "").split("\n"))
    if len(text) < MIN_TEXT_CHARS:
        return None
    return ExtractedPage(text=text, image_url=_lead_image(document, url))


def _decode(html: bytes) -> str:
    """The page as text: BOM, then ``<meta charset>``, then UTF-8, then a lenient fallback.

    trafilatura would guess the charset statistically and ignore the page's own declaration.
    """
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if html.startswith(bom):
            return html[len(bom) :].decode(name, errors="replace")
    declared = _META_CHARSET.search(html[:4096])
    if declared:
        name = declared.group(1).decode("ascii").lower()
        # A page whose <meta> says UTF-16 cannot be UTF-16 (we just read the tag as ASCII); the
        # HTML standard reads it as UTF-8.
        if not name.startswith(("utf-16", "utf-32", "utf16", "utf32")):
            try:
                return html.decode(name, errors="replace")
            except LookupError:
                pass  # an unknown charset name; try UTF-8
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        return html.decode("windows-1252", errors="replace")  # the web's de facto default


class _TolerantParser(HTMLParser):
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


class _HeadReader(_TolerantParser):
    """Collects ``<meta property|name=... content=...>`` and ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "meta":
            key = (found.get("property") or found.get("name") or "").strip().lower()
            if key and found.get("content") and key not in self.meta:
                self.meta[key] = found["content"].strip()
        elif tag == "base" and self.base is None and found.get("href"):
            self.base = found["href"].strip()


def _lead_image(document: str, url: str) -> str | None:
    body = _BODY_START.search(document)
    reader = _HeadReader()
    reader.read(document[: body.start() if body else 262144])  # meta tags live in the head
    base = urljoin(url, reader.base) if reader.base else url
    for key in _IMAGE_KEYS:
        image = _absolute_http(reader.meta.get(key), base)
        if image:
            return image
    return None


def _absolute_http(value: str | None, base: str) -> str | None:
    if not value:
        return None
    try:
        resolved = urljoin(base, value)
        parts = urlsplit(resolved)
    except ValueError:
        return None
    return resolved if parts.scheme in ("http", "https") and parts.hostname else None


# --- feed fragments -------------------------------------------------------------------------

# Elements whose start and end break a paragraph.
_BLOCKS = frozenset(
    "address article aside blockquote dd details div dl dt figcaption figure footer h1 h2 h3"  # noqa: SIM905
    " h4 h5 h6 header hr li main nav ol p pre section summary table tr ul".split()
)
# Elements whose content is never text a reader sees.
_INVISIBLE = frozenset(
    ["script", "style", "noscript", "template", "iframe", "object", "svg", "math", "head"]
)
# C0 controls other than tab/newline/CR, DEL, and zero-width characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\ufeff]")
# Tags that betray HTML in a field declared as plain text. Not any "<word>": "Jane <jane@x.org>"
# is a plain-text author.
_MARKUP = re.compile(
    r"</?(a|abbr|b|big|blockquote|br|cite|code|div|em|font|h[1-6]|i|iframe|img|li|ol|p|q|s|"
    r"script|small|span|strong|style|sub|sup|table|u|ul)\b[^>]*>|<!--"
    r"|&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]\w*);",
    re.IGNORECASE,
)
# Markers while collecting (_CONTROL removed every real one): a paragraph break and a <br>.
_PARA = "\x00"
_LINE = "\x01"
_DOUBLE_BREAK = re.compile("\x01\\s*\x01[\\s\x01]*")


class _TextCollector(_TolerantParser):
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
            # 1x1 (or 0x0) images are tracking pixels, never a lead image.
            if not {found.get("width"), found.get("height")} & {"0", "1"}:
                self.image = found.get("src")

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


def looks_like_markup(value: str) -> bool:
    """Whether a string declared as plain text carries tags or entities anyway."""
    return bool(_MARKUP.search(value))


def html_to_text(markup: str) -> tuple[str, str | None]:
    """Plain text of an HTML fragment, and the ``src`` of its first visible image.

    Paragraphs are separated by a blank line, ``<br>`` becomes a newline, scripts and styles are
    dropped, entities decoded, whitespace collapsed. Never raises. Called by ``parse_feed`` for
    entry content, titles and authors.
    """
    collector = _TextCollector()
    collector.read(_CONTROL.sub("", markup))
    # Two <br> in a row are how many feeds separate paragraphs.
    text = _DOUBLE_BREAK.sub(_PARA, "".join(collector.parts))
    paragraphs = text.split(_PARA)
    # Newlines in the source are only whitespace; a <br> is a line break.
    lines = (" ".join(p.split()).replace(f" {_LINE}", _LINE) for p in paragraphs)
    return _join_paragraphs(p.replace(_LINE, "\n") for p in lines), collector.image


def plain_text(value: str) -> str:
    """Plain text with its paragraphs (blank-line separated) kept and other whitespace, single
    newlines included (hard-wrapped lines), collapsed to one space."""
    paragraphs = re.split(r"\n\s*\n", _CONTROL.sub("", value))
    return _join_paragraphs(" ".join(p.split()) for p in paragraphs)


def _join_paragraphs(paragraphs: Iterable[str]) -> str:
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
