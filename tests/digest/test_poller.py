"""The whole ingest path over real HTTP: local feed server → fetch → parse → identity →
stories → cards, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from digest.app import App, open_app
from digest.config import Settings
from digest.errors import BlockedAddress, DuplicateFeed, InvalidFeedUrl, ParseError
from tests.support.clock import FakeClock
from tests.support.http_server import LocalHttpServer

BODY = (
    "<p>The harbour authority of Port Elling approved a plan on Tuesday to dredge the main"
    " channel. The work will cost 48 million euros and take two years, officials said.</p>"
    "<p>Shipping companies had warned that larger container vessels could no longer reach the"
    " terminal at low tide. Mayor Ana Ruiz said the decision protects 3,000 local jobs.</p>"
    "<p>Environmental groups said they would ask a court to review the plan, because the"
    " estuary is home to protected wading birds. Dredging is expected to start in March.</p>"
    "<p>The port handled 1.2 million containers last year, a record, and the authority expects"
    " traffic to grow by a fifth once the deeper channel opens to the newest ships.</p>"
)


def rss(title: str, items: list[str], ttl: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://{title.lower().replace(' ', '')}.example.com/</link>{ttl}"
        f"{''.join(items)}</channel></rss>"
    ).encode()


def item(guid: str, title: str, link: str, body: str = BODY, date: str | None = None) -> str:
    date_xml = f"<pubDate>{date}</pubDate>" if date else ""
    guid_xml = f"<guid>{guid}</guid>" if guid else ""
    link_xml = f"<link>{link}</link>" if link else ""
    return (
        f"<item>{guid_xml}<title>{title}</title>{link_xml}{date_xml}"
        f"<description><![CDATA[{body}]]></description></item>"
    )


def conditional(body: bytes, etag: str = '"v1"') -> web.StreamResponse | object:
    async def answer(request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"}
        )

    return answer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))


@pytest.fixture
async def server() -> AsyncIterator[LocalHttpServer]:
    async with LocalHttpServer() as s:
        yield s


@pytest.fixture
async def app(db_settings: Settings, clock: FakeClock) -> AsyncIterator[App]:
    settings = db_settings.model_copy(
        update={"allow_private_networks": True, "max_failures": 3, "poll_jitter": 0.0}
    )
    async with open_app(settings, clock=clock, rng=random.Random(1)) as application:
        yield application


async def test_a_feed_becomes_stories_and_cards_and_a_second_poll_is_a_304(
    app: App, server: LocalHttpServer, clock: FakeClock
) -> None:
    feed_body = rss(
        "Harbour Times",
        [
            item(
                "a1",
                "Port Elling will dredge its main channel",
                "https://ht.example.com/a1?utm_source=x",
                date="Tue, 17 Nov 2026 09:00:00 GMT",
            ),
            item(
                "a2",
                "Second story about a museum",
                "https://ht.example.com/a2",
                body=BODY.replace("harbour", "museum"),
                date="Tue, 17 Nov 2026 10:00:00 GMT",
            ),
        ],
    )
    server.handler("/feed.xml", conditional(feed_body))
    feed = await app.service.add_feed(server.url("/feed.xml"))
    assert feed.title == "Harbour Times"

    (report,) = await app.service.poll()
    assert (report.status, report.new_articles, report.new_stories) == ("ok", 2, 2)
    assert len(await app.service.make_cards()) == 2
    card = next(c for c in app.service.list_cards() if c.title.startswith("Port Elling"))
    assert card.url == "https://ht.example.com/a1"  # tracking parameter gone
    assert card.source == "Harbour Times"
    assert card.published_at == datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    assert len(card.takeaways) == 3 and 2 <= len(card.faq) <= 4
    assert card.engine == "offline"

    clock.advance(hours=1)
    (again,) = await app.service.poll(force=True)
    assert again.status == "not_modified"
    assert server.requests[-1].headers["If-None-Match"] == '"v1"'
    assert await app.service.make_cards() == []
    assert app.repo.counts() == {"feeds": 1, "articles": 2, "stories": 2, "cards": 2}


async def test_the_same_event_in_two_feeds_is_one_story_with_both_sources(
    app: App, server: LocalHttpServer
) -> None:
    server.route(
        "/one.xml",
        body=rss(
            "Harbour Times",
            [
                item(
                    "x1",
                    "Port Elling approves plan to dredge main shipping channel",
                    "https://ht.example.com/dredge",
                    date="Tue, 17 Nov 2026 09:00:00 GMT",
                )
            ],
        ),
    )
    server.route(
        "/two.xml",
        body=rss(
            "Coast Courier",
            [
                item(
                    "y9",
                    "Port Elling approves dredging plan for main shipping channel",
                    "https://cc.example.org/news/77",
                    date="Tue, 17 Nov 2026 11:30:00 GMT",
                )
            ],
        ),
    )
    await app.service.add_feed(server.url("/one.xml"))
    await app.service.add_feed(server.url("/two.xml"))
    reports = await app.service.poll()
    assert sum(r.new_articles for r in reports) == 2
    assert sum(r.new_stories for r in reports) == 1
    assert len(await app.service.make_cards()) == 1
    (card,) = app.service.list_cards()
    assert card.source == "Harbour Times"  # the earliest report leads
    assert [s.name for s in card.sources] == ["Harbour Times", "Coast Courier"]
    assert card.to_json()["sources"][1] == {
        "name": "Coast Courier",
        "url": "https://cc.example.org/news/77",
    }


async def test_entries_without_guid_link_or_date_and_future_dates_are_stored_once(
    app: App, server: LocalHttpServer, clock: FakeClock
) -> None:
    server.route(
        "/odd.xml",
        body=rss(
            "Odd Feed",
            [
                item("", "No guid, only a link", "https://odd.example.com/1"),
                item("", "Neither guid nor link", ""),
                item(
                    "g3",
                    "From the future",
                    "https://odd.example.com/3",
                    date="Fri, 01 Jan 2100 00:00:00 GMT",
                ),
            ],
        ),
    )
    await app.service.add_feed(server.url("/odd.xml"))
    (report,) = await app.service.poll()
    assert report.new_articles == 3
    clock.advance(hours=2)
    (again,) = await app.service.poll(force=True)
    assert again.new_articles == 0
    stories = app.repo.stories_without_cards()
    by_title = {s.title: s.lead for s in stories}
    assert by_title["From the future"].published_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert by_title["Neither guid nor link"].published_at == datetime(
        2026, 11, 20, 12, 0, tzinfo=UTC
    )
    assert by_title["Neither guid nor link"].url.startswith(server.url("/odd.xml") + "#entry-")


async def test_a_teaser_gets_the_full_text_of_its_page(app: App, server: LocalHttpServer) -> None:
    page = (
        "<html><head><title>Dredging</title>"
        '<meta property="og:image" content="https://img.example.com/dredger.jpg"></head>'
        f"<body><nav>Home | World</nav><article><h1>Dredging</h1>{BODY}</article>"
        "<footer>Copyright</footer></body></html>"
    ).encode()
    server.route("/article.html", body=page, content_type="text/html; charset=utf-8")
    server.route(
        "/teaser.xml",
        body=rss(
            "Teasers",
            [
                item(
                    "t1",
                    "Port Elling will dredge",
                    server.url("/article.html"),
                    body="The harbour authority approved a plan…",
                )
            ],
        ),
    )
    await app.service.add_feed(server.url("/teaser.xml"))
    await app.service.poll()
    (story,) = app.repo.stories_without_cards()
    assert "protected wading birds" in story.lead.text
    assert story.lead.image_url == "https://img.example.com/dredger.jpg"
    page_requests = [r for r in server.requests if r.path == "/article.html"]
    assert len(page_requests) == 1


async def test_a_failing_feed_backs_off_and_is_disabled_with_its_reason(
    app: App, server: LocalHttpServer, clock: FakeClock
) -> None:
    server.route("/broken.xml", status=500, body=b"oops")
    feed = await app.service.add_feed(server.url("/broken.xml"), check=False)
    gaps = []
    for _ in range(3):
        (report,) = await app.service.poll(force=True)
        assert report.status == "error" and "500" in (report.error or "")
        assert report.next_poll_at is not None
        gaps.append(report.next_poll_at - clock.now())
    assert gaps[0] < gaps[1] < gaps[2]  # exponential backoff
    (stored,) = app.service.list_feeds()
    assert (
        stored.disabled and stored.consecutive_failures == 3 and "500" in (stored.last_error or "")
    )
    assert await app.service.poll(force=True) == []
    app.service.enable_feed(str(feed.id))
    server.route("/broken.xml", body=rss("Fixed", [item("z", "Back", "https://x.example.com/z")]))
    (report,) = await app.service.poll()
    assert report.status == "ok"
    assert app.service.list_feeds()[0].last_error is None


async def test_an_html_page_is_recorded_as_not_a_feed(app: App, server: LocalHttpServer) -> None:
    server.route(
        "/page",
        body=b"<!doctype html><html><body><p>Hello</p></body></html>",
        content_type="text/html",
    )
    with pytest.raises(ParseError):
        await app.service.add_feed(server.url("/page"))
    assert app.service.list_feeds() == []
    await app.service.add_feed(server.url("/page"), check=False)
    (report,) = await app.service.poll()
    assert report.status == "error"
    assert app.service.list_feeds()[0].last_error == report.error


async def test_retry_after_and_ttl_set_the_next_poll(
    app: App, server: LocalHttpServer, clock: FakeClock
) -> None:
    server.route(
        "/ttl.xml",
        body=rss("TTL", [item("a", "A", "https://t.example.com/a")], ttl="<ttl>120</ttl>"),
    )
    await app.service.add_feed(server.url("/ttl.xml"))
    (report,) = await app.service.poll()
    assert report.next_poll_at == clock.now() + timedelta(minutes=120)

    server.route("/busy.xml", status=429, headers={"Retry-After": "7200"})
    await app.service.add_feed(server.url("/busy.xml"), check=False)
    (busy,) = await app.service.poll()
    assert busy.status == "error"
    assert busy.next_poll_at is not None and busy.next_poll_at >= clock.now() + timedelta(hours=2)


async def test_bad_feed_urls_are_refused_before_anything_is_stored(
    db_settings: Settings, server: LocalHttpServer
) -> None:
    # private networks NOT allowed here: the default
    async with open_app(db_settings) as app:
        for url in ("not a url", "ftp://example.com/feed", "file:///etc/passwd", "   "):
            with pytest.raises(InvalidFeedUrl):
                await app.service.add_feed(url)
        for url in (
            "http://127.0.0.1/feed",
            "http://10.0.0.1/feed",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/feed",
        ):
            with pytest.raises(BlockedAddress):
                await app.service.add_feed(url)
        with pytest.raises(BlockedAddress):  # localhost resolves to loopback at connect time
            await app.service.add_feed(server.url("/feed.xml", host="localhost"))
        assert app.service.list_feeds() == []
        assert server.requests == []


async def test_adding_the_same_feed_twice_is_a_clear_error(
    app: App, server: LocalHttpServer
) -> None:
    server.route("/feed.xml", body=rss("Same", []))
    await app.service.add_feed(server.url("/feed.xml"))
    with pytest.raises(DuplicateFeed, match="already added"):
        await app.service.add_feed(server.url("/feed.xml#top"))
    assert len(app.service.list_feeds()) == 1


class PoisonFetcher:
    """Delegates to the real fetcher, but one URL makes it raise what no fetcher should."""

    def __init__(self, inner: object, poison: str) -> None:
        self._inner = inner
        self._poison = poison

    async def fetch(self, url: str, **kwargs: object) -> object:
        if url == self._poison:
            raise UnicodeError("label too long")
        return await self._inner.fetch(url, **kwargs)  # type: ignore[attr-defined]


async def test_an_unexpected_error_costs_one_feed_not_the_cycle(
    db_settings: Settings, server: LocalHttpServer, clock: FakeClock
) -> None:
    from digest.ingest.fetch import HttpFetcher

    settings = db_settings.model_copy(update={"allow_private_networks": True})
    server.route("/good.xml", body=rss("Good", [item("g", "Fine", "https://g.example.com/1")]))
    async with HttpFetcher(settings) as http:
        fetcher = PoisonFetcher(http, server.url("/bad.xml"))
        async with open_app(settings, clock=clock, fetcher=fetcher) as app:  # type: ignore[arg-type]
            app.service.add_feed_unchecked(server.url("/bad.xml"))
            app.service.add_feed_unchecked(server.url("/good.xml"))
            reports = {r.url: r for r in await app.service.poll()}
            assert reports[server.url("/good.xml")].status == "ok"
            bad = reports[server.url("/bad.xml")]
            assert bad.status == "error" and bad.error == "internal error: UnicodeError"
            stored = next(f for f in app.service.list_feeds() if f.url == server.url("/bad.xml"))
            assert stored.consecutive_failures == 1  # recorded, claim released


async def test_parse_failures_back_off_too(
    app: App, server: LocalHttpServer, clock: FakeClock
) -> None:
    server.route(
        "/page", body=b"<!doctype html><html><body>Hi</body></html>", content_type="text/html"
    )
    await app.service.add_feed(server.url("/page"), check=False)
    gaps = []
    for _ in range(3):
        (report,) = await app.service.poll(force=True)
        assert report.next_poll_at is not None
        gaps.append(report.next_poll_at - clock.now())
    assert gaps[0] < gaps[1] < gaps[2]


async def test_two_processes_join_one_event_into_one_story(
    db_settings: Settings, server: LocalHttpServer, clock: FakeClock
) -> None:
    settings = db_settings.model_copy(update={"allow_private_networks": True})
    server.route(
        "/a.xml",
        body=rss(
            "Harbour Times",
            [
                item(
                    "x1",
                    "Port Elling approves plan to dredge main shipping channel",
                    "https://ht.example.com/dredge",
                )
            ],
        ),
    )
    server.slow(
        "/b.xml",
        delay=1.0,
        body=rss(
            "Coast Courier",
            [
                item(
                    "y9",
                    "Port Elling approves dredging plan for main shipping channel",
                    "https://cc.example.org/news/77",
                )
            ],
        ),
    )
    server.route("/other.xml", body=rss("Other", [item("e", "Unrelated", "https://e.example/1")]))
    async with open_app(settings, clock=clock) as first, open_app(settings, clock=clock) as second:
        a = first.service.add_feed_unchecked(server.url("/a.xml"))
        b = first.service.add_feed_unchecked(server.url("/b.xml"))
        other = first.service.add_feed_unchecked(server.url("/other.xml"))
        # The second process's cycle builds its story index (storing /other.xml) while
        # /b.xml is still on its way; the first process stores /a.xml meanwhile.
        cycle = asyncio.create_task(second.service.poll(feed_ids=[other.id, b.id]))
        while first.repo.counts()["articles"] == 0:  # noqa: ASYNC110 - a row, not an event
            await asyncio.sleep(0.02)
        await first.service.poll(feed_ids=[a.id])
        reports = {r.feed_id: r for r in await cycle}
        assert reports[b.id].new_stories == 0  # it caught up before choosing a story
        stories = first.repo.stories_without_cards()
        assert sorted(len(s.articles) for s in stories) == [1, 2]


async def test_one_feed_never_puts_two_articles_in_one_story(
    app: App, server: LocalHttpServer
) -> None:
    server.route(
        "/one.xml",
        body=rss(
            "Harbour Times",
            [
                item(
                    "x1",
                    "Port Elling approves plan to dredge main shipping channel",
                    "https://ht.example.com/dredge",
                )
            ],
        ),
    )
    server.route(
        "/two.xml",
        body=rss(
            "Coast Courier",
            [
                item(
                    "y1",
                    "Port Elling approves dredging plan for main shipping channel",
                    "https://cc.example.org/1",
                ),
                item(
                    "y2",
                    "Port Elling approves plan for dredging of main shipping channel",
                    "https://cc.example.org/2",
                ),
            ],
        ),
    )
    await app.service.add_feed(server.url("/one.xml"))
    await app.service.poll()
    await app.service.add_feed(server.url("/two.xml"))
    await app.service.poll()
    stories = app.repo.stories_without_cards()
    for story in stories:
        feeds = [a.feed_id for a in story.articles]
        assert len(feeds) == len(set(feeds))
    assert app.repo.counts()["articles"] == 3
