"""Buttons: they keep working across a restart (everything comes from the button's
data and the database), and the /settings menu does what the commands do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.telegram import callbacks
from bot.telegram.access import NOT_ADMIN
from digest.config import Settings
from tests.bot.telegram.gateway_world import gateway_world
from tests.support.fake_telegram import FakeTelegram


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


async def test_a_card_delivered_before_a_restart_still_answers(
    db_settings: Settings, tg: FakeTelegram
) -> None:
    chat = tg.private_chat(tg.alice)
    async with gateway_world(db_settings, tg) as before:
        tg.user_sends(chat, tg.alice, "/subscribe")
        await tg.next_sent(chat)
        card_id = before.card()
        assert await before.deliver() == 1
        card = await tg.next_sent(chat)
    tg.drop_pending_updates()

    # A new process: a new app on the same database, a new Application.
    async with gateway_world(db_settings, tg) as after:
        assert after.platform is not before.platform
        tg.user_taps(card, callbacks.why(card_id))
        why = await tg.next_sent(chat)
        assert why.reply_parameters["message_id"] == card.message_id
        assert "Exports are a third of the chip market." in why.plain
        tg.user_taps(card, callbacks.faq_item(card_id, 1), check=False)
        assert (await tg.next_sent(chat)).plain.startswith("When?\nIn May.")
        tg.user_sends(chat, tg.alice, "who is affected?", reply_to=card)
        assert (await tg.next_sent(chat)).plain.startswith("who is affected?\nChip makers.")


async def test_the_settings_menu_changes_the_subscription_for_admins_only(
    settings: Settings, tg: FakeTelegram
) -> None:
    group = tg.group("Menu", creator=tg.alice, members=(tg.bob,))
    async with gateway_world(settings, tg) as world:
        tg.user_sends(group, tg.bob, "/settings")
        menu = await tg.next_sent(group)
        assert menu.plain.startswith("This chat has no subscription yet")
        assert menu.callback_data == ["s:a"]
        tg.user_taps(menu, "s:a", tg.bob)
        await tg.wait_for(lambda: tg.callback_answers)
        assert tg.callback_answers[-1]["text"] == NOT_ADMIN
        assert world.subscription(group) is None

        tg.user_taps(menu, "s:a", tg.alice)
        await tg.wait_for(lambda: menu.edits, what="the menu to show the subscription")
        assert menu.callback_data == ["s:i", "s:d", "s:p", "s:u"]
        assert menu.plain.startswith("Topics: all")
        tg.user_taps(menu, "s:d", tg.alice)
        await tg.wait_for(lambda: len(menu.edits) == 2)
        sub = world.subscription(group)
        assert sub is not None and sub.mode == "digest"
        assert [b["text"] for b in menu.buttons()][:2] == ["Each card", "✓ Daily digest"]
        tg.user_taps(menu, "s:p", tg.alice)
        await tg.wait_for(lambda: len(menu.edits) == 3)
        paused = world.subscription(group)
        assert paused is not None and not paused.active
        assert "s:r" in menu.callback_data


async def test_inline_queries_list_matching_cards_escaped(
    settings: Settings, tg: FakeTelegram
) -> None:
    async with gateway_world(settings, tg) as world:
        world.card("Chips & <b>rules</b>: a deal")
        world.card("Rain in Spain", category="World", summary="Rain fell. Mostly on the plain.")
        query = tg.inline_query(tg.bob, "deal")
        await tg.wait_for(lambda: tg.inline_answers)
        latest = tg.inline_query(tg.bob, "")
        await tg.wait_for(lambda: len(tg.inline_answers) == 2)
    found, newest = tg.inline_answers
    assert found["inline_query_id"] == query and newest["inline_query_id"] == latest
    (result,) = found["results"]
    assert result["title"] == "Chips & <b>rules</b>: a deal"
    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert "Chips &amp; &lt;b&gt;rules&lt;/b&gt;: a deal" in content["message_text"]
    assert int(found["cache_time"]) <= 60
    assert [r["title"] for r in newest["results"]] == [
        "Rain in Spain",
        "Chips & <b>rules</b>: a deal",
    ]


async def test_a_channel_menu_answers_only_the_channel_admins(
    settings: Settings, tg: FakeTelegram
) -> None:
    channel = tg.channel("Brief", username="brief", creator=tg.alice)
    async with gateway_world(settings, tg) as world:
        tg.channel_post(channel, "/settings")
        menu = await tg.next_sent(channel)
        tg.user_taps(menu, "s:a", tg.bob)  # a reader of the channel
        await tg.wait_for(lambda: tg.callback_answers)
        assert tg.callback_answers[-1]["text"] == NOT_ADMIN
        assert world.subscription(channel) is None
        tg.user_taps(menu, "s:a", tg.alice)
        await tg.wait_for(lambda: world.subscription(channel), what="the channel to subscribe")

        # The same menu for the channel, opened by its admin in a private chat.
        chat = tg.private_chat(tg.alice)
        tg.user_sends(chat, tg.alice, "/settings @brief")
        remote = await tg.next_sent(chat)
        assert f"s:d:{channel.id}" in remote.callback_data
        tg.user_taps(remote, f"s:d:{channel.id}")
        await tg.wait_for(lambda: remote.edits)
        sub = world.subscription(channel)
        assert sub is not None and sub.mode == "digest"
