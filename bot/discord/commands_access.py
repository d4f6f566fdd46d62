"""Where a slash command acts and whether the person may change it.

- ``here(interaction)``: the destination a command used in a channel acts on:
  ``Destination("discord", channel id)``, or, in a thread, ``Destination("discord", parent
  id, thread id)`` (cards then go to the thread; ``DiscordSender`` posts to the thread id).
- ``TextChannelOption``: the ``channel`` option of ``/subscribe`` and ``/unsubscribe``,
  offering text and announcement channels. It hands the command Discord's resolved channel
  (``AppCommandChannel``) rather than discord.py's cached one, so it works before the guild
  is cached and carries ``permissions``: Discord's own computation of the invoker's
  permissions *in that channel* (roles and channel overwrites applied).
- ``may_manage``: the run-time Manage Channels check. ``default_member_permissions`` only
  hides a command by default; a server admin can open it to anyone in Integrations, so
  the check here is what actually guards a channel's subscription.

Called by ``bot.discord.commands``.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from digest.models import Destination

PLATFORM = "discord"
NEEDS_MANAGE_CHANNELS = (
    "Only members who can manage this channel (Manage Channels) can change its news"
    " subscription; ask a moderator."
)
GUILD_ONLY = "Use this command in a server channel."

Interaction = discord.Interaction[Any]


def here(interaction: Interaction) -> Destination:
    """The destination of the channel (or thread) the command was used in."""
    channel = interaction.channel
    if isinstance(channel, discord.Thread) and channel.parent_id:
        return Destination(PLATFORM, str(channel.parent_id), str(channel.id))
    return Destination(PLATFORM, str(interaction.channel_id))


def target(interaction: Interaction, channel: app_commands.AppCommandChannel | None) -> Destination:
    """The destination a command acts on: the ``channel`` option when given, else here."""
    if channel is None or channel.id == interaction.channel_id:
        return here(interaction)
    return Destination(PLATFORM, str(channel.id))


def may_manage(interaction: Interaction, channel: app_commands.AppCommandChannel | None) -> bool:
    """Whether the invoker has Manage Channels (or Administrator) in ``channel`` (the
    channel option), else in the channel the command was used in. Outside a guild: no."""
    if interaction.guild_id is None:
        return False
    if channel is not None and channel.id != interaction.channel_id:
        perms = channel.permissions
    else:
        perms = interaction.permissions
    return perms.manage_channels or perms.administrator


class TextChannelOption(app_commands.Transformer):
    """A channel option limited to text and announcement channels (where cards can go)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: Interaction, value: Any, /) -> Any:
        if not isinstance(value, app_commands.AppCommandChannel):
            raise app_commands.TransformerError(value, self.type, self)
        return value


ChannelOption = app_commands.Transform[app_commands.AppCommandChannel, TextChannelOption]
