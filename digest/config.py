"""Settings, read from the environment and ``.env``.

Built only at the entry points (``digest`` CLI, ``python -m bot``) through ``load_settings``,
never at import time, so tests build their own ``Settings(...)`` freely.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from digest.errors import ConfigError

DEFAULT_CATEGORIES = (
    "World",
    "Policy",
    "Business",
    "Technology",
    "Science",
    "Health",
    "Climate",
    "Security",
    "Sports",
    "Culture",
    "General",
)

ENV_PREFIX = "DIGEST_"


class Settings(BaseSettings):
    """Every setting the core reads. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str = Field(default="sqlite:///data/digest.db", validation_alias="DATABASE_URL")
    allow_private_networks: bool = False
    log_level: str = "INFO"

    # Polling: seconds between polls of one feed, before server hints and backoff.
    poll_interval: int = Field(default=900, ge=1)
    poll_min_interval: int = Field(default=300, ge=1)
    poll_max_interval: int = Field(default=21600, ge=1)
    poll_jitter: float = Field(default=0.1, ge=0, le=0.5)
    max_failures: int = Field(default=10, ge=1)
    # How often the long-running worker (python -m bot) looks for due feeds.
    worker_tick: float = Field(default=60.0, gt=0)

    # Fetching
    fetch_connect_timeout: float = Field(default=10.0, gt=0)
    fetch_read_timeout: float = Field(default=20.0, gt=0)
    fetch_total_timeout: float = Field(default=60.0, gt=0)
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    fetch_max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_per_host: int = Field(default=2, ge=1)
    fetch_concurrency: int = Field(default=20, ge=1)
    full_text: bool = True

    # Feeds a fresh install follows: "builtin" (the shipped OPML), an OPML path, or "none".
    starter_feeds: str = "builtin"

    # Stories and cards
    categories: Annotated[tuple[str, ...], NoDecode] = DEFAULT_CATEGORIES
    cluster_window_hours: int = Field(default=48, ge=1)

    # Card engine: "auto" uses Claude when an API key is set, else the offline engine.
    summarizer: Literal["auto", "anthropic", "offline"] = Field(
        default="auto", validation_alias="SUMMARIZER"
    )
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    model: str | None = None  # DIGEST_MODEL; unset: the engine's default
    model_timeout: float = Field(default=60.0, gt=0)
    model_max_retries: int = Field(default=2, ge=0, le=10)
    daily_budget_usd: float = Field(default=1.0, ge=0)
    use_batches: bool = False
    language: str | None = None  # DIGEST_LANGUAGE: cards' language; unset keeps the source's

    # Follow-up questions
    questions_per_hour: int = Field(default=10, ge=1)
    question_max_chars: int = Field(default=300, ge=10)

    # Chat platforms: a platform runs (and its deliveries are sent) when its token is set.
    telegram_token: SecretStr | None = Field(default=None, validation_alias="TELEGRAM_BOT_TOKEN")
    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_BOT_TOKEN")
    # Telegram (``bot.telegram``): the Bot API prefix the token is appended to (a local Bot
    # API server, or the tests' fake, change it); webhook mode when a public URL is set.
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot", validation_alias="TELEGRAM_API_BASE_URL"
    )
    telegram_webhook_url: str | None = Field(default=None, validation_alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias="TELEGRAM_WEBHOOK_SECRET"
    )
    telegram_webhook_listen: str = Field(
        default="0.0.0.0:8443", validation_alias="TELEGRAM_WEBHOOK_LISTEN"
    )
    # Who may /addsource: operators (Telegram user ids, comma-separated), and chat admins
    # too when TELEGRAM_ADMINS_ADD_SOURCES is true.
    telegram_operators: str = Field(default="", validation_alias="TELEGRAM_OPERATORS")
    telegram_admins_add_sources: bool = Field(
        default=False, validation_alias="TELEGRAM_ADMINS_ADD_SOURCES"
    )
    # Discord (``bot.discord``): REST and gateway URLs (tests point them at a fake); a guild
    # id syncs slash commands to that guild only (instant, for development).
    discord_api_base_url: str = Field(
        default="https://discord.com/api/v10", validation_alias="DISCORD_API_BASE_URL"
    )
    discord_gateway_url: str = Field(
        default="wss://gateway.discord.gg/", validation_alias="DISCORD_GATEWAY_URL"
    )
    discord_guild_id: int | None = Field(default=None, validation_alias="DISCORD_GUILD_ID")
    # What `python -m bot` runs: everything, the worker side, or the chat gateways only.
    role: Literal["all", "worker", "gateway"] = "all"

    # Scheduler: seconds between runs of each job (``bot.scheduler``); worker_tick polls.
    summarize_interval: float = Field(default=30.0, gt=0)
    enqueue_interval: float = Field(default=60.0, gt=0)
    deliver_interval: float = Field(default=2.0, gt=0)
    # SIGTERM waits this long for work in flight (a send finishing), then releases the rest.
    shutdown_grace: float = Field(default=10.0, ge=0)

    # Delivery (``digest.delivery``)
    delivery_lease: float = Field(default=60.0, ge=5)  # seconds a claimed delivery is ours
    delivery_batch: int = Field(default=100, ge=1, le=5000)  # claimed at once per worker
    delivery_concurrency: int = Field(default=16, ge=1, le=1000)  # sends in flight
    delivery_max_attempts: int = Field(default=8, ge=1, le=100)
    delivery_retry_base: float = Field(default=30.0, gt=0)  # first backoff, then doubled
    delivery_retry_max: float = Field(default=3600.0, gt=0)  # backoff cap
    send_timeout: float = Field(default=30.0, gt=0)
    # Pacing for the whole bot (the workers sending at once share the overall rates):
    # messages/s in all, per private chat; per group per minute.
    telegram_rate: float = Field(default=30.0, gt=0)
    telegram_chat_rate: float = Field(default=1.0, gt=0)
    telegram_group_rate: float = Field(default=20.0, gt=0)
    discord_rate: float = Field(default=50.0, gt=0)
    discord_channel_rate: float = Field(default=1.0, gt=0)

    @field_validator("categories", mode="before")
    @classmethod
    def _split_categories(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, list | tuple):
            names = [str(v).strip() for v in value if str(v).strip()]
            if not names:
                raise ValueError("needs at least one category")
            if len({n.lower() for n in names}) != len(names):
                raise ValueError("categories must be unique")
            return tuple(names)
        return value

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator(
        "anthropic_api_key",
        "anthropic_base_url",
        "model",
        "language",
        "telegram_token",
        "discord_token",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        "discord_guild_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_summarizer(self) -> Settings:
        if self.summarizer == "anthropic" and self.anthropic_api_key is None:
            raise ValueError("SUMMARIZER=anthropic needs ANTHROPIC_API_KEY")
        return self

    @model_validator(mode="after")
    def _check_delivery(self) -> Settings:
        if self.send_timeout * 2 > self.delivery_lease:
            raise ValueError(
                "DIGEST_SEND_TIMEOUT must be at most half of DIGEST_DELIVERY_LEASE"
                f" (got {self.send_timeout:g} and {self.delivery_lease:g}): a send must end"
                " well inside the claim, or another worker could send the message too"
            )
        if self.delivery_retry_max < self.delivery_retry_base:
            raise ValueError("DIGEST_DELIVERY_RETRY_MAX must be >= DIGEST_DELIVERY_RETRY_BASE")
        return self

    @model_validator(mode="after")
    def _check_intervals(self) -> Settings:
        if not self.poll_min_interval <= self.poll_interval <= self.poll_max_interval:
            raise ValueError(
                "DIGEST_POLL_MIN_INTERVAL <= DIGEST_POLL_INTERVAL <= DIGEST_POLL_MAX_INTERVAL"
                f" does not hold ({self.poll_min_interval}, {self.poll_interval},"
                f" {self.poll_max_interval})"
            )
        return self

    def sqlite_path(self) -> Path | None:
        """The SQLite file, when the database is a SQLite file (so its folder can be created)."""
        prefix = "sqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :].split("?", 1)[0])
        return None


_SECRET_SETTINGS = frozenset(
    {
        "DATABASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "TELEGRAM_BOT_TOKEN",
        "DISCORD_BOT_TOKEN",
    }
)


def env_name(field_name: str) -> str:
    """The environment variable that sets ``field_name``."""
    aliases = {
        info.validation_alias
        for info in Settings.model_fields.values()
        if isinstance(info.validation_alias, str)
    }
    if field_name in aliases:  # pydantic reports aliased fields by their alias
        return field_name
    info = Settings.model_fields.get(field_name)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    return ENV_PREFIX + field_name.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read settings; raise ``ConfigError`` with one line naming the bad setting.

    Called by the entry points only.
    """
    try:
        return Settings(**overrides)
    except UnicodeDecodeError as e:
        raise ConfigError(f"the .env file is not UTF-8 text ({e.reason})") from None
    except ValidationError as e:
        err = e.errors()[0]
        loc = err.get("loc") or ()
        if loc:
            name = env_name(str(loc[0]))
            got = err.get("input")
            # Never echo what may hold a secret: URLs carry passwords, keys are keys.
            secret = name in _SECRET_SETTINGS
            shown = f" (got {got!r})" if isinstance(got, str | int | float) and not secret else ""
            msg = err["msg"].removeprefix("Value error, ")
            raise ConfigError(f"setting {name}: {msg}{shown}") from None
        raise ConfigError(f"settings: {err['msg'].removeprefix('Value error, ')}") from None
