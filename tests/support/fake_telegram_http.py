"""The fake Bot API's HTTP side: ``/bot<TOKEN>/<method>`` routing, token check, reading
parameters, injected failures, recording, and the ``{"ok": ...}`` envelope.

Order per request, as the real server: a token of the wrong shape → 404 "Not Found", a wrong
token → 401 "Unauthorized" (neither recorded); then the call is recorded, an injected
failure (``fail_next``) wins over everything else, an unknown method → 404, else the method
runs. A request the client abandoned (a cancelled long poll, a timed-out slow answer) stays
recorded with ``status`` None.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support import fake_telegram_settings  # noqa: F401  (registers its methods)
from tests.support.fake_telegram_errors import ApiError
from tests.support.fake_telegram_methods import HANDLERS
from tests.support.fake_telegram_params import Params, decode
from tests.support.fake_telegram_updates import WEBHOOK_ACTIVE
from tests.support.fake_telegram_world import RecordedRequest

if TYPE_CHECKING:
    from tests.support.fake_telegram import FakeTelegram

_PATH = re.compile(r"^/bot([^/]*)/([A-Za-z]+)/?$")
_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
LOG = logging.getLogger("tests.support.fake_telegram")


def make_app(tg: FakeTelegram) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await dispatch(tg, request)

    app = web.Application(client_max_size=50 * 1024 * 1024)  # photos go up to 10 MB
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def dispatch(tg: FakeTelegram, request: web.Request) -> web.StreamResponse:
    match = _PATH.match(request.path)
    if match is None or not _TOKEN_SHAPE.match(match.group(1)):
        return _answer(ApiError(404, "Not Found").body(), 404)
    name = match.group(2)
    if match.group(1) != tg.token:
        LOG.debug("fake Telegram: %s with a wrong token -> 401", name)
        return _answer(ApiError(401, "Unauthorized").body(), 401)
    raw, files = await _read_params(request)
    record = RecordedRequest(name, decode(raw), dict(request.headers), request.content_type, files)
    tg.requests.append(record)
    tg.notify()
    status, body = await _answer_call(tg, name, record)
    record.status, record.response = status, body
    if status == 429:
        tg.too_many_requests += 1
    LOG.debug("fake Telegram: %s -> %s", name, status)
    tg.notify()
    return _answer(body, status)


async def _answer_call(
    tg: FakeTelegram, name: str, record: RecordedRequest
) -> tuple[int, dict[str, Any]]:
    params = Params(record.params)
    chat_ids: set[int | str] = set()
    if "chat_id" in params:
        raw_chat = params.text("chat_id") or ""
        found = tg.find_chat(raw_chat)
        chat_ids.add(raw_chat)
        if found is not None:
            chat_ids.add(found.id)
        elif raw_chat.lstrip("-").isdigit():
            chat_ids.add(int(raw_chat))
    failure = tg.failures.take(name, chat_ids)
    if failure and failure.delay and not failure.deliver_first:
        await asyncio.sleep(failure.delay)
    try:
        injected = failure.error() if failure else None
        if injected is not None:
            raise injected
        result = await _run(tg, name, params)
    except ApiError as error:
        return error.status, error.body()
    except Exception:  # a bug in the fake: answer like Telegram's 500, loudly in the log
        LOG.exception("fake Telegram: %s failed", name)
        return 500, ApiError(500, "Internal Server Error").body()
    if failure and failure.delay and failure.deliver_first:
        await asyncio.sleep(failure.delay)
    return 200, {"ok": True, "result": result}


async def _run(tg: FakeTelegram, name: str, params: Params) -> Any:
    if name.lower() == "getupdates":
        if tg.webhook.get("url"):
            raise ApiError(409, WEBHOOK_ACTIVE)
        return await tg.updates.get_updates(
            offset=params.integer("offset", 0) or 0,
            limit=params.integer("limit", 100) or 100,
            timeout=params.number("timeout", 0.0),
            allowed=params.obj("allowed_updates", list),
        )
    handler = HANDLERS.get(name.lower())
    if handler is None:
        raise ApiError(404, "Not Found")
    return handler(tg, params)


def _answer(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json"
    )


async def _read_params(request: web.Request) -> tuple[dict[str, Any], list[str]]:
    """Query string and body parameters; uploaded files read as "<upload>" (also where a
    parameter names one with ``attach://``)."""
    params: dict[str, Any] = dict(request.query)
    files: list[str] = []
    if request.content_type == "application/json":
        body = await request.json() if request.can_read_body else {}
        params |= body if isinstance(body, dict) else {}
    elif request.can_read_body:
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files.append(key)
                params[key] = "<upload>"
            else:
                params[key] = value
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            params[key] = "<upload>"
    return params, files
