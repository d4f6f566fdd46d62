"""``HttpFetcher``: the real ``digest.ports.Fetcher``, over one shared httpx client.

What one ``fetch`` does, in order::

    check_url -> global slot -> per-host slot -> GET, conditional -> 3xx: check target, next hop
                                                  |
        GuardedBackend: resolve, refuse blocked addresses, connect to the checked IP
                                                  |
        status -> 4xx/5xx: HttpStatusError -> body, decoded and capped -> FetchResult

Every failure leaves as a ``digest.errors.FetchError`` subclass (``raise ... from e``), with a
short message that names the host and never the URL's credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import TypeVar

import httpcore
import httpx

from digest.config import Settings
from digest.errors import (
    BlockedAddress,
    BodyTooLarge,
    FetchError,
    FetchTimeout,
    HttpStatusError,
    InvalidFeedUrl,
    TooManyRedirects,
)
from digest.ingest.body import (
    ACCEPT_ENCODING,
    BoundedDecoder,
    conditional_headers,
    parse_max_age,
    parse_retry_after,
)
from digest.ingest.netguard import (
    AddressPolicy,
    GuardedBackend,
    Resolver,
    address_policy,
    check_url,
    system_resolver,
)
from digest.models import FetchResult

T = TypeVar("T")

USER_AGENT = "newsdigest-bot/0.1 (+https://github.com/newsdigest/newsdigest-bot)"
# Feeds first, then pages: the same fetcher loads article pages for their full text.
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, text/html;q=0.7, */*;q=0.1"
)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TIMEOUTS = (httpx.TimeoutException, httpcore.TimeoutException)
_TRANSPORT_ERRORS = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.StreamError,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
    OSError,
)


class HttpFetcher:
    """Fetches feeds and article pages with limits, conditional GET and the SSRF guard.

    Built by the composition root (``digest.app.open_app``) from ``Settings``; close it with
    ``aclose()`` or ``async with``. ``resolver``, ``is_blocked`` and ``network_backend`` are
    seams for tests: a fake DNS, a policy that lets loopback through, a recording backend.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        is_blocked: AddressPolicy | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._settings = settings
        if is_blocked is None:
            is_blocked = address_policy(settings.allow_private_networks)
        self._is_blocked = is_blocked
        backend = GuardedBackend(
            network_backend or httpcore.AnyIOBackend(),
            resolver=resolver or system_resolver,
            is_blocked=is_blocked,
        )
        pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            # No pool cap: the semaphores below bound the requests in flight, and a fetch
            # queued on them waits without a clock running, unlike one queued in the pool.
            max_connections=None,
            max_keepalive_connections=settings.fetch_concurrency,
            keepalive_expiry=30.0,
            network_backend=backend,
        )
        self._client = httpx.AsyncClient(
            transport=_PoolTransport(pool),
            trust_env=False,  # no proxies or .netrc from the environment around the guard
            # Feeds are anonymous: keep no cookies, so one site's cannot follow us to another.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            follow_redirects=False,  # every hop is checked here, not inside httpx
            timeout=httpx.Timeout(
                connect=settings.fetch_connect_timeout,
                read=settings.fetch_read_timeout,
                write=settings.fetch_read_timeout,
                pool=settings.fetch_connect_timeout,
            ),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )
        self._all = asyncio.Semaphore(settings.fetch_concurrency)
        self._hosts = _HostSlots(settings.fetch_per_host)

    async def __aenter__(self) -> HttpFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections. Called by ``open_app`` on the way out."""
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """GET ``url``, following redirects, and return the final answer.

        Called by the poller (feeds and article pages) and by ``DigestService.add_feed``.
        ``etag``/``last_modified`` are the validators stored from the last fetch; a 304 comes
        back as ``FetchResult(status=304, content=b"")`` carrying them on. ``FetchResult.url``
        is the final URL without any credentials. Raises ``BlockedAddress``,
        ``TooManyRedirects``, ``BodyTooLarge``, ``FetchTimeout``, ``HttpStatusError`` (any
        4xx/5xx), or plain ``FetchError`` (not a URL, connection failed, broken response).
        """
        target = self._first_target(url)
        headers = conditional_headers(etag, last_modified)
        async with self._all:
            return await self._follow(target, headers, etag, last_modified)

    async def _follow(
        self,
        target: httpx.URL,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        budget = _Budget(self._settings.fetch_total_timeout)
        seen = {str(target)}
        for _hop in range(self._settings.fetch_max_redirects + 1):
            async with self._hosts.hold(target.host):
                outcome = await budget.spend(
                    self._exchange(target, headers, etag, last_modified), target.host
                )
            if isinstance(outcome, FetchResult):
                return outcome
            here = target.host
            target = self._redirect_target(outcome, here)
            if str(target) in seen:
                raise TooManyRedirects(f"{here}: redirect loop")
            seen.add(str(target))
        limit = self._settings.fetch_max_redirects
        raise TooManyRedirects(f"{target.host}: more than {limit} redirects")

    def _first_target(self, url: str) -> httpx.URL:
        """The URL to request first, checked as the caller spelled it and as httpx reads it
        (what one parser accepts, another may read differently)."""
        try:
            check_url(url, is_blocked=self._is_blocked)
            parsed = httpx.URL(url)
            check_url(str(parsed), is_blocked=self._is_blocked)
        except BlockedAddress:
            raise  # includes UnsupportedScheme, which is an InvalidFeedUrl too
        except InvalidFeedUrl as e:
            raise FetchError(str(e)) from e
        except httpx.InvalidURL as e:
            raise FetchError("not a URL: httpx cannot read it") from e
        return parsed

    def _redirect_target(self, url: httpx.URL, host: str) -> httpx.URL:
        """A redirect target, checked like a first URL; ``host`` is the one redirecting."""
        try:
            check_url(str(url), is_blocked=self._is_blocked)
        except BlockedAddress as e:  # before InvalidFeedUrl: UnsupportedScheme is both
            raise BlockedAddress(f"{host}: redirect refused: {e}") from e
        except InvalidFeedUrl as e:
            raise FetchError(f"{host}: redirect target is {e}") from e
        return url

    async def _exchange(
        self,
        url: httpx.URL,
        headers: dict[str, str],
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult | httpx.URL:
        """One request/response; returns the result, or where a redirect points."""
        host = url.host
        try:
            request = self._client.build_request("GET", url, headers=headers)
            try:
                response = await self._client.send(request, stream=True)
            except (httpx.InvalidURL, httpx.RemoteProtocolError) as e:
                # httpx resolves a redirect's Location even when not following it. Our
                # transport lets httpcore's errors through unmapped, so an *httpx* error
                # of these kinds can only come from that step.
                raise FetchError(f"{host}: redirect to an unusable Location") from e
            try:
                return await self._answer(response, url, etag, last_modified)
            finally:
                await response.aclose()
        except FetchError:
            raise
        except _TIMEOUTS as e:
            connecting = isinstance(
                e, httpx.ConnectTimeout | httpx.PoolTimeout | httpcore.ConnectTimeout
            )
            phase = "connecting" if connecting else "waiting for data"
            raise FetchTimeout(f"{host}: timed out {phase}") from e
        except (httpx.ConnectError, httpcore.ConnectError) as e:
            raise FetchError(f"{host}: could not connect ({_detail(e, url)})") from e
        except _TRANSPORT_ERRORS as e:
            raise FetchError(f"{host}: {_detail(e, url)}") from e

    async def _answer(
        self,
        response: httpx.Response,
        url: httpx.URL,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult | httpx.URL:
        status = response.status_code
        host = url.host
        if status in _REDIRECTS:
            # httpx has already resolved the Location against the request URL (relative
            # forms, host-less absolute forms, fragments) as it would when following it.
            if response.next_request is None:
                raise FetchError(f"{host}: HTTP {status} redirect without a Location")
            return response.next_request.url
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status >= 400:
            phrase = httpx.codes.get_reason_phrase(status)  # not the server's own wording
            raise HttpStatusError(status, f"{host}: HTTP {status} {phrase}".rstrip(), retry_after)
        public_url = str(url.copy_with(username=None, password=None))
        max_age = parse_max_age(response.headers.get("cache-control"))
        if status == 304:
            return FetchResult(
                url=public_url,
                status=304,
                etag=response.headers.get("etag") or etag,
                last_modified=response.headers.get("last-modified") or last_modified,
                max_age=max_age,
                retry_after=retry_after,
            )
        if not 200 <= status < 300:
            raise FetchError(f"{host}: unexpected HTTP {status}")
        content = await self._read_body(response, host)
        return FetchResult(
            url=public_url,
            status=status,
            content=content,
            content_type=response.headers.get("content-type"),
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            max_age=max_age,
            retry_after=retry_after,
        )

    async def _read_body(self, response: httpx.Response, host: str) -> bytes:
        """The decoded body; stops reading as soon as it passes ``fetch_max_bytes``."""
        limit = self._settings.fetch_max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(f"{host}: body is {declared} bytes, the limit is {limit}")
        decoder = BoundedDecoder(response.headers.get("content-encoding", ""), limit, host)
        body = bytearray()
        # Raw bytes, decoded here: httpx's own decoder inflates a whole chunk at once, and
        # one 64 KiB chunk of a gzip bomb is tens of megabytes.
        async for chunk in response.aiter_raw():
            body += decoder.decode(chunk)
        body += decoder.flush()
        return bytes(body)


class _PoolTransport(httpx.AsyncBaseTransport):
    """An httpx transport over an httpcore pool built here.

    Why not ``httpx.AsyncHTTPTransport``: it builds its pool itself and takes no
    ``network_backend``, which is where the connect-time guard sits; swapping its private
    ``_pool`` would break silently on an upgrade. This uses only public httpx and httpcore
    API. httpcore errors come out unmapped; ``HttpFetcher._exchange`` maps both families.
    """

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self._pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,  # carries the connect/read timeouts
        )
        core_response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_CoreStream(core_response),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _CoreStream(httpx.AsyncByteStream):
    def __init__(self, response: httpcore.Response) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_stream():
            yield chunk

    async def aclose(self) -> None:
        await self._response.aclose()


@dataclass
class _Slot:
    semaphore: asyncio.Semaphore
    users: int = 0


class _HostSlots:
    """A semaphore per host, dropped once no fetch holds or waits for it."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._slots: dict[str, _Slot] = {}

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        slot = self._slots.setdefault(host, _Slot(asyncio.Semaphore(self._per_host)))
        slot.users += 1
        try:
            async with slot.semaphore:
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._slots[host]


class _Budget:
    """What is left of ``fetch_total_timeout`` across the hops of one fetch.

    Only time spent on the network is charged: waiting for a free slot is our own queue,
    and charging it would time out fetches of busy hosts that never got to start.
    """

    def __init__(self, seconds: float) -> None:
        self._total = seconds
        self._remaining = seconds

    async def spend(self, work: Awaitable[T], host: str) -> T:
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = asyncio.timeout(max(self._remaining, 0.0))
        try:
            async with deadline:
                return await work
        except TimeoutError as e:
            if deadline.expired():
                raise FetchTimeout(f"{host}: gave up after {self._total:g}s") from e
            raise
        finally:
            self._remaining -= loop.time() - started


def _detail(error: BaseException, url: httpx.URL) -> str:
    """A short description of a library error, with the URL's credentials cut out."""
    text = str(error) or type(error).__name__
    userinfo = url.userinfo.decode("ascii", "replace")
    # The user name alone is only cut when long enough not to mangle ordinary words.
    username = url.username if len(url.username) >= 4 else ""
    for secret in (userinfo, url.password, username):
        if secret:
            text = text.replace(secret, "***")
    return text[:200]
