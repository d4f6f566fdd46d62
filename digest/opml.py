"""OPML import and export (the feed lists other readers exchange).

Pure: bytes in, values out. Called by ``digest.service``. Raises ``OpmlError``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # only for ParseError: parsing goes through defusedxml
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from digest.errors import OpmlError
from digest.models import Feed


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    url: str
    title: str | None


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order, nested outlines included.

    A DOCTYPE is refused outright, by the XML parser itself (defusedxml), in whatever
    encoding the file is: OPML never needs one, and refusing it rules out entity-expansion
    and external-entity tricks.
    """
    if not data.strip():
        raise OpmlError("the OPML file is empty")
    try:
        root = fromstring(data, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden):
        raise OpmlError(
            "the OPML file declares a DOCTYPE or entities; refusing to read it"
        ) from None
    except ET.ParseError as e:
        line, column = e.position
        raise OpmlError(
            f"the OPML file is not well-formed XML (line {line}, column {column})"
        ) from e
    if _local(root.tag) != "opml":
        raise OpmlError(f"not an OPML file: the root element is <{_local(root.tag)}>, not <opml>")
    body = next((c for c in root if _local(c.tag) == "body"), None)
    if body is None:
        raise OpmlError("the OPML file has no <body>")
    feeds = []
    for outline in body.iter():
        if _local(outline.tag) != "outline":
            continue
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url:
            title = (outline.get("title") or outline.get("text") or "").strip() or None
            feeds.append(OpmlFeed(url=url, title=title))
    return feeds


def to_opml(feeds: Iterable[Feed], *, title: str = "newsdigest feeds") -> str:
    """An OPML 2.0 document listing ``feeds`` (``digest feeds export``)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title></head>",
        "  <body>",
    ]
    for feed in feeds:
        name = feed.title or feed.url
        lines.append(
            f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)}'
            f" xmlUrl={quoteattr(feed.url)}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
