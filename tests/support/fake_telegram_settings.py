"""The bot's own settings in the fake Bot API: ``getMe``, commands (``setMyCommands``,
``getMyCommands``, ``deleteMyCommands``, kept per scope and language), webhooks
(``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``), ``logOut`` and ``close``.

Registered in ``fake_telegram_methods.HANDLERS`` on import (``fake_telegram_http`` imports
this module). ``setWebhook`` wants HTTPS as Telegram does, except on a loopback host so a
test can point it at a local server.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.support.fake_telegram_errors import bad_request
from tests.support.fake_telegram_methods import method
from tests.support.fake_telegram_params import Params

if TYPE_CHECKING:
    from tests.support.fake_telegram import FakeTelegram

_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@method("getMe")
def get_me(tg: FakeTelegram, p: Params) -> Any:
    return tg.bot.payload() | {
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": True,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def commands_key(scope: dict[str, Any] | None, language_code: str | None) -> tuple[str, str]:
    """Telegram keeps one command list per scope and language."""
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""


def _commands_key(p: Params) -> tuple[str, str]:
    return commands_key(p.obj("scope"), p.text("language_code"))


@method("setMyCommands")
def set_my_commands(tg: FakeTelegram, p: Params) -> Any:
    commands = p.obj("commands", list)
    if commands is None:
        raise bad_request("commands is empty")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand: BotCommand must be an Object")
        if not _COMMAND_NAME.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    tg.commands[_commands_key(p)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


@method("getMyCommands")
def get_my_commands(tg: FakeTelegram, p: Params) -> Any:
    return tg.commands.get(_commands_key(p), [])


@method("deleteMyCommands")
def delete_my_commands(tg: FakeTelegram, p: Params) -> Any:
    tg.commands.pop(_commands_key(p), None)
    return True


@method("setWebhook")
def set_webhook(tg: FakeTelegram, p: Params) -> Any:
    url = p.text("url") or ""
    if url:
        parts = urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.text("secret_token")
    if secret is not None and not _SECRET.match(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    if p.flag("drop_pending_updates"):
        tg.drop_pending_updates()
    options = ("allowed_updates", "max_connections", "ip_address")
    given = {key: p.values[key] for key in options if key in p.values}
    tg.webhook = {"url": url, "secret_token": secret} | given if url else {}
    return True


@method("deleteWebhook")
def delete_webhook(tg: FakeTelegram, p: Params) -> Any:
    if p.flag("drop_pending_updates"):
        tg.drop_pending_updates()
    tg.webhook = {}
    return True


@method("getWebhookInfo")
def get_webhook_info(tg: FakeTelegram, p: Params) -> Any:
    info: dict[str, Any] = {
        "url": tg.webhook.get("url", ""),
        "has_custom_certificate": False,
        "pending_update_count": tg.pending_update_count,
    }
    for key in ("max_connections", "allowed_updates", "ip_address"):
        if key in tg.webhook:
            info[key] = tg.webhook[key]
    return info


@method("logOut")
def log_out(tg: FakeTelegram, p: Params) -> Any:
    return True


@method("close")
def close(tg: FakeTelegram, p: Params) -> Any:
    return True
