"""The Anthropic SDK at the boundary: the client, the default model, one structured request,
and SDK errors turned into ``ModelError``.

Who calls what:

* the composition root calls ``build_client(settings)`` once and hands the client to
  ``ClaudeEngine`` and ``ClaudeAnswerer``, with ``model_for(settings)`` as their model;
* the engine and the answerer call ``request_json`` (or ``json_params`` then
  ``request_params``), which makes one Messages API request (the SDK retries
  408/409/429/5xx and connection errors itself, ``model_max_retries`` times, honouring
  ``retry-after``) and raises ``ModelError`` when it still fails;
* the batch runner (``anthropic_batches``) sends the same ``json_params`` as batch items
  and reads each answer with ``reply_from_message(..., batch=True)``.

Error mapping (``model_error``), after the SDK's own retries::

    RateLimitError (429)          -> ModelError("... rate limited ...", retry_after)
    OverloadedError (529)         -> ModelError("... overloaded ...", retry_after)
    InternalServerError (5xx)     -> ModelError("... server error ...")
    other APIStatusError (4xx)    -> ModelError("... refused the request (400 ...) ...")
    APITimeoutError               -> ModelError("... timed out ...")
    APIConnectionError            -> ModelError("could not reach ...")

Messages are our own words plus the API's short error text, scrubbed of the API key; the
SDK exception is chained (``raise ... from e``) for debugging.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

import anthropic
from anthropic.types import Message, Model, TextBlock
from anthropic.types.message_create_params import MessageCreateParamsNonStreaming

from digest.config import Settings
from digest.errors import ConfigError, ModelError
from digest.models import Usage
from digest.summarize import pricing

_API_TEXT_MAX = 200


def build_client(settings: Settings) -> anthropic.AsyncAnthropic:
    """The one SDK client of the process. Raises ``ConfigError`` without an API key.

    ``base_url`` is ``ANTHROPIC_BASE_URL`` when set (a proxy, or the fake server in tests);
    ``timeout`` and ``max_retries`` apply to every request; the SDK does the retrying.
    """
    if settings.anthropic_api_key is None:
        raise ConfigError("setting ANTHROPIC_API_KEY: needed for the Claude engine")
    return anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        timeout=settings.model_timeout,
        max_retries=settings.model_max_retries,
    )


def sdk_models() -> tuple[str, ...]:
    """The model names the installed SDK lists (``anthropic.types.Model``'s literals)."""
    names: list[str] = []
    for part in get_args(Model):
        names += [a for a in get_args(part) if isinstance(a, str)]
    return tuple(names)


def _deprecated_models() -> frozenset[str]:
    # The SDK's list of deprecated models lives in a private module; without it, every
    # listed model counts as current.
    try:
        from anthropic._data.deprecated_models import DEPRECATED_MODELS
    except ImportError:  # pragma: no cover - depends on the SDK version
        return frozenset()
    return frozenset(DEPRECATED_MODELS)


def default_model() -> str:
    """The cheapest current model in the SDK's model list that supports structured output.

    "Current": not on the SDK's deprecation list; "cheapest" and "supports structured
    output": per ``digest.summarize.pricing``. With SDK 2.14 this is ``claude-haiku-5-5``.
    Raises ``ConfigError`` when no listed model qualifies (an SDK far newer than the table:
    set DIGEST_MODEL).
    """
    deprecated = _deprecated_models()
    current = [m for m in sdk_models() if m not in deprecated]
    model = pricing.cheapest_structured(current)
    if model is None:
        raise ConfigError("setting DIGEST_MODEL: no default model known for this SDK version")
    return model


def model_for(settings: Settings) -> str:
    """``DIGEST_MODEL`` when set, else ``default_model()``."""
    return settings.model or default_model()


# -- one request --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """The text of one answer, why it stopped, and what it cost."""

    text: str
    stop_reason: str | None
    usage: Usage


# The longest one request may take, the SDK's retries and Retry-After waits included.
LONGEST_WAIT = 300.0


def json_params(
    *, model: str, system: str, user: str, schema: dict[str, object], max_tokens: int
) -> MessageCreateParamsNonStreaming:
    """The Messages API parameters of one request whose answer must follow ``schema``
    (structured outputs): sent as is by ``request_params``, or as one item of a batch.

    No tools are offered and no sampling parameters are sent (newer models refuse them).
    """
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": system,
        "messages": [{"role": "user", "content": user}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }


async def request_json(
    client: anthropic.AsyncAnthropic,
    *,
    model: str,
    system: str,
    user: str,
    schema: dict[str, object],
    max_tokens: int,
) -> Reply:
    """One Messages API request whose answer must follow ``schema`` (see ``json_params``).
    Raises ``ModelError`` (see the module docstring)."""
    params = json_params(
        model=model, system=system, user=user, schema=schema, max_tokens=max_tokens
    )
    return await request_params(client, params)


async def request_params(
    client: anthropic.AsyncAnthropic, params: MessageCreateParamsNonStreaming
) -> Reply:
    """One Messages API request with ``params``, at the standard price. Raises
    ``ModelError`` (see the module docstring)."""
    try:
        # The SDK sleeps as long as any Retry-After asks, however long; a worker must not.
        async with asyncio.timeout(LONGEST_WAIT):
            message = await client.messages.create(**params)
    except anthropic.APIError as e:
        raise model_error(e, client.api_key) from e
    except TimeoutError as e:
        raise ModelError(
            f"the model API did not answer within {LONGEST_WAIT:.0f} s, retries included"
        ) from e
    return reply_from_message(message, str(params["model"]))


def reply_from_message(message: Message, model: str, *, batch: bool = False) -> Reply:
    """The ``Reply`` in an API ``message``, priced for ``model`` (at the Message Batches
    price when ``batch``). The text blocks are joined; thinking blocks, which some models
    return first, are skipped."""
    text = "".join(block.text for block in message.content if isinstance(block, TextBlock))
    # No prompt caching is requested, so the cache counts are normally zero; if a proxy
    # caches anyway, its tokens are still input we pay for.
    tokens_in = message.usage.input_tokens + (message.usage.cache_read_input_tokens or 0)
    tokens_in += message.usage.cache_creation_input_tokens or 0
    tokens_out = message.usage.output_tokens
    usage = Usage(
        model=model,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=pricing.cost_usd(model, tokens_in, tokens_out, batch=batch),
        requests=1,
    )
    return Reply(text=text, stop_reason=message.stop_reason, usage=usage)


# -- errors -------------------------------------------------------------------------------


def model_error(error: anthropic.APIError, api_key: str | None = None) -> ModelError:
    """The ``ModelError`` for an SDK error, its message scrubbed of ``api_key`` (and the SDK
    error's too, since it is chained to ours)."""
    _scrub_sdk_error(error, api_key)
    retry_after: float | None = None
    if isinstance(error, anthropic.APITimeoutError):
        message = "the Anthropic API timed out"
    elif isinstance(error, anthropic.APIConnectionError):
        message = "could not reach the Anthropic API"
    elif isinstance(error, anthropic.APIStatusError):
        retry_after = retry_after_seconds(error.response.headers)
        status = error.status_code
        detail = _api_text(error)
        if isinstance(error, anthropic.RateLimitError):
            kind = "rate limited"
        elif status == 529 or error.type == "overloaded_error":
            kind = "overloaded"
        elif status >= 500:
            kind = "server error"
        else:
            kind = "refused the request"
        message = f"the Anthropic API {kind} ({status} {error.type or 'error'}): {detail}"
    else:
        message = f"the Anthropic API answered with something unexpected ({type(error).__name__})"
    return ModelError(_scrub(message, api_key), retry_after=retry_after)


def _api_text(error: anthropic.APIStatusError) -> str:
    text = " ".join((error.api_message or "no message").split())
    return text[:_API_TEXT_MAX]


def _scrub(text: str, secret: str | None) -> str:
    # The API never echoes the key, but a proxy might: never let it into a message.
    if secret and len(secret) >= 8:
        text = text.replace(secret, "[redacted]")
    return text


def _scrub_sdk_error(error: anthropic.APIError, secret: str | None) -> None:
    # The SDK error is chained to ours, so a logged traceback prints its message too.
    if secret and len(secret) >= 8 and secret in str(error):
        error.message = _scrub(error.message, secret)
        error.args = tuple(_scrub(a, secret) if isinstance(a, str) else a for a in error.args)
        error.body = None
        if isinstance(error, anthropic.APIStatusError) and error.api_message:
            error.api_message = _scrub(error.api_message, secret)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds the API asked us to wait: ``retry-after-ms``, ``retry-after`` in seconds, or
    ``retry-after`` as an HTTP date; ``None`` when absent or unreadable."""
    millis = _finite(headers.get("retry-after-ms"))
    if millis is not None:
        return max(millis / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(seconds, 0.0)
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def _finite(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
