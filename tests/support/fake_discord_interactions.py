"""Interactions the fake sent (and how the bot answered), and INTERACTION_CREATE builders.

Builders (called through ``FakeDiscord.command_interaction`` and friends) produce what Discord
sends for a guild interaction: ``id``, ``token``, ``application_id``, ``type``, ``data``,
``guild_id``/``guild``, ``channel_id``/``channel`` (with the invoker's ``permissions``),
``member`` (with ``permissions``, the string of bits discord.py reads for
``interaction.permissions``), ``app_permissions``, ``locale``, ``context`` and
``authorizing_integration_owners``.

- Application command (type 2): option values are typed from the synced command's schema
  when the command was synced (else from the Python value: str 3, int 4, bool 5, float 10,
  ``FakeChannel`` 7, ``FakeMember``/``FakeUser`` 6, ``FakeRole`` 8), with ``resolved``
  channels/users/members/roles filled in; ``data.guild_id`` is set for a guild command.
- Message component (type 3): ``data.custom_id``, ``data.component_type`` and, for a select,
  ``data.values``; ``message`` is the whole message the component sits on (discord.py's
  ``DynamicItem`` needs it: it rebuilds the view from ``interaction.message`` and ignores the
  click if the custom_id is not on that message).
- Autocomplete (type 4): like a command, one option carrying ``focused: true``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.support.fake_discord_messages import FakeMessage
from tests.support.fake_discord_rules import EPHEMERAL_FLAG
from tests.support.fake_discord_world import (
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
    next_snowflake,
)

if TYPE_CHECKING:
    from tests.support.fake_discord import FakeDiscord

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10


@dataclass(frozen=True)
class InteractionCallback:
    interaction_id: int
    type: int
    data: dict[str, Any]
    latency: float  # seconds between the INTERACTION_CREATE and this callback

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL_FLAG)

    @property
    def content(self) -> str | None:
        return self.data.get("content")


@dataclass(eq=False)
class FakeInteraction:
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    sent_at: float = field(default_factory=time.monotonic)
    callback: InteractionCallback | None = None
    original: FakeMessage | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    late_callbacks: int = 0

    @property
    def channel_id(self) -> int:
        return int(self.payload["channel_id"])

    def metadata(self) -> dict[str, Any]:
        user = self.payload.get("member", {}).get("user") or self.payload.get("user")
        data: dict[str, Any] = {"id": str(self.id), "type": self.type, "user": user}
        data["authorizing_integration_owners"] = self.payload["authorizing_integration_owners"]
        if self.type == 2:
            data["name"] = self.payload["data"]["name"]
        if self.type == 3:
            data["interacted_message_id"] = self.payload["message"]["id"]
        return data


# -- builders --------------------------------------------------------------------------------


def base_payload(
    dc: FakeDiscord,
    kind: int,
    data: dict[str, Any],
    user: FakeMember | FakeUser | None,
    channel: FakeChannel | None,
) -> dict[str, Any]:
    """The parts every guild interaction shares; ``user`` defaults to ``dc.member`` (no
    special permissions) and ``channel`` to ``dc.news``."""
    channel = channel or dc.news
    found = dc.find_channel(channel.id)
    if found is None:
        raise ValueError(f"channel {channel.id} is not in any fake guild")
    guild = found[0]
    member = dc.member if user is None else user
    if isinstance(member, FakeUser):
        member = guild.member(member.id) or FakeMember(member)
    permissions = guild.permissions_of(member)
    bot_member = guild.member(dc.bot.id)
    app_permissions = guild.permissions_of(bot_member) if bot_member else 0
    return {
        "id": str(next_snowflake()),
        "application_id": str(dc.application_id),
        "type": kind,
        "data": data,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        "channel_id": str(channel.id),
        "channel": channel.payload(permissions=permissions),
        "member": member.payload(permissions=permissions),
        "token": "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48),
        "version": 1,
        "app_permissions": str(app_permissions),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }


def _find_command(dc: FakeDiscord, name: str, guild_id: int) -> dict[str, Any] | None:
    for command in dc.guild_commands.get(guild_id, []):
        if command["name"] == name:
            return command
    return next((c for c in dc.global_commands if c["name"] == name), None)


def _option(
    name: str,
    value: Any,
    kind: int | None,
    guild: FakeGuild,
    resolved: dict[str, Any],
    permissions: int,
) -> dict[str, Any]:
    if kind is None:
        kind = _infer_type(value)
    if isinstance(value, FakeChannel | FakeMember | FakeUser | FakeRole):
        raw: Any = str(value.id)
    elif kind in (USER, CHANNEL, ROLE, MENTIONABLE):
        raw = str(value)
    else:
        raw = value
    if kind == CHANNEL:
        channel = guild.channel(int(raw))
        if channel is not None:
            resolved.setdefault("channels", {})[raw] = channel.payload(permissions=permissions)
    elif kind in (USER, MENTIONABLE) and guild.member(int(raw)) is not None:
        member = guild.member(int(raw))
        assert member is not None
        resolved.setdefault("users", {})[raw] = member.user.payload()
        member_data = member.payload(permissions=guild.permissions_of(member), with_user=False)
        resolved.setdefault("members", {})[raw] = member_data
    elif kind in (ROLE, MENTIONABLE) and guild.role(int(raw)) is not None:
        role = guild.role(int(raw))
        assert role is not None
        resolved.setdefault("roles", {})[raw] = role.payload()
    return {"name": name, "type": kind, "value": raw}


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, FakeChannel):
        return CHANNEL
    if isinstance(value, FakeMember | FakeUser):
        return USER
    if isinstance(value, FakeRole):
        return ROLE
    return STRING


def command_data(
    dc: FakeDiscord,
    name: str,
    options: dict[str, Any] | list[dict[str, Any]] | None,
    channel: FakeChannel | None,
    *,
    permissions: int,
    focused: str | None = None,
) -> dict[str, Any]:
    """``data`` of a command (or, with ``focused``, autocomplete) interaction; ``permissions``
    are the invoker's, which Discord repeats on resolved channels."""
    found = dc.find_channel((channel or dc.news).id)
    guild = found[0] if found else dc.guild
    command = _find_command(dc, name, guild.id)
    schema = {o["name"]: o for o in (command or {}).get("options") or []}
    resolved: dict[str, Any] = {}
    if isinstance(options, list):  # raw options (sub-commands and the like), sent as given
        built = options
    else:
        built = []
        for key, value in (options or {}).items():
            if command is not None and key not in schema:
                raise ValueError(f"/{name} has no option {key!r}; it has {sorted(schema)}")
            kind = schema[key]["type"] if key in schema else None
            option = _option(key, value, kind, guild, resolved, permissions)
            if key == focused:
                option["focused"] = True
                option["value"] = str(value)
            built.append(option)
    data: dict[str, Any] = {
        "id": command["id"] if command else str(next_snowflake()),
        "name": name,
        "type": 1,
        "options": built,
    }
    if resolved:
        data["resolved"] = resolved
    if command is not None and command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def component_payload(
    dc: FakeDiscord,
    custom_id: str,
    *,
    message: FakeMessage | int | None,
    values: list[str] | None,
    user: FakeMember | FakeUser | None,
) -> dict[str, Any]:
    if message is None:
        candidates = [m for m in dc.messages if not m.deleted and m.component(custom_id)]
        if not candidates:
            raise ValueError(f"no message the bot sent has a component {custom_id!r}")
        message = candidates[-1]
    elif isinstance(message, int):
        found = dc.message(message)
        if found is None:
            raise ValueError(f"the bot sent no message {message}")
        message = found
    component = message.component(custom_id) or {}
    kind = component.get("type", 2 if values is None else 3)
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind}
    if kind != 2:
        data["values"] = list(values or [])
    channel_found = dc.find_channel(message.channel_id)
    channel = channel_found[1] if channel_found else None
    payload = base_payload(dc, 3, data, user, channel)
    payload["message"] = message.data
    return payload
