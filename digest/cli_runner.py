"""How every ``digest`` command runs: settings read once, logging set up, the app opened,
and expected failures turned into one line (``error: …``, exit 1; 2 for a bad setting).

Used by ``digest.cli`` and ``digest.cli_subs``; ``setup_logging`` also by ``python -m bot``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from digest.app import open_app
from digest.config import Settings, load_settings
from digest.errors import ConfigError, DigestError
from digest.sample_feeds import NoNetwork, SampleFetcher

T = TypeVar("T")
log = logging.getLogger("digest")


def _settings() -> Settings:
    settings = load_settings()
    setup_logging(settings.log_level)
    return settings


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # httpx logs every request URL at INFO; URLs can carry secrets (bot tokens in paths).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl ..." on every start
    # trafilatura logs an ERROR for every page it cannot use; the poller already keeps the
    # feed's text then, so these lines are noise to an operator.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


def _fail(message: str, code: int = 1) -> None:
    # Plain echo, not rich: one line however narrow the terminal (or pipe) is.
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def command(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T | None]:
    """Run an async command with the app open, turning expected errors into one line."""
    return _command(func, offline=False)


def offline_command(func: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T | None]:
    """Like ``command``, with an app that cannot reach the network nor use a model: only
    the bundled sample feeds are served, and cards are written offline."""
    return _command(func, offline=True)


def _command(
    func: Callable[..., Coroutine[Any, Any, T]], *, offline: bool
) -> Callable[..., T | None]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T | None:
        try:
            settings = _settings()
        except ConfigError as e:
            _fail(str(e), 2)
            return None

        async def run() -> T:
            if offline:
                demo = settings.model_copy(update={"full_text": False, "summarizer": "offline"})
                async with open_app(demo, fetcher=SampleFetcher(NoNetwork())) as app:
                    return await func(app, *args, **kwargs)
            async with open_app(settings) as app:
                return await func(app, *args, **kwargs)

        try:
            return asyncio.run(run())
        except DigestError as e:
            if log.isEnabledFor(logging.DEBUG):
                log.exception("command failed")
            _fail(str(e))
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        return None

    return wrapper
