"""The Telegram gateway's handlers: what the bot does with each update it receives.

``install(application, gateway)`` registers them on a python-telegram-bot ``Application``
(``bot.telegram.platform`` builds both)::

    message / channel_post starting with a /command   handlers_commands.CommandRouter
    message with text (replies, mentions)             handlers_followups.FollowUps
    callback_query "w:" "f:" "q:" "r:" "c:"           handlers_buttons.CardButtons
    callback_query "s:"                               handlers_settings.SettingsMenu
    inline_query                                      handlers_chats.Inline
    group migrated to a supergroup, my_chat_member    handlers_chats.Membership
    any exception                                     on_error: logged (token scrubbed), and
                                                      "Something went wrong" once per update;
                                                      but Forbidden (blocked, kicked) pauses
                                                      the chat's subscription, and RetryAfter
                                                      is only logged (no message to a chat
                                                      that cannot or must not get one)

Everything a handler needs comes from the update and the database (``Gateway.commands``),
never from memory: a button on a card posted last week works after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from telegram import CallbackQuery, LinkPreviewOptions, Message, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.common.commands import Commands
from bot.common.text import cut
from bot.telegram.sender import scrub
from digest.models import Destination

log = logging.getLogger(__name__)

T = TypeVar("T")
TEXT_LIMIT = 4096
SOMETHING_WENT_WRONG = "Something went wrong; try again later."
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_ERRORS_REMEMBERED = 1000  # update ids already told about an error (bounded)
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@dataclass
class Gateway:
    """What the handlers share: the platform-neutral commands over the database, who may
    add sources, and the bot's token (to scrub it from anything logged)."""

    commands: Commands
    token: str
    operators: frozenset[int] = frozenset()
    admins_add_sources: bool = False
    _told: OrderedDict[int, None] = field(default_factory=OrderedDict)
    moving_chats: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def db(self, function: Callable[..., T], *args: Any) -> T:
        """Run a (blocking, database) ``Commands`` method in a worker thread so that one
        slow query does not hold up the other updates being handled concurrently."""
        return await asyncio.to_thread(function, *args)

    def first_error(self, update_id: int) -> bool:
        """True the first time an error is reported for ``update_id``."""
        if update_id in self._told:
            return False
        self._told[update_id] = None
        while len(self._told) > _ERRORS_REMEMBERED:
            self._told.popitem(last=False)
        return True


def destination(message: Message) -> Destination:
    """Where a message was posted, as the core names it: the chat, and the forum topic when
    the message is in one (a subscription made there delivers into that topic)."""
    thread = str(message.message_thread_id) if message.is_topic_message else ""
    return Destination("telegram", str(message.chat.id), thread)


async def reply_plain(message: Message, text: str) -> Message:
    """Answer ``message`` with plain text (the commands' texts carry no markup): as a reply
    in groups, a plain message in private chats (PTB's default for ``do_quote``)."""
    return await message.reply_text(
        cut(text, TEXT_LIMIT), link_preview_options=NO_PREVIEW, allow_sending_without_reply=True
    )


async def reply_html(message: Message, html: str, **kwargs: Any) -> Message:
    """Answer ``message`` with HTML (already escaped by ``bot.telegram.render``), always as
    a reply to it."""
    return await message.reply_text(
        html,
        parse_mode=ParseMode.HTML,
        link_preview_options=NO_PREVIEW,
        do_quote=True,
        allow_sending_without_reply=True,
        **kwargs,
    )


def install(application: AnyApplication, gateway: Gateway) -> None:
    """Register every handler and the error handler. Called once per ``Application``."""
    # Imported here: these modules import ``Gateway`` and the helpers above.
    from bot.telegram.handlers_buttons import CardButtons
    from bot.telegram.handlers_chats import Inline, Membership
    from bot.telegram.handlers_commands import CommandRouter
    from bot.telegram.handlers_followups import FollowUps
    from bot.telegram.handlers_settings import SETTINGS_PATTERN, SettingsMenu

    commands = CommandRouter(gateway)
    follow_ups = FollowUps(gateway)
    membership = Membership(gateway)
    posted = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.on_migrate))
    application.add_handler(MessageHandler(posted & filters.COMMAND, commands.on_command))
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, follow_ups.on_text)
    )
    application.add_handler(
        CallbackQueryHandler(SettingsMenu(gateway).on_tap, pattern=SETTINGS_PATTERN)
    )
    application.add_handler(CallbackQueryHandler(CardButtons(gateway).on_tap))
    application.add_handler(InlineQueryHandler(Inline(gateway).on_query))
    application.add_handler(
        ChatMemberHandler(membership.on_my_member, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_error_handler(_error_handler(gateway))


def _error_handler(
    gateway: Gateway,
) -> Callable[[object, ContextTypes.DEFAULT_TYPE], Any]:
    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the error (token scrubbed, traceback included) and tell the person once."""
        error = context.error
        where = f"update {update.update_id}" if isinstance(update, Update) else "polling"
        if error is None:
            return
        if isinstance(error, Forbidden):
            await _destination_gone(gateway, update, where, error)
            return
        if isinstance(error, RetryAfter):  # a message now would be refused as well
            log.warning(
                "telegram %s not answered: Telegram asks to slow down (%s)",
                where,
                scrub(error.message, gateway.token),
            )
            return
        details = "".join(traceback.format_exception(error)).rstrip()
        log.error("telegram %s failed: %s", where, scrub(details, gateway.token))
        if isinstance(update, Update) and gateway.first_error(update.update_id):
            await _tell(update, context)

    return on_error


async def _destination_gone(gateway: Gateway, update: object, where: str, error: Forbidden) -> None:
    """The bot was blocked or removed while answering: not a bug, and the chat cannot be
    told. Its subscription is paused (as the delivery worker would on its next send)."""
    reason = scrub(f"Telegram: {error.message}", gateway.token)
    chat = update.effective_chat if isinstance(update, Update) else None
    log.info("telegram %s not answered: %s", where, reason)
    if chat is None:
        return
    try:
        await gateway.db(
            gateway.commands.destination_gone, Destination("telegram", str(chat.id)), reason
        )
    except Exception:  # the database: logged, nothing else to do for this update
        log.exception("pausing the subscription of telegram chat %s failed", chat.id)


async def _tell(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The one message a person gets about a failure: never the error itself."""
    query: CallbackQuery | None = update.callback_query
    try:
        if query is not None:
            await query.answer(SOMETHING_WENT_WRONG, show_alert=True)
        elif update.effective_message is not None and update.effective_chat is not None:
            await context.bot.send_message(update.effective_chat.id, SOMETHING_WENT_WRONG)
    except TelegramError as e:  # the query expired, the chat is gone: nothing more to do
        log.info("could not report the failure: %s", scrub(e.message, context.bot.token))
