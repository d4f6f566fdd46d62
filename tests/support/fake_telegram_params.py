"""Reading a Bot API request's parameters, and validating what the bot sends.

Bot API parameters arrive as a query string, ``application/x-www-form-urlencoded`` or
``multipart/form-data`` (values are strings; nested objects such as ``reply_markup`` or
``entities`` are JSON-encoded strings, which is what python-telegram-bot sends), or as an
``application/json`` body (values already typed). ``Params`` reads either the same way.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from tests.support.fake_telegram_entities import url_problem
from tests.support.fake_telegram_errors import bad_request
from tests.support.fake_telegram_html import HtmlError, ParsedText, format_text

# Parameters whose form value is a JSON-encoded object or array, and the noun Telegram uses
# when it cannot parse one.
JSON_FIELDS = {
    "reply_markup": "reply keyboard markup",
    "entities": "entities",
    "caption_entities": "entities",
    "reply_parameters": "reply parameters",
    "link_preview_options": "link preview options",
    "allowed_updates": "allowed updates",
    "commands": "commands",
    "scope": "bot command scope",
    "results": "inline query results",
    "button": "inline query results button",
}
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
MAX_BUTTONS = 100


def decode(raw: dict[str, Any]) -> dict[str, Any]:
    """Parameters with JSON-encoded form values decoded (undecodable ones kept as sent, for
    the handler's error)."""
    decoded = dict(raw)
    for name in JSON_FIELDS:
        value = decoded.get(name)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                decoded[name] = json.loads(value)
    return decoded


class Params:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        return value if isinstance(value, str) else json.dumps(value)

    def required_text(self, name: str, empty: str | None = None) -> str:
        value = self.text(name)
        if not value:
            raise bad_request(empty or f"{name} is empty")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def number(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def obj(self, name: str, kind: type = dict) -> Any:
        """The decoded JSON value, or None when absent; 400 when it is not a ``kind``."""
        value = self.values.get(name)
        if value in (None, ""):
            return None
        if not isinstance(value, kind):
            raise bad_request(f"can't parse {JSON_FIELDS.get(name, name)} JSON object")
        return value


def formatted(
    params: Params, field: str, entities_field: str, *, limit: int, too_long: str, strict: bool
) -> ParsedText:
    """Parse ``params[field]`` as Telegram would and enforce its length limit. The field may
    be absent (a photo without caption): the result is then empty."""
    raw = params.text(field) or ""
    parse_mode = params.text("parse_mode") or None
    if parse_mode is not None and parse_mode.lower() not in ("html", "markdown", "markdownv2"):
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    entities = params.obj(entities_field, list)
    try:
        parsed = format_text(raw, parse_mode, entities, strict=strict)
    except HtmlError as error:
        raise bad_request(f"can't parse entities: {error}") from None
    if len(parsed.text) > limit:
        raise bad_request(too_long)
    return parsed


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate an inline keyboard as Telegram does; other keyboards pass through."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse inline keyboard markup: field "inline_keyboard" of the '
            "InlineKeyboardMarkup must be an Array of Arrays"
        )
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("REPLY_MARKUP_TOO_LONG")
    for row in rows:
        for button in row:
            check_button(button)
    return markup


def check_button(button: Any) -> None:
    prefix = "can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise bad_request(prefix + "InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str):
        raise bad_request(prefix + 'Field "text" must be of type String')
    actions = [name for name in _BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad_request(prefix + "Text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        problem = url_problem(url) if isinstance(url, str) else "Wrong HTTP URL"
        if problem:
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: {problem}")
