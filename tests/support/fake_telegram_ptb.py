"""Running the real python-telegram-bot 22 ``Application`` against a ``FakeTelegram``.

``ptb_application(tg)`` is the builder chain an adapter uses, pointed at the fake::

    ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)

``polling(app)`` runs it as ``python -m bot`` would (``async with app`` → ``getMe``;
``updater.start_polling`` → ``deleteWebhook`` then ``getUpdates`` long polls; ``app.start``)
and stops it in the right order (``updater.stop`` cancels the pending long poll and confirms
what was fetched with one last ``getUpdates(timeout=0)``).
"""

from __future__ import annotations

import contextlib
import datetime as dtm
from collections.abc import AsyncIterator
from typing import Any

from telegram.ext import Application, ApplicationBuilder

from tests.support.fake_telegram import FakeTelegram


def ptb_application(
    tg: FakeTelegram, **builder_options: Any
) -> Application[Any, Any, Any, Any, Any, Any]:
    """An ``Application`` talking to ``tg``; ``builder_options`` name further builder calls,
    e.g. ``read_timeout=0.2`` → ``.read_timeout(0.2)``."""
    builder = (
        ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)
    )
    for name, value in builder_options.items():
        builder = getattr(builder, name)(value)
    return builder.build()


@contextlib.asynccontextmanager
async def polling(
    app: Application[Any, Any, Any, Any, Any, Any], *, poll_timeout: float = 1.0
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Initialize, long-poll (``timeout=poll_timeout`` seconds per ``getUpdates``), start;
    then stop everything on the way out."""
    async with app:
        timeout = dtm.timedelta(seconds=poll_timeout)
        await app.updater.start_polling(timeout=timeout, poll_interval=0)  # type: ignore[union-attr]
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()  # type: ignore[union-attr]
            await app.stop()
