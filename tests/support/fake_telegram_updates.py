"""The fake Bot API's update queue: ``getUpdates`` long polling and webhook delivery.

Telegram keeps an update until a later ``getUpdates`` confirms it with ``offset`` greater
than its ``update_id`` (a negative offset keeps only the last ``-offset`` updates). A
``getUpdates`` with ``timeout`` holds until an update is there or the timeout passes; a second
concurrent call ends the first with 409 "terminated by other getUpdates request", and while a
webhook is set ``getUpdates`` answers 409 too. ``allowed_updates`` is remembered between
calls; by default ``chat_member``, ``message_reaction`` and ``message_reaction_count``
updates are not delivered. Updates of a type not allowed are dropped when they come up.
"""

# ``timeout`` is the Bot API's parameter name.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import aiohttp

from tests.support.fake_telegram_errors import ApiError

NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


class UpdateQueue:
    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []
        self.delivered = 0  # updates handed out by getUpdates or the webhook (with repeats)
        self.allowed: list[str] | None = None
        self._ids = itertools.count(820_000_001)
        self._serial = 0
        self._changed = asyncio.Event()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def put(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = next(self._ids)
        self.pending.append({"update_id": update_id, kind: payload})
        self._wake()
        return update_id

    def drop_all(self) -> None:
        self.pending.clear()

    def confirm(self, offset: int) -> None:
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self.allowed:
            return kind in self.allowed
        return kind not in NOT_BY_DEFAULT

    def batch(self, limit: int) -> list[dict[str, Any]]:
        self.pending = [u for u in self.pending if self._wanted(u)]
        return self.pending[:limit]

    async def get_updates(
        self, *, offset: int, limit: int, timeout: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        """What ``getUpdates`` answers (raises ``ApiError`` 409 when superseded)."""
        if allowed is not None:
            self.allowed = allowed
        self.confirm(offset)
        self._serial += 1
        serial = self._serial
        self._wake()  # an older poll still waiting learns it was superseded
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            if serial != self._serial:
                raise ApiError(409, TERMINATED)
            found = self.batch(max(1, min(limit, 100)))
            remaining = deadline - loop.time()
            if found or remaining <= 0:
                self.delivered += len(found)
                return found
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def push_to_webhook(
        self, url: str, secret_token: str | None, *, timeout: float = 3.0
    ) -> list[int]:
        """POST each pending update to ``url`` (with the secret-token header when set), in
        order; an update is confirmed on a 2xx, else it stays and delivery stops there as
        Telegram retries it later. Returns the HTTP statuses."""
        headers = {"Content-Type": "application/json"}
        if secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        statuses: list[int] = []
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with aiohttp.ClientSession(timeout=client_timeout) as session:
            for update in list(self.batch(100)):
                async with session.post(url, json=update, headers=headers) as response:
                    statuses.append(response.status)
                    self.delivered += 1
                    if not 200 <= response.status < 300:
                        break
                    self.pending.remove(update)
        return statuses
