"""The slash commands of the Discord bot and what they answer.

``install(tree, slash, ask)`` adds them to a ``CommandTree``; ``bot.discord.platform``
syncs the tree when the bot starts. The texts come from ``bot.common.commands.Commands``
(shared with Telegram); this module only maps options and permissions::

    /subscribe [channel] [topics] [mode] [time] [timezone]   Manage Channels
    /unsubscribe [channel]                                    Manage Channels
    /topics  /settings  /digest                               anyone, answered ephemerally
    /ask question [card]                                      anyone (``commands_ask``)

Replies are ephemeral (only the person who typed the command sees them) except ``/ask``,
whose answer is for the channel: a subscription change or a digest on demand is one
person's business and should not interrupt a channel's conversation. Every command is
guild-only (``allowed_contexts`` guilds): a subscription belongs to a server channel.

Changing a subscription needs Manage Channels twice over: ``default_member_permissions``
hides ``/subscribe`` and ``/unsubscribe`` from other members by default, and
``commands_access.may_manage`` checks at run time (server admins can override the
default in Integrations), answering others with an ephemeral refusal.
"""

import zoneinfo
from functools import cache
from typing import Any

import discord
from discord import app_commands

from bot.common.commands import COMMANDS, CommandError, Commands
from bot.discord.commands_access import (
    NEEDS_MANAGE_CHANNELS,
    ChannelOption,
    here,
    may_manage,
    target,
)
from bot.discord.commands_ask import AskCommand
from bot.discord.commands_reply import DEFER_AFTER, guarded, in_time, send
from bot.discord.components import digest_view
from bot.discord.render import digest_parts
from digest.models import Destination

Interaction = discord.Interaction[Any]

DIGEST_CARDS = 10  # cards in a /digest
NO_CARDS = "No news cards yet: they appear here as soon as the feeds bring stories."
CHOICES_MAX = 25  # Discord's limit for autocomplete choices
MODES = [
    app_commands.Choice(name="instant: each card as it comes", value="instant"),
    app_commands.Choice(name="digest: a digest at set times", value="digest"),
]
_DESCRIPTIONS = {c.name: c.description for c in COMMANDS}


def description(name: str) -> str:
    """The command's description, shared with the other platforms' menus."""
    return _DESCRIPTIONS.get(name, name)[:100]


def split_time(text: str | None) -> tuple[str | None, str | None]:
    """``/subscribe time``: "08:00", "07:30,18:00" or "08:00 mon-fri" -> (times, days)."""
    words = (text or "").split()
    if not words:
        return None, None
    return words[0], ",".join(words[1:]) or None


@cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_choices(current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 IANA zone names containing what was typed (case-insensitive)."""
    typed = current.strip().casefold().replace(" ", "_")
    found = [z for z in _zones() if typed in z.casefold()] if typed else list(_zones())
    return [app_commands.Choice(name=z, value=z) for z in found[:CHOICES_MAX]]


def _channel_prefix(interaction: Interaction, dest: Destination) -> str:
    # A channel mention names the channel when the command acted on another one; it
    # notifies nobody (only user, role and @everyone mentions do).
    if dest.thread or dest.chat == str(interaction.channel_id):
        return ""
    return f"<#{dest.chat}>: "


class SlashCommands:
    """The handlers of the subscription and reading commands over ``Commands``."""

    def __init__(self, commands: Commands, *, defer_after: float = DEFER_AFTER) -> None:
        self.commands = commands
        self.defer_after = defer_after

    async def subscribe(
        self,
        interaction: Interaction,
        channel: app_commands.AppCommandChannel | None,
        topics: str | None,
        mode: str | None,
        time: str | None,
        timezone: str | None,
    ) -> None:
        """Subscribe the channel, or change its subscription. A time without a mode means
        the digest mode (a time only matters for digests)."""

        async def run() -> None:
            if not may_manage(interaction, channel):
                raise CommandError(NEEDS_MANAGE_CHANNELS)
            dest = target(interaction, channel)
            times, days = split_time(time)
            chosen_mode = mode or ("digest" if times else None)

            def change() -> str:
                return self.commands.subscribe(
                    dest, topics, mode=chosen_mode, times=times, tz=timezone, days=days
                )

            text = await in_time(interaction, change, ephemeral=True, defer_after=self.defer_after)
            await send(interaction, _channel_prefix(interaction, dest) + text, ephemeral=True)

        await guarded(interaction, "/subscribe", run)

    async def unsubscribe(
        self, interaction: Interaction, channel: app_commands.AppCommandChannel | None
    ) -> None:
        async def run() -> None:
            if not may_manage(interaction, channel):
                raise CommandError(NEEDS_MANAGE_CHANNELS)
            dest = target(interaction, channel)
            text = await in_time(
                interaction,
                lambda: self.commands.unsubscribe(dest),
                ephemeral=True,
                defer_after=self.defer_after,
            )
            await send(interaction, _channel_prefix(interaction, dest) + text, ephemeral=True)

        await guarded(interaction, "/unsubscribe", run)

    async def topics(self, interaction: Interaction) -> None:
        async def run() -> None:
            await send(interaction, self.commands.topics_text(), ephemeral=True)

        await guarded(interaction, "/topics", run)

    async def settings(self, interaction: Interaction) -> None:
        async def run() -> None:
            dest = here(interaction)
            text = await in_time(
                interaction,
                lambda: self.commands.settings_text(dest),
                ephemeral=True,
                defer_after=self.defer_after,
            )
            await send(interaction, text, ephemeral=True)

        await guarded(interaction, "/settings", run)

    async def digest(self, interaction: Interaction) -> None:
        """The latest cards (the channel's topics applied when it is subscribed), as the
        digest message(s) with a button per card, to the asker alone."""

        async def run() -> None:
            dest = here(interaction)

            def load() -> tuple[list[Any], str]:
                sub = self.commands.subscription(dest)
                zone = sub.spec.timezone if sub is not None else "UTC"
                return self.commands.latest_cards(dest, DIGEST_CARDS), zone or "UTC"

            cards, zone = await in_time(
                interaction, load, ephemeral=True, defer_after=self.defer_after
            )
            if not cards:
                await send(interaction, NO_CARDS, ephemeral=True)
                return
            for part in digest_parts(cards, None, zone):
                view = digest_view(part.cards, part.first_number)
                await send(interaction, embeds=[part.embed], view=view, ephemeral=True)

        await guarded(interaction, "/digest", run)

    async def complete_zone(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return zone_choices(current)


class NewsTree(app_commands.CommandTree[discord.Client]):
    """The command tree; errors that escape a command (a stale command, an option Discord
    sent that does not fit) are logged and answered ephemerally."""

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        async def fail() -> None:
            raise error

        await guarded(interaction, "a slash command", fail)


def install(tree: app_commands.CommandTree[Any], slash: SlashCommands, ask: AskCommand) -> None:
    """Add the bot's slash commands to ``tree`` (called once, before the tree is synced)."""
    manage = discord.Permissions(manage_channels=True)

    @tree.command(name="subscribe", description=description("subscribe"))
    @app_commands.describe(
        channel="The channel to subscribe (default: this one)",
        topics="Topics separated by spaces, e.g. Business Science (see /topics); empty: all",
        mode="Each card as it comes, or a digest at set times",
        time='Digest times, e.g. "08:00", "07:30,18:00" or "08:00 mon-fri"',
        timezone="The time zone of the digest times, e.g. Europe/Berlin",
    )
    @app_commands.choices(mode=MODES)
    @app_commands.autocomplete(timezone=slash.complete_zone)
    @app_commands.default_permissions(manage)
    @app_commands.guild_only()
    async def subscribe_command(
        interaction: Interaction,
        channel: ChannelOption | None = None,
        topics: str | None = None,
        mode: str | None = None,
        time: str | None = None,
        timezone: str | None = None,
    ) -> None:
        await slash.subscribe(interaction, channel, topics, mode, time, timezone)

    @tree.command(name="unsubscribe", description=description("unsubscribe"))
    @app_commands.describe(channel="The channel to unsubscribe (default: this one)")
    @app_commands.default_permissions(manage)
    @app_commands.guild_only()
    async def unsubscribe_command(
        interaction: Interaction, channel: ChannelOption | None = None
    ) -> None:
        await slash.unsubscribe(interaction, channel)

    @tree.command(name="topics", description=description("topics"))
    @app_commands.guild_only()
    async def topics_command(interaction: Interaction) -> None:
        await slash.topics(interaction)

    @tree.command(name="settings", description="This channel's news subscription")
    @app_commands.guild_only()
    async def settings_command(interaction: Interaction) -> None:
        await slash.settings(interaction)

    @tree.command(name="digest", description=description("digest"))
    @app_commands.guild_only()
    async def digest_command(interaction: Interaction) -> None:
        await slash.digest(interaction)

    @tree.command(name="ask", description="Ask about the latest card here, or pick a card")
    @app_commands.describe(
        question="Your question, e.g. who is affected?",
        card="The card to ask about (default: the latest card in this channel)",
    )
    @app_commands.autocomplete(card=ask.complete_card)
    @app_commands.guild_only()
    async def ask_command(interaction: Interaction, question: str, card: str | None = None) -> None:
        await ask.ask(interaction, question, card)
