"""Recorded requests, Discord's error answers and failure injection for the fake Discord.

``FailureBook`` holds what ``FakeDiscord.fail_next`` asked for; the REST middleware takes the
first matching entry before any handler runs (so an injected answer wins over auth and
validation), and every request is recorded first either way.
"""

from __future__ import annotations

import fnmatch
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.fake_discord_rules import FormErrors


class ApiError(Exception):
    """Raised by a handler; becomes Discord's JSON error answer."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.body = status, {"code": code, "message": message}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


def form_error(errors: FormErrors) -> web.Response:
    return json_response(400, errors.body())


@dataclass
class RecordedRequest:
    method: str
    path: str  # below /api/v10, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    headers: dict[str, str]  # Authorization redacted
    status: int | None = None


@dataclass(frozen=True)
class Failure:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    def response(self) -> web.Response:
        if isinstance(self.body, dict | list):
            return json_response(self.status, self.body, dict(self.headers))
        return web.Response(status=self.status, text=str(self.body), headers=dict(self.headers))


def rate_limited(
    retry_after: float = 0.05, *, is_global: bool = False, via: bool = True
) -> Failure:
    """Discord's 429: ``retry_after`` (float seconds) and ``global`` in the body, ``Retry-After``
    and ``X-RateLimit-*`` headers. ``via=False`` drops the ``Via`` header Discord's own answers
    carry; discord.py then takes the 429 for a Cloudflare ban and raises at once."""
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    else:
        headers |= {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket429",
        }
    if via:
        headers["Via"] = "1.1 google"
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }
    return Failure(429, body, headers)


def missing_access() -> Failure:
    return Failure(403, {"code": 50001, "message": "Missing Access"})


def missing_permissions() -> Failure:
    return Failure(403, {"code": 50013, "message": "Missing Permissions"})


def unknown_channel() -> Failure:
    return Failure(404, {"code": 10003, "message": "Unknown Channel"})


def unknown_message() -> Failure:
    return Failure(404, {"code": 10008, "message": "Unknown Message"})


def invalid_form_body(errors: dict[str, Any] | None = None) -> Failure:
    errors = errors or {
        "content": {
            "_errors": [
                {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
            ]
        }
    }
    return Failure(400, {"code": 50035, "errors": errors, "message": "Invalid Form Body"})


def server_error(status: int = 500) -> Failure:
    return Failure(status, {"code": 0, "message": f"{status}: Internal Server Error"})


@dataclass
class InjectedFailure:
    patterns: list[tuple[str | None, str]]  # (method or None for any, fnmatch path)
    failure: Failure
    times: int

    def matches(self, method: str, path: str) -> bool:
        return any(m in (None, method) and fnmatch.fnmatchcase(path, p) for m, p in self.patterns)


class FailureBook:
    def __init__(self) -> None:
        self.pending: list[InjectedFailure] = []

    def add(self, target: int | str, failure: Failure, times: int) -> None:
        """``target``: a channel id (any request under ``/channels/<id>``), or ``"METHOD
        /path"`` / ``"/path"`` with fnmatch wildcards (``*`` spans ``/`` too);
        ``{placeholders}`` read as ``*``."""
        if isinstance(target, int):
            patterns: list[tuple[str | None, str]] = [
                (None, f"/channels/{target}"),
                (None, f"/channels/{target}/*"),
            ]
        else:
            method, _, pattern = target.rpartition(" ")
            while "{" in pattern:
                start = pattern.index("{")
                pattern = pattern[:start] + "*" + pattern[pattern.index("}", start) + 1 :]
            patterns = [(method.upper() or None, pattern)]
        self.pending.append(InjectedFailure(patterns, failure, times))

    def take(self, method: str, path: str) -> Failure | None:
        for injected in self.pending:
            if injected.matches(method, path):
                injected.times -= 1
                if injected.times <= 0:
                    self.pending.remove(injected)
                return injected.failure
        return None


def snowflake(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ApiError(
            400, 50035, "Invalid Form Body (snowflake: Value is not snowflake.)"
        ) from None
