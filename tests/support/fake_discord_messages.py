"""What the bot posted: ``FakeMessage`` records and how a request body becomes one.

A message keeps the request ``body`` that created it and the ``data`` Discord answered (the
message object discord.py parses, updated by edits), plus ``pings``: whom it would notify
(``fake_discord_rules.ping_targets``). Ephemeral messages notify nobody; a deferred
("thinking", flags 128) response is judged when the edit that fills it in arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.support.fake_discord_failures import snowflake
from tests.support.fake_discord_rules import EPHEMERAL_FLAG, ping_targets
from tests.support.fake_discord_world import FakeGuild, FakeUser, iso_now, next_snowflake

if TYPE_CHECKING:
    from tests.support.fake_discord import FakeDiscord
    from tests.support.fake_discord_interactions import FakeInteraction

LOADING_FLAG = 1 << 7


@dataclass(eq=False)
class FakeMessage:
    """A message the bot created: ``body`` is the request that created it, ``data`` the
    message object Discord answered (kept up to date by edits)."""

    id: int
    channel_id: int
    data: dict[str, Any]
    body: dict[str, Any]
    author_id: int
    source: str  # "channel", "interaction" (a callback's message) or "followup"
    ephemeral: bool = False
    interaction_id: int | None = None
    pings: list[str] = field(default_factory=list)
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[dict[str, Any]]:
        return list(self.data.get("components") or [])

    def component(self, custom_id: str) -> dict[str, Any] | None:
        stack = list(self.components)
        while stack:
            item = stack.pop()
            if item.get("custom_id") == custom_id:
                return item
            stack.extend(item.get("components") or [])
        return None

    def apply_edit(self, body: dict[str, Any]) -> None:
        self.edits.append(body)
        for key in ("content", "components"):
            if key in body:
                self.data[key] = (
                    body[key] if body[key] is not None else ([] if key != "content" else "")
                )
        if "embeds" in body:
            self.data["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        if "flags" in body and body["flags"] is not None:
            self.data["flags"] = int(body["flags"]) | (self.data["flags"] & EPHEMERAL_FLAG)
        self.data["edited_timestamp"] = iso_now()

    def set_mentions(self, pings: list[str], guild: FakeGuild | None) -> None:
        self.data["mention_everyone"] = "@everyone" in pings
        users = [int(p.split(":")[1]) for p in pings if p.startswith("user:")]
        members = [guild.member(u) if guild else None for u in users]
        self.data["mentions"] = [
            m.user.payload() if m else FakeUser(u, f"user{u}").payload()
            for u, m in zip(users, members, strict=True)
        ]
        self.data["mention_roles"] = [p.split(":")[1] for p in pings if p.startswith("role:")]


def pings_for(dc: FakeDiscord, message: FakeMessage, body: dict[str, Any]) -> list[str]:
    """Whom ``message`` would notify if Discord delivered ``body`` as it."""
    if message.ephemeral:
        return []  # an ephemeral message notifies nobody
    replied = None  # the author a reply would notify; 0 when the fake does not know it
    reference = body.get("message_reference")
    if reference:
        target = dc.message(snowflake(str(reference.get("message_id", 0))))
        replied = 0 if target is None else target.author_id
        if replied == dc.bot.id:
            replied = None
    return ping_targets(body.get("content"), body.get("allowed_mentions"), replied_author=replied)


def new_message(
    dc: FakeDiscord,
    channel_id: int,
    body: dict[str, Any],
    *,
    interaction: FakeInteraction | None = None,
) -> FakeMessage:
    """Store the message ``body`` creates in ``channel_id`` (by the bot, or as the response
    or followup of ``interaction``) and return it."""
    found = dc.find_channel(channel_id)
    guild = found[0] if found else None
    flags = int(body.get("flags") or 0)
    data: dict[str, Any] = {
        "id": str(next_snowflake()),
        "channel_id": str(channel_id),
        "author": dc.bot.payload(),
        "content": body.get("content") or "",
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": bool(body.get("tts")),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [{"type": "rich", **e} for e in body.get("embeds") or []],
        "components": body.get("components") or [],
        "pinned": False,
        "type": 0,
        "flags": flags,
    }
    if guild is not None:
        data["guild_id"] = str(guild.id)
    if body.get("nonce") is not None:
        data["nonce"] = body["nonce"]
    if body.get("message_reference"):
        data["message_reference"] = body["message_reference"]
        data["type"] = 19
    if interaction is not None:
        data |= {
            "webhook_id": str(dc.application_id),
            "application_id": str(dc.application_id),
            "type": 20 if interaction.type == 2 else 0,
            "interaction_metadata": interaction.metadata(),
        }
    message = FakeMessage(
        id=int(data["id"]),
        channel_id=channel_id,
        data=data,
        body=body,
        author_id=dc.bot.id,
        source="channel" if interaction is None else "interaction",
        ephemeral=bool(flags & EPHEMERAL_FLAG),
        interaction_id=None if interaction is None else interaction.id,
    )
    if not flags & LOADING_FLAG:
        message.pings = pings_for(dc, message, body)
    message.set_mentions(message.pings, guild)
    dc.messages.append(message)
    return message
