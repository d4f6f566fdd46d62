"""OPML import/export, including files that are not OPML at all."""

from __future__ import annotations

import pytest

from digest.errors import OpmlError
from digest.models import Feed
from digest.opml import OpmlFeed, parse_opml, to_opml

NESTED = b"""<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="News">
    <outline text="One &amp; Two" type="rss" xmlUrl="https://one.example.com/rss"/>
    <outline title="Three" xmlUrl=" https://three.example.com/atom "/>
  </outline>
  <outline text="a folder with no feeds"/>
</body></opml>"""


def test_nested_outlines_are_read_in_order() -> None:
    assert parse_opml(NESTED) == [
        OpmlFeed("https://one.example.com/rss", "One & Two"),
        OpmlFeed("https://three.example.com/atom", "Three"),
    ]


def test_export_round_trips_titles_with_markup() -> None:
    feeds = [Feed(id=1, url="https://x.example.com/?a=1&b=2", title='Say "hi" <now> & then')]
    assert parse_opml(to_opml(feeds).encode()) == [OpmlFeed(feeds[0].url, feeds[0].title)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"<opml><body><outline xmlUrl='x'></body>", "not well-formed XML (line 1"),
        (b"<rss><channel/></rss>", "root element is <rss>"),
        (b"<opml version='2.0'><head/></opml>", "no <body>"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><opml><body/></opml>',
            "DOCTYPE",
        ),
        (
            b'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><opml><body>'
            b'<outline xmlUrl="&xxe;"/></body></opml>',
            "DOCTYPE",
        ),
    ],
)
def test_malformed_opml_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=message.replace("(", r"\(")):
        parse_opml(data)


def test_a_doctype_hidden_in_utf16_is_refused_too() -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>'
        '<outline xmlUrl="https://x.example.com/&b;"/></body></opml>'
    ).encode("utf-16")
    with pytest.raises(OpmlError, match="DOCTYPE"):
        parse_opml(document)


def test_utf16_opml_without_a_doctype_reads_fine() -> None:
    document = '<opml version="2.0"><body><outline xmlUrl="https://x.example.com/f"/></body></opml>'
    assert parse_opml(document.encode("utf-16")) == [OpmlFeed("https://x.example.com/f", None)]
