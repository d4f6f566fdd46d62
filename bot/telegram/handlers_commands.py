"""Slash commands, in chats and in channel posts.

One ``MessageHandler`` takes every message or channel post that starts with a command and
routes it here by name (PTB's ``CommandHandler`` ignores channel posts, and an unknown
command in a private chat should still get an answer). "/cmd@otherbot" is left alone.

The texts come from ``bot.common.commands.Commands``; this module only works out which chat
a command is about and whether the sender may change it (``bot.telegram.access``):

- in a private chat, "/subscribe @channel topics" (and /unsubscribe, /mode, /schedule,
  /language, /settings with "@channel" first) is about that channel or group, for one of its
  administrators;
- in groups, the commands that change the subscription are for administrators only.

Called by ``bot.telegram.handlers.install``; errors for the person (``CommandError``,
``AccessDenied``) become one-line replies, anything else goes to the error handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Chat, Message, MessageEntity, Update
from telegram.ext import ContextTypes

from bot.common.commands import CommandError
from bot.telegram.access import (
    NOT_ADMIN,
    AccessDenied,
    managed_chat,
    may_add_sources,
    may_change,
)
from bot.telegram.handlers import Gateway, destination, reply_html, reply_plain
from bot.telegram.handlers_followups import FollowUps
from bot.telegram.handlers_settings import SettingsMenu
from bot.telegram.render import digest_messages
from digest.models import Destination

DIGEST_CARDS = 5
Route = Callable[[Message, str, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def parse_command(message: Message, username: str) -> tuple[str, str] | None:
    """("subscribe", "Business Science") for "/subscribe@bot Business Science"; None when
    the message does not start with a command, or names another bot."""
    text = message.text or ""
    first = next(iter(message.entities), None)
    if first is None or first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    word = text[1 : first.length]
    name, _, addressee = word.partition("@")
    if addressee and addressee.lower() != username.lower():
        return None
    return name.lower(), " ".join(text[first.length :].split())


def _is_chat_ref(word: str) -> bool:
    """ "@channel" or a numeric group/channel id (they are negative)."""
    return (word.startswith("@") and len(word) > 1) or (word.startswith("-") and word[1:].isdigit())


class CommandRouter:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.follow_ups = FollowUps(gateway)
        self.menu = SettingsMenu(gateway)
        self.routes: dict[str, Route] = {
            "start": self.start,
            "help": self.help,
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "topics": self.topics,
            "mode": self.mode,
            "schedule": self.schedule,
            "language": self.language,
            "digest": self.digest,
            "ask": self.ask,
            "sources": self.sources,
            "settings": self.settings,
            "addsource": self.addsource,
        }

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None:
            return
        parsed = parse_command(message, context.bot.username)
        if parsed is None:
            return
        name, args = parsed
        route = self.routes.get(name)
        if route is None:
            if message.chat.type == Chat.PRIVATE:
                await reply_plain(message, f"I do not know /{name}. /help lists what I can do.")
            return
        try:
            await route(message, args, context)
        except (CommandError, AccessDenied) as e:
            await reply_plain(message, str(e))

    # -- which chat, and may the sender change it ----------------------------------------

    async def target(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> tuple[Destination, str, str]:
        """The destination a changing command is about, the rest of its arguments, and a
        prefix for the reply naming another chat ("@channel: "). Raises ``AccessDenied``."""
        first, _, rest = args.partition(" ")
        user = message.from_user
        if message.chat.type == Chat.PRIVATE and _is_chat_ref(first) and user is not None:
            chat = await managed_chat(context.bot, first, user.id)
            name = f"@{chat.username}" if chat.username else (chat.title or first)
            return Destination("telegram", str(chat.id)), rest.strip(), f"{name}: "
        user_id = user.id if user is not None else None
        if not await may_change(context.bot, message.chat, user_id, message):
            raise AccessDenied(NOT_ADMIN)
        return destination(message), args, ""

    # -- reading ------------------------------------------------------------------------

    async def start(self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        await reply_plain(message, self.gw.commands.start_text())

    async def help(self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        await reply_plain(message, self.gw.commands.help_text())

    async def topics(self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        await reply_plain(message, self.gw.commands.topics_text())

    async def sources(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        await reply_plain(message, await self.gw.db(self.gw.commands.sources_text))

    async def digest(self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The latest cards (the chat's topics applied) as a digest, now."""
        dest = destination(message)
        commands = self.gw.commands
        cards = await self.gw.db(commands.latest_cards, dest, DIGEST_CARDS)
        if not cards:
            await reply_plain(message, "No news cards yet; they come as the feeds are read.")
            return
        sub = await self.gw.db(commands.subscription, dest)
        zone = sub.spec.timezone if sub is not None else "UTC"
        for part in digest_messages(cards, None, zone):
            await reply_html(message, part.text, reply_markup=part.keyboard)

    async def ask(self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.follow_ups.ask_command(message, args, context)

    async def settings(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """Anyone may look; the menu's buttons check who taps them."""
        if message.chat.type == Chat.PRIVATE and _is_chat_ref(args.partition(" ")[0]):
            dest, _, _ = await self.target(message, args, context)
            await self.menu.show(message, dest, remote=True)
            return
        await self.menu.show(message, destination(message), remote=False)

    async def language(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        if not args:  # reading the current language is open to all
            await reply_plain(
                message, await self.gw.db(self.gw.commands.set_language, destination(message), "")
            )
            return
        dest, rest, prefix = await self.target(message, args, context)
        await reply_plain(
            message, prefix + await self.gw.db(self.gw.commands.set_language, dest, rest)
        )

    # -- changing -----------------------------------------------------------------------

    async def subscribe(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        dest, rest, prefix = await self.target(message, args, context)
        await reply_plain(
            message, prefix + await self.gw.db(self.gw.commands.subscribe, dest, rest)
        )

    async def unsubscribe(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        dest, _, prefix = await self.target(message, args, context)
        await reply_plain(message, prefix + await self.gw.db(self.gw.commands.unsubscribe, dest))

    async def mode(self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE) -> None:
        dest, rest, prefix = await self.target(message, args, context)
        await reply_plain(message, prefix + await self.gw.db(self.gw.commands.set_mode, dest, rest))

    async def schedule(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        dest, rest, prefix = await self.target(message, args, context)
        text = await self.gw.db(self.gw.commands.set_schedule, dest, rest)
        await reply_plain(message, prefix + text)

    async def addsource(
        self, message: Message, args: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        user = message.from_user
        allowed = await may_add_sources(
            context.bot,
            message.chat,
            user.id if user is not None else None,
            message,
            operators=self.gw.operators,
            admins_too=self.gw.admins_add_sources,
        )
        if not allowed:
            raise AccessDenied("Only the bot's operators can add news sources.")
        await reply_plain(message, await self.gw.commands.add_source(args))
