"""Cards and answers as Telegram messages: HTML text (every dynamic text escaped), an
inline keyboard, and whether the card goes as a photo. Pure functions, no network.

Called by ``bot.telegram.sender`` (cards and digests the delivery worker posts) and by the
gateway (``/digest``, buttons, answers). Digests live in ``bot.telegram.render_digest``
and are re-exported here.

A card message::

    <b><a href="URL">Title</a></b>
    <i>Category · Source · 29 Nov 2026</i>

    Summary.

    • takeaway one
    • takeaway two
    • takeaway three

    <i>This summary was written by AI ... <a href="URL">Original article</a></i>

    [Why it matters] [FAQ]
    [Read article]   [Related]

Fitting Telegram's limits: the title, meta line and each takeaway are capped first (the
same caps for a caption and a message); a card with an image goes as a photo only when
all of it then fits a caption's 1,024 characters. Otherwise it is a text message, and if
that is over 4,096 the summary is cut at a sentence boundary (then, for absurd cards,
takeaways are dropped from the end) until it fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.common.text import DISCLAIMER, answer_origin, meta_line
from bot.telegram import callbacks
from bot.telegram.render_digest import RenderedDigest, digest_messages
from bot.telegram.render_html import (
    CAPTION_LIMIT,
    EMPTY,
    TEXT_LIMIT,
    Html,
    bold,
    fit,
    italic,
    join,
    link,
    one_line,
    text,
    usable_url,
    utf16_len,
    wrap,
)
from digest.models import Answer, Card

__all__ = [
    "RenderedCard",
    "RenderedDigest",
    "answer_text",
    "card_keyboard",
    "card_message",
    "digest_messages",
    "faq_keyboard",
]

TITLE_MAX = 300
META_MAX = 300
TAKEAWAY_MAX = 500
FAQ_BUTTON_MAX = 60  # longer button texts are cut off by the apps anyway
QUESTION_MAX = 300
BLANK_LINE = Html("\n\n", 2)


@dataclass(frozen=True, slots=True)
class RenderedCard:
    """``text``: HTML; the caption when ``photo`` (an image URL) is set, else the message."""

    text: str
    keyboard: InlineKeyboardMarkup
    photo: str | None = None


@dataclass(slots=True)
class _CardParts:
    title: str
    meta: str
    summary: str
    takeaways: list[str]
    url: str
    source: str

    def html(self) -> Html:
        head = join([wrap("b", link(self.title, self.url)), italic(self.meta)])
        bullets = join([text(f"• {t}") for t in self.takeaways])
        label = f"Original article ({self.source})" if self.source else "Original article"
        original = link(label, self.url) if usable_url(self.url) else EMPTY
        disclaimer = wrap("i", join([text(DISCLAIMER), original], Html(" ", 1)))
        return join([head, text(self.summary), bullets, disclaimer], BLANK_LINE)

    def shrink(self, excess: int) -> bool:
        """Make the text at least ``excess`` units shorter (or as short as it goes), the
        summary first. False when nothing is left to take."""
        if self.summary:
            self.summary = fit(self.summary, utf16_len(self.summary) - excess)
        elif self.takeaways:
            self.takeaways.pop()
        elif self.meta:
            self.meta = ""
        elif len(self.title) > 1:
            self.title = fit(self.title, utf16_len(self.title) - excess)
        else:
            return False
        return True


def _parts(card: Card) -> _CardParts:
    """The card's texts, on one line each and capped (the caps are the "same cut rules"
    for caption and message)."""
    return _CardParts(
        title=fit(one_line(card.title), TITLE_MAX) or "Untitled story",
        meta=fit(one_line(meta_line(card)), META_MAX),
        summary=one_line(card.summary),
        takeaways=[fit(one_line(t), TAKEAWAY_MAX) for t in card.takeaways if t.strip()],
        url=card.url,
        source=fit(one_line(card.source), 80),
    )


def card_message(card: Card) -> RenderedCard:
    """The card as Telegram HTML with its keyboard. ``photo`` is the card's image when the
    whole card fits a caption; otherwise ``text`` is a message of at most 4,096 characters
    (as Telegram counts them), the summary cut at a sentence boundary if needed."""
    parts = _parts(card)
    whole = parts.html()
    keyboard = card_keyboard(card)
    image = usable_url(card.image_url)
    if image is not None and whole.length <= CAPTION_LIMIT:
        return RenderedCard(whole.markup, keyboard, photo=image)
    rendered = whole
    while rendered.length > TEXT_LIMIT and parts.shrink(rendered.length - TEXT_LIMIT):
        rendered = parts.html()
    return RenderedCard(rendered.markup, keyboard)


def card_keyboard(card: Card) -> InlineKeyboardMarkup:
    """[Why it matters] [FAQ (when the card has one)] / [Read article] [Related (when
    there are related cards)]. "Read article" is left out for a URL Telegram would refuse
    (it would refuse the whole message)."""
    first = [InlineKeyboardButton("Why it matters", callback_data=callbacks.why(card.id))]
    if card.faq:
        first.append(InlineKeyboardButton("FAQ", callback_data=callbacks.faq(card.id)))
    second = []
    url = usable_url(card.url)
    if url is not None:
        second.append(InlineKeyboardButton("Read article", url=url))
    if card.related:
        second.append(InlineKeyboardButton("Related", callback_data=callbacks.related(card.id)))
    return InlineKeyboardMarkup([first, second] if second else [first])


def faq_keyboard(card: Card) -> InlineKeyboardMarkup:
    """One button per FAQ question (its text cut to fit a button), then [Why it matters]
    [Read article]: what the gateway shows when "FAQ" is tapped. Questions past the 100th
    are left out (callback data numbers them 0..99)."""
    rows = [
        [
            InlineKeyboardButton(
                fit(one_line(item.question), FAQ_BUTTON_MAX) or f"Question {n + 1}",
                callback_data=callbacks.faq_item(card.id, n),
            )
        ]
        for n, item in enumerate(card.faq[: callbacks.MAX_FAQ_ITEMS])
    ]
    last = [InlineKeyboardButton("Why it matters", callback_data=callbacks.why(card.id))]
    url = usable_url(card.url)
    if url is not None:
        last.append(InlineKeyboardButton("Read article", url=url))
    return InlineKeyboardMarkup([*rows, last])


def answer_text(question: str, answer: Answer) -> str:
    """An answer to a follow-up question as Telegram HTML (at most 4,096 characters)::

        <b>question</b>           (left out when ``question`` is blank)
        the answer
        <i>From the card</i>      (how it was found: bot.common.text.answer_origin)

    Called by the gateway for buttons and replies."""
    header = bold(fit(one_line(question), QUESTION_MAX))
    origin = italic(answer_origin(answer))
    # Room for the answer: what header and origin leave, less the separators (3 units).
    room = TEXT_LIMIT - header.length - origin.length - 3
    body = text(fit(answer.text.strip(), room))
    return join([join([header, body]), origin], BLANK_LINE).markup
