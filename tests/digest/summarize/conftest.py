"""Fixtures for the Claude engine tests: the fake API and engines built against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from digest.ports import SpendMeter
from digest.summarize.anthropic_client import build_client, model_for
from digest.summarize.anthropic_engine import ClaimCheck, ClaudeEngine
from digest.summarize.offline import OfflineEngine
from tests.support.claude import EngineFactory, claude_settings
from tests.support.fake_anthropic import FakeAnthropic


@pytest.fixture
async def api() -> AsyncIterator[FakeAnthropic]:
    # Two in-progress polls before a batch ends: batch tests see polling; others never ask.
    async with FakeAnthropic(batch_polls=2) as server:
        yield server
    assert server.unexpected == 0, "the engine made requests nobody scripted"


@pytest.fixture
async def make_engine(api: FakeAnthropic, tmp_path: Path) -> AsyncIterator[EngineFactory]:
    clients: list[anthropic.AsyncAnthropic] = []

    def factory(
        *,
        claim_check: ClaimCheck | None = None,
        meter: SpendMeter | None = None,
        **overrides: Any,
    ) -> ClaudeEngine:
        settings = claude_settings(tmp_path, api.url, **overrides)
        client = build_client(settings)
        clients.append(client)
        return ClaudeEngine(
            client,
            model=model_for(settings),
            categories=settings.categories,
            fallback=OfflineEngine(settings.categories),
            claim_check=claim_check,
            meter=meter,
        )

    yield factory
    for client in clients:
        await client.close()
