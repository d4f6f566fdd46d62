"""Building the SDK client, choosing the default model, and mapping SDK errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from digest.config import Settings
from digest.errors import ConfigError
from digest.summarize import pricing
from digest.summarize.anthropic_client import (
    build_client,
    default_model,
    model_error,
    model_for,
    retry_after_seconds,
    sdk_models,
)

KEY = "sk-ant-api03-CLIENTKEY-0123456789abcdef"


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "database_url": f"sqlite:///{tmp_path / 'digest.db'}",
        "anthropic_api_key": KEY,
    }
    values.update(overrides)
    return Settings(**values)


async def test_build_client_takes_everything_from_settings(tmp_path: Path) -> None:
    client = build_client(
        settings(
            tmp_path,
            anthropic_base_url="http://127.0.0.1:1234",
            model_timeout=12.5,
            model_max_retries=4,
        )
    )
    assert client.api_key == KEY
    assert str(client.base_url).startswith("http://127.0.0.1:1234")
    assert client.timeout == 12.5 and client.max_retries == 4
    await client.close()


def test_build_client_needs_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        build_client(settings(tmp_path, anthropic_api_key=None))


def test_the_default_model_is_the_cheapest_current_structured_output_model() -> None:
    model = default_model()
    assert model == "claude-haiku-5-5"
    assert model in sdk_models()
    assert pricing.supports_structured_outputs(model)
    listed = [m for m in sdk_models() if pricing.supports_structured_outputs(m)]
    typical = (pricing.TYPICAL_INPUT_TOKENS, pricing.TYPICAL_OUTPUT_TOKENS)
    assert all(pricing.cost_usd(model, *typical) <= pricing.cost_usd(m, *typical) for m in listed)


def test_every_sdk_model_with_structured_outputs_has_a_price() -> None:
    missing = [m for m in sdk_models() if pricing.price_for(m) is None]
    assert all(m.startswith("claude-mythos") for m in missing), missing


def test_digest_model_overrides_the_default(tmp_path: Path) -> None:
    assert model_for(settings(tmp_path, model="claude-opus-5-5")) == "claude-opus-5-5"
    assert model_for(settings(tmp_path, model=None)) == default_model()


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "junk", "retry-after": "2"}, 2.0),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(httpx2.Headers(headers)) == seconds


def status_error(status: int, error_type: str, message: str, **headers: str) -> Any:
    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    response = httpx2.Response(status, json=body, headers=headers, request=request)
    client = anthropic.Anthropic(api_key=KEY, base_url="http://127.0.0.1:9")
    return client._make_status_error_from_response(response)


@pytest.mark.parametrize(
    ("status", "error_type", "words"),
    [
        (429, "rate_limit_error", "rate limited (429 rate_limit_error)"),
        (529, "overloaded_error", "overloaded (529 overloaded_error)"),
        (500, "api_error", "server error (500 api_error)"),
        (401, "authentication_error", "refused the request (401 authentication_error)"),
    ],
)
def test_model_error_says_what_happened(status: int, error_type: str, words: str) -> None:
    error = status_error(status, error_type, f"bad thing with {KEY}", **{"retry-after": "4"})
    mapped = model_error(error, KEY)
    assert words in str(mapped) and "[redacted]" in str(mapped)
    assert mapped.retry_after == 4.0
    assert KEY not in str(error) and KEY not in str(mapped)


def test_connection_errors() -> None:
    request = httpx2.Request("POST", "https://api.anthropic.com/v1/messages")
    assert "timed out" in str(model_error(anthropic.APITimeoutError(request)))
    assert "could not reach" in str(model_error(anthropic.APIConnectionError(request=request)))
