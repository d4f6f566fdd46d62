"""The starter feeds a fresh install follows."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from digest.app import open_app
from digest.config import Settings
from digest.errors import ConfigError
from digest.opml import parse_opml
from digest.starter import seed_starter_feeds, starter_opml


def test_the_builtin_list_is_real_https_news_feeds() -> None:
    data = starter_opml("builtin")
    assert data is not None
    feeds = parse_opml(data)
    assert len(feeds) >= 10
    assert all(urlsplit(f.url).scheme == "https" and f.title for f in feeds)
    assert len({f.url for f in feeds}) == len(feeds)


async def test_seeded_once_into_an_empty_database_only(db_settings: Settings) -> None:
    expected = len(parse_opml(starter_opml("builtin") or b""))
    async with open_app(db_settings) as app:
        first = seed_starter_feeds(app.service, "builtin")
        assert first is not None and len(first.added) == expected and not first.invalid
        assert seed_starter_feeds(app.service, "builtin") is None  # feeds exist: untouched
        assert len(app.service.list_feeds()) == expected


async def test_none_and_an_own_file(settings: Settings, tmp_path: Path) -> None:
    own = tmp_path / "mine.opml"
    own.write_text(
        '<opml version="2.0"><body>'
        '<outline type="rss" text="Mine" xmlUrl="https://news.example.com/feed.xml"/>'
        '<outline type="rss" text="Private" xmlUrl="http://10.0.0.1/feed.xml"/>'
        "</body></opml>"
    )
    async with open_app(settings) as app:
        assert seed_starter_feeds(app.service, "none") is None
        assert app.service.list_feeds() == []
        result = seed_starter_feeds(app.service, str(own))
        assert result is not None
        assert [f.url for f in app.service.list_feeds()] == ["https://news.example.com/feed.xml"]
        assert [url for url, _ in result.invalid] == ["http://10.0.0.1/feed.xml"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"not xml at all", "DIGEST_STARTER_FEEDS"), (b"", "empty")],
)
async def test_a_bad_setting_says_which_and_why(
    settings: Settings, tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "feeds.opml"
    if content is not None:
        path.write_bytes(content)
    async with open_app(settings) as app:
        with pytest.raises(ConfigError, match=message):
            seed_starter_feeds(app.service, str(path))
