"""Keeping the bot token out of the logs.

The token is part of every Bot API URL (``https://api.telegram.org/bot<TOKEN>/method``), and
three libraries write those URLs or the token itself into log records:

- httpx logs each request's URL at INFO ("HTTP Request: POST https://…/bot<TOKEN>/getMe");
- python-telegram-bot's ``ExtBot`` logs its base URL at DEBUG, and ``InvalidToken`` texts
  (logged by PTB's polling loop, and in our tracebacks) hold the refused token;
- anything else may put a URL into an exception that ends up in a traceback;
- PTB logs every call's parameters at DEBUG, ``setWebhook``'s ``secret_token`` among them:
  ``install``'s ``secrets`` (the webhook secret) are scrubbed the same way, as "<secret>".

Measures, all installed by ``install`` (called by ``bot.telegram.platform.build``; undone by
``uninstall`` when the platform closes):

- the ``httpx`` logger goes to WARNING (a request line per call is noise anyway);
- a ``TokenFilter`` on every handler of the root logger rewrites each record's message,
  arguments and traceback text with the token replaced by "<token>" before it is written.
  Filters on handlers see every record that propagates to the root, whichever logger made it
  (``serve`` covers handlers configured after ``build`` with ``cover_handlers``);
- as handlers added later (a reconfigured logging, a test's capture handler) would have no
  filter, the same scrubbing also runs as each record is made (``logging``'s record
  factory), so no handler ever sees the token.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from bot.telegram.sender import scrub

MIN_SECRET = 8  # shorter "secrets" are not replaced: they would garble ordinary words


class TokenFilter(logging.Filter):
    """Replaces the bot token (whole, URL-quoted, or its secret half) and ``secrets`` (as
    "<secret>") in a record. Never drops a record."""

    def __init__(self, token: str, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.token = token
        self.secrets: set[str] = set()
        self.add_secrets(secrets)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        self.secrets.update(s for s in secrets if len(s) >= MIN_SECRET)

    def clean(self, text: str) -> str:
        text = scrub(text, self.token)
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<secret>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: show its parts rather than lose them
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = self.clean(message), None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters reuse ``exc_text`` when it is set: format the traceback here, scrubbed.
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = self.clean(text)
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


# token -> (the factory before ours, ours), so ``uninstall`` can put the old one back.
_factories: dict[
    str, tuple[Callable[..., logging.LogRecord], Callable[..., logging.LogRecord]]
] = {}
_scrubbers: dict[str, TokenFilter] = {}  # token -> the filter its record factory uses
_httpx_level: list[int] = []  # httpx's level before the first install
_installs: dict[str, int] = {}  # token -> platforms using it (each uninstalls once)


def _scrub_at_creation(token: str, secrets: Iterable[str]) -> None:
    """Wrap the record factory (once per token) so every new record is scrubbed."""
    if token in _factories:
        _scrubbers[token].add_secrets(secrets)
        return
    make = logging.getLogRecordFactory()
    scrubber = TokenFilter(token, secrets)
    _scrubbers[token] = scrubber

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        scrubber.filter(record)
        return record

    _factories[token] = (make, factory)
    logging.setLogRecordFactory(factory)


def install(
    token: str, root: logging.Logger | None = None, *, secrets: Iterable[str] = ()
) -> TokenFilter:
    """Silence httpx's request lines, scrub records as they are made, and put a
    ``TokenFilter`` for ``token`` (and ``secrets``, e.g. the webhook secret) on each handler
    of ``root`` (default: the root logger) that has none for it yet. Returns the filter.
    Idempotent; called by ``bot.telegram.platform``."""
    _installs[token] = _installs.get(token, 0) + 1
    httpx = logging.getLogger("httpx")
    if not _httpx_level:
        _httpx_level.append(httpx.level)
    httpx.setLevel(max(httpx.level, logging.WARNING))
    _scrub_at_creation(token, secrets)
    return cover_handlers(token, root)


def cover_handlers(token: str, root: logging.Logger | None = None) -> TokenFilter:
    """Put a ``TokenFilter`` for ``token`` on each handler of ``root`` (default: the root
    logger) that has none yet: ``install`` does, and ``TelegramPlatform.serve`` again for
    handlers configured since."""
    root = root or logging.getLogger()
    scrubber = _scrubbers.get(token)
    installed = TokenFilter(token, scrubber.secrets if scrubber else ())
    for handler in root.handlers:
        mine = [f for f in handler.filters if isinstance(f, TokenFilter) and f.token == token]
        for found in mine:
            found.add_secrets(installed.secrets)
        if not mine:
            handler.addFilter(installed)
    return installed


def uninstall(token: str, root: logging.Logger | None = None) -> None:
    """Undo ``install`` for ``token`` (``TelegramPlatform.aclose``: a process, or a test
    run, may build the platform again, or use loggers it silenced)."""
    left = _installs.get(token, 0) - 1
    if left > 0:  # another platform still uses the token
        _installs[token] = left
        return
    _installs.pop(token, None)
    root = root or logging.getLogger()
    for handler in root.handlers:
        for f in list(handler.filters):
            if isinstance(f, TokenFilter) and f.token == token:
                handler.removeFilter(f)
    _scrubbers.pop(token, None)
    factories = _factories.pop(token, None)
    if factories is not None and logging.getLogRecordFactory() is factories[1]:
        logging.setLogRecordFactory(factories[0])
    if not _factories and _httpx_level:
        logging.getLogger("httpx").setLevel(_httpx_level.pop())
