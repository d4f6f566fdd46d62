"""Chat platforms as ``python -m bot`` sees them: which are configured, and building them.

A platform adapter (Telegram #5, Discord #6) provides a ``Platform``: a ``sender`` for the
delivery worker (``digest.delivery.sender.Sender``) and ``serve`` for the gateway side
(receiving commands and replies). Its builder is in ``BUILDERS`` under its name (imported
lazily); a platform runs when its token setting is set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from digest.app import App
from digest.config import Settings
from digest.delivery.sender import Sender


class Platform(Protocol):
    name: str

    @property
    def sender(self) -> Sender: ...

    async def serve(self, stop: asyncio.Event) -> None:
        """Receive and answer messages until ``stop`` is set."""

    async def aclose(self) -> None: ...


Builder = Callable[[Settings, App], Platform]

# name -> the environment variable holding its token
TOKENS = {"telegram": "TELEGRAM_BOT_TOKEN", "discord": "DISCORD_BOT_TOKEN"}


def _telegram(settings: Settings, app: App) -> Platform:
    # Imported here: a process without a Telegram token never loads python-telegram-bot.
    from bot.telegram.platform import build

    return build(settings, app)


def _discord(settings: Settings, app: App) -> Platform:
    from bot.discord.platform import build

    return build(settings, app)


# name -> builder
BUILDERS: dict[str, Builder] = {"telegram": _telegram, "discord": _discord}


def configured(settings: Settings) -> list[str]:
    """Platforms whose token is set: the ones that run."""
    tokens = {"telegram": settings.telegram_token, "discord": settings.discord_token}
    return [name for name, token in tokens.items() if token is not None]


def why_none() -> str:
    """Why no platform runs, in one line."""
    return f"no chat platform token is set ({' or '.join(TOKENS.values())})"


def build_platforms(settings: Settings, app: App, names: list[str]) -> list[Platform]:
    return [BUILDERS[name](settings, app) for name in names]
