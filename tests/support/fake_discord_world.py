"""The fake Discord's world: users, guilds, roles, members, channels, threads, as Discord's JSON.

``FakeDiscord`` builds one guild (``default_guild``) and tests may add more with
``FakeGuild.add_*``. Every object knows how to render itself as the API v10 payload that
discord.py 2.7 parses (``payload()``); ids are real snowflakes (time-based), so discord.py's
``snowflake_time`` and its "message younger than 10 s" delete bucket behave as on Discord.

Permissions follow Discord's rules without channel overwrites: the member's permissions are
the OR of ``@everyone`` (whose role id is the guild id) and their roles; ADMINISTRATOR or
owning the guild means every bit.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntFlag
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
_last_snowflake = 0
_increment = itertools.count()


def next_snowflake() -> int:
    """A fresh, increasing snowflake for "now" (unique within the process)."""
    global _last_snowflake
    now = int(time.time() * 1000) - DISCORD_EPOCH_MS
    value = max((now << 22) | (next(_increment) & 0xFFF), _last_snowflake + 1)
    _last_snowflake = value
    return value


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


class Perm(IntFlag):
    """Discord permission bits (the ones a news bot and its tests care about)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    MANAGE_ROLES = 1 << 28
    USE_APPLICATION_COMMANDS = 1 << 31
    MANAGE_THREADS = 1 << 34
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38


ALL_PERMISSIONS = (1 << 51) - 1

EVERYONE_PERMISSIONS = (
    Perm.VIEW_CHANNEL
    | Perm.SEND_MESSAGES
    | Perm.READ_MESSAGE_HISTORY
    | Perm.EMBED_LINKS
    | Perm.ATTACH_FILES
    | Perm.ADD_REACTIONS
    | Perm.USE_EXTERNAL_EMOJIS
    | Perm.USE_APPLICATION_COMMANDS
    | Perm.CREATE_PUBLIC_THREADS
    | Perm.SEND_MESSAGES_IN_THREADS
)

# Channel types (API v10).
GUILD_TEXT = 0
GUILD_ANNOUNCEMENT = 5
PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (10, PUBLIC_THREAD, PRIVATE_THREAD)


@dataclass(eq=False)
class FakeUser:
    id: int
    username: str
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": None if self.bot else self.username.title(),
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(eq=False)
class FakeRole:
    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    mentionable: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeMember:
    user: FakeUser
    role_ids: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=iso_now)

    @property
    def id(self) -> int:
        return self.user.id

    def payload(self, *, permissions: int | None = None, with_user: bool = True) -> dict[str, Any]:
        """The guild member object; ``permissions`` is added the way interactions carry it."""
        data: dict[str, Any] = {
            "nick": None,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.role_ids],
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class FakeChannel:
    id: int
    guild_id: int
    name: str
    type: int = GUILD_TEXT
    position: int = 0
    parent_id: int | None = None
    owner_id: int | None = None
    topic: str | None = None
    message_count: int = 0

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self, *, permissions: int | None = None) -> dict[str, Any]:
        """The channel object (threads carry ``thread_metadata``); ``permissions`` is added
        the way interactions carry the invoking member's permissions in the channel."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self.is_thread:
            now = iso_now()
            data |= {
                "owner_id": str(self.owner_id or 0),
                "message_count": self.message_count,
                "member_count": 1,
                "total_message_sent": self.message_count,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": now,
                    "locked": False,
                    "invitable": True,
                    "create_timestamp": now,
                },
            }
        else:
            data |= {
                "position": self.position,
                "permission_overwrites": [],
                "topic": self.topic,
                "nsfw": False,
                "default_auto_archive_duration": 1440,
                "default_thread_rate_limit_per_user": 0,
            }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class FakeGuild:
    id: int
    name: str
    owner_id: int
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, *, owner_id: int) -> FakeGuild:
        gid = next_snowflake()
        guild = cls(id=gid, name=name, owner_id=owner_id)
        guild.roles.append(FakeRole(id=gid, name="@everyone", permissions=EVERYONE_PERMISSIONS))
        return guild

    # -- building ----------------------------------------------------------------------

    def add_role(self, name: str, permissions: int, *, managed: bool = False) -> FakeRole:
        role = FakeRole(next_snowflake(), name, int(permissions), len(self.roles), managed)
        self.roles.append(role)
        return role

    def add_text_channel(self, name: str, *, topic: str | None = None) -> FakeChannel:
        position = sum(1 for c in self.channels if not c.is_thread)
        channel = FakeChannel(next_snowflake(), self.id, name, position=position, topic=topic)
        self.channels.append(channel)
        return channel

    def add_thread(
        self, parent: FakeChannel, name: str, *, owner_id: int, thread_id: int | None = None
    ) -> FakeChannel:
        thread = FakeChannel(
            thread_id or next_snowflake(),
            self.id,
            name,
            type=PUBLIC_THREAD,
            parent_id=parent.id,
            owner_id=owner_id,
        )
        self.channels.append(thread)
        return thread

    def add_member(self, user: FakeUser, *roles: FakeRole) -> FakeMember:
        member = FakeMember(user, [r.id for r in roles])
        self.members.append(member)
        return member

    # -- looking up --------------------------------------------------------------------

    @property
    def everyone(self) -> FakeRole:
        return self.roles[0]

    def channel(self, channel_id: int) -> FakeChannel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.id == user_id), None)

    def role(self, role_id: int) -> FakeRole | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def permissions_of(self, member: FakeMember) -> int:
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        value = self.everyone.permissions
        for role_id in member.role_ids:
            role = self.role(role_id)
            if role is not None:
                value |= role.permissions
        return ALL_PERMISSIONS if value & Perm.ADMINISTRATOR else value

    # -- payloads ----------------------------------------------------------------------

    def payload(self, *, bot_id: int, all_members: bool) -> dict[str, Any]:
        """GUILD_CREATE data. Without the GUILD_MEMBERS intent Discord sends (about) only the
        bot's own member, so ``all_members`` is False then."""
        members = [m for m in self.members if all_members or m.id == bot_id]
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "features": [],
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "vanity_url_code": None,
            "application_id": None,
            "max_members": 500000,
            "roles": [r.payload() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "joined_at": iso_now(),
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "members": [m.payload() for m in members],
            "channels": [c.payload() for c in self.channels if not c.is_thread],
            "threads": [c.payload() for c in self.channels if c.is_thread],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }


@dataclass(eq=False)
class DefaultWorld:
    """What ``FakeDiscord`` starts with; its attributes are re-exported on the fake."""

    bot: FakeUser
    owner: FakeUser
    guild: FakeGuild
    news: FakeChannel
    general: FakeChannel
    thread: FakeChannel
    moderators: FakeRole
    admin: FakeMember
    member: FakeMember


def default_world() -> DefaultWorld:
    """A bot user and one guild "Newsroom": text channels #news and #general, a public thread
    in #news, roles @everyone, "Moderators" (MANAGE_CHANNELS) and the bot's managed role;
    members: the bot, ``admin`` (a Moderator) and ``member`` (no roles). The guild owner is a
    separate user, so ``admin`` gets MANAGE_CHANNELS from the role, not from ownership."""
    bot = FakeUser(next_snowflake(), "NewsDigest", bot=True)
    owner = FakeUser(next_snowflake(), "owner")
    guild = FakeGuild.create("Newsroom", owner_id=owner.id)
    moderators = guild.add_role("Moderators", Perm.MANAGE_CHANNELS | Perm.MANAGE_MESSAGES)
    bot_role = guild.add_role(
        "NewsDigest", EVERYONE_PERMISSIONS | Perm.MANAGE_THREADS, managed=True
    )
    news = guild.add_text_channel("news", topic="Cards from the news-digest bot")
    general = guild.add_text_channel("general")
    thread = guild.add_thread(news, "weekly-digest", owner_id=bot.id)
    guild.add_member(owner)
    guild.add_member(bot, bot_role)
    admin = guild.add_member(FakeUser(next_snowflake(), "ada"), moderators)
    member = guild.add_member(FakeUser(next_snowflake(), "bob"))
    return DefaultWorld(bot, owner, guild, news, general, thread, moderators, admin, member)
