"""``/settings``: the chat's subscription as text, with buttons doing what the commands do.

Buttons carry ``s:<action>`` (the chat the menu is in) or ``s:<action>:<chat id>`` (a
channel or group managed from a private chat with "/settings @channel"); at most 26 bytes,
well inside Telegram's 64::

    s:i  instant mode      s:p  pause        s:u  unsubscribe
    s:d  digest mode       s:r  resume       s:a  subscribe (all topics)

Anyone may open the menu; a tap is checked like the command it stands for (admins only in
groups; an admin of the managed chat for "@channel" menus). After a tap the menu message is
edited to show the result and the subscription as it now is.

Called by ``bot.telegram.handlers.install`` (taps) and the command router (``/settings``).
"""

from __future__ import annotations

import logging

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.common.commands import CommandError
from bot.common.text import cut
from bot.telegram.access import NOT_ADMIN, is_admin, may_change
from bot.telegram.handlers import NO_PREVIEW, TEXT_LIMIT, Gateway, destination
from digest.models import Destination

log = logging.getLogger(__name__)

SETTINGS_PATTERN = r"^s:[a-z](:-?[0-9]{1,20})?$"
ALERT_LIMIT = 200


def _data(action: str, chat: str | None) -> str:
    return f"s:{action}:{chat}" if chat else f"s:{action}"


def keyboard(subscribed: bool, active: bool, mode: str, chat: str | None) -> InlineKeyboardMarkup:
    """The menu's buttons for a subscription in this state; ``chat`` set for a remote menu."""
    if not subscribed:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton("Subscribe (all topics)", callback_data=_data("a", chat))]]
        )
    instant = ("✓ " if mode == "instant" else "") + "Each card"
    digest = ("✓ " if mode == "digest" else "") + "Daily digest"
    pause = InlineKeyboardButton("Pause", callback_data=_data("p", chat))
    resume = InlineKeyboardButton("Resume", callback_data=_data("r", chat))
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(instant, callback_data=_data("i", chat)),
                InlineKeyboardButton(digest, callback_data=_data("d", chat)),
            ],
            [pause if active else resume],
            [InlineKeyboardButton("Unsubscribe", callback_data=_data("u", chat))],
        ]
    )


class SettingsMenu:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def _state(self, dest: Destination, remote: bool) -> tuple[str, InlineKeyboardMarkup]:
        commands = self.gw.commands
        text = await self.gw.db(commands.settings_text, dest)
        sub = await self.gw.db(commands.subscription, dest)
        chat = dest.chat if remote else None
        if sub is None:
            return text, keyboard(False, False, "instant", chat)
        return text, keyboard(True, sub.active, sub.mode, chat)

    async def show(self, message: Message, dest: Destination, *, remote: bool) -> None:
        """Post the menu for ``dest`` in reply to ``message``."""
        text, markup = await self._state(dest, remote)
        await message.reply_text(
            cut(text, TEXT_LIMIT), reply_markup=markup, link_preview_options=NO_PREVIEW
        )

    async def on_tap(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.data is None:
            return
        tapped = query.message
        if not isinstance(tapped, Message):  # too old to edit (or an inline message)
            await query.answer("This menu is too old; send /settings again.", show_alert=True)
            return
        _, action, *rest = query.data.split(":")
        user_id = query.from_user.id
        if rest:  # a channel or group managed from this private chat
            dest, remote = Destination("telegram", rest[0]), True
            allowed = await is_admin(context.bot, int(rest[0]), user_id)
        else:
            dest, remote = destination(tapped), False
            allowed = tapped.chat.type == Chat.PRIVATE or await may_change(
                context.bot, tapped.chat, user_id, None
            )
        if not allowed:
            await query.answer(NOT_ADMIN, show_alert=True)
            return
        try:
            result = await self._apply(action, dest)
        except CommandError as e:
            await query.answer(cut(str(e), ALERT_LIMIT), show_alert=True)
            return
        await query.answer(cut(result.partition(".")[0], ALERT_LIMIT))
        text, markup = await self._state(dest, remote)
        try:
            await tapped.edit_text(
                cut(text, TEXT_LIMIT), reply_markup=markup, link_preview_options=NO_PREVIEW
            )
        except BadRequest as e:  # "message is not modified": two taps on the same state
            log.debug("settings menu not edited: %s", e.message)

    async def _apply(self, action: str, dest: Destination) -> str:
        commands, db = self.gw.commands, self.gw.db
        if action == "i":
            return await db(commands.set_mode, dest, "instant")
        if action == "d":
            return await db(commands.set_mode, dest, "digest")
        if action == "p":
            return await db(commands.pause, dest)
        if action == "r":
            return await db(commands.resume, dest)
        if action == "u":
            return await db(commands.unsubscribe, dest)
        if action == "a":
            return await db(commands.subscribe, dest, "")
        raise CommandError("This button no longer works; send /settings again.")
