"""Shared helpers for tests of the Claude engine: a story, settings, a scripted claim check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from digest.config import Settings
from digest.models import Article, CardDraft, Story
from digest.summarize.anthropic_engine import ClaudeEngine
from tests.support.fake_anthropic import SAMPLE_ARTICLE, SAMPLE_TITLE

KEY = "sk-ant-api03-TESTKEY-never-to-be-seen-0123456789"
WHEN = datetime(2026, 11, 3, 9, 15, tzinfo=UTC)

EngineFactory = Callable[..., ClaudeEngine]


def make_story(text: str = SAMPLE_ARTICLE, title: str = SAMPLE_TITLE) -> Story:
    article = Article(
        id=1,
        feed_id=1,
        entry_id="e1",
        url="https://riverton.example.com/flood-barrier",
        title=title,
        author=None,
        published_at=WHEN,
        text=text,
        image_url=None,
        story_id=7,
        source_name="Riverton Gazette",
    )
    return Story(id=7, title=title, created_at=WHEN, articles=(article,))


def claude_settings(tmp_path: Path, base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "database_url": f"sqlite:///{tmp_path / 'digest.db'}",
        "anthropic_api_key": KEY,
        "anthropic_base_url": base_url,
        "model": None,
        "model_timeout": 5.0,
        "model_max_retries": 1,
    }
    values.update(overrides)
    return Settings(**values)


class ScriptedClaims:
    """A claim checker answering from a list, one tuple of terms per call."""

    def __init__(self, *answers: tuple[str, ...]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[CardDraft, str]] = []

    def __call__(self, draft: CardDraft, source: str) -> tuple[str, ...]:
        self.calls.append((draft, source))
        return self.answers.pop(0)
