"""A fake Anthropic Messages API on 127.0.0.1 (random port), for the real SDK over real HTTP.

The SDK's transport is httpx2, which respx and ``httpx.MockTransport`` do not see; so tests
point ``base_url`` at this server instead::

    async with FakeAnthropic() as api:
        api.script(card_reply(), rate_limited(retry_after=0.05), overloaded())
        client = anthropic.AsyncAnthropic(api_key="sk-test", base_url=api.url, max_retries=1)
        ...
        assert len(api.message_requests) == 1
        assert api.message_requests[0].json["system"] == ...

Each ``POST /v1/messages`` (and each request inside a new batch) takes the next scripted
``Reply``, in order: a message (``message``/``json_message``), an API error
(``rate_limited`` 429 with ``retry-after``, ``overloaded`` 529, ``bad_request`` 400,
``server_error`` 500), any of them late (``slow``), or, for batch items only, ``expired()``
and ``canceled()``. With the script used up the server answers 500 with
``x-should-retry: false`` and counts it in ``unexpected``, so a test that makes more
requests than it scripted fails loudly instead of hanging in the SDK's retries.

Like the real API, it answers 401 without credentials (SDK 2.x sends the key as
``Authorization: Bearer``; ``x-api-key`` is accepted too), 400 for a body that is not
JSON or lacks ``model``/``max_tokens``/``messages``, and 400 for an ``output_config``
schema that structured outputs would refuse (an object without ``additionalProperties:
false``, or length/size keywords such as ``maxLength``).

Message Batches: ``POST /v1/messages/batches`` scripts every item at creation; ``GET
/v1/messages/batches/{id}`` shows ``in_progress`` for ``batch_polls`` polls, then ``ended``
with the counts and an absolute ``results_url`` whose ``GET`` streams the ``.jsonl``
results (in reverse order, as the real API promises no order); ``POST .../cancel`` and
``GET /v1/messages/batches`` (list) work too. A cancelled batch stays ``canceling`` for
``cancel_polls`` polls (default 0: it ends at once); its first ``cancel_keeps`` items
(default 0) count as processed before the cancel and keep their results, the rest are
``canceled``. ``fail_batch_api("create", overloaded())`` makes the next call(s) to one
batch endpoint (``create``, ``retrieve``, ``cancel``, ``results``) answer with those API
errors instead. Shapes follow ``anthropic.types.Message``,
``anthropic.types.messages.MessageBatch`` and ``MessageBatchIndividualResponse``.

The replies, and for the card engine's tests ``SAMPLE_ARTICLE`` and answers about it
(``card_reply``, ``malformed_reply``, ...), live in ``tests.support.fake_anthropic_replies``
and are re-exported here, so tests import everything from this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from tests.support.fake_anthropic_replies import (
    SAMPLE_ARTICLE,
    SAMPLE_TITLE,
    Reply,
    api_error,
    bad_request,
    canceled,
    card_data,
    card_reply,
    expired,
    extractive_card,
    json_message,
    malformed_reply,
    message,
    overloaded,
    rate_limited,
    schema_violating_reply,
    server_error,
    slow,
    truncated_reply,
)

__all__ = [
    "HOST", "SAMPLE_ARTICLE", "SAMPLE_TITLE", "FakeAnthropic", "Reply", "SeenRequest",
    "api_error", "bad_request", "canceled", "card_data", "card_reply", "expired",
    "extractive_card", "json_message", "malformed_reply", "message", "overloaded",
    "rate_limited", "schema_violating_reply", "server_error", "slow", "truncated_reply",
]  # fmt: skip

HOST = "127.0.0.1"
_UNSUPPORTED_SCHEMA_KEYWORDS = frozenset(
    {"minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
     "multipleOf", "maxItems", "uniqueItems", "minProperties", "maxProperties"}
)  # fmt: skip


# -- what arrived ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: CIMultiDictProxy[str]
    json: Any


@dataclass
class _Batch:
    id: str
    created_at: datetime
    items: list[tuple[str, Reply, dict[str, Any]]]  # custom_id, scripted reply, params
    polls_left: int
    canceled: bool = False
    cancel_polls_left: int = 0
    ended_at: datetime | None = None

    @property
    def ended(self) -> bool:
        if self.ended_at is None and (
            (self.canceled and self.cancel_polls_left <= 0) or self.polls_left <= 0
        ):
            self.ended_at = datetime.now(UTC)
        return self.ended_at is not None


# -- the server ------------------------------------------------------------------------------


class FakeAnthropic:
    def __init__(self, *, batch_polls: int = 1) -> None:
        self.requests: list[SeenRequest] = []
        self.unexpected = 0
        self.batch_polls = batch_polls
        self.cancel_polls = 0  # polls a cancelled batch stays "canceling"
        self.cancel_keeps = 0  # items of a cancelled batch processed before the cancel
        self._script: list[Reply] = []
        # Answers requests once the script is used up (benchmarks, whole-pipeline tests).
        self.responder: Callable[[dict[str, Any]], Reply] | None = None
        self._batches: dict[str, _Batch] = {}
        self._batch_failures: dict[str, list[Reply]] = {}
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/v1/messages", self._messages)
        app.router.add_post("/v1/messages/batches", self._create_batch)
        app.router.add_get("/v1/messages/batches", self._list_batches)
        app.router.add_get("/v1/messages/batches/{id}", self._get_batch)
        app.router.add_post("/v1/messages/batches/{id}/cancel", self._cancel_batch)
        app.router.add_get("/v1/messages/batches/{id}/results", self._batch_results)
        # Cancel a handler when its client goes away, so a slow answer ends with the test.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeAnthropic:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The ``base_url`` to give the SDK."""
        return f"http://{HOST}:{self.port}"

    # -- scripting and inspection --------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue answers; each message request (or batch item) takes the next one."""
        self._script.extend(replies)

    def fail_batch_api(self, endpoint: str, *replies: Reply) -> None:
        """Answer the next calls to a batch ``endpoint`` ("create", "retrieve", "cancel" or
        "results") with ``replies`` (API errors), one each, before anything else."""
        if endpoint not in {"create", "retrieve", "cancel", "results"}:
            raise ValueError(f"no batch endpoint {endpoint!r}")
        self._batch_failures.setdefault(endpoint, []).extend(replies)

    @property
    def batch_requests(self) -> list[SeenRequest]:
        """Every request to a ``/v1/messages/batches`` endpoint, in order."""
        return [r for r in self.requests if r.path.startswith("/v1/messages/batches")]

    def _batch_failure(self, endpoint: str) -> web.Response | None:
        replies = self._batch_failures.get(endpoint)
        if not replies:
            return None
        reply = replies.pop(0)
        return _error(reply.status, reply.error_type, reply.error_message, reply.headers)

    @property
    def pending(self) -> int:
        """Scripted answers not used yet."""
        return len(self._script)

    @property
    def message_requests(self) -> list[SeenRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    def _next(self, params: dict[str, Any]) -> Reply | None:
        if self._script:
            return self._script.pop(0)
        return self.responder(params) if self.responder else None

    # -- /v1/messages ----------------------------------------------------------------------

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body, problem = await self._read(request)
        if problem is not None:
            return problem
        params_problem = _check_message_params(body)
        if params_problem is not None:
            return _error(400, "invalid_request_error", params_problem)
        reply = self._next(body)
        if reply is None:
            self.unexpected += 1
            return _error(500, "api_error", "fake: no scripted answer", {"x-should-retry": "false"})
        if reply.delay:
            with contextlib.suppress(TimeoutError):  # the delay ran out: answer now
                await asyncio.wait_for(self._closing.wait(), reply.delay)
        if reply.status != 200:
            return _error(reply.status, reply.error_type, reply.error_message, reply.headers)
        return web.json_response(
            self._message_json(reply, str(body["model"])),
            headers={"request-id": self._id("req")},
        )

    def _message_json(self, reply: Reply, model: str, *, batch: bool = False) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if reply.thinking:
            content.append({"type": "thinking", "thinking": "", "signature": "fake-signature"})
        content.append({"type": "text", "text": reply.text})
        return {
            "id": self._id("msg"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": {
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "service_tier": "batch" if batch else "standard",
            },
        }

    # -- /v1/messages/batches ------------------------------------------------------------

    async def _create_batch(self, request: web.Request) -> web.StreamResponse:
        body, problem = await self._read(request)
        if problem is not None:
            return problem
        failure = self._batch_failure("create")
        if failure is not None:
            return failure
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return _error(400, "invalid_request_error", "requests: must be a non-empty list")
        seen_ids: set[str] = set()
        batch_items = []
        for item in items:
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            params = item.get("params") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not isinstance(params, dict):
                return _error(400, "invalid_request_error", "each request needs custom_id, params")
            if custom_id in seen_ids:
                return _error(400, "invalid_request_error", f"duplicate custom_id {custom_id}")
            problem_text = _check_message_params(params)
            if problem_text is not None:
                return _error(400, "invalid_request_error", f"{custom_id}: {problem_text}")
            seen_ids.add(custom_id)
            reply = self._next(params)
            if reply is None:
                self.unexpected += 1
                reply = server_error("fake: no scripted answer")
            batch_items.append((custom_id, reply, params))
        batch = _Batch(
            id=self._id("msgbatch"),
            created_at=datetime.now(UTC),
            items=batch_items,
            polls_left=self.batch_polls,
        )
        self._batches[batch.id] = batch
        return web.json_response(self._batch_json(batch))

    async def _get_batch(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        failure = self._batch_failure("retrieve")
        if failure is not None:
            return failure
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "not_found_error", "no such batch")
        batch.polls_left -= 1
        if batch.canceled:
            batch.cancel_polls_left -= 1
        return web.json_response(self._batch_json(batch))

    async def _list_batches(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        data = [self._batch_json(b) for b in reversed(self._batches.values())]
        return web.json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    async def _cancel_batch(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        failure = self._batch_failure("cancel")
        if failure is not None:
            return failure
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "not_found_error", "no such batch")
        if not batch.ended and not batch.canceled:
            batch.canceled = True
            batch.cancel_polls_left = self.cancel_polls
            batch.items = [
                (custom_id, reply if i < self.cancel_keeps else canceled(), params)
                for i, (custom_id, reply, params) in enumerate(batch.items)
            ]
        return web.json_response(self._batch_json(batch))

    async def _batch_results(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        failure = self._batch_failure("results")
        if failure is not None:
            return failure
        batch = self._batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "not_found_error", "no such batch")
        if not batch.ended:
            return _error(400, "invalid_request_error", "batch is still processing")
        lines = [
            json.dumps({"custom_id": custom_id, "result": self._item_result(batch, reply, params)})
            for custom_id, reply, params in reversed(batch.items)
        ]
        return web.Response(
            body=("\n".join(lines) + "\n").encode(),
            headers={"Content-Type": "application/binary"},
        )

    def _item_result(self, batch: _Batch, reply: Reply, params: dict[str, Any]) -> dict[str, Any]:
        outcome = reply.batch_outcome
        if outcome in ("canceled", "expired"):
            return {"type": outcome}
        if reply.status != 200:
            return {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {"type": reply.error_type, "message": reply.error_message},
                    "request_id": self._id("req"),
                },
            }
        return {
            "type": "succeeded",
            "message": self._message_json(reply, str(params.get("model")), batch=True),
        }

    def _batch_json(self, batch: _Batch) -> dict[str, Any]:
        ended = batch.ended
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if not ended:
            counts["processing"] = len(batch.items)
        else:
            for _, reply, params in batch.items:
                kind = self._item_result(batch, reply, params)["type"]
                counts[kind] += 1
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended"
            if ended
            else ("canceling" if batch.canceled else "in_progress"),
            "request_counts": counts,
            "created_at": _iso(batch.created_at),
            "expires_at": _iso(batch.created_at + timedelta(hours=24)),
            "ended_at": _iso(batch.ended_at) if batch.ended_at else None,
            "cancel_initiated_at": _iso(batch.ended_at)
            if batch.canceled and batch.ended_at
            else None,
            "archived_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    # -- plumbing --------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def _record(self, request: web.Request, body: Any) -> None:
        self.requests.append(SeenRequest(request.method, request.path, request.headers, body))

    async def _read(self, request: web.Request) -> tuple[Any, web.Response | None]:
        """The JSON body, recorded; or the error response the real API would give."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self._record(request, body)
        if not request.headers.get("x-api-key") and not request.headers.get("authorization"):
            return None, _error(401, "authentication_error", "x-api-key header is required")
        if not isinstance(body, dict):
            return None, _error(400, "invalid_request_error", "body: must be a JSON object")
        return body, None


def _check_message_params(body: dict[str, Any]) -> str | None:
    for key in ("model", "max_tokens", "messages"):
        if body.get(key) is None:
            return f"{key}: Field required"
    fmt = (body.get("output_config") or {}).get("format")
    if fmt is not None:
        if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
            return "output_config.format: must be {type: json_schema, schema: {...}}"
        return _schema_problem(fmt["schema"], "output_config.format.schema")
    return None


def _schema_problem(schema: Any, where: str) -> str | None:
    """What structured outputs would refuse in ``schema``, or ``None``."""
    if not isinstance(schema, dict):
        return None
    bad = _UNSUPPORTED_SCHEMA_KEYWORDS & schema.keys()
    if bad:
        return f"{where}: unsupported keyword {sorted(bad)[0]!r}"
    if schema.get("minItems", 0) not in (0, 1):
        return f"{where}: minItems must be 0 or 1"
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        return f"{where}: objects must set additionalProperties to false"
    for name, sub in (schema.get("properties") or {}).items():
        problem = _schema_problem(sub, f"{where}.{name}")
        if problem:
            return problem
    return _schema_problem(schema.get("items"), f"{where}[]")


def _error(
    status: int, error_type: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    request_id = "req_fake_error"
    return web.json_response(
        {
            "type": "error",
            "error": {"type": error_type, "message": message},
            "request_id": request_id,
        },
        status=status,
        headers={"request-id": request_id, **(headers or {})},
    )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
