"""Follow-up questions: a reply to a card, a mention of the bot, or ``/ask question``.

Which card a question is about:

- a reply to one of the bot's messages: the card the delivery worker recorded for that
  message (``Commands.card_for_message``), else the card its buttons name (a card the
  gateway posted itself, a FAQ menu): both survive a restart, as they come from the database
  and from the message Telegram hands back;
- ``/ask`` or a mention of the bot without a reply: the newest card the bot posted in this
  chat (``Commands.latest_card_in``).

A reply to a message that showed a card deleted since gets ``CARD_GONE``, not the hint.

In groups the bot answers only replies to its own messages and messages that mention it
(with privacy mode on, Telegram sends it nothing else anyway); in a private chat a message
that is not a reply gets a hint. The answer (``Commands.ask``) goes as a reply to the
question, rendered by ``bot.telegram.render.answer_text``, which says how it was found;
"typing…" shows while a slow (model) answer is computed.

Called by ``bot.telegram.handlers.install`` (``on_text``) and by the command router (``/ask``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Bot, Chat, Message, MessageEntity, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.common.commands import CARD_GONE, CommandError
from bot.telegram import callbacks
from bot.telegram.handlers import Gateway, destination, reply_html, reply_plain
from bot.telegram.render import answer_text
from digest.models import Card

log = logging.getLogger(__name__)

TYPING_AFTER = 0.3  # seconds: answers from the card come at once and need no "typing…"
TYPING_EVERY = 4.5  # Telegram shows the action for about 5 seconds
NO_CARD_HERE = "There is no card in this chat to ask about yet: /digest shows the latest ones."
HOW_TO_ASK = "To ask about a card, reply to it with your question (or use /ask your question)."
ASK_EXAMPLE = "Ask a question, e.g. /ask why does this matter?"


def card_in_keyboard(message: Message) -> int | None:
    """The one card a message's buttons are about (a card's or a FAQ menu's buttons); None
    for no buttons or buttons about several cards (a digest)."""
    markup = message.reply_markup
    ids = set()
    for row in markup.inline_keyboard if markup is not None else ():
        for button in row:
            if isinstance(button.callback_data, str):
                with contextlib.suppress(ValueError):
                    ids.add(callbacks.parse(button.callback_data).card_id)
    return ids.pop() if len(ids) == 1 else None


def _mentions(message: Message, username: str) -> bool:
    wanted = "@" + username.lower()
    found = message.parse_entities([MessageEntity.MENTION])
    return any(text.lower() == wanted for text in found.values())


def _without_mention(text: str, username: str) -> str:
    words = [w for w in text.split() if w.lower() != "@" + username.lower()]
    return " ".join(words)


async def _keep_typing(bot: Bot, message: Message) -> None:
    """Show "typing…" in the chat until cancelled, starting after ``TYPING_AFTER``."""
    await asyncio.sleep(TYPING_AFTER)
    thread = message.message_thread_id if message.is_topic_message else None
    while True:
        try:
            await bot.send_chat_action(message.chat.id, ChatAction.TYPING, message_thread_id=thread)
        except TelegramError:  # only a courtesy: never fail the answer for it
            return
        await asyncio.sleep(TYPING_EVERY)


class FollowUps:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A text message that is not a command: a question, or chatter to leave alone."""
        message = update.message
        if message is None or not message.text:
            return
        bot = context.bot
        replied = message.reply_to_message
        sender = replied.from_user if replied is not None else None
        to_bot = sender is not None and sender.id == bot.id
        private = message.chat.type == Chat.PRIVATE
        if not private and not to_bot and not _mentions(message, bot.username):
            return  # group chatter
        question = _without_mention(message.text, bot.username)
        card: Card | None = None
        if to_bot and replied is not None:
            try:
                card = await self.card_of(replied)
            except CommandError as e:  # the card was deleted since
                await reply_plain(message, str(e))
                return
            if card is None:
                await reply_plain(message, HOW_TO_ASK)
                return
        elif private:
            await reply_plain(message, HOW_TO_ASK)
            return
        else:  # a mention in a group, not a reply to the bot
            card = await self.gw.db(self.gw.commands.latest_card_in, destination(message))
            if card is None:
                await reply_plain(message, NO_CARD_HERE)
                return
        await self.answer(message, card, question, bot)

    async def ask_command(
        self, message: Message, question: str, context: ContextTypes.DEFAULT_TYPE
    ) -> None:
        """``/ask question``: about the card replied to, else the latest card here."""
        if not question.strip():
            raise CommandError(ASK_EXAMPLE)
        replied = message.reply_to_message
        card = await self.card_of(replied) if replied is not None else None
        if card is None:
            card = await self.gw.db(self.gw.commands.latest_card_in, destination(message))
        if card is None:
            raise CommandError(NO_CARD_HERE)
        await self.answer(message, card, question, context.bot)

    async def card_of(self, replied: Message) -> Card | None:
        """The card a message of the bot shows (see the module docstring); None for a
        message that shows no card. Raises ``CommandError(CARD_GONE)`` when it showed a
        card that was deleted since."""
        card_id = await self.gw.db(self._card_id_of, replied)
        if card_id is None:
            return None
        card = await self.gw.db(self.gw.commands.card, card_id)
        if card is None:
            raise CommandError(CARD_GONE)
        return card

    def _card_id_of(self, replied: Message) -> int | None:
        """The id of the card ``replied`` shows: as the delivery worker recorded it, else as
        its buttons name it. Blocking (the database): run through ``Gateway.db``."""
        commands = self.gw.commands
        dest = destination(replied)
        recorded = commands.outbox.card_for_message(
            commands.platform, dest.chat, str(replied.message_id)
        )
        return recorded if recorded is not None else card_in_keyboard(replied)

    async def answer(self, message: Message, card: Card, question: str, bot: Bot) -> None:
        """Answer ``question`` about ``card`` as a reply to ``message``; a limit or a
        question too long gets the one-line reason instead."""
        # Anonymous group admins and "send as channel" posts all come from one shared bot
        # user (GroupAnonymousBot, 1087968824): the chat they speak for is the asker.
        user = message.from_user
        if message.sender_chat is not None:
            asker = f"telegram:chat:{message.sender_chat.id}"
        elif user is not None:
            asker = f"telegram:{user.id}"
        else:
            asker = f"telegram:chat:{message.chat.id}"
        typing = asyncio.create_task(_keep_typing(bot, message))
        try:
            answer = await self.gw.commands.ask(card.id, question, asker)
        except CommandError as e:
            await reply_plain(message, str(e))
            return
        finally:
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await typing
        await reply_html(message, answer_text(question, answer))
