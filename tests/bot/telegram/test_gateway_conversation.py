"""A person's conversation with the bot, end to end: the real gateway (``platform.build`` +
``serve``, python-telegram-bot long polling the fake Bot API), the real app on SQLite and
PostgreSQL, and the real delivery worker posting through the platform's sender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.common.commands import COMMANDS
from bot.telegram import callbacks
from digest.config import Settings
from digest.models import Card, ModelAnswer
from digest.store.tables import CardRow
from tests.bot.telegram.gateway_world import GatewayWorld, gateway_world
from tests.support.fake_telegram import FakeTelegram, Message


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def world(db_settings: Settings, tg: FakeTelegram) -> AsyncIterator[GatewayWorld]:
    async with gateway_world(db_settings, tg) as w:
        yield w


def replied_to(message: Message) -> int | None:
    """The message id ``message`` answers (PTB 22 sends ``reply_parameters``)."""
    if message.reply_parameters:
        return int(message.reply_parameters["message_id"])
    return message.reply_to_message_id


async def test_start_subscribe_card_buttons_and_a_question_by_reply(world: GatewayWorld) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.alice)
    assert [c["command"] for c in tg.commands_for()] == [c.name for c in COMMANDS]

    tg.user_sends(chat, tg.alice, "/start")
    welcome = await tg.next_sent(chat)
    assert welcome.plain.startswith("I follow news feeds") and welcome.parse_mode is None

    tg.user_sends(chat, tg.alice, "/subscribe")
    assert (await tg.next_sent(chat)).plain.startswith("Subscribed.")
    card_id = world.card()
    assert await world.deliver() == 1
    card = await tg.next_sent(chat)
    assert card.plain.startswith("Chip makers agree on export rules")
    assert callbacks.why(card_id) in card.callback_data

    # "Why it matters": the answer comes as a reply to the card; the tap is answered.
    query = tg.user_taps(card, callbacks.why(card_id))
    why = await tg.next_sent(chat)
    assert replied_to(why) == card.message_id and why.parse_mode == "HTML"
    assert "Exports are a third of the chip market." in why.plain
    assert why.plain.endswith("From the card")
    await tg.wait_for(lambda: any(a["callback_query_id"] == query for a in tg.callback_answers))

    # "FAQ": the questions as buttons, in a reply to the card; a question's answer.
    tg.user_taps(card, callbacks.faq(card_id))
    menu = await tg.next_sent(chat)
    assert replied_to(menu) == card.message_id
    assert [b["text"] for b in menu.buttons()][:2] == ["Who is affected?", "When?"]
    tg.user_taps(menu, callbacks.faq_item(card_id, 0))
    faq = await tg.next_sent(chat)
    assert replied_to(faq) == menu.message_id
    assert faq.plain.startswith("Who is affected?\nChip makers.")

    # A question asked by replying to the card.
    question = tg.user_sends(chat, tg.alice, "why does this matter?", reply_to=card)
    answer = await tg.next_sent(chat)
    assert replied_to(answer) == question.message_id
    assert answer.plain.startswith("why does this matter?\n")
    assert "From the card" in answer.plain

    # /ask without a reply asks about the latest card here.
    tg.user_sends(chat, tg.alice, "/ask when does it start?")
    asked = await tg.next_sent(chat)
    assert asked.plain.startswith("when does it start?\n") and asked.parse_mode == "HTML"


async def test_wrong_arguments_get_one_line_with_an_example(world: GatewayWorld) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.bob)
    tg.user_sends(chat, tg.bob, "/subscribe")
    await tg.next_sent(chat)
    expected = {
        "/schedule 25:00": "25:00",
        "/schedule 08:00 Mars/Olympus": "such as Europe/Berlin",
        "/mode sometimes": "/mode digest",
        "/ask": "e.g. /ask why does this matter?",
    }
    for text, example in expected.items():
        tg.user_sends(chat, tg.bob, text)
        reply = await tg.next_sent(chat)
        assert "\n" not in reply.plain and example in reply.plain, (text, reply.plain)
        assert "Traceback" not in reply.plain and tg.token not in reply.plain
    tg.user_sends(chat, tg.bob, "/schedule 07:30 Europe/Berlin")
    done = await tg.next_sent(chat)
    assert done.plain.startswith("Done.") and "07:30" in done.plain
    tg.user_sends(chat, tg.bob, "/frobnicate")
    assert "/help" in (await tg.next_sent(chat)).plain
    tg.user_sends(chat, tg.bob, "just chatting")
    assert "reply to it" in (await tg.next_sent(chat)).plain


async def test_a_vanished_card_and_foreign_buttons_get_a_short_alert(world: GatewayWorld) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.alice)
    tg.user_sends(chat, tg.alice, "/subscribe")
    await tg.next_sent(chat)
    card_id = world.card()
    await world.deliver()
    card = await tg.next_sent(chat)
    tg.user_taps(card, callbacks.why(card_id + 1000), check=False)
    tg.user_taps(card, "garbage", check=False)
    await tg.wait_for(lambda: len(tg.callback_answers) == 2)
    texts = sorted(a.get("text", "") for a in tg.callback_answers)
    assert texts == [
        "This button no longer works; open a newer card.",
        "This card is no longer available.",
    ]
    assert all(a.get("show_alert") for a in tg.callback_answers)


class HeldModel:
    """A model answerer that answers only when the test lets it (``release``)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def answer(self, card: Card, article_text: str, question: str) -> ModelAnswer:
        await self.release.wait()
        first = article_text.split(". ")[0] + "."
        return ModelAnswer(text=f"The article says: {first}", covered=True, quotes=(first,))


async def test_typing_shows_while_the_model_answers_and_limits_get_one_line(
    settings: Settings, tg: FakeTelegram
) -> None:
    model = HeldModel()
    chat = tg.private_chat(tg.alice)
    async with gateway_world(
        settings, tg, app_options={"model_answerer": model}, questions_per_hour=1
    ) as world:
        tg.user_sends(chat, tg.alice, "/subscribe")
        await tg.next_sent(chat)
        world.card()
        await world.deliver()
        card = await tg.next_sent(chat)
        tg.user_sends(chat, tg.alice, "what did the regulators say exactly?", reply_to=card)
        try:
            typing = await tg.wait_for_call("sendChatAction")
        finally:
            model.release.set()  # a failed wait must not leave the handler hanging
        assert typing.params["action"] == "typing" and int(typing.params["chat_id"]) == chat.id
        answer = await tg.next_sent(chat)
        assert "The article says:" in answer.plain and "From the article" in answer.plain
        tg.user_sends(chat, tg.alice, "and what next?", reply_to=card)
        limited = await tg.next_sent(chat)
    assert limited.plain.startswith("you have asked 1 questions in the last hour")
    assert "\n" not in limited.plain


async def test_digest_now_opens_full_cards_and_related_stories(world: GatewayWorld) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.bob)
    first = world.card("Chip makers agree on export rules")
    second = world.card("Export rules: what changes for chip buyers")
    with Session(world.app.repo.engine) as s, s.begin():
        s.execute(update(CardRow).where(CardRow.id == second).values(related=[first]))
    tg.user_sends(chat, tg.bob, "/digest")
    digest = await tg.next_sent(chat)
    assert digest.plain.startswith("Your news digest")
    assert digest.callback_data == [callbacks.open_card(second), callbacks.open_card(first)]

    tg.user_taps(digest, callbacks.open_card(second))
    card = await tg.next_sent(chat)
    assert card.plain.startswith("Export rules: what changes for chip buyers")
    assert callbacks.related(second) in card.callback_data
    tg.user_taps(card, callbacks.related(second))
    related = await tg.next_sent(chat)
    assert related.plain == "Related stories\n1. Chip makers agree on export rules"
    assert related.callback_data == [callbacks.open_card(first)]
    # A reply to a card the gateway posted (not the worker) finds it by its buttons.
    tg.user_sends(chat, tg.bob, "who is affected?", reply_to=card)
    assert (await tg.next_sent(chat)).plain.startswith("who is affected?\nChip makers.")
