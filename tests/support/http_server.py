"""A real HTTP/1.1 server on 127.0.0.1 (random port) for tests that fetch over the wire.

Tests register routes, even after the server started, and then look at what arrived::

    async with LocalHttpServer() as server:
        server.route("/feed.xml", body=b"<rss/>", headers={"ETag": '"v1"'})
        server.redirect("/old", "/feed.xml")
        ...
        assert server.requests[0].headers["User-Agent"].startswith("newsdigest-bot")

It counts TCP connections accepted (``connections``) and requests in flight (``active``,
``max_active``), and offers the bad servers a fetcher must survive: huge streamed bodies,
gzip bombs, bodies that never come or trickle in forever, slow answers.

Below the server: ``FakeResolver`` (scripted DNS) and ``RecordingBackend`` (records what the
fetcher connected to), the seams ``HttpFetcher`` takes for its SSRF-guard tests.
"""

# httpcore's backend and stream interface takes ``timeout`` arguments; the fakes must too.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

HOST = "127.0.0.1"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: str
    headers: CIMultiDictProxy[str]


class LocalHttpServer:
    def __init__(self) -> None:
        self.requests: list[SeenRequest] = []
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self._routes: dict[str, Handler] = {}
        self._closing = asyncio.Event()
        self._web: web.Server | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # Cancel a handler when its client goes away, so never-ending bodies end with the test.
        self._web = web.Server(self._dispatch, handler_cancellation=True)
        web_server = self._web

        def accept() -> asyncio.Protocol:
            self.connections += 1
            return web_server()

        self._server = await loop.create_server(accept, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.close()
        if self._web is not None:
            await self._web.shutdown(timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> LocalHttpServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def url(self, path: str = "/", *, host: str = HOST, userinfo: str | None = None) -> str:
        """``http://127.0.0.1:<port><path>``; ``host`` names it otherwise (e.g. for a fake
        resolver), ``userinfo`` adds ``user:password@``."""
        auth = f"{userinfo}@" if userinfo else ""
        return f"http://{auth}{host}:{self.port}{path}"

    # -- routes ----------------------------------------------------------------------

    def handler(self, path: str, handler: Handler) -> None:
        """Answer ``path`` with any aiohttp handler."""
        self._routes[path] = handler

    def route(
        self,
        path: str,
        *,
        body: bytes = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = "application/rss+xml",
    ) -> None:
        """A fixed answer. ``headers`` are sent as given (e.g. a pre-set Content-Encoding)."""
        all_headers = CIMultiDict(headers or {})
        if content_type and "Content-Type" not in all_headers:
            all_headers["Content-Type"] = content_type

        async def answer(request: web.BaseRequest) -> web.StreamResponse:
            return web.Response(body=body, status=status, headers=all_headers)

        self.handler(path, answer)

    def redirect(self, path: str, location: str, *, status: int = 302) -> None:
        self.route(path, status=status, headers={"Location": location}, content_type=None)

    def streaming(
        self,
        path: str,
        *,
        size: int,
        declare_length: bool = False,
        chunk_size: int = 64 * 1024,
    ) -> None:
        """``size`` bytes of zeros written chunk by chunk (never held whole in memory);
        chunked transfer unless ``declare_length`` sends a Content-Length."""
        chunk = bytes(chunk_size)

        async def answer(request: web.BaseRequest) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            if declare_length:
                response.content_length = size
            await response.prepare(request)
            left = size
            try:
                while left > 0:
                    await response.write(chunk[: min(left, chunk_size)])
                    left -= chunk_size
            except ConnectionError:  # the client stopped reading, as it should
                return response
            await response.write_eof()
            return response

        self.handler(path, answer)

    def hanging(self, path: str, *, first: bytes = b"") -> None:
        """Headers (and ``first``), then silence until the client leaves or the server closes."""

        async def answer(request: web.BaseRequest) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await response.prepare(request)
            if first:
                await response.write(first)
            await self._closing.wait()
            return response

        self.handler(path, answer)

    def dripping(self, path: str, *, every: float) -> None:
        """One byte every ``every`` seconds, forever: each read succeeds, the body never ends."""

        async def answer(request: web.BaseRequest) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await response.prepare(request)
            try:
                while not self._closing.is_set():
                    await response.write(b" ")
                    await asyncio.sleep(every)
            except ConnectionError:
                pass
            return response

        self.handler(path, answer)

    def slow(self, path: str, *, delay: float, body: bytes = b"<rss/>") -> None:
        """Waits ``delay`` seconds before answering (for concurrency and timeout tests)."""

        async def answer(request: web.BaseRequest) -> web.StreamResponse:
            await asyncio.sleep(delay)
            return web.Response(body=body, headers={"Content-Type": "application/rss+xml"})

        self.handler(path, answer)

    # -- plumbing --------------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests.append(
            SeenRequest(request.method, request.path, request.query_string, request.headers)
        )
        handler = self._routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="no such route")
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            return await handler(request)
        finally:
            self.active -= 1


def gzip_bytes(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return compressor.compress(data) + compressor.flush()


def deflate_bytes(data: bytes, *, raw: bool = False) -> bytes:
    """zlib-wrapped deflate (what the RFC means), or ``raw`` deflate (what some servers send)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def gzip_of_zeros(size: int) -> bytes:
    """A gzip body that inflates to ``size`` zero bytes, built without holding ``size`` bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = bytes(1 << 20)
    parts = []
    left = size
    while left > 0:
        parts.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(compressor.flush())
    return b"".join(parts)


# -- fakes for the layer under the fetcher's HTTP client -----------------------------------


class FakeResolver:
    """A ``digest.ingest.netguard.Resolver`` with scripted answers.

    ``answers`` maps a host to the address lists it resolves to, one list per lookup; the
    last list repeats. Unknown hosts fail like a name that does not exist. ``calls`` records
    every lookup, so tests can see a name was resolved exactly once.
    """

    def __init__(self, answers: Mapping[str, list[list[str]]]) -> None:
        self._answers = {host: list(lists) for host, lists in answers.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        lists = self._answers.get(host)
        if not lists:
            raise socket.gaierror(socket.EAI_NONAME, f"fake resolver: no such host {host!r}")
        return lists.pop(0) if len(lists) > 1 else lists[0]


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Wraps an httpcore backend (the real one by default) and records what it was asked:
    ``connects`` holds ``(host, port)`` pairs, ``tls_names`` the ``server_hostname`` of
    every TLS handshake."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.inner = inner or httpcore.AnyIOBackend()
        self.connects: list[tuple[str, int]] = []
        self.tls_names: list[str | None] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        stream = await self.inner.connect_tcp(
            host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )
        return _RecordingStream(stream, self.tls_names)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AssertionError("nothing should open a unix socket")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _RecordingStream(httpcore.AsyncNetworkStream):
    def __init__(self, inner: httpcore.AsyncNetworkStream, tls_names: list[str | None]) -> None:
        self._inner = inner
        self._tls_names = tls_names

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self._tls_names.append(server_hostname)
        return await self._inner.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def canned_backend(body: bytes = b"<rss/>", *, status: str = "200 OK") -> RecordingBackend:
    """A recording backend whose every connection answers one fixed HTTP/1.1 response,
    without any socket: for tests whose URL must name a public address."""
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/rss+xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return RecordingBackend(httpcore.AsyncMockBackend([head, body]))
