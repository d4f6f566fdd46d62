"""Settings: defaults, parsing, and one clear line for each wrong value."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import DEFAULT_CATEGORIES, load_settings
from digest.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("DATABASE_URL", "DIGEST_POLL_INTERVAL", "DIGEST_CATEGORIES"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_need_nothing() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///data/digest.db"
    assert settings.sqlite_path() == Path("data/digest.db")
    assert settings.allow_private_networks is False
    assert settings.categories == DEFAULT_CATEGORIES
    assert settings.fetch_max_bytes == 10 * 1024 * 1024
    assert settings.fetch_max_redirects == 5


def test_values_come_from_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DIGEST_POLL_INTERVAL=1200\nDIGEST_CATEGORIES=Tech, Money\n")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    settings = load_settings()
    assert settings.poll_interval == 1200
    assert settings.categories == ("Tech", "Money")
    assert settings.database_url == "postgresql://u@h/db"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DIGEST_POLL_INTERVAL",
            "often",
            "setting DIGEST_POLL_INTERVAL: Input should be a valid integer",
        ),
        ("DIGEST_ALLOW_PRIVATE_NETWORKS", "maybe", "setting DIGEST_ALLOW_PRIVATE_NETWORKS:"),
        (
            "DATABASE_URL",
            "mysql://x",
            "setting DATABASE_URL: must start with sqlite:/// or postgresql://",
        ),
        ("DIGEST_CATEGORIES", " , ", "setting DIGEST_CATEGORIES: needs at least one category"),
        ("DIGEST_CATEGORIES", "A,a", "setting DIGEST_CATEGORIES: categories must be unique"),
        ("DIGEST_LOG_LEVEL", "LOUD", "setting DIGEST_LOG_LEVEL: must be one of"),
        ("DIGEST_FETCH_MAX_REDIRECTS", "-1", "setting DIGEST_FETCH_MAX_REDIRECTS:"),
        ("DIGEST_POLL_MIN_INTERVAL", "99999", "DIGEST_POLL_MIN_INTERVAL <= DIGEST_POLL_INTERVAL"),
    ],
)
def test_a_wrong_setting_gives_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_secret_settings_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://digest:hunter2@db/digest")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "hunter2" not in str(info.value)
    assert str(info.value).startswith("setting DATABASE_URL: must start with")


def test_postgres_urls_in_their_short_form_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://digest:pw@db/digest")
    assert load_settings().database_url == "postgres://digest:pw@db/digest"


def test_a_dotenv_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes("DIGEST_LANGUAGE=Fran\xe7ais\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"the \.env file is not UTF-8"):
        load_settings()
