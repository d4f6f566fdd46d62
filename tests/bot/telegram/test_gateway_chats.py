"""Chats of every kind through the real gateway: groups (only admins change the
subscription; questions by reply or mention), channels (subscribed from a channel post or
from a private chat by one of the channel's admins), a group upgraded to a supergroup, and
the bot removed or blocked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.telegram.access import NOT_ADMIN
from digest.config import Settings
from tests.bot.telegram.gateway_world import GatewayWorld, gateway_world
from tests.support.fake_telegram import FakeChat, FakeTelegram, FakeUser
from tests.support.fake_telegram_world import member_payload, now


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def world(settings: Settings, tg: FakeTelegram) -> AsyncIterator[GatewayWorld]:
    async with gateway_world(settings, tg) as w:
        yield w


async def test_only_group_admins_change_the_subscription_and_anyone_may_ask(
    world: GatewayWorld,
) -> None:
    tg = world.tg
    group = tg.group("Readers", creator=tg.alice, members=(tg.bob,))
    tg.user_sends(group, tg.bob, "/subscribe@newsdigest_bot Business")
    refusal = await tg.next_sent(group)
    assert refusal.plain == NOT_ADMIN and refusal.reply_parameters is not None
    assert world.subscription(group) is None

    tg.user_sends(group, tg.bob, "/topics")  # reading is open to all
    assert (await tg.next_sent(group)).plain.startswith("Topics:")
    tg.user_sends(group, tg.alice, "/subscribe@otherbot")  # another bot's command: not ours
    tg.user_sends(group, tg.alice, "/subscribe Business")
    assert (await tg.next_sent(group)).plain.startswith("Subscribed.")
    sub = world.subscription(group)
    assert sub is not None and sub.spec.categories == ("Business",)

    world.card()
    assert await world.deliver() == 1
    card = await tg.next_sent(group)
    tg.user_sends(group, tg.bob, "hello everyone")  # chatter: no answer
    tg.user_sends(group, tg.bob, "@newsdigest_bot who is affected?")
    answer = await tg.next_sent(group)
    assert answer.plain.startswith("who is affected?\nChip makers.")
    question = tg.user_sends(group, tg.bob, "why does it matter?", reply_to=card)
    by_reply = await tg.next_sent(group)
    assert by_reply.reply_parameters["message_id"] == question.message_id
    # refusal, topics, subscribed, card, two answers: nothing for the chatter or @otherbot
    assert len(tg.sent_to(group)) == 6


async def test_a_channel_is_subscribed_by_a_post_or_by_its_admin_in_private(
    world: GatewayWorld,
) -> None:
    tg = world.tg
    posted = tg.channel("Morning Post", username="morning_post", creator=tg.alice)
    tg.channel_post(posted, "/subscribe Science")
    assert (await tg.next_sent(posted)).plain.startswith("Subscribed.")
    assert world.subscription(posted) is not None

    brief = tg.channel("Daily Brief", username="daily_brief", creator=tg.alice)
    alice, bob = tg.private_chat(tg.alice), tg.private_chat(tg.bob)
    tg.user_sends(bob, tg.bob, "/subscribe @daily_brief")
    assert (
        await tg.next_sent(bob)
    ).plain == "Only admins of @daily_brief can change its subscription."
    tg.user_sends(alice, tg.alice, "/subscribe @no_such_channel")
    assert "I cannot see @no_such_channel" in (await tg.next_sent(alice)).plain
    tg.set_status(brief, tg.bot, "member")
    tg.user_sends(alice, tg.alice, "/subscribe @daily_brief World")
    assert "administrator of @daily_brief" in (await tg.next_sent(alice)).plain
    tg.set_status(brief, tg.bot, "administrator")
    tg.user_sends(alice, tg.alice, "/subscribe @daily_brief World")
    assert (await tg.next_sent(alice)).plain.startswith("@daily_brief: Subscribed.")
    assert world.subscription(alice) is None  # the channel's, not alice's
    sub = world.subscription(brief)
    assert sub is not None and sub.spec.categories == ("World",)

    world.card(category="World")
    assert await world.deliver() == 1  # to the brief only: the post channel wants Science
    assert tg.sent_to(brief)[0].plain.startswith("Chip makers agree")
    tg.user_sends(alice, tg.alice, "/unsubscribe @daily_brief")
    assert (await tg.next_sent(alice)).plain.startswith("@daily_brief: Unsubscribed")
    assert world.subscription(brief) is None


async def test_a_migrated_group_keeps_its_subscription(world: GatewayWorld) -> None:
    tg = world.tg
    group = tg.group("Old group", creator=tg.alice)
    tg.user_sends(group, tg.alice, "/subscribe")
    await tg.next_sent(group)
    supergroup = tg.migrate(group)
    await tg.wait_for(lambda: world.subscription(supergroup), what="the subscription to move")
    assert world.subscription(group) is None
    world.card()
    assert await world.deliver() == 1
    assert tg.sent_to(supergroup)[0].plain.startswith("Chip makers agree")


def _bot_status_change(tg: FakeTelegram, chat: FakeChat, by: FakeUser, status: str) -> None:
    """Queue the ``my_chat_member`` update Telegram sends when the bot's status changes."""
    tg.queue_update(
        "my_chat_member",
        {
            "chat": chat.payload(),
            "from": by.payload(),
            "date": now(),
            "old_chat_member": member_payload(tg.bot, "member", chat_type=chat.type),
            "new_chat_member": member_payload(tg.bot, status, chat_type=chat.type),
        },
    )


async def test_removed_or_blocked_bots_pause_the_subscription(world: GatewayWorld) -> None:
    tg = world.tg
    group = tg.group("Leaving", creator=tg.alice)
    private = tg.private_chat(tg.bob)
    tg.user_sends(group, tg.alice, "/subscribe")
    tg.user_sends(private, tg.bob, "/subscribe")
    await tg.next_sent(group)
    await tg.next_sent(private)

    tg.kick_bot(group)
    _bot_status_change(tg, group, tg.alice, "kicked")
    tg.block_bot(tg.bob)
    _bot_status_change(tg, private, tg.bob, "kicked")

    def paused() -> bool:
        subs = [world.subscription(group), world.subscription(private)]
        return all(s is not None and not s.active for s in subs)

    await tg.wait_for(paused, what="both subscriptions to pause")
    reasons = {
        s.paused_reason for s in (world.subscription(group), world.subscription(private)) if s
    }
    assert reasons == {"the bot was removed from the group", "the user blocked the bot"}


async def test_addsource_is_for_operators_and_optionally_chat_admins(
    settings: Settings, tg: FakeTelegram
) -> None:
    group = tg.group("Editors", creator=tg.bob)
    alice, bob = tg.private_chat(tg.alice), tg.private_chat(tg.bob)
    changes = {"telegram_operators": f"{tg.alice.id}", "telegram_admins_add_sources": True}
    async with gateway_world(settings, tg, **changes):
        tg.user_sends(bob, tg.bob, "/addsource https://example.com/feed.xml")
        assert (await tg.next_sent(bob)).plain == "Only the bot's operators can add news sources."
        tg.user_sends(alice, tg.alice, "/addsource")
        assert "e.g. /addsource https://" in (await tg.next_sent(alice)).plain
        tg.user_sends(alice, tg.alice, "/addsource ftp://example.com/feed.xml")
        refused = await tg.next_sent(alice)
        assert refused.plain.startswith("Could not add it:") and "\n" not in refused.plain
        tg.user_sends(group, tg.bob, "/addsource ftp://example.com/other.xml")  # an admin here
        assert (await tg.next_sent(group)).plain.startswith("Could not add it:")
