"""Discord's validation rules for message bodies and application commands, and who a message
would ping.

Errors come back the way Discord words them: HTTP 400 with ``{"code": 50035, "message":
"Invalid Form Body", "errors": {...}}`` where ``errors`` nests the JSON path down to an
``_errors`` list, e.g. ``{"embeds": {"0": {"title": {"_errors": [{"code":
"BASE_TYPE_MAX_LENGTH", "message": "Must be 256 or fewer in length."}]}}}}``. The length
codes and messages are Discord's; a few component and command codes (link-button and
duplicate-id rules) are close approximations, since tests should assert on the path and
``code`` 50035, not on the wording.

Pings: a message pings when its *content* (never embeds) holds ``@everyone``/``@here``,
``<@id>``/``<@!id>`` or ``<@&id>`` and ``allowed_mentions`` does not suppress it. Without
``allowed_mentions`` everything parses. The fake is conservative: it ignores whether the bot
may mention everyone or the role is mentionable, because the product rule is "never ask".
"""

from __future__ import annotations

import re
from typing import Any

INVALID_FORM_BODY = 50035
EMBED_TOTAL_LIMIT = 6000
SELECT_TYPES = (3, 5, 6, 7, 8)
COMPONENTS_V2_FLAG = 1 << 15
EPHEMERAL_FLAG = 1 << 6

EVERYONE_RE = re.compile(r"@(everyone|here)")
USER_MENTION_RE = re.compile(r"<@!?(\d{15,21})>")
ROLE_MENTION_RE = re.compile(r"<@&(\d{15,21})>")
COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


class FormErrors:
    """Collects field errors; ``body()`` is Discord's 50035 answer."""

    def __init__(self, *, prefix: tuple[str | int, ...] = ()) -> None:
        self.errors: dict[str, Any] = {}
        self.prefix = prefix  # e.g. ("data",) for an interaction callback's message

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.errors
        for key in (*self.prefix, *path):
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: tuple[str | int, ...], value: Any, limit: int) -> None:
        if isinstance(value, str | list) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def bad_length(self, path: tuple[str | int, ...], value: Any, low: int, high: int) -> None:
        if not isinstance(value, str | list) or not low <= len(value) <= high:
            self.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")

    def required(self, path: tuple[str | int, ...], value: Any) -> bool:
        if value is None or value == "":
            self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return False
        return True

    def body(self) -> dict[str, Any]:
        return {"code": INVALID_FORM_BODY, "errors": self.errors, "message": "Invalid Form Body"}


# -- messages ------------------------------------------------------------------------------


def embed_text_length(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6,000 total: title, description, field names
    and values, footer text and author name."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for item in embed.get("fields") or []:
        total += len(item.get("name") or "") + len(item.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def _is_url(value: Any, *, schemes: tuple[str, ...] = ("http://", "https://")) -> bool:
    return isinstance(value, str) and value.startswith(schemes) and len(value) <= 2048


def check_embed(embed: Any, path: tuple[str | int, ...], errors: FormErrors) -> None:
    if not isinstance(embed, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    errors.max_length((*path, "title"), embed.get("title"), 256)
    errors.max_length((*path, "description"), embed.get("description"), 4096)
    for key in ("url",):
        if key in embed and not _is_url(embed[key]):
            errors.add((*path, key), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    for key in ("thumbnail", "image"):
        if key in embed and not _is_url(
            (embed[key] or {}).get("url"), schemes=("http://", "https://", "attachment://")
        ):
            errors.add((*path, key, "url"), "URL_TYPE_INVALID_URL", "Not a well formed URL.")
    color = embed.get("color")
    if color is not None and not (isinstance(color, int) and 0 <= color <= 0xFFFFFF):
        errors.add((*path, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
    fields = embed.get("fields") or []
    errors.max_length((*path, "fields"), fields, 25)
    for i, item in enumerate(fields):
        if errors.required((*path, "fields", i, "name"), item.get("name")):
            errors.max_length((*path, "fields", i, "name"), item["name"], 256)
        if errors.required((*path, "fields", i, "value"), item.get("value")):
            errors.max_length((*path, "fields", i, "value"), item["value"], 1024)
    if "footer" in embed and errors.required(
        (*path, "footer", "text"), embed["footer"].get("text")
    ):
        errors.max_length((*path, "footer", "text"), embed["footer"]["text"], 2048)
    if "author" in embed and errors.required(
        (*path, "author", "name"), embed["author"].get("name")
    ):
        errors.max_length((*path, "author", "name"), embed["author"]["name"], 256)


def check_component(
    item: dict[str, Any], path: tuple[str | int, ...], errors: FormErrors, seen: set[str]
) -> None:
    kind = item.get("type")
    custom_id = item.get("custom_id")
    if kind == 2:  # button
        style = item.get("style")
        if style not in (1, 2, 3, 4, 5, 6):
            errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of (1..6).")
        errors.max_length((*path, "label"), item.get("label"), 80)
        if style == 5:  # link: a url, never a custom_id
            if not _is_url(item.get("url"), schemes=("http://", "https://", "discord://")):
                errors.add((*path, "url"), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
            if custom_id is not None:
                errors.add(
                    (*path, "custom_id"),
                    "BUTTON_COMPONENT_LINK_CUSTOM_ID",
                    "A custom id and url cannot both be specified",
                )
            return
        if style != 6 and "url" in item:
            errors.add(
                (*path, "url"), "BUTTON_COMPONENT_URL_INVALID", "Only link buttons take a url"
            )
    elif kind in SELECT_TYPES:
        errors.max_length((*path, "placeholder"), item.get("placeholder"), 150)
        low, high = item.get("min_values", 1), item.get("max_values", 1)
        if not 0 <= low <= 25:
            errors.add((*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be <= 25.")
        if not 1 <= high <= 25:
            errors.add((*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be <= 25.")
        if kind == 3:
            options = item.get("options") or []
            errors.bad_length((*path, "options"), options, 1, 25)
            values: set[str] = set()
            for i, option in enumerate(options):
                errors.bad_length((*path, "options", i, "label"), option.get("label"), 1, 100)
                errors.bad_length((*path, "options", i, "value"), option.get("value"), 1, 100)
                errors.max_length(
                    (*path, "options", i, "description"), option.get("description"), 100
                )
                if option.get("value") in values:
                    errors.add(
                        (*path, "options", i, "value"),
                        "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                        "Select component option values must be unique",
                    )
                values.add(option.get("value"))
            if options and high > len(options):
                errors.add(
                    (*path, "max_values"),
                    "NUMBER_TYPE_MAX",
                    f"int value should be <= {len(options)}.",
                )
    else:
        errors.add((*path, "type"), "UNION_TYPE_CHOICES", "Value must be a button or a select.")
        return
    errors.bad_length((*path, "custom_id"), custom_id, 1, 100)
    if isinstance(custom_id, str):
        if custom_id in seen:
            errors.add(
                (*path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        seen.add(custom_id)


def check_components(rows: Any, errors: FormErrors) -> None:
    """Classic components: ≤ 5 action rows of ≤ 5 buttons or exactly one select."""
    if not isinstance(rows, list):
        errors.add(("components",), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    errors.max_length(("components",), rows, 5)
    seen: set[str] = set()
    for i, row in enumerate(rows):
        path: tuple[str | int, ...] = ("components", i)
        if row.get("type") != 1:
            errors.add((*path, "type"), "UNION_TYPE_CHOICES", "Top-level components must be rows.")
            continue
        children = row.get("components") or []
        errors.bad_length((*path, "components"), children, 1, 5)
        if len(children) > 1 and any(c.get("type") in SELECT_TYPES for c in children):
            errors.add(
                (*path, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, child in enumerate(children):
            check_component(child, (*path, "components", j), errors, seen)


def check_message(body: dict[str, Any], errors: FormErrors) -> None:
    """Field rules for a message create/edit body (content, embeds, components, mentions,
    nonce). Keys that are absent are not checked, so this serves edits too."""
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(("content",), "STRING_TYPE_CONVERT", "Could not interpret value as string.")
    errors.max_length(("content",), content, 2000)
    embeds = body.get("embeds")
    if embeds is not None:
        errors.max_length(("embeds",), embeds, 10)
        for i, embed in enumerate(embeds):
            check_embed(embed, ("embeds", i), errors)
        if sum(embed_text_length(e) for e in embeds if isinstance(e, dict)) > EMBED_TOTAL_LIMIT:
            errors.add(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_LIMIT}",
            )
    if body.get("components") is not None and not int(body.get("flags") or 0) & COMPONENTS_V2_FLAG:
        check_components(body["components"], errors)
    mentions = body.get("allowed_mentions")
    if mentions is not None:
        parse = mentions.get("parse") or []
        for kind in ("users", "roles"):
            if kind in parse and mentions.get(kind):
                errors.add(
                    ("allowed_mentions",),
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
        if any(p not in ("everyone", "users", "roles") for p in parse):
            errors.add(("allowed_mentions", "parse"), "BASE_TYPE_CHOICES", "Value must be one of")
    nonce = body.get("nonce")
    if isinstance(nonce, str):
        errors.max_length(("nonce",), nonce, 25)


def is_empty_message(body: dict[str, Any]) -> bool:
    keys = ("content", "embeds", "components", "sticker_ids", "attachments", "poll")
    return not any(body.get(k) for k in keys)


def ping_targets(
    content: str | None,
    allowed_mentions: dict[str, Any] | None,
    *,
    replied_author: int | None = None,
) -> list[str]:
    """Who the message would notify: ``"@everyone"``, ``"user:<id>"``, ``"role:<id>"``,
    ``"reply:<id>"`` (a reply pings its author unless ``replied_user`` is false)."""
    text = content or ""
    if allowed_mentions is None:
        parse, users, roles, replied = {"everyone", "users", "roles"}, set(), set(), True
    else:
        parse = set(allowed_mentions.get("parse") or [])
        users = {int(u) for u in allowed_mentions.get("users") or []}
        roles = {int(r) for r in allowed_mentions.get("roles") or []}
        replied = bool(allowed_mentions.get("replied_user", False))
    targets = []
    if "everyone" in parse and EVERYONE_RE.search(text):
        targets.append("@everyone")
    for user_id in dict.fromkeys(int(u) for u in USER_MENTION_RE.findall(text)):
        if "users" in parse or user_id in users:
            targets.append(f"user:{user_id}")
    for role_id in dict.fromkeys(int(r) for r in ROLE_MENTION_RE.findall(text)):
        if "roles" in parse or role_id in roles:
            targets.append(f"role:{role_id}")
    if replied and replied_author is not None:
        targets.append(f"reply:{replied_author}")
    return targets


# -- interaction callbacks and commands ------------------------------------------------------


def check_choices(data: dict[str, Any], errors: FormErrors) -> None:
    """Autocomplete results (callback type 8): ≤ 25 choices, name 1–100, value ≤ 100."""
    choices = data.get("choices")
    if not isinstance(choices, list):
        errors.add(("choices",), "BASE_TYPE_REQUIRED", "This field is required")
        return
    errors.max_length(("choices",), choices, 25)
    for i, choice in enumerate(choices):
        errors.bad_length(("choices", i, "name"), choice.get("name"), 1, 100)
        errors.max_length(("choices", i, "value"), choice.get("value"), 100)


def check_commands(commands: Any, errors: FormErrors) -> None:
    """Bulk-overwrite rules: ≤ 100 commands, lowercase names 1–32, slash-command descriptions
    1–100, ≤ 25 options (required ones first), ≤ 25 choices."""
    if not isinstance(commands, list):
        errors.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return
    errors.max_length((), commands, 100)
    for i, command in enumerate(commands):
        kind = command.get("type", 1)
        name = command.get("name")
        if not (isinstance(name, str) and COMMAND_NAME_RE.match(name)) or (
            kind == 1 and name != name.lower()
        ):
            errors.add((i, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if kind == 1:
            errors.bad_length((i, "description"), command.get("description"), 1, 100)
            _check_options(command.get("options") or [], (i, "options"), errors)


def _check_options(options: list[Any], path: tuple[str | int, ...], errors: FormErrors) -> None:
    errors.max_length(path, options, 25)
    seen_optional = False
    for j, option in enumerate(options):
        name = option.get("name")
        if not (isinstance(name, str) and COMMAND_NAME_RE.match(name) and name == name.lower()):
            errors.add((*path, j, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Name is invalid")
        errors.bad_length((*path, j, "description"), option.get("description"), 1, 100)
        errors.max_length((*path, j, "choices"), option.get("choices"), 25)
        if option.get("required"):
            if seen_optional:
                errors.add(
                    (*path, j, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        elif option.get("type") not in (1, 2):
            seen_optional = True
        if option.get("type") in (1, 2):
            _check_options(option.get("options") or [], (*path, j, "options"), errors)
