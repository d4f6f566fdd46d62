"""Button taps cannot make the bot post without end: never in a channel (any reader may
tap there), and a limited number of times per person elsewhere."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.telegram import callbacks
from bot.telegram.button_limits import (
    SAME_BUTTON,
    SAME_BUTTON_EVERY,
    TAPS_PER_MINUTE,
    TOO_MANY,
    ButtonLimits,
)
from digest.config import Settings
from tests.bot.telegram.gateway_world import gateway_world
from tests.support.fake_telegram import FakeTelegram


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def test_a_channel_reader_tapping_gets_alerts_and_the_bot_never_posts(
    settings: Settings, tg: FakeTelegram
) -> None:
    channel = tg.channel("Brief", username="brief", creator=tg.alice)
    async with gateway_world(settings, tg) as world:
        tg.channel_post(channel, "/subscribe")
        await tg.next_sent(channel)
        card_id = world.card()
        await world.deliver()
        card = await tg.next_sent(channel)
        posted = len(tg.sent_to(channel))
        reader = tg.user("Mallory")
        taps = [
            callbacks.why(card_id),
            callbacks.why(card_id),
            callbacks.faq(card_id),
            callbacks.faq_item(card_id, 0),
            callbacks.related(card_id),
            callbacks.open_card(card_id),
        ]
        for data in taps:
            tg.user_taps(card, data, reader, check=False)
        await tg.wait_for(lambda: len(tg.callback_answers) == len(taps))
    assert len(tg.sent_to(channel)) == posted
    assert all(a["show_alert"] for a in tg.callback_answers)
    assert all(len(a["text"]) <= 200 for a in tg.callback_answers)
    texts = sorted(a["text"] for a in tg.callback_answers)  # handled concurrently
    assert texts == sorted(
        [
            "Why it matters: Exports are a third of the chip market.",
            "Why it matters: Exports are a third of the chip market.",
            "Who is affected? Chip makers.",
            "Who is affected?: Chip makers.",
            "No related stories are available.",
            "Chip makers agree on export rules: Regulators and chip makers agreed on new "
            "export rules. They start in May.",
        ]
    )


async def test_the_same_button_answers_a_person_once_in_a_while_in_a_group(
    settings: Settings, tg: FakeTelegram
) -> None:
    group = tg.supergroup("Team", creator=tg.alice, members=(tg.bob,))
    async with gateway_world(settings, tg) as world:
        tg.user_sends(group, tg.alice, "/subscribe")
        await tg.next_sent(group)
        card_id = world.card()
        await world.deliver()
        card = await tg.next_sent(group)
        for _ in range(5):
            tg.user_taps(card, callbacks.why(card_id), tg.bob)
        await tg.wait_for(lambda: len(tg.callback_answers) == 5)
        why = await tg.next_sent(group)
        assert "Exports are a third" in why.plain
        tg.user_taps(card, callbacks.why(card_id), tg.alice)  # someone else: answered
        assert "Exports are a third" in (await tg.next_sent(group)).plain
    assert len(tg.sent_to(group)) == 4  # the /subscribe answer, the card, two answers
    refused = [a for a in tg.callback_answers if a["text"]]
    assert [a["text"] for a in refused] == [SAME_BUTTON] * 4
    assert all(a["show_alert"] for a in refused)


def test_limits_count_per_button_and_per_person_per_minute() -> None:
    now = [1000.0]
    limits = ButtonLimits(clock=lambda: now[0])
    assert limits.refusal(1, "why:7") is None
    assert limits.refusal(1, "why:7") == SAME_BUTTON
    assert limits.refusal(2, "why:7") is None  # another person
    now[0] += SAME_BUTTON_EVERY
    assert limits.refusal(1, "why:7") is None
    for n in range(TAPS_PER_MINUTE - 2):
        assert limits.refusal(1, f"faq:{n}") is None
    assert limits.refusal(1, "related:7") == TOO_MANY
    assert limits.refusal(2, "related:7") is None
    now[0] += 60
    assert limits.refusal(1, "related:7") is None
