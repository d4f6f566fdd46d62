"""parse_feed: real feed bytes from tests/data/feeds, expected output beside the main ones."""

from __future__ import annotations

import codecs
import io
import json
import pyexpat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.errors import ParseError
from digest.ingest import parse as parse_module
from digest.ingest.parse import TEASER_CHARS, is_teaser, parse_feed
from digest.models import ParsedFeed
from digest.ports import FeedParser

FEEDS = Path(__file__).parents[2] / "data" / "feeds"
URL = "https://news.example.com/feed.xml"


def feed_bytes(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def as_json(feed: ParsedFeed) -> dict[str, Any]:
    return {
        "title": feed.title,
        "link": feed.link,
        "ttl_minutes": feed.ttl_minutes,
        "warning": feed.warning,
        "entries": [
            {
                "guid": e.guid,
                "link": e.link,
                "title": e.title,
                "author": e.author,
                "published": e.published.isoformat() if e.published else None,
                "text": e.text,
                "is_teaser": e.is_teaser,
                "image_url": e.image_url,
            }
            for e in feed.entries
        ],
    }


def rss(items: str, *, head: str = "", channel: str = "<title>T</title>") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>{head}<rss version="2.0"'
        ' xmlns:media="http://search.yahoo.com/mrss/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel>{channel}{items}</channel></rss>"
    ).encode()


def test_satisfies_the_port() -> None:
    parser: FeedParser = parse_feed
    assert parser is parse_feed


# --- data files with expected output -------------------------------------------------------


@pytest.mark.parametrize("name", ["rss_full", "atom_basic", "rss_malformed"])
def test_expected_output(name: str) -> None:
    case = json.loads((FEEDS / f"{name}.expected.json").read_text(encoding="utf-8"))
    parsed = parse_feed(
        feed_bytes(f"{name}.xml"), url=case["url"], content_type=case["content_type"]
    )
    assert as_json(parsed) == case["expected"]


def test_published_is_aware_utc() -> None:
    parsed = parse_feed(feed_bytes("rss_full.xml"), url=URL, content_type=None)
    # "Tue, 10 Jun 2025 09:30:00 +0200" is 07:30 UTC
    assert parsed.entries[0].published == datetime(2025, 6, 10, 7, 30, tzinfo=UTC)
    assert parsed.entries[0].published.tzinfo is UTC


# --- not a feed ----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None])
def test_html_page_is_not_a_feed(content_type: str | None) -> None:
    with pytest.raises(ParseError, match="not a feed: looks like an HTML page"):
        parse_feed(feed_bytes("not_a_feed.html"), url=URL, content_type=content_type)


def test_xhtml_page_is_not_a_feed() -> None:
    page = b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'
    with pytest.raises(ParseError, match="looks like an HTML page"):
        parse_feed(page, url=URL, content_type="application/xhtml+xml")


@pytest.mark.parametrize("content", [b"", b"   \r\n\t ", b"\x00\x00"])
def test_empty_document(content: bytes) -> None:
    with pytest.raises(ParseError, match="the document is empty"):
        parse_feed(content, url=URL, content_type=None)


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR garbage",
        b'{"items": [{"title": "json is not a feed"}]}',
        b"just some words, no markup",
    ],
)
def test_garbage_is_not_a_feed(content: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(content, url=URL, content_type="application/octet-stream")


def test_xml_that_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="no RSS, Atom or RDF root element"):
        parse_feed(b'<?xml version="1.0"?><catalog><book/></catalog>', url=URL, content_type=None)


def test_malformed_xml_with_no_entries() -> None:
    with pytest.raises(ParseError, match=r"not a feed: malformed XML: .* \(line \d+, column \d+\)"):
        parse_feed(feed_bytes("rss_truncated_no_items.xml"), url=URL, content_type=None)


def test_malformed_feed_with_entries_is_kept_with_a_warning() -> None:
    parsed = parse_feed(feed_bytes("rss_malformed.xml"), url=URL, content_type=None)
    assert [e.title for e in parsed.entries] == [
        "Compiler release fixes three crashes",
        "Second entry survives",
    ]
    assert parsed.warning is not None
    assert parsed.warning.startswith("malformed XML:")


def test_valid_feed_with_no_entries_is_not_an_error() -> None:
    parsed = parse_feed(feed_bytes("rss_empty_channel.xml"), url=URL, content_type=None)
    assert parsed.entries == ()
    assert parsed.title == "Quiet Week"
    assert parsed.ttl_minutes is None  # <ttl>0</ttl> is not a positive number
    assert parsed.warning is None


def test_atom_feed_with_no_entries() -> None:
    atom = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Empty</title></feed>'
    assert parse_feed(atom, url=URL, content_type="application/atom+xml").entries == ()


def test_feedparser_failure_is_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise RecursionError("deep")

    monkeypatch.setattr(parse_module.feedparser, "parse", broken)
    with pytest.raises(ParseError, match="RecursionError") as caught:
        parse_feed(rss("<item><title>x</title></item>"), url=URL, content_type=None)
    assert isinstance(caught.value.__cause__, RecursionError)


def test_feedparser_gets_a_byte_stream_and_the_feed_url(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    real = parse_module.feedparser.parse

    def spy(source: object, **kwargs: Any) -> Any:
        seen["source"], seen["kwargs"] = source, kwargs
        return real(source, **kwargs)

    monkeypatch.setattr(parse_module.feedparser, "parse", spy)
    parse_feed(rss("<item><title>x</title></item>"), url=URL, content_type="text/xml")
    assert isinstance(seen["source"], io.BytesIO)  # a str would be taken for a path or URL
    assert seen["kwargs"]["response_headers"]["content-location"] == URL


# --- hostile XML ---------------------------------------------------------------------------


def test_billion_laughs_is_refused() -> None:
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed(feed_bytes("billion_laughs.xml"), url=URL, content_type=None)


def test_quadratic_blowup_is_refused_before_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    # One big entity used many times: expat stops it, but feedparser's fallback parser would
    # expand it without limit (70 s and 5.7 GB at 100 kB x 20,000). Kept small here.
    def must_not_run(*args: object, **kwargs: object) -> object:
        raise AssertionError("feedparser saw a document with entity declarations")

    monkeypatch.setattr(parse_module.feedparser, "parse", must_not_run)
    entity = b"A" * 10_000
    document = rss(
        "<item><title>t</title><description>" + "&a;" * 2_000 + "</description></item>",
        head='<!DOCTYPE rss [\n <!ENTITY a "' + entity.decode() + '">\n]>',
    )
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed(document, url=URL, content_type=None)


@pytest.mark.parametrize("name", ["xxe.xml", "xxe_parameter.xml"])
def test_external_entities_are_never_read(name: str) -> None:
    with pytest.raises(ParseError, match="declares XML entities") as caught:
        parse_feed(feed_bytes(name), url=URL, content_type=None)
    assert "root:" not in str(caught.value)


def test_feedparser_alone_does_not_read_external_entities(tmp_path: Path) -> None:
    # Defence in depth, and a record of what the library does: even without our refusal,
    # feedparser drops SYSTEM entities and turns off external entities in expat.
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = feed_bytes("xxe.xml").replace(b"file:///etc/passwd", secret.as_uri().encode())
    result = parse_module.feedparser.parse(
        io.BytesIO(document), response_headers={"content-type": "application/xml"}
    )
    assert "TOP-SECRET-VALUE" not in repr(result)


def test_expat_has_billion_laughs_protection() -> None:
    # Expat >= 2.4.1 limits entity amplification; our refusal does not rely on it, but the
    # strict parser feedparser tries first does.
    major, minor, micro = pyexpat.version_info
    assert (major, minor, micro) >= (2, 4, 1)


def test_entity_declarations_hidden_by_the_encoding_are_found() -> None:
    xxe = feed_bytes("xxe.xml").decode()
    utf16_bom = codecs.BOM_UTF16_LE + xxe.replace(
        'version="1.0"', 'version="1.0" encoding="UTF-16"'
    ).encode("utf-16-le")
    utf16_header_only = xxe.encode("utf-16-be")
    utf7 = (
        b'<?xml version="1.0" encoding="utf-7"?>\n<!DOCTYPE rss [\n'
        b' +ADw-!ENTITY a "boom"+AD4-\n]>\n'
        b'<rss version="2.0"><channel><title>x</title>'
        b"<item><title>&a;</title></item></channel></rss>"
    )
    for content, content_type in [
        (utf16_bom, None),
        (utf16_header_only, "application/xml; charset=utf-16be"),
        (utf7, None),
    ]:
        with pytest.raises(ParseError, match="declares XML entities"):
            parse_feed(content, url=URL, content_type=content_type)


def test_entity_text_inside_an_entry_is_fine() -> None:
    # Only the prolog is checked: an article about XML may quote a declaration.
    item = (
        "<item><title>XML tips</title>"
        "<description><![CDATA[Never write <!ENTITY x SYSTEM>]]></description></item>"
    )
    parsed = parse_feed(rss(item), url=URL, content_type=None)
    assert parsed.entries[0].title == "XML tips"
    assert parsed.entries[0].text.startswith("Never write")


def test_external_dtd_is_not_fetched() -> None:
    # The network guard fails the test if anything tries to reach my.netscape.com.
    parsed = parse_feed(feed_bytes("rss_netscape_doctype.xml"), url=URL, content_type=None)
    assert [e.title for e in parsed.entries] == ["Still here"]


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "text/xml"])
def test_iso_8859_1_declared_in_the_prolog(content_type: str | None) -> None:
    parsed = parse_feed(feed_bytes("latin1_prolog.xml"), url=URL, content_type=content_type)
    assert parsed.title == "Café Crème"
    assert parsed.entries[0].title == "Ça coûte très cher à Zürich"


@pytest.mark.parametrize(
    "content_type", ["text/xml; charset=windows-1251", "application/rss+xml;charset=Windows-1251"]
)
def test_windows_1251_declared_only_in_the_content_type(content_type: str) -> None:
    parsed = parse_feed(feed_bytes("cp1251_no_prolog.xml"), url=URL, content_type=content_type)
    assert parsed.title == "Новости Приморья"
    assert parsed.entries[0].title == "Паром начнёт ходить по новому расписанию"
    assert parsed.entries[0].text == "Городской совет утвердил новое расписание парома."


def test_shift_jis_declared_in_the_prolog() -> None:
    parsed = parse_feed(feed_bytes("shift_jis_prolog.xml"), url=URL, content_type=None)
    assert parsed.title == "港町ニュース"
    assert parsed.entries[0].title == "フェリーの新しい時刻表が決定"


@pytest.mark.parametrize("content_type", [None, "application/xml; charset=utf-8"])
def test_utf16_with_bom_even_when_the_header_says_otherwise(content_type: str | None) -> None:
    parsed = parse_feed(feed_bytes("utf16_bom.xml"), url=URL, content_type=content_type)
    assert parsed.title == "Ελληνικά νέα"
    assert parsed.entries[0].title == "Νέο δρομολόγιο για το πλοίο"


def test_utf8_without_declaration_or_header() -> None:
    parsed = parse_feed(
        rss("<item><title>Grüße aus Köln</title></item>"), url=URL, content_type=None
    )
    assert parsed.entries[0].title == "Grüße aus Köln"


# --- entry fields --------------------------------------------------------------------------


def test_entries_without_guid_link_or_date() -> None:
    market, blank, festival = parse_feed(
        feed_bytes("rss_no_ids.xml"), url=URL, content_type=None
    ).entries
    assert (market.guid, market.link, market.published) == (None, None, None)
    assert market.title == "Market day moves to Thursday"
    assert blank.guid is None  # blank guid
    assert blank.link is None  # javascript: is no link
    assert blank.published is None  # unparseable date
    assert blank.title == "(untitled)"  # no title, no text
    assert festival.title == "Festival dates announced"


def test_updated_date_when_there_is_no_published_date() -> None:
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><entry><id>x</id>'
        b"<title>t</title><updated>2025-06-01T10:00:00-04:00</updated></entry></feed>"
    )
    entry = parse_feed(atom, url=URL, content_type=None).entries[0]
    assert entry.published == datetime(2025, 6, 1, 14, 0, tzinfo=UTC)


def test_future_date_is_returned_as_is() -> None:
    festival = parse_feed(feed_bytes("rss_no_ids.xml"), url=URL, content_type=None).entries[2]
    assert festival.published == datetime(2100, 1, 1, 10, 0, tzinfo=UTC)


def test_title_from_text_when_missing() -> None:
    item = "<item><description>" + " ".join(f"word{i}" for i in range(30)) + "</description></item>"
    entry = parse_feed(rss(item), url=URL, content_type=None).entries[0]
    assert entry.title == " ".join(f"word{i}" for i in range(12)) + "…"


def test_title_from_text_without_spaces_is_capped() -> None:
    item = "<item><description>" + "港町のフェリー" * 40 + "</description></item>"
    title = parse_feed(rss(item), url=URL, content_type=None).entries[0].title
    assert title == ("港町のフェリー" * 40)[:100] + "…"


def test_title_with_markup_entities_and_script() -> None:
    item = (
        "<item><title>&lt;script&gt;alert('x')&lt;/script&gt;Budget &amp;amp; tax"
        " &lt;b&gt;plan&lt;/b&gt; &#8212; &quot;final&quot;</title></item>"
    )
    assert parse_feed(rss(item), url=URL, content_type=None).entries[0].title == (
        'Budget & tax plan — "final"'
    )


def test_plain_text_title_keeps_its_less_than_sign() -> None:
    atom = parse_feed(feed_bytes("atom_basic.xml"), url=URL, content_type=None)
    assert atom.entries[1].title == "Notes & queries: a reader asks about 5 < 6"


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ("<author>desk@example.com (Jane Roe)</author>", "Jane Roe"),  # the RSS form
        ("<author>Jane Roe &lt;jane@example.com&gt;</author>", "Jane Roe"),
        ("<dc:creator>Ann &lt;Annie&gt; Lee</dc:creator>", "Ann <Annie> Lee"),  # not a tag
        ("<dc:creator>&lt;b&gt;Ann&lt;/b&gt; Lee</dc:creator>", "Ann Lee"),
    ],
)
def test_author(author: str, expected: str) -> None:
    item = f'<item xmlns:dc="http://purl.org/dc/elements/1.1/"><title>t</title>{author}</item>'
    entry = parse_feed(rss(item), url=URL, content_type=None).entries[0]
    assert entry.author == expected


def test_relative_links_resolve_against_the_feed_url() -> None:
    item = (
        "<item><title>t</title><link>../stories/1?x=1</link>"
        '<description>&lt;p&gt;&lt;img src="pics/a.jpg"&gt;Hello&lt;/p&gt;</description></item>'
    )
    entry = parse_feed(
        rss(item), url="https://news.example.com/feeds/main/rss", content_type=None
    ).entries[0]
    assert entry.link == "https://news.example.com/feeds/stories/1?x=1"
    assert entry.image_url == "https://news.example.com/feeds/main/pics/a.jpg"


def test_image_in_content_resolves_against_xml_base() -> None:
    atom = (
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://static.example.net/blog/">'
        b'<title>A</title><entry><id>x</id><title>t</title><link href="posts/1"/>'
        b'<content type="html">&lt;img src="pics/a.png"&gt;text</content></entry></feed>'
    )
    entry = parse_feed(atom, url="https://feeds.example.com/a.xml", content_type=None).entries[0]
    assert entry.link == "https://static.example.net/blog/posts/1"
    assert entry.image_url == "https://static.example.net/blog/pics/a.png"


def test_text_prefers_the_richest_field_and_drops_scripts() -> None:
    body = (
        "<p>First paragraph &amp; more.</p><style>p{}</style><script>evil()</script>"
        "<p>Second<br>line</p>"
    )
    item = (
        "<item><title>t</title><description>Short.</description>"
        f"<content:encoded><![CDATA[{body}]]></content:encoded></item>"
    )
    entry = parse_feed(rss(item), url=URL, content_type=None).entries[0]
    assert entry.text == "First paragraph & more.\n\nSecond\nline"


@pytest.mark.parametrize(
    ("media", "expected"),
    [
        ('<media:content url="https://c.example/v.mp4" medium="video"/>', None),
        ('<media:content url="https://c.example/a.jpg"/>', "https://c.example/a.jpg"),
        ('<media:content url="https://c.example/x" type="image/webp"/>', "https://c.example/x"),
        ('<media:thumbnail url="data:image/png;base64,AAAA"/>', None),
        ('<enclosure url="https://c.example/a.mp3" type="audio/mpeg" length="1"/>', None),
        (
            '<enclosure url="https://c.example/e.png" type="image/png" length="1"/>',
            "https://c.example/e.png",
        ),
        (
            '<description>&lt;img src="https://t.example/p.gif" width="1" height="1"&gt;'
            '&lt;img src="https://c.example/lead.jpg"&gt;</description>',
            "https://c.example/lead.jpg",
        ),
    ],
)
def test_image_url(media: str, expected: str | None) -> None:
    entry = parse_feed(rss(f"<item><title>t</title>{media}</item>"), url=URL, content_type=None)
    assert entry.entries[0].image_url == expected


@pytest.mark.parametrize(
    ("ttl", "expected"), [("60", 60), (" 15 ", 15), ("0", None), ("-5", None), ("soon", None)]
)
def test_ttl(ttl: str, expected: int | None) -> None:
    parsed = parse_feed(
        rss("", channel=f"<title>T</title><ttl>{ttl}</ttl>"), url=URL, content_type=None
    )
    assert parsed.ttl_minutes == expected


@pytest.mark.parametrize(
    ("text", "teaser"),
    [
        ("Short summary.", True),
        ("x" * TEASER_CHARS, False),
        ("x " * TEASER_CHARS + "and so on…", True),
        ("x " * TEASER_CHARS + "[…]", True),
        ("x " * TEASER_CHARS + "[...]", True),
        ("x " * TEASER_CHARS + "Read more", True),
        ("x " * TEASER_CHARS + "Continue reading →", True),
        ("x " * TEASER_CHARS + "The end.", False),
    ],
)
def test_is_teaser(text: str, teaser: bool) -> None:
    assert is_teaser(text) is teaser


def test_deeply_nested_content_does_not_crash() -> None:
    body = "&lt;div&gt;" * 20_000 + "deep" + "&lt;/div&gt;" * 20_000
    entry = parse_feed(
        rss(f"<item><title>t</title><description>{body}</description></item>"),
        url=URL,
        content_type=None,
    )
    assert entry.entries[0].text == "deep"


@pytest.mark.parametrize(
    ("ending", "teaser"),
    [
        ("Read more" + " !" * 200, True),  # a long run of punctuation after the ending
        ("read the full article »»» \n", True),  # the longest ending
        ("(more…)", True),
        ("more\n\n»", True),
        ("read more about it.", False),  # the ending words, but not at the end
        ("bread more", True),  # as before: the endings are not anchored to a word start
        ("…_", False),  # "_" is a word character
    ],
)
def test_is_teaser_reads_the_end_of_a_long_text(ending: str, teaser: bool) -> None:
    # is_teaser only searches the end of a long text; the result must be the pattern's.
    text = "word " * TEASER_CHARS + ending
    assert is_teaser(text) is teaser
    assert is_teaser(text) is bool(parse_module._TEASER_ENDINGS.search(text))


def test_entities_behind_a_comment_with_a_tag_are_refused_too() -> None:
    document = (
        b'<?xml version="1.0"?><!-- <a> looks like a root --><!DOCTYPE rss ['
        b'<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<rss version='2.0'><channel><title>&b;</title></channel></rss>"
    )
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_feed(document, url="https://example.com/feed", content_type="application/xml")
