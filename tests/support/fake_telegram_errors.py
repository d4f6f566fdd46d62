"""The fake Bot API's error answers, failure injection and flood limits.

Every error is the Bot API's JSON: ``{"ok": false, "error_code": N, "description": "...",
"parameters": {...}}`` (``parameters`` only when there are some). python-telegram-bot 22 maps
the HTTP status and ``parameters`` onto its exceptions in one place
(``BaseRequest._request_wrapper``): ``migrate_to_chat_id`` → ``ChatMigrated``,
``retry_after`` → ``RetryAfter`` (both checked before the status), 400 → ``BadRequest``,
401/404 → ``InvalidToken``, 403 → ``Forbidden``, 409 → ``Conflict``, anything else →
``NetworkError``. It strips a leading ``"Bad Request: "`` and capitalises the rest, so
``str(BadRequest)`` reads "Can't parse entities: ...".

``FailureBook`` holds what ``FakeTelegram.fail_next`` asked for; ``RateLimiter`` enforces
Telegram-like flood limits when the fake is built with ``RateLimits``.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

PRIVATE, GROUP, SUPERGROUP, CHANNEL = "private", "group", "supergroup", "channel"


class ApiError(Exception):
    """Raised by a method handler; becomes the Bot API's error answer."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str, **parameters: Any) -> ApiError:
    return ApiError(400, f"Bad Request: {description}", parameters)


@dataclass(frozen=True)
class Failure:
    """An injected answer. ``status`` None means "answer normally": with ``delay`` that is a
    slow response. ``deliver_first`` makes a slow send take effect before the delay (the
    message arrives although the client times out: the duplicate-on-retry case)."""

    status: int | None
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    deliver_first: bool = False

    def error(self) -> ApiError | None:
        """The error to answer, or None for a slow but normal answer."""
        return None if self.status is None else self.as_error()

    def as_error(self) -> ApiError:
        if self.status is None:
            raise ValueError("a slow answer is not an error")
        return ApiError(self.status, self.description, dict(self.parameters))


def retry_after(seconds: float = 1) -> Failure:
    """429 flood wait. Telegram sends whole seconds; a float is allowed for fast tests
    (PTB accepts it: ``RetryAfter.retry_after`` becomes a fractional timedelta)."""
    shown = int(seconds) if float(seconds).is_integer() else seconds
    return Failure(429, f"Too Many Requests: retry after {shown}", {"retry_after": shown})


def blocked_by_user() -> Failure:
    return Failure(403, "Forbidden: bot was blocked by the user")


def kicked_from_group() -> Failure:
    return Failure(403, "Forbidden: bot was kicked from the group chat")


def kicked_from_supergroup() -> Failure:
    return Failure(403, "Forbidden: bot was kicked from the supergroup chat")


def user_deactivated() -> Failure:
    return Failure(403, "Forbidden: user is deactivated")


def chat_not_found() -> Failure:
    return Failure(400, "Bad Request: chat not found")


def group_upgraded(migrate_to_chat_id: int) -> Failure:
    return Failure(
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": migrate_to_chat_id},
    )


def message_not_modified() -> Failure:
    return Failure(
        400,
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same as a current content and reply markup of the message",
    )


def server_error(status: int = 500) -> Failure:
    """5xx: PTB raises ``NetworkError`` (a 502 is what Telegram answers when overloaded)."""
    text = {500: "Internal Server Error", 502: "Bad Gateway"}.get(status, "Server Error")
    return Failure(status, text)


def api_error(status: int, description: str, **parameters: Any) -> Failure:
    return Failure(status, description, parameters)


def slow(delay: float, *, then: Failure | None = None, deliver_first: bool = False) -> Failure:
    """Answer after ``delay`` seconds: normally, or with ``then``. For client timeouts."""
    if then is None:
        return Failure(None, delay=delay, deliver_first=deliver_first)
    return Failure(then.status, then.description, dict(then.parameters), delay=delay)


QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


@dataclass
class _Injected:
    method: str  # lower case; fnmatch wildcards allowed
    chat_id: int | str | None
    failure: Failure
    times: int


class FailureBook:
    def __init__(self) -> None:
        self.pending: list[_Injected] = []

    def add(self, method: str, chat_id: int | str | None, failure: Failure, times: int) -> None:
        self.pending.append(_Injected(method.lower(), chat_id, failure, times))

    def take(self, method: str, chat_ids: set[int | str]) -> Failure | None:
        """The first pending failure for ``method`` (any chat, or one of ``chat_ids``: the
        request's chat id as sent and as resolved)."""
        for injected in self.pending:
            if not fnmatch.fnmatchcase(method.lower(), injected.method):
                continue
            if injected.chat_id is not None and injected.chat_id not in chat_ids:
                continue
            injected.times -= 1
            if injected.times <= 0:
                self.pending.remove(injected)
            return injected.failure
        return None


@dataclass(frozen=True)
class RateLimits:
    """Telegram's published flood limits for sending; None switches one off. ``retry_after``
    fixes the advertised wait (e.g. 0.05 for fast tests) instead of the real remaining time
    rounded up to whole seconds."""

    per_second: int | None = 30
    private_per_second: int | None = 1
    group_per_minute: int | None = 20
    retry_after: float | None = None


class RateLimiter:
    """Sliding windows over accepted sends: overall per second, per private chat per second,
    per group/supergroup/channel per minute. A refused send does not use up the window."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.refused = 0  # how many 429s the limiter sent
        self._overall: deque[float] = deque()
        self._per_chat: dict[int, deque[float]] = {}

    def check(self, chat_id: int, chat_type: str) -> Failure | None:
        """Count one send to ``chat_id``, or return the 429 that refuses it."""
        now = time.monotonic()
        checks: list[tuple[deque[float], int | None, float]] = [
            (self._overall, self.limits.per_second, 1.0)
        ]
        chat_window = self._per_chat.setdefault(chat_id, deque())
        if chat_type == PRIVATE:
            checks.append((chat_window, self.limits.private_per_second, 1.0))
        else:
            checks.append((chat_window, self.limits.group_per_minute, 60.0))
        wait = 0.0
        for window, limit, span in checks:
            if limit is None:
                continue
            while window and now - window[0] >= span:
                window.popleft()
            if len(window) >= limit:
                wait = max(wait, span - (now - window[0]))
        if wait > 0:
            self.refused += 1
            fixed = self.limits.retry_after
            return retry_after(fixed if fixed is not None else max(1, math.ceil(wait)))
        self._overall.append(now)
        chat_window.append(now)
        return None
