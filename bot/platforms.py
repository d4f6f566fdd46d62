"""Chat platforms as ``python -m bot`` sees them: which are configured, and building them.

A platform adapter (Telegram #5, Discord #6) provides a ``Platform``: a ``sender`` for the
delivery worker (``digest.delivery.sender.Sender``) and ``serve`` for the gateway side
(receiving commands and replies). It registers a builder in ``BUILDERS`` under its name;
a platform runs when its token setting is set.
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
# name -> builder; the adapters add themselves here as they land.
BUILDERS: dict[str, Builder] = {}


def configured(settings: Settings) -> list[str]:
    """Platforms whose token is set."""
    tokens = {"telegram": settings.telegram_token, "discord": settings.discord_token}
    return [name for name, token in tokens.items() if token is not None]


def runnable(settings: Settings) -> list[str]:
    """Platforms with a token and an adapter."""
    return [name for name in configured(settings) if name in BUILDERS]


def why_none(settings: Settings) -> str:
    """Why no platform can run, in one line (no token, or tokens without an adapter)."""
    missing = [name for name in configured(settings) if name not in BUILDERS]
    if missing:
        names = " and ".join(TOKENS[name] for name in missing)
        return f"{names} is set, but this version has no adapter for it yet"
    return f"no chat platform token is set ({' or '.join(TOKENS.values())})"


def build_platforms(settings: Settings, app: App, names: list[str]) -> list[Platform]:
    return [BUILDERS[name](settings, app) for name in names]
