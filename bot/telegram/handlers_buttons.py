"""The buttons under cards and digests (``bot.telegram.callbacks``):

    w:<card>      "Why it matters"   the answer, as a reply to the card
    f:<card>      "FAQ"              the card's questions as buttons, in a reply to the card
    q:<card>:<n>  a FAQ question     its answer, as a reply to the message tapped
    r:<card>      "Related"          the related cards, linked, with buttons opening each
    c:<card>      "1", "2", …        the full card (under a digest)

Each tap is answered (``answerCallbackQuery``) at once so the app stops its spinner; the
card comes from the database by the id in the button, so a card posted last week still
answers after a restart. A card deleted since gets a short alert. A button on a message
sent through inline mode has no chat to reply in, and in a channel any reader may tap (the
bot must not post there for them): in both the answer shows as an alert (200 characters at
most) and nothing is posted. Elsewhere a person's taps that post are limited
(``bot.telegram.button_limits``); a refused tap gets a short alert.

Called by ``bot.telegram.handlers.install`` for every callback query that is not the
settings menu's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.common.commands import CARD_GONE
from bot.common.text import cut
from bot.telegram import callbacks
from bot.telegram.button_limits import ButtonLimits
from bot.telegram.handlers import NO_PREVIEW, Gateway
from bot.telegram.render import answer_text, card_message, faq_keyboard
from bot.telegram.render_html import bold, fit, join, link, one_line
from digest.models import Answer, Card

log = logging.getLogger(__name__)

ALERT_LIMIT = 200  # Telegram's limit for answerCallbackQuery text
OLD_BUTTON = "This button no longer works; open a newer card."
WHY_QUESTION = "Why it matters"


def _alert_text(text: str) -> str:
    return cut(" ".join(text.split()), ALERT_LIMIT)


async def _ack(query: CallbackQuery) -> None:
    """Stop the button's spinner. A query Telegram no longer accepts (answered too late,
    e.g. taps queued while the bot was down) does not stop the answer itself."""
    try:
        await query.answer()
    except BadRequest as e:
        log.info("callback query not answered: %s", e.message)


def _may_post(query: CallbackQuery) -> bool:
    """Whether a tap may be answered with a message: not for a message sent through inline
    mode (no chat), nor in a channel (any reader may tap; only its admins may make the bot
    post there)."""
    return query.message is not None and query.message.chat.type != Chat.CHANNEL


class CardButtons:
    def __init__(self, gateway: Gateway, limits: ButtonLimits | None = None) -> None:
        self.gw = gateway
        self.limits = limits or ButtonLimits()

    async def on_tap(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            tapped = callbacks.parse(query.data or "")
        except ValueError:
            await query.answer(OLD_BUTTON, show_alert=True)
            return
        card = await self.gw.db(self.gw.commands.card, tapped.card_id)
        if card is None:
            await query.answer(CARD_GONE, show_alert=True)
            return
        if _may_post(query) and (refusal := self.limits.refusal(query.from_user.id, tapped)):
            await query.answer(refusal, show_alert=True)
            return
        if tapped.action == callbacks.WHY:
            why = Answer(card.why_it_matters, "why_it_matters")
            await self._answer(query, context.bot, WHY_QUESTION, why)
        elif tapped.action == callbacks.FAQ:
            await self._faq_menu(query, context.bot, card)
        elif tapped.action == callbacks.FAQ_ITEM:
            n = tapped.item if tapped.item is not None else -1
            if not 0 <= n < len(card.faq):
                await query.answer("That question is no longer on this card.", show_alert=True)
                return
            item = card.faq[n]
            await self._answer(query, context.bot, item.question, Answer(item.answer, "faq"))
        elif tapped.action == callbacks.RELATED:
            await self._related(query, context.bot, card)
        else:
            await self._open(query, context.bot, card)

    # -- replies ------------------------------------------------------------------------

    async def _send(
        self, query: CallbackQuery, bot: Bot, html: str, *, reply: bool, **kwargs: Any
    ) -> Message:
        """Post into the chat of the tapped message (as a reply to it with ``reply``), in
        its forum topic if it is in one."""
        tapped = query.message
        assert tapped is not None  # callers check
        thread = None
        if isinstance(tapped, Message) and tapped.is_topic_message:
            thread = tapped.message_thread_id
        where = ReplyParameters(tapped.message_id, allow_sending_without_reply=True)
        return await bot.send_message(
            tapped.chat.id,
            html,
            parse_mode=ParseMode.HTML,
            link_preview_options=NO_PREVIEW,
            reply_parameters=where if reply else None,
            message_thread_id=thread,
            **kwargs,
        )

    async def _answer(self, query: CallbackQuery, bot: Bot, question: str, answer: Answer) -> None:
        if not _may_post(query):
            await query.answer(_alert_text(f"{question}: {answer.text}"), show_alert=True)
            return
        # The spinner stops while the answer is on its way.
        await asyncio.gather(
            _ack(query), self._send(query, bot, answer_text(question, answer), reply=True)
        )

    async def _faq_menu(self, query: CallbackQuery, bot: Bot, card: Card) -> None:
        if not card.faq:
            await query.answer("This card has no questions yet.", show_alert=True)
            return
        if not _may_post(query):
            first = card.faq[0]
            await query.answer(_alert_text(f"{first.question} {first.answer}"), show_alert=True)
            return
        title = fit(one_line(card.title), 200) or "this story"
        html = (bold("Questions about: ") + link(title, card.url)).markup
        await asyncio.gather(
            _ack(query),
            self._send(query, bot, html, reply=True, reply_markup=faq_keyboard(card)),
        )

    async def _related(self, query: CallbackQuery, bot: Bot, card: Card) -> None:
        found = [await self.gw.db(self.gw.commands.card, card_id) for card_id in card.related]
        cards = [c for c in found if c is not None]
        if not cards:
            await query.answer("No related stories are available.", show_alert=True)
            return
        if not _may_post(query):
            titles = "; ".join(one_line(c.title) for c in cards)
            await query.answer(_alert_text(f"Related: {titles}"), show_alert=True)
            return
        lines = [bold("Related stories")]
        for n, other in enumerate(cards, start=1):
            title = fit(one_line(other.title), 200) or "Untitled story"
            lines.append(bold(f"{n}. ") + link(title, other.url))
        buttons = [
            InlineKeyboardButton(str(n), callback_data=callbacks.open_card(other.id))
            for n, other in enumerate(cards, start=1)
        ]
        keyboard = InlineKeyboardMarkup([buttons])
        html = join(lines).markup
        await asyncio.gather(
            _ack(query), self._send(query, bot, html, reply=True, reply_markup=keyboard)
        )

    async def _open(self, query: CallbackQuery, bot: Bot, card: Card) -> None:
        """The full card, as the delivery worker would have posted it."""
        tapped = query.message
        if tapped is None or not _may_post(query):
            await query.answer(_alert_text(f"{card.title}: {card.summary}"), show_alert=True)
            return
        rendered = card_message(card)
        thread = None
        if isinstance(tapped, Message) and tapped.is_topic_message:
            thread = tapped.message_thread_id
        await _ack(query)
        if rendered.photo is not None:
            try:
                await bot.send_photo(
                    tapped.chat.id,
                    rendered.photo,
                    caption=rendered.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=rendered.keyboard,
                    message_thread_id=thread,
                )
                return
            except BadRequest as e:  # an image Telegram cannot fetch: the card as text
                log.info("card %d: image refused (%s); sent as text", card.id, e.message)
        await self._send(query, bot, rendered.text, reply=False, reply_markup=rendered.keyboard)
