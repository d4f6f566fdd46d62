"""The delivery and scheduler settings: documented, loadable, checked, tokens never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import Settings, load_settings
from digest.delivery.policy import WorkerOptions
from digest.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / ".env.example"
NEW = [
    "TELEGRAM_BOT_TOKEN",
    "DISCORD_BOT_TOKEN",
    "DIGEST_ROLE",
    "DIGEST_SUMMARIZE_INTERVAL",
    "DIGEST_ENQUEUE_INTERVAL",
    "DIGEST_DELIVER_INTERVAL",
    "DIGEST_SHUTDOWN_GRACE",
    "DIGEST_DELIVERY_LEASE",
    "DIGEST_DELIVERY_BATCH",
    "DIGEST_DELIVERY_CONCURRENCY",
    "DIGEST_DELIVERY_MAX_ATTEMPTS",
    "DIGEST_DELIVERY_RETRY_BASE",
    "DIGEST_DELIVERY_RETRY_MAX",
    "DIGEST_SEND_TIMEOUT",
    "DIGEST_TELEGRAM_RATE",
    "DIGEST_TELEGRAM_CHAT_RATE",
    "DIGEST_TELEGRAM_GROUP_RATE",
    "DIGEST_DISCORD_RATE",
    "DIGEST_DISCORD_CHANNEL_RATE",
]


def test_every_new_setting_is_in_the_example_with_a_comment_and_loads() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for name in NEW:
        (at,) = [i for i, line in enumerate(lines) if line.startswith(f"{name}=")]
        assert lines[at - 1].startswith("#") or lines[at - 2].startswith("#"), name
    settings = Settings(_env_file=EXAMPLE)  # type: ignore[call-arg]
    assert settings.telegram_token is None and settings.role == "all"
    options = WorkerOptions.from_settings(settings)
    assert (options.lease, options.batch, options.max_attempts) == (60.0, 100, 8)


def test_a_send_may_not_outlast_half_its_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_DELIVERY_LEASE", "20")
    monkeypatch.setenv("DIGEST_SEND_TIMEOUT", "15")
    with pytest.raises(ConfigError, match="DIGEST_SEND_TIMEOUT must be at most half"):
        load_settings(_env_file=None)


def test_tokens_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_ROLE", "gateway")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:s3cr3t-t0ken")
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "d1sc0rd-t0ken")
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "w3bh00k-s3cr3t")
    settings = load_settings(_env_file=None)
    for secret in ("s3cr3t-t0ken", "d1sc0rd-t0ken", "w3bh00k-s3cr3t"):
        assert secret not in repr(settings)
    monkeypatch.setenv("DIGEST_ROLE", "everything")
    with pytest.raises(ConfigError, match="DIGEST_ROLE") as raised:
        load_settings(_env_file=None)
    assert "t0ken" not in str(raised.value) and "s3cr3t" not in str(raised.value)
