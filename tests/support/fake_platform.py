"""A fake chat platform on 127.0.0.1 over HTTP, and the ``Sender`` that talks to it.

The server (``FakePlatform``) takes ``POST /send`` with JSON ``{chat, thread, key, text}``
and answers like a chat API: 200 ``{message_id}``; 429 ``{retry_after}`` past its rate
limit (a token bucket: ``rate`` per second, ``burst`` at once); 403 for a chat in
``gone``; 400 when ``reject`` is in the text. With ``idempotent`` a repeated ``key``
returns the first message (Discord's ``enforce_nonce``) instead of posting again.
``GET /stats`` and ``GET /log`` report what it saw, for a server in another process::

    python -m tests.support.fake_platform --rate 1000 --burst 50 [--idempotent]
    # prints its port, serves until SIGTERM

``HttpSender`` maps the answers to the sender port's failure classes, in one place.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

from digest.delivery.sender import OutgoingMessage, SendReceipt
from digest.errors import DestinationGone, RejectedContent, RetryLater

HOST = "127.0.0.1"


class FakePlatform:
    def __init__(
        self,
        *,
        rate: float | None = None,
        burst: float = 1.0,
        idempotent: bool = False,
        latency: float = 0.0,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.idempotent = idempotent
        self.latency = latency
        self.gone: set[str] = set()
        self.accepted: list[tuple[str, str, float]] = []  # (key, chat, monotonic time)
        self.attempts = 0
        self.too_many = 0
        self.deduplicated = 0
        self.repeated: list[str] = []  # keys sent again (answered from the first message)
        self._by_key: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._tokens = burst
        self._refilled = time.monotonic()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_post("/send", self._send)
        app.router.add_get("/stats", self._stats)
        app.router.add_get("/log", self._log)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakePlatform:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- what it saw -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        times = [t for _, _, t in self.accepted]
        counts = Counter(key for key, _, _ in self.accepted)
        return {
            "attempts": self.attempts,
            "accepted": len(self.accepted),
            "too_many": self.too_many,
            "deduplicated": self.deduplicated,
            "duplicates": sum(n - 1 for n in counts.values()),
            "first": min(times, default=0.0),
            "last": max(times, default=0.0),
        }

    def keys(self) -> Counter[str]:
        return Counter(key for key, _, _ in self.accepted)

    # -- handlers --------------------------------------------------------------------------

    def _take_token(self) -> float:
        """0 when a request may pass now, else the seconds until it may."""
        if self.rate is None:
            return 0.0
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def _send(self, request: web.Request) -> web.Response:
        self.attempts += 1
        body = await request.json()
        wait = self._take_token()
        if wait:
            self.too_many += 1
            return web.json_response({"retry_after": wait, "scope": "platform"}, status=429)
        chat, key = str(body["chat"]), str(body["key"])
        if chat in self.gone:
            return web.json_response({"description": "Forbidden: bot was blocked"}, status=403)
        if "reject" in str(body.get("text", "")):
            return web.json_response({"description": "Bad Request: message"}, status=400)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.idempotent and key in self._by_key:
            self.deduplicated += 1
            self.repeated.append(key)
            return web.json_response({"message_id": self._by_key[key]})
        message_id = next(self._ids)
        self._by_key[key] = message_id
        self.accepted.append((key, chat, time.monotonic()))
        return web.json_response({"message_id": message_id})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _log(self, request: web.Request) -> web.Response:
        return web.json_response([[key, chat, t] for key, chat, t in self.accepted])


class HttpSender:
    """The sender for ``FakePlatform``; ``too_many`` counts the 429s it received."""

    def __init__(self, base_url: str, *, platform: str = "fake", connections: int = 100) -> None:
        self.platform = platform
        self._url = base_url.rstrip("/") + "/send"
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        self.too_many = 0

    async def send(self, message: OutgoingMessage) -> SendReceipt:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._connections)
            self._session = aiohttp.ClientSession(connector=connector)
        payload = {
            "chat": message.destination.chat,
            "thread": message.destination.thread,
            "key": message.idempotency_key,
            "text": "\n\n".join(card.title for card in message.cards),
        }
        try:
            async with self._session.post(self._url, json=payload) as response:
                status, body = response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, OSError) as e:
            raise RetryLater(f"network: {e}") from e
        if status == 200:
            return SendReceipt.of(body["message_id"])
        description = str(body.get("description", status)) if isinstance(body, dict) else ""
        if status == 429:
            self.too_many += 1
            raise RetryLater(
                "Too Many Requests", float(body["retry_after"]), scope=body.get("scope", "chat")
            )
        if status in (403, 404):
            raise DestinationGone(description)
        if status == 400:
            raise RejectedContent(description)
        raise RetryLater(f"HTTP {status}: {description}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


async def fetch_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


async def _serve(args: argparse.Namespace) -> None:
    platform = FakePlatform(rate=args.rate, burst=args.burst, idempotent=args.idempotent)
    await platform.start()
    print(platform.port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await platform.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--burst", type=float, default=1.0)
    parser.add_argument("--idempotent", action="store_true")
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
