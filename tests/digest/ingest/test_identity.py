"""canonical_url and entry_key: the two keys the store de-duplicates on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.ingest.identity import canonical_url, entry_key
from digest.ingest.parse import parse_feed
from digest.models import ParsedEntry

FEEDS = Path(__file__).parents[2] / "data" / "feeds"


def entry(
    *,
    guid: str | None = None,
    link: str | None = None,
    title: str = "Ferry timetable approved",
    published: datetime | None = None,
) -> ParsedEntry:
    return ParsedEntry(
        guid=guid,
        link=link,
        title=title,
        author=None,
        published=published,
        text="",
        is_teaser=True,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://News.Example.COM", "http://news.example.com/"),
        ("https://news.example.com:443/a", "https://news.example.com/a"),
        ("http://news.example.com:80/a", "http://news.example.com/a"),
        ("https://news.example.com:8443/a", "https://news.example.com:8443/a"),
        ("https://news.example.com/a#comments", "https://news.example.com/a"),
        ("https://app.example.com/#!/story/7", "https://app.example.com/#!/story/7"),
        (
            "https://news.example.com/a?utm_source=rss&id=5&utm_medium=feed&page=2",
            "https://news.example.com/a?id=5&page=2",
        ),
        (
            "https://news.example.com/a?fbclid=X&gclid=Y&dclid=Z&msclkid=M&mc_cid=1&mc_eid=2",
            "https://news.example.com/a",
        ),
        (
            "https://news.example.com/a?igshid=1&ref_src=twsrc&_ga=2.1&b=2",
            "https://news.example.com/a?b=2",
        ),
        ("https://news.example.com/a?UTM_Campaign=x&z=1&a=2", "https://news.example.com/a?z=1&a=2"),
        ("https://news.example.com/a?b=2&a=1", "https://news.example.com/a?b=2&a=1"),  # order kept
        (
            "https://news.example.com/a?ref=home",
            "https://news.example.com/a?ref=home",
        ),  # not tracking
        ("https://news.example.com/a?&&x=1&", "https://news.example.com/a?x=1"),
        ("https://news.example.com/a?q=a%2fb", "https://news.example.com/a?q=a%2Fb"),
        ("https://bücher.example/straße", "https://xn--bcher-kva.example/stra%C3%9Fe"),
        ("https://news.example.com./a", "https://news.example.com/a"),
        ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        ("  https://news.example.com/a  ", "https://news.example.com/a"),
        ("not a url", "not a url"),
        ("http://[::1", "http://[::1"),
        ("https://news.example.com:99999/", "https://news.example.com:99999/"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_is_idempotent() -> None:
    for url in ["https://Ex.com:443/ä b?utm_x=1&q=%c3%a4#frag", "https://bücher.example/"]:
        once = canonical_url(url)
        assert canonical_url(once) == once


def test_entry_key_prefers_the_guid() -> None:
    assert entry_key(entry(guid="  tag:x,2025:1 ", link="https://x.example/1")) == "tag:x,2025:1"


def test_entry_key_uses_the_canonical_link_without_a_guid() -> None:
    key = entry_key(entry(guid="   ", link="HTTPS://X.example/1?utm_source=rss#top"))
    assert key == "https://x.example/1"


def test_entry_key_hashes_title_and_date_without_guid_or_link() -> None:
    when = datetime(2025, 6, 10, 7, 30, tzinfo=UTC)
    key = entry_key(entry(title="Ferry  Timetable\napproved", published=when))
    assert key.startswith("sha256:") and len(key) == len("sha256:") + 64
    # Case and whitespace do not change the key; the date does.
    assert key == entry_key(entry(title="ferry timetable approved", published=when))
    assert key != entry_key(entry(title="ferry timetable approved", published=None))
    assert key != entry_key(entry(title="ferry timetable approved", published=when.replace(day=11)))


def test_the_same_entry_polled_twice_has_the_same_keys() -> None:
    content = (FEEDS / "rss_full.xml").read_bytes()
    first = parse_feed(content, url="https://gazette.example.org/feed", content_type=None)
    second = parse_feed(content, url="https://gazette.example.org/feed", content_type=None)
    assert [entry_key(e) for e in first.entries] == [entry_key(e) for e in second.entries]
    assert len({entry_key(e) for e in first.entries}) == len(first.entries)


def test_guid_changes_but_link_stays() -> None:
    """The store keys on (feed, entry_key) AND on canonical URL: the new guid gives a new
    entry_key, so it is the canonical URL — equal here, tracking parameters and all — that
    keeps the entry from being stored twice."""
    before = entry(guid="cms-1234", link="https://x.example/story?utm_source=rss")
    after = replace(before, guid="cms-v2-1234", link="https://X.example/story?utm_medium=email")
    assert entry_key(before) != entry_key(after)
    assert before.link and after.link
    assert canonical_url(before.link) == canonical_url(after.link) == "https://x.example/story"
