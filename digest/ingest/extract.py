"""The main text of an article page (trafilatura) and its lead image.

``extract_article`` satisfies ``digest.ports.ArticleExtractor``; the poller calls it on the page
of a teaser entry, with bytes it already fetched. Feed fragments (entry content, titles) are
``digest.ingest.text``'s business. Everything here is pure: trafilatura is only ever given bytes
or text (its ``fetch_url`` is never called), and nothing here raises.
"""

from __future__ import annotations

import codecs
import logging
import re
from urllib.parse import urljoin, urlsplit

import trafilatura

from digest.ingest.text import TolerantParser, join_paragraphs
from digest.models import ExtractedPage

__all__ = ["MIN_TEXT_CHARS", "extract_article"]

log = logging.getLogger(__name__)

# Less main text than this is a paywall stub, a cookie wall or an index page, not an article.
MIN_TEXT_CHARS = 200

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
    text = join_paragraphs((extracted or "").split("\n"))
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
            except (LookupError, UnicodeError):  # unknown, or a codec like "idna" for names
                pass  # an unknown charset name; try UTF-8
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        return html.decode("windows-1252", errors="replace")  # the web's de facto default


class _HeadReader(TolerantParser):
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
