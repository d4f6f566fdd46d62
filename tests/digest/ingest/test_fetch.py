"""HttpFetcher against a real local server, a scripted resolver and a recording backend.

Only loopback is ever connected to. Tests that need the local server either turn on
``allow_private_networks`` or use the ``loopback_only`` policy, which keeps every other
private range blocked, so the SSRF guard stays on for redirects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web

from digest.config import Settings
from digest.errors import (
    BlockedAddress,
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    HttpStatusError,
    TooManyRedirects,
)
from digest.ingest.body import parse_max_age, parse_retry_after
from digest.ingest.fetch import USER_AGENT, HttpFetcher
from digest.ingest.netguard import IPAddress, is_blocked_ip
from tests.support.http_server import (
    FakeResolver,
    LocalHttpServer,
    RecordingBackend,
    canned_backend,
    deflate_bytes,
    gzip_bytes,
    gzip_of_zeros,
)

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
MB = 1024 * 1024


def loopback_only(ip: IPAddress) -> bool:
    """The default policy, except that loopback (where the test server lives) is allowed."""
    return not ip.is_loopback and is_blocked_ip(ip)


@pytest.fixture
async def server() -> AsyncIterator[LocalHttpServer]:
    async with LocalHttpServer() as running:
        yield running


@pytest.fixture
def local(settings: Settings) -> Settings:
    """Settings that may reach the local server."""
    return settings.model_copy(update={"allow_private_networks": True})


def tuned(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


# -- the ordinary path ----------------------------------------------------------------------


async def test_fetch_returns_body_and_metadata(server: LocalHttpServer, local: Settings) -> None:
    server.route(
        "/feed.xml",
        body=FEED,
        headers={
            "ETag": '"v1"',
            "Last-Modified": "Wed, 18 Nov 2026 10:00:00 GMT",
            "Cache-Control": "public, max-age=600",
        },
        content_type="application/rss+xml; charset=utf-8",
    )
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(server.url("/feed.xml"))

    assert result.status == 200
    assert result.content == FEED
    assert result.url == server.url("/feed.xml")
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 18 Nov 2026 10:00:00 GMT"
    assert result.max_age == 600
    assert result.retry_after is None
    assert not result.not_modified

    headers = server.requests[0].headers
    assert headers["User-Agent"] == USER_AGENT
    assert "newsdigest-bot" in headers["User-Agent"]
    assert "application/rss+xml" in headers["Accept"]
    assert "gzip" in headers["Accept-Encoding"]
    assert "If-None-Match" not in headers
    assert "If-Modified-Since" not in headers


async def test_one_client_serves_many_fetches(server: LocalHttpServer, local: Settings) -> None:
    server.route("/feed.xml", body=FEED)
    async with HttpFetcher(local) as fetcher:
        for _ in range(3):
            await fetcher.fetch(server.url("/feed.xml"))
    assert len(server.requests) == 3
    assert server.connections == 1  # kept alive and reused


# -- conditional GET ------------------------------------------------------------------------


def conditional_route(server: LocalHttpServer, *, etag: str, new_etag: str | None = None) -> None:
    async def answer(request: web.BaseRequest) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == etag:
            headers = {"ETag": new_etag} if new_etag else {}
            return web.Response(status=304, headers=headers)
        return web.Response(body=FEED, headers={"ETag": etag})

    server.handler("/feed.xml", answer)


async def test_validators_are_sent_and_304_keeps_them(
    server: LocalHttpServer, local: Settings
) -> None:
    conditional_route(server, etag='"v1"')
    stamp = "Wed, 18 Nov 2026 10:00:00 GMT"
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(server.url("/feed.xml"), etag='"v1"', last_modified=stamp)

    assert result.status == 304
    assert result.not_modified
    assert result.content == b""
    assert result.etag == '"v1"'
    assert result.last_modified == stamp
    headers = server.requests[0].headers
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == stamp


async def test_304_with_fresh_validators_replaces_them(
    server: LocalHttpServer, local: Settings
) -> None:
    conditional_route(server, etag='"v1"', new_etag='"v2"')
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(server.url("/feed.xml"), etag='"v1"')
    assert result.status == 304
    assert result.etag == '"v2"'


async def test_stale_validator_gets_the_full_body(server: LocalHttpServer, local: Settings) -> None:
    conditional_route(server, etag='"v2"')
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(server.url("/feed.xml"), etag='"v1"')
    assert result.status == 200
    assert result.content == FEED
    assert result.etag == '"v2"'


async def test_unsendable_stored_validator_is_dropped(
    server: LocalHttpServer, local: Settings
) -> None:
    server.route("/feed.xml", body=FEED)
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(
            server.url("/feed.xml"), etag='"v1"\r\nX-Injected: 1', last_modified="jour férié"
        )
    assert result.status == 200
    assert "X-Injected" not in server.requests[0].headers
    assert "If-None-Match" not in server.requests[0].headers
    assert "If-Modified-Since" not in server.requests[0].headers


# -- content encodings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("gzip", gzip_bytes(FEED)),
        ("x-gzip", gzip_bytes(FEED)),
        ("deflate", deflate_bytes(FEED)),
        ("deflate", deflate_bytes(FEED, raw=True)),
        ("identity", FEED),
    ],
)
async def test_compressed_bodies_are_decoded(
    server: LocalHttpServer, local: Settings, encoding: str, encoded: bytes
) -> None:
    server.route("/feed.xml", body=encoded, headers={"Content-Encoding": encoding})
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(server.url("/feed.xml"))
    assert result.content == FEED


async def test_unknown_encoding_is_a_fetch_error(server: LocalHttpServer, local: Settings) -> None:
    server.route("/feed.xml", body=b"\x00\x01", headers={"Content-Encoding": "br"})
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(FetchError, match="content encoding"):
            await fetcher.fetch(server.url("/feed.xml"))


async def test_corrupt_gzip_is_a_fetch_error(server: LocalHttpServer, local: Settings) -> None:
    server.route("/feed.xml", body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(FetchError, match="corrupt"):
            await fetcher.fetch(server.url("/feed.xml"))


# -- redirects ------------------------------------------------------------------------------


async def test_redirects_are_followed_to_the_final_url(
    server: LocalHttpServer, local: Settings
) -> None:
    server.redirect("/old", "/older", status=301)
    server.redirect("/older", server.url("/feed.xml"), status=308)
    server.route("/feed.xml", body=FEED)
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(server.url("/old"))
    assert result.content == FEED
    assert result.url == server.url("/feed.xml")
    assert [r.path for r in server.requests] == ["/old", "/older", "/feed.xml"]


async def test_redirect_loop(server: LocalHttpServer, local: Settings) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(TooManyRedirects, match="loop"):
            await fetcher.fetch(server.url("/a"))
    assert len(server.requests) == 2


async def test_too_many_redirects(server: LocalHttpServer, local: Settings) -> None:
    for i in range(10):
        server.redirect(f"/r{i}", f"/r{i + 1}")
    server.route("/r10", body=FEED)
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(TooManyRedirects, match="more than 5"):
            await fetcher.fetch(server.url("/r0"))
    assert len(server.requests) == 6  # the first request and five redirects


async def test_no_redirects_allowed(server: LocalHttpServer, local: Settings) -> None:
    server.redirect("/old", "/feed.xml")
    server.route("/feed.xml", body=FEED)
    async with HttpFetcher(tuned(local, fetch_max_redirects=0)) as fetcher:
        with pytest.raises(TooManyRedirects):
            await fetcher.fetch(server.url("/old"))


async def test_redirect_without_location(server: LocalHttpServer, local: Settings) -> None:
    server.route("/old", status=302)
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(FetchError, match="without a Location"):
            await fetcher.fetch(server.url("/old"))


async def test_redirect_to_garbage(server: LocalHttpServer, local: Settings) -> None:
    server.redirect("/old", "http://[::1")
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(FetchError, match="unusable Location"):
            await fetcher.fetch(server.url("/old"))


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/feed"])
async def test_redirect_to_another_scheme_is_blocked(
    server: LocalHttpServer, local: Settings, location: str
) -> None:
    server.redirect("/old", location)
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(BlockedAddress, match="redirect refused"):
            await fetcher.fetch(server.url("/old"))


async def test_redirect_to_javascript_is_refused(server: LocalHttpServer, local: Settings) -> None:
    server.redirect("/old", "javascript:alert(1)")
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(FetchError, match="unusable Location"):
            await fetcher.fetch(server.url("/old"))
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "location",
    [
        "http://10.0.0.1/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:10.0.0.1]/feed",
        "http://[fd00::1]/feed",
        "http://metadata.internal/computeMetadata/v1/",  # a name for 169.254.169.254
        "http://intranet.example/feed",  # a name for 10.0.0.1
    ],
)
async def test_redirect_to_a_private_address_is_refused_before_connecting(
    server: LocalHttpServer, settings: Settings, location: str
) -> None:
    resolver = FakeResolver(
        {"metadata.internal": [["169.254.169.254"]], "intranet.example": [["10.0.0.1"]]}
    )
    backend = RecordingBackend()
    server.redirect("/old", location)
    fetcher = HttpFetcher(
        settings, resolver=resolver, is_blocked=loopback_only, network_backend=backend
    )
    async with fetcher:
        with pytest.raises(BlockedAddress):
            await fetcher.fetch(server.url("/old"))
    assert backend.connects == [("127.0.0.1", server.port)]  # only the local server


async def test_credentials_do_not_follow_a_redirect_to_another_host(
    server: LocalHttpServer, settings: Settings
) -> None:
    resolver = FakeResolver({"feeds.test": [["127.0.0.1"]], "cdn.test": [["127.0.0.1"]]})
    server.redirect("/private", server.url("/feed.xml", host="cdn.test"))
    server.route("/feed.xml", body=FEED)
    fetcher = HttpFetcher(settings, resolver=resolver, is_blocked=loopback_only)
    async with fetcher:
        result = await fetcher.fetch(
            server.url("/private", host="feeds.test", userinfo="alice:s3cret-pw")
        )
    assert result.content == FEED
    first, second = server.requests
    assert first.headers["Authorization"].startswith("Basic ")
    assert "Authorization" not in second.headers


# -- body size ------------------------------------------------------------------------------


async def test_50_mb_streamed_body_is_cut_off(server: LocalHttpServer, local: Settings) -> None:
    server.streaming("/huge.xml", size=50 * MB)
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(BodyTooLarge, match=str(local.fetch_max_bytes)):
            await fetcher.fetch(server.url("/huge.xml"))


async def test_declared_oversize_body_is_refused_unread(
    server: LocalHttpServer, local: Settings
) -> None:
    server.streaming("/huge.xml", size=50 * MB, declare_length=True)
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(BodyTooLarge, match=str(50 * MB)):
            await fetcher.fetch(server.url("/huge.xml"))


async def test_gzip_bomb_is_cut_off(server: LocalHttpServer, local: Settings) -> None:
    bomb = gzip_of_zeros(50 * MB)
    assert len(bomb) < MB
    server.route("/bomb.xml", body=bomb, headers={"Content-Encoding": "gzip"})
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(BodyTooLarge):
            await fetcher.fetch(server.url("/bomb.xml"))


async def test_gzip_bomb_never_inflates_far_past_the_cap(
    server: LocalHttpServer, local: Settings
) -> None:
    # Memory, not time: inflating one 64 KiB network chunk of this bomb in one go would
    # allocate about 64 MB; bounded inflation never holds much more than the cap.
    server.route("/bomb.xml", body=gzip_of_zeros(50 * MB), headers={"Content-Encoding": "gzip"})
    async with HttpFetcher(tuned(local, fetch_max_bytes=MB)) as fetcher:
        tracemalloc.start()
        try:
            with pytest.raises(BodyTooLarge):
                await fetcher.fetch(server.url("/bomb.xml"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * MB


@pytest.mark.parametrize(("size", "fits"), [(4096, True), (4097, False)])
async def test_body_cap_is_exact(
    server: LocalHttpServer, local: Settings, size: int, fits: bool
) -> None:
    server.route("/plain.xml", body=b"x" * size)
    server.route("/gz.xml", body=gzip_bytes(b"x" * size), headers={"Content-Encoding": "gzip"})
    async with HttpFetcher(tuned(local, fetch_max_bytes=4096)) as fetcher:
        for path in ("/plain.xml", "/gz.xml"):
            if fits:
                assert len((await fetcher.fetch(server.url(path))).content) == size
            else:
                with pytest.raises(BodyTooLarge):
                    await fetcher.fetch(server.url(path))


# -- timeouts -------------------------------------------------------------------------------


async def test_headers_without_a_body_time_out(server: LocalHttpServer, local: Settings) -> None:
    server.hanging("/stuck.xml", first=b"<rss>")
    settings = tuned(local, fetch_read_timeout=0.2, fetch_total_timeout=30.0)
    async with HttpFetcher(settings) as fetcher:
        with pytest.raises(FetchTimeout, match="waiting for data"):
            await fetcher.fetch(server.url("/stuck.xml"))


async def test_a_body_that_trickles_forever_hits_the_total_timeout(
    server: LocalHttpServer, local: Settings
) -> None:
    server.dripping("/drip.xml", every=0.02)
    settings = tuned(local, fetch_read_timeout=30.0, fetch_total_timeout=0.3)
    async with HttpFetcher(settings) as fetcher:
        with pytest.raises(FetchTimeout, match="gave up"):
            await fetcher.fetch(server.url("/drip.xml"))


async def test_the_total_timeout_spans_redirects(server: LocalHttpServer, local: Settings) -> None:
    server.redirect("/old", "/slow.xml")
    server.slow("/slow.xml", delay=30.0)
    settings = tuned(local, fetch_read_timeout=30.0, fetch_total_timeout=0.3)
    async with HttpFetcher(settings) as fetcher:
        with pytest.raises(FetchTimeout):
            await fetcher.fetch(server.url("/old"))


# -- error statuses -------------------------------------------------------------------------


async def test_429_carries_retry_after_seconds(server: LocalHttpServer, local: Settings) -> None:
    server.route("/feed.xml", status=429, headers={"Retry-After": "120"})
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(HttpStatusError) as caught:
            await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.status == 429
    assert caught.value.retry_after == 120
    assert "429 Too Many Requests" in str(caught.value)


async def test_503_carries_retry_after_date(server: LocalHttpServer, local: Settings) -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    server.route("/feed.xml", status=503, headers={"Retry-After": format_datetime(later, True)})
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(HttpStatusError) as caught:
            await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.status == 503
    assert caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 600


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 500, 502])
async def test_error_statuses_raise(server: LocalHttpServer, local: Settings, status: int) -> None:
    server.route("/feed.xml", status=status, body=b"<html>nope</html>")
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(HttpStatusError) as caught:
            await fetcher.fetch(server.url("/feed.xml"))
    assert caught.value.status == status
    assert caught.value.retry_after is None


def test_parse_retry_after() -> None:
    now = datetime(2015, 10, 21, 7, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after(" 5 ") == 5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 28 * 60
    assert parse_retry_after("Wed, 21 Oct 2015 06:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after(None) is None


def test_parse_max_age() -> None:
    assert parse_max_age("max-age=300") == 300
    assert parse_max_age("public, max-age=60, must-revalidate") == 60
    assert parse_max_age("s-maxage=10") is None
    assert parse_max_age("no-cache") is None
    assert parse_max_age(None) is None


# -- concurrency ----------------------------------------------------------------------------


async def test_per_host_limit(server: LocalHttpServer, local: Settings) -> None:
    server.slow("/slow.xml", delay=0.1)
    async with HttpFetcher(tuned(local, fetch_per_host=2, fetch_concurrency=20)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(server.url("/slow.xml")) for _ in range(6)))
    assert all(r.status == 200 for r in results)
    assert server.max_active == 2


async def test_hosts_are_limited_separately(server: LocalHttpServer, settings: Settings) -> None:
    resolver = FakeResolver({"a.test": [["127.0.0.1"]], "b.test": [["127.0.0.1"]]})
    server.slow("/slow.xml", delay=0.1)
    limited = tuned(settings, fetch_per_host=1, fetch_concurrency=20)
    async with HttpFetcher(limited, resolver=resolver, is_blocked=loopback_only) as fetcher:
        urls = [server.url("/slow.xml", host=h) for h in ("a.test", "b.test") * 3]
        await asyncio.gather(*(fetcher.fetch(u) for u in urls))
    assert server.max_active == 2  # one per host


async def test_global_limit(server: LocalHttpServer, local: Settings) -> None:
    server.slow("/slow.xml", delay=0.1)
    async with HttpFetcher(tuned(local, fetch_per_host=10, fetch_concurrency=3)) as fetcher:
        await asyncio.gather(*(fetcher.fetch(server.url("/slow.xml")) for _ in range(8)))
    assert server.max_active == 3


async def test_waiting_for_a_slot_does_not_count_against_the_total_timeout(
    server: LocalHttpServer, local: Settings
) -> None:
    # Serially these take ~1.2 s in all, more than the 1 s total; each alone takes 0.3 s.
    server.slow("/slow.xml", delay=0.3)
    queued = tuned(local, fetch_concurrency=1, fetch_total_timeout=1.0)
    async with HttpFetcher(queued) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(server.url("/slow.xml")) for _ in range(4)))
    assert [r.status for r in results] == [200] * 4
    assert server.max_active == 1


# -- the SSRF guard -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/feed.xml",
        "http://[::1]:{port}/feed.xml",
        "http://[::ffff:127.0.0.1]:{port}/feed.xml",
        "http://localhost:{port}/feed.xml",
        "http://2130706433:{port}/feed.xml",
        "http://10.0.0.1/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
async def test_private_urls_are_refused_before_connecting(
    server: LocalHttpServer, settings: Settings, template: str
) -> None:
    server.route("/feed.xml", body=FEED)
    backend = RecordingBackend()
    async with HttpFetcher(settings, network_backend=backend) as fetcher:
        with pytest.raises(BlockedAddress):
            await fetcher.fetch(template.format(port=server.port))
    assert backend.connects == []
    assert server.connections == 0


@pytest.mark.parametrize(
    "answer",
    [["127.0.0.1"], ["10.0.0.1"], ["169.254.169.254"], ["::1"], ["::ffff:127.0.0.1"]],
)
async def test_names_resolving_to_private_addresses_are_refused(
    server: LocalHttpServer, settings: Settings, answer: list[str]
) -> None:
    server.route("/feed.xml", body=FEED)
    backend = RecordingBackend()
    resolver = FakeResolver({"feed.example": [answer]})
    async with HttpFetcher(settings, resolver=resolver, network_backend=backend) as fetcher:
        with pytest.raises(BlockedAddress, match=r"feed\.example"):
            await fetcher.fetch(server.url("/feed.xml", host="feed.example"))
    assert backend.connects == []
    assert server.connections == 0


async def test_dns_rebinding_cannot_swap_the_address(settings: Settings) -> None:
    # The first answer is public, every later one is loopback: a rebinding attack. The
    # fetcher must resolve once and connect to exactly the address it checked.
    resolver = FakeResolver({"feed.example": [["93.184.216.34"], ["127.0.0.1"]]})
    backend = canned_backend(FEED)  # answers without a socket: nothing public is contacted
    async with HttpFetcher(settings, resolver=resolver, network_backend=backend) as fetcher:
        result = await fetcher.fetch("https://feed.example/feed.xml")
    assert result.content == FEED
    assert resolver.calls == ["feed.example"]
    assert backend.connects == [("93.184.216.34", 443)]
    assert backend.tls_names == ["feed.example"]  # SNI and certificate use the name

    # The next connection sees the rebound answer and is refused before connecting.
    async with HttpFetcher(settings, resolver=resolver, network_backend=backend) as fetcher:
        with pytest.raises(BlockedAddress):
            await fetcher.fetch("https://feed.example/feed.xml")
    assert backend.connects == [("93.184.216.34", 443)]


async def test_one_private_answer_spoils_the_name(settings: Settings) -> None:
    resolver = FakeResolver({"feed.example": [["93.184.216.34", "127.0.0.1"]]})
    backend = canned_backend(FEED)
    async with HttpFetcher(settings, resolver=resolver, network_backend=backend) as fetcher:
        with pytest.raises(BlockedAddress):
            await fetcher.fetch("https://feed.example/feed.xml")
    assert backend.connects == []


async def test_allow_private_networks_reaches_the_local_server(
    server: LocalHttpServer, local: Settings
) -> None:
    server.route("/feed.xml", body=FEED)
    async with HttpFetcher(local) as fetcher:
        assert (await fetcher.fetch(server.url("/feed.xml"))).content == FEED


async def test_proxies_from_the_environment_are_ignored(
    server: LocalHttpServer, local: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://10.0.0.1:3128")
    server.route("/feed.xml", body=FEED)
    backend = RecordingBackend()
    async with HttpFetcher(local, network_backend=backend) as fetcher:
        await fetcher.fetch(server.url("/feed.xml"))
    assert backend.connects == [("127.0.0.1", server.port)]


# -- bad URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["not a url", "", "example.com/feed", "http://", "http://a b/"])
async def test_not_a_url_is_a_fetch_error(settings: Settings, url: str) -> None:
    async with HttpFetcher(settings, network_backend=RecordingBackend()) as fetcher:
        with pytest.raises(FetchError, match="not a URL") as caught:
            await fetcher.fetch(url)
    assert type(caught.value) is FetchError  # callers catch FetchError, not InputError


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed", "file:///etc/passwd", "javascript:alert(1)"]
)
async def test_other_schemes_are_blocked(settings: Settings, url: str) -> None:
    backend = RecordingBackend()
    async with HttpFetcher(settings, network_backend=backend) as fetcher:
        with pytest.raises(BlockedAddress):
            await fetcher.fetch(url)
    assert backend.connects == []


# -- failures and their messages ------------------------------------------------------------


async def closed_port() -> int:
    """A loopback port nothing listens on (a server that was started and closed)."""
    async with LocalHttpServer() as gone:
        port = gone.port
    return port


async def test_connection_refused(local: Settings) -> None:
    port = await closed_port()
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(FetchError, match="could not connect") as caught:
            await fetcher.fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert caught.value.__cause__ is not None


async def test_unresolvable_name(settings: Settings) -> None:
    async with HttpFetcher(settings, resolver=FakeResolver({})) as fetcher:
        with pytest.raises(FetchError, match="could not resolve"):
            await fetcher.fetch("https://nowhere.example/feed.xml")


SECRET = "s3cret-pw"


def assert_no_credentials(error: BaseException) -> None:
    for text in (str(error), repr(error)):
        assert SECRET not in text
        assert "alice" not in text


async def test_credentials_stay_out_of_http_errors(
    server: LocalHttpServer, local: Settings
) -> None:
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(HttpStatusError) as caught:
            await fetcher.fetch(server.url("/missing", userinfo=f"alice:{SECRET}"))
    assert_no_credentials(caught.value)


async def test_credentials_stay_out_of_the_result_url(
    server: LocalHttpServer, local: Settings
) -> None:
    server.route("/feed.xml", body=FEED)
    async with HttpFetcher(local) as fetcher:
        result = await fetcher.fetch(server.url("/feed.xml", userinfo=f"alice:{SECRET}"))
    assert SECRET not in result.url
    assert result.url == server.url("/feed.xml")


async def test_credentials_stay_out_of_connection_errors(local: Settings) -> None:
    port = await closed_port()
    async with HttpFetcher(local) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(f"http://alice:{SECRET}@127.0.0.1:{port}/feed.xml")
    assert_no_credentials(caught.value)


async def test_credentials_stay_out_of_timeouts(server: LocalHttpServer, local: Settings) -> None:
    server.hanging("/stuck.xml")
    async with HttpFetcher(tuned(local, fetch_read_timeout=0.2)) as fetcher:
        with pytest.raises(FetchTimeout) as caught:
            await fetcher.fetch(server.url("/stuck.xml", userinfo=f"alice:{SECRET}"))
    assert_no_credentials(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"http://alice:{SECRET}@10.0.0.1/feed.xml",
        f"ftp://alice:{SECRET}@example.com/feed.xml",
        f"http://alice:{SECRET}@exa mple.com/feed.xml",
    ],
)
async def test_credentials_stay_out_of_refusals(settings: Settings, url: str) -> None:
    async with HttpFetcher(settings, network_backend=RecordingBackend()) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url)
    assert_no_credentials(caught.value)


async def test_credentials_stay_out_of_redirect_refusals(
    server: LocalHttpServer, settings: Settings
) -> None:
    server.redirect("/old", f"http://alice:{SECRET}@169.254.169.254/")
    async with HttpFetcher(settings, is_blocked=loopback_only) as fetcher:
        with pytest.raises(BlockedAddress) as caught:
            await fetcher.fetch(server.url("/old"))
    assert_no_credentials(caught.value)


def test_loopback_only_policy_is_what_it_says() -> None:
    assert not loopback_only(ipaddress.ip_address("127.0.0.1"))
    assert loopback_only(ipaddress.ip_address("10.0.0.1"))
    assert not loopback_only(ipaddress.ip_address("93.184.216.34"))


async def test_cookies_are_never_kept_or_sent(server: LocalHttpServer, local: Settings) -> None:
    server.route("/feed.xml", body=b"<rss/>", headers={"Set-Cookie": "track=abc; Path=/"})
    async with HttpFetcher(local) as fetcher:
        await fetcher.fetch(server.url("/feed.xml"))
        await fetcher.fetch(server.url("/feed.xml"))
    assert "Cookie" not in server.requests[-1].headers
