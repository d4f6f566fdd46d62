"""Updates about chats rather than from people in them, and inline mode.

- A basic group upgraded to a supergroup: Telegram posts ``migrate_to_chat_id`` in the old
  group and ``migrate_from_chat_id`` in the new one; whichever comes first moves the
  subscription to the new id (``Commands.move_chat``), the other finds nothing left to move.
- ``my_chat_member``: the bot was removed from a group or channel, or a user blocked it:
  the chat's subscription is paused with the reason (``Commands.destination_gone``), so the
  worker stops sending there and ``/settings`` says why once the bot is back.
- Inline mode: "@bot words" in any chat lists matching recent cards (the newest for an empty
  query) to share there, each as the card's HTML with a "Read article" button.

Called by ``bot.telegram.handlers.install``.
"""

from __future__ import annotations

import logging

from telegram import (
    Chat,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.common.commands import CommandError
from bot.telegram.handlers import NO_PREVIEW, Gateway
from bot.telegram.render import card_message
from bot.telegram.render_html import fit, one_line, usable_url
from digest.models import Card, Destination

log = logging.getLogger(__name__)

INLINE_RESULTS = 10
INLINE_CACHE_SECONDS = 30  # new cards show up within half a minute
GONE_STATUSES = frozenset({ChatMember.LEFT, ChatMember.BANNED})


def inline_result(card: Card) -> InlineQueryResultArticle:
    """One card as an inline result: the card's message, escaped as when delivered."""
    rendered = card_message(card)
    url = usable_url(card.url)
    markup = (
        InlineKeyboardMarkup([[InlineKeyboardButton("Read article", url=url)]]) if url else None
    )
    return InlineQueryResultArticle(
        id=f"card-{card.id}",
        title=fit(one_line(card.title), 100) or "Untitled story",
        description=fit(one_line(f"{card.category} · {card.source}: {card.summary}"), 200),
        input_message_content=InputTextMessageContent(
            rendered.text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
        ),
        reply_markup=markup,
        url=url,
    )


class Inline:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def on_query(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.inline_query
        if query is None:
            return
        cards = await self.gw.db(self.gw.commands.search_cards, query.query, INLINE_RESULTS)
        await query.answer(
            [inline_result(card) for card in cards],
            cache_time=INLINE_CACHE_SECONDS,
            is_personal=False,
        )


class Membership:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        if message.migrate_to_chat_id is not None:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id is not None:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        # Both service messages may be handled at once (updates run concurrently): one
        # move at a time, and the second finds the subscription already moved.
        async with self.gw.moving_chats:
            try:
                moved = await self.gw.db(self.gw.commands.move_chat, str(old), str(new))
            except CommandError as e:
                log.warning("telegram group %s -> %s: not moved: %s", old, new, e)
                return
        if moved:
            log.info("telegram group %s is now supergroup %s: subscription moved", old, new)

    async def on_my_member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None or change.new_chat_member.status not in GONE_STATUSES:
            return
        chat = change.chat
        if chat.type == Chat.PRIVATE:
            reason = "the user blocked the bot"
        else:
            reason = f"the bot was removed from the {chat.type}"
        dest = Destination("telegram", str(chat.id))
        await self.gw.db(self.gw.commands.destination_gone, dest, reason)
        log.info("telegram chat %s: %s; its subscription is paused", chat.id, reason)
