"""Pointing the real discord.py 2.7 client at a ``FakeDiscord`` (re-exported there).

discord.py keeps its endpoints in two class attributes, process-wide: ``Route.BASE`` (every
REST and interaction-webhook URL is ``Route.BASE + path``, computed when a ``Route`` is
created) and ``DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``: discord.py calls
``with_query`` on it; a plain ``Client`` never asks ``GET /gateway/bot``).
"""

# These helpers wait on the fake with a ``timeout`` argument, as their callers expect.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import discord.gateway
import discord.http
import yarl

if TYPE_CHECKING:
    from tests.support.fake_discord import FakeDiscord


@contextlib.contextmanager
def point_discord_py_at(dc: FakeDiscord) -> Iterator[None]:
    """Point discord.py (process-wide) at ``dc`` and restore the real URLs afterwards."""
    route, socket_cls = discord.http.Route, discord.gateway.DiscordWebSocket
    old_base, old_gateway = route.BASE, socket_cls.DEFAULT_GATEWAY
    route.BASE = dc.api_base
    socket_cls.DEFAULT_GATEWAY = yarl.URL(dc.gateway_url)
    try:
        yield
    finally:
        route.BASE, socket_cls.DEFAULT_GATEWAY = old_base, old_gateway


@contextlib.asynccontextmanager
async def running_client(
    dc: FakeDiscord, client: Any, *, token: str | None = None, timeout: float = 5.0
) -> AsyncIterator[asyncio.Task[None]]:
    """Log ``client`` in against ``dc``, run ``client.connect()`` in a task, wait until it is
    ready; on exit close the client and await the task. Yields the task."""
    with point_discord_py_at(dc):
        task: asyncio.Task[None] | None = None
        try:
            await client.login(token or dc.token)
            task = asyncio.create_task(client.connect())
            ready = asyncio.ensure_future(client.wait_until_ready())
            done, _ = await asyncio.wait(
                {ready, task}, timeout=timeout, return_when="FIRST_COMPLETED"
            )
            if ready not in done:
                ready.cancel()
                if task in done:
                    task.result()  # raises what stopped the client
                raise AssertionError(f"discord.py client not ready after {timeout}s")
            yield task
        finally:
            await client.close()
            if task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, timeout)
