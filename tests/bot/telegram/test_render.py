"""Cards, digests and answers as Telegram HTML: escaping (checked with the fake's copy of
Telegram's parser), the limits as Telegram counts them, keyboards and callback data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import InlineKeyboardMarkup

from bot.common.text import DISCLAIMER
from bot.telegram import callbacks
from bot.telegram.render import answer_text, card_message, digest_messages, faq_keyboard
from bot.telegram.render_html import fit, utf16_len
from digest.models import Answer, Card, FaqItem, Source
from tests.support.fake_telegram_html import ParsedText, format_text

LOOK_ALIKES = [
    "<b>bold</b>",
    "</a>",
    "&amp;",
    "AT&T",
    "1 < 2 > 0",
    "\"quoted\" & 'single'",
    "<a href='x'>link</a>",
    "&lt;already escaped&gt;",
    "&#60;",
    "<tg-spoiler>",
    "<i",
]
NASTY = " ".join(LOOK_ALIKES)


def make_card(**fields: Any) -> Card:
    base = Card(
        id=42,
        story_id=1,
        title="Chip makers agree on export rules",
        url="https://news.example.com/story?a=1&b=2",
        source="Tech Wire",
        published_at=datetime(2026, 11, 29, 8, tzinfo=UTC),
        category="Business",
        summary="Regulators and chip makers agreed on new rules. They start in May.",
        takeaways=("Rules agreed", "Start in May", "Chips affected"),
        why_it_matters="Exports are a third of the market.",
        faq=(FaqItem("Who is affected?", "Chip makers."), FaqItem("When?", "In May.")),
        engine="offline",
        created_at=datetime(2026, 11, 29, 8, tzinfo=UTC),
    )
    return dataclasses.replace(base, **fields)


def shown(html: str) -> ParsedText:
    """What Telegram shows for ``html``: parsed strictly (a bare & fails), then trimmed.
    Raises HtmlError where Telegram answers "can't parse entities"."""
    return format_text(html, "HTML", None, strict=True)


def rows(keyboard: InlineKeyboardMarkup) -> list[list[dict[str, Any]]]:
    return [[button.to_dict() for button in row] for row in keyboard.inline_keyboard]


def all_callback_data(keyboard: InlineKeyboardMarkup) -> list[str]:
    return [b.callback_data for row in keyboard.inline_keyboard for b in row if b.callback_data]  # type: ignore[misc]


# -- the card message ---------------------------------------------------------------------------


def test_a_card_reads_as_designed() -> None:
    card = make_card(sources=(Source("Tech Wire", "u1"), Source("Daily", "u2")), related=(7, 9))
    rendered = card_message(card)
    parsed = shown(rendered.text)
    assert parsed.text.split("\n") == [
        "Chip makers agree on export rules",
        "Business · Tech Wire · 29 Nov 2026 · also reported by Daily",
        "",
        "Regulators and chip makers agreed on new rules. They start in May.",
        "",
        "• Rules agreed",
        "• Start in May",
        "• Chips affected",
        "",
        f"{DISCLAIMER} Original article (Tech Wire)",
    ]
    links = [e for e in parsed.entities if e["type"] == "text_link"]
    assert [e["url"] for e in links] == [card.url, card.url]
    assert links[0]["offset"] == 0 and rendered.photo is None
    assert rows(rendered.keyboard) == [
        [
            {"text": "Why it matters", "callback_data": "w:42"},
            {"text": "FAQ", "callback_data": "f:42"},
        ],
        [
            {"text": "Read article", "url": card.url},
            {"text": "Related", "callback_data": "r:42"},
        ],
    ]


def test_faq_and_related_buttons_only_when_the_card_has_them() -> None:
    rendered = card_message(make_card(faq=(), related=()))
    assert rows(rendered.keyboard) == [
        [{"text": "Why it matters", "callback_data": "w:42"}],
        [{"text": "Read article", "url": "https://news.example.com/story?a=1&b=2"}],
    ]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.example/a", "http://localhost/a",
                                 "not a url", ""])  # fmt: skip
def test_a_url_telegram_would_refuse_is_neither_linked_nor_a_button(url: str) -> None:
    rendered = card_message(make_card(url=url, image_url=url or None))
    parsed = shown(rendered.text)
    assert not [e for e in parsed.entities if e["type"] == "text_link"]
    assert "Read article" not in str(rows(rendered.keyboard)) and rendered.photo is None
    assert parsed.text.endswith(DISCLAIMER)


def test_every_dynamic_text_is_escaped() -> None:
    card = make_card(
        title=f"Title {NASTY}",
        url='https://news.example.com/a?x=1&y="2"&z=<3>',
        source='Source </a> & "x"',
        category="Cat <b>&amp;",
        summary=f"Summary {NASTY}.",
        takeaways=(f"One {NASTY}", f"Two {NASTY}", f"Three {NASTY}"),
        sources=(Source("Other <i", "u"),),
        faq=(FaqItem(f"Q {NASTY}?", "A"),),
    )
    parsed = shown(card_message(card).text)  # no HtmlError: Telegram takes it
    lines = parsed.text.split("\n")
    assert lines[0] == f"Title {NASTY}"
    assert lines[1] == 'Cat <b>&amp; · Source </a> & "x" · 29 Nov 2026 · also reported by Other <i'
    assert lines[3] == f"Summary {NASTY}."
    assert lines[5:8] == [f"• One {NASTY}", f"• Two {NASTY}", f"• Three {NASTY}"]
    assert lines[-1].endswith('Original article (Source </a> & "x")')
    assert {e["url"] for e in parsed.entities if e["type"] == "text_link"} == {card.url}
    assert {e["type"] for e in parsed.entities} == {"text_link", "bold", "italic"}


def test_a_10000_character_summary_is_cut_at_a_sentence_within_4096() -> None:
    sentences = [f"Sentence number {n} says something about the chips." for n in range(400)]
    summary = " ".join(sentences)
    assert len(summary) > 10_000
    rendered = card_message(make_card(summary=summary, image_url="https://img.example.com/a.jpg"))
    parsed = shown(rendered.text)
    assert utf16_len(parsed.text) <= 4096 and rendered.photo is None
    lines = parsed.text.split("\n")
    kept = lines[3]
    assert kept.endswith("about the chips.") and kept in summary and len(kept) > 3000
    assert lines[5:8] == ["• Rules agreed", "• Start in May", "• Chips affected"]
    assert lines[-1].startswith(DISCLAIMER)  # the end of the card survives the cut


def test_emoji_count_twice_and_huge_fields_still_fit() -> None:
    emoji = "📈 Markets rise. " * 2000  # 2 UTF-16 units per emoji
    card = make_card(
        title="😀" * 5000,
        summary=emoji,
        takeaways=("🚀" * 3000, "x" * 3000, "y " * 3000),
        source="S" * 5000,
        category="C" * 5000,
    )
    parsed = shown(card_message(card).text)
    assert utf16_len(parsed.text) <= 4096
    assert parsed.text.split("\n")[3].startswith("📈 Markets rise.")
    # A card of nothing but an endless unbroken title still fits.
    words = make_card(title="w" * 20_000, summary="s" * 20_000, takeaways=("t" * 9000,) * 3)
    assert utf16_len(shown(card_message(words).text).text) <= 4096


def test_a_card_with_an_image_is_a_photo_only_when_the_caption_fits_1024() -> None:
    image = "https://img.example.com/a.jpg"
    small = card_message(make_card(image_url=image))
    assert small.photo == image and utf16_len(shown(small.text).text) <= 1024

    medium_summary = "A longer summary sentence about the deal. " * 30  # about 1,300 characters
    medium = card_message(make_card(image_url=image, summary=medium_summary))
    assert medium.photo is None
    assert medium_summary.strip() in shown(medium.text).text  # whole: not cut for a caption

    edge = make_card(image_url=image, summary="")
    room = 1024 - utf16_len(shown(card_message(edge).text).text) - 2  # the blank line
    fits = card_message(make_card(image_url=image, summary="z" * room))
    over = card_message(make_card(image_url=image, summary="z" * (room + 1)))
    assert fits.photo == image and utf16_len(shown(fits.text).text) == 1024
    assert over.photo is None


def test_fit_counts_utf16_and_never_exceeds() -> None:
    assert fit("😀😀😀 and more words here.", 7) == "😀😀😀…"
    for limit in range(0, 40):
        assert utf16_len(fit("Ünïcode 😀 words. More 🚀 words follow here.", limit)) <= limit


# -- buttons and callback data -------------------------------------------------------------------


@pytest.mark.parametrize("card_id", [1, 10**12, 10**18])
def test_callback_data_fits_64_bytes_and_parses_back(card_id: int) -> None:
    faq = tuple(FaqItem(f"Question {n} {'é' * 200}?", "A") for n in range(4))
    card = make_card(id=card_id, faq=faq, related=(1,))
    keyboards = [
        card_message(card).keyboard,
        faq_keyboard(card),
        *(d.keyboard for d in digest_messages([card] * 3, None)),
    ]
    data = [d for kb in keyboards for d in all_callback_data(kb)]
    assert all(len(d.encode()) <= 64 for d in data)
    assert {callbacks.parse(d).card_id for d in data} == {card_id}
    assert callbacks.parse(callbacks.faq_item(card_id, 3)) == callbacks.Callback(
        callbacks.FAQ_ITEM, card_id, 3
    )
    assert [callbacks.parse(d).action for d in all_callback_data(card_message(card).keyboard)] == [
        callbacks.WHY,
        callbacks.FAQ,
        callbacks.RELATED,
    ]
    assert callbacks.parse(callbacks.open_card(card_id)).action == callbacks.OPEN_CARD


@pytest.mark.parametrize(
    "data",
    ["", "w", "w:", "w:x", "x:1", "w:1:2", "q:1", "q:1:", "q:1:100", "w:-1", "w: 1", "w:1\n",
     "W:1", "w:١٢", "w:" + "9" * 20, "why:1", "faq:1", "q:1:0:0", "c:1 "],
)  # fmt: skip
def test_foreign_old_or_garbage_callback_data_is_refused(data: str) -> None:
    with pytest.raises(ValueError):
        callbacks.parse(data)


def test_encoders_refuse_what_they_cannot_encode() -> None:
    for bad in (-1, True, 10**19):
        with pytest.raises(ValueError):
            callbacks.why(bad)
    with pytest.raises(ValueError):
        callbacks.faq_item(1, 100)


def test_the_faq_keyboard_has_a_button_per_question_and_a_way_back() -> None:
    long_question = "What does this mean for people who build their own computers at home? " * 3
    card = make_card(faq=(FaqItem("Who is affected?", "A"), FaqItem(long_question, "B")))
    keyboard = rows(faq_keyboard(card))
    assert keyboard[0] == [{"text": "Who is affected?", "callback_data": "q:42:0"}]
    (second,) = keyboard[1]
    assert second["callback_data"] == "q:42:1" and len(second["text"]) <= 60
    assert second["text"].startswith("What does this mean") and second["text"].endswith("…")
    assert keyboard[2] == [
        {"text": "Why it matters", "callback_data": "w:42"},
        {"text": "Read article", "url": card.url},
    ]


# -- digests ------------------------------------------------------------------------------------


def test_a_short_digest_is_one_message_with_numbered_linked_headlines() -> None:
    cards = [
        make_card(id=10 + n, title=f"Headline {n} {NASTY}", url=f"https://e.example.com/{n}")
        for n in range(3)
    ]
    slot = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)
    (message,) = digest_messages(cards, slot, "Europe/Berlin")
    parsed = shown(message.text)
    lines = parsed.text.split("\n")
    assert lines[0] == "Your news digest · Sun 29 Nov, 08:00"
    assert lines[2] == f"1. Headline 0 {NASTY}"
    assert lines[3] == "Regulators and chip makers agreed on new rules. They start in May."
    assert lines[5].startswith("2. Headline 1") and lines[8].startswith("3. Headline 2")
    links = [e["url"] for e in parsed.entities if e["type"] == "text_link"]
    assert links == [f"https://e.example.com/{n}" for n in range(3)]
    assert rows(message.keyboard) == [
        [{"text": str(n + 1), "callback_data": f"c:{10 + n}"} for n in range(3)]
    ]
    assert digest_messages([], slot) == []


def test_a_long_digest_splits_in_order_within_every_limit() -> None:
    summary = "A sentence that goes on and on about the story and its people. " * 10
    cards = [make_card(id=1000 + n, title=f"Story {n} " + "w" * 190, summary=summary)
             for n in range(50)]  # fmt: skip
    messages = digest_messages(cards, datetime(2026, 11, 29, 8, tzinfo=UTC))
    assert len(messages) >= 3
    numbers: list[int] = []
    for i, message in enumerate(messages):
        parsed = shown(message.text)
        assert utf16_len(parsed.text) <= 4096
        header = parsed.text.split("\n")[0]
        assert header.endswith("(continued)") == (i > 0)
        keyboard = message.keyboard.inline_keyboard
        assert sum(len(r) for r in keyboard) <= 30 and all(len(r) <= 10 for r in keyboard)
        for button in (b for r in keyboard for b in r):
            numbers.append(int(button.text))
            assert button.callback_data == f"c:{1000 + int(button.text) - 1}"
            assert f"\n{button.text}. Story {int(button.text) - 1} " in parsed.text
    assert numbers == list(range(1, 51))


def test_many_short_headlines_split_by_button_count() -> None:
    cards = [make_card(id=n, title=f"T{n}", summary="S.") for n in range(1, 50)]
    messages = digest_messages(cards, None)
    assert [sum(len(r) for r in m.keyboard.inline_keyboard) for m in messages] == [30, 19]


# -- answers --------------------------------------------------------------------------------------


def test_an_answer_is_escaped_and_says_how_it_was_found() -> None:
    answer = Answer(f"Because {NASTY}.", "faq")
    parsed = shown(answer_text(f"Why {NASTY}?", answer))
    assert parsed.text == f"Why {NASTY}?\nBecause {NASTY}.\n\nFrom the card"
    assert shown(answer_text("  ", Answer("No.", "not_covered"))).text == (
        "No.\n\nNot covered by the article"
    )
    huge = shown(answer_text("q" * 5000, Answer("Long answer sentence. " * 1000, "model")))
    assert utf16_len(huge.text) <= 4096 and huge.text.endswith("\n\nFrom the article")


# -- Telegram takes them ----------------------------------------------------------------------


async def test_the_fake_bot_api_accepts_every_rendered_message() -> None:
    """Sent through the real PTB bot: parse_mode HTML, keyboards, lengths as Telegram checks."""
    from telegram.constants import ParseMode

    from tests.support.fake_telegram import FakeTelegram
    from tests.support.fake_telegram_ptb import ptb_application

    nasty = make_card(
        title=NASTY, summary=f"{NASTY}. " * 400, takeaways=(NASTY,) * 3, source=NASTY,
        faq=tuple(FaqItem(f"{NASTY}?", "a") for _ in range(4)), related=(1,),
    )  # fmt: skip
    photo = make_card(title=NASTY, image_url="https://img.example.com/a.jpg")
    async with FakeTelegram() as tg, ptb_application(tg) as app:
        chat = tg.private_chat(tg.alice).id
        bot = app.bot
        card = card_message(nasty)
        await bot.send_message(
            chat, card.text, parse_mode=ParseMode.HTML, reply_markup=card.keyboard
        )
        pic = card_message(photo)
        assert pic.photo is not None
        await bot.send_photo(chat, pic.photo, caption=pic.text, parse_mode=ParseMode.HTML,
                             reply_markup=pic.keyboard)  # fmt: skip
        await bot.send_message(chat, "FAQ", reply_markup=faq_keyboard(nasty))
        for part in digest_messages([nasty] * 45, None):
            await bot.send_message(chat, part.text, parse_mode="HTML", reply_markup=part.keyboard)
        answer = answer_text(NASTY * 100, Answer(NASTY * 200, "extractive"))
        await bot.send_message(chat, answer, parse_mode=ParseMode.HTML)
    assert len(tg.sent) == 3 + len(digest_messages([nasty] * 45, None)) + 1
