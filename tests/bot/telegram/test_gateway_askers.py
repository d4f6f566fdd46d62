"""Who asked, for the question limit; and replies to cards that were deleted since."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from bot.common.commands import CARD_GONE
from digest.config import Settings
from digest.delivery.sender import OutgoingMessage
from digest.models import Destination
from tests.bot.telegram.gateway_world import gateway_world
from tests.support.fake_telegram import FakeTelegram


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def test_anonymous_admins_of_different_groups_have_their_own_question_limit(
    settings: Settings, tg: FakeTelegram
) -> None:
    async with gateway_world(settings, tg, questions_per_hour=1) as world:
        one = tg.supergroup("One", creator=tg.alice)
        two = tg.supergroup("Two", creator=tg.bob)
        for group, admin in ((one, tg.alice), (two, tg.bob)):
            tg.user_sends(group, admin, "/subscribe")
            await tg.next_sent(group)
        world.card()
        await world.deliver()
        await tg.next_sent(one)
        await tg.next_sent(two)
        tg.anonymous_sends(one, one, "/ask who is affected?")
        assert "Chip makers." in (await tg.next_sent(one)).plain
        # Both come from Telegram's one GroupAnonymousBot user: the chats tell them apart.
        tg.anonymous_sends(two, two, "/ask who is affected?")
        assert "Chip makers." in (await tg.next_sent(two)).plain
        tg.anonymous_sends(one, one, "/ask when?")
        assert "questions in the last hour" in (await tg.next_sent(one)).plain


async def test_a_reply_to_a_card_deleted_since_says_so(
    settings: Settings, tg: FakeTelegram
) -> None:
    chat = tg.private_chat(tg.alice)
    async with gateway_world(settings, tg) as world:
        card = world.app.service.get_card(world.card())
        gone = replace(card, id=card.id + 1000)  # an id the database does not have
        where = Destination("telegram", str(chat.id))
        await world.platform.sender.send(OutgoingMessage(1, where, "card", (gone,), "d1"))
        old = await tg.next_sent(chat)
        tg.user_sends(chat, tg.alice, "who is affected?", reply_to=old)
        assert (await tg.next_sent(chat)).plain == CARD_GONE
        tg.user_sends(chat, tg.alice, "/ask who is affected?", reply_to=old)
        assert (await tg.next_sent(chat)).plain == CARD_GONE
