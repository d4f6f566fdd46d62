"""``DiscordSender`` through the real delivery worker and a real database (SQLite and
PostgreSQL), with the real discord.py client posting over HTTP to the fake Discord: what
arrives, where it is recorded, and what each Discord failure does to the delivery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import discord
import pytest

from bot.common.text import DISCLAIMER
from bot.discord.render import CATEGORY_COLOURS
from bot.discord.sender import LOGIN_PAUSE, DiscordSender, delivery_error
from digest.delivery.sender import OutgoingMessage
from digest.errors import RetryLater
from digest.models import CardDraft, Destination, FaqItem, SubscriptionSpec
from tests.bot.discord.sending import WRONG_TOKEN, Side, make_side
from tests.digest.delivery.conftest import World
from tests.support.deliveries import deliveries, draft, make_card
from tests.support.fake_discord import (
    Failure,
    FakeDiscord,
    invalid_form_body,
    point_discord_py_at,
    rate_limited,
    server_error,
)


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:  # no gateway session: the worker posts over HTTP only
        yield fake


@pytest.fixture
async def side(dc: FakeDiscord, world: World) -> AsyncIterator[Side]:
    made = make_side(dc, world, dc.token)
    with point_discord_py_at(dc):
        yield made
        await made.client.close()


@pytest.fixture(autouse=True)
def no_token_in_logs(caplog: pytest.LogCaptureFixture, dc: FakeDiscord) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    assert dc.token not in caplog.text and WRONG_TOKEN not in caplog.text


def card_with(**changes: Any) -> CardDraft:
    return replace(draft(), **changes)


# -- a card, delivered ---------------------------------------------------------------------------


async def test_a_delivered_card_arrives_with_its_embed_and_components(side: Side) -> None:
    dc, world = side.dc, side.world
    side.subscribe(dc.news.id)
    card_id = make_card(
        world.repo,
        "Chip export rules tightened",
        card_draft=card_with(category="Policy", why_it_matters="Supply chains shift."),
    )
    report = await side.worker().drain()
    assert report.sent == 1 and side.statuses() == ["sent"]

    [message] = dc.channel_messages(dc.news.id)
    [row] = deliveries(world.engine)
    body = message.body
    assert body["allowed_mentions"] == {"parse": []}
    assert body["nonce"] == f"d{row.id}p0" and body["enforce_nonce"] is True
    [embed] = body["embeds"]
    card = world.repo.get_card(card_id)
    assert card is not None
    assert embed["title"] == "Chip export rules tightened"
    assert embed["url"] == card.url and embed["url"].startswith("https://news.example.com/")
    assert embed["description"] == "A summary. Of two sentences."
    assert embed["fields"] == [
        {"name": "Key takeaways", "value": "• one\n• two\n• three", "inline": False},
        {"name": "Why it matters", "value": "Supply chains shift.", "inline": False},
    ]
    assert embed["footer"]["text"] == f"Policy · {card.source} · 20 Nov 2026\n{DISCLAIMER}"
    assert embed["color"] == CATEGORY_COLOURS["policy"]
    assert datetime.fromisoformat(embed["timestamp"]) == datetime(2026, 11, 20, 8, tzinfo=UTC)
    buttons, menu = body["components"][0]["components"], body["components"][1]["components"]
    assert [b.get("custom_id") for b in buttons] == [f"card:why:{card_id}", None]
    assert buttons[1] == {
        "type": 2, "style": 5, "label": "Read article", "url": card.url, "disabled": False,
    }  # fmt: skip
    assert menu[0]["custom_id"] == f"card:faq:{card_id}"
    assert [o["label"] for o in menu[0]["options"]] == ["What?", "When?"]

    # The message id is recorded: a click or a reply on it finds the card.
    assert row.message_ids == [str(message.id)]
    assert world.outbox.card_for_message("discord", str(dc.news.id), str(message.id)) == card_id
    assert side.login.calls == 1
    assert (await side.worker().drain()).sent == 0  # nothing twice


async def test_a_card_for_a_thread_is_posted_in_the_thread(side: Side) -> None:
    dc, world = side.dc, side.world
    side.subscribe(dc.news.id, thread=dc.thread.id)
    card_id = world.card("In the thread")
    await side.worker().drain()
    assert dc.channel_messages(dc.news.id) == []
    [message] = dc.channel_messages(dc.thread.id)
    thread = str(dc.thread.id)
    assert world.outbox.card_for_message("discord", thread, str(message.id)) == card_id


async def test_an_article_that_mentions_everyone_pings_nobody(side: Side) -> None:
    dc, world = side.dc, side.world
    side.subscribe(dc.news.id)
    role, user = dc.moderators.id, dc.admin.id
    loud = f"@everyone <@&{role}> <@{user}> @here"
    make_card(
        world.repo,
        f"{loud} in the headline",
        card_draft=card_with(
            summary=f"Summary for {loud}.",
            takeaways=(loud, "two", "three"),
            why_it_matters=loud,
            faq=(FaqItem(f"Who is {loud}?", "Nobody."),),
        ),
    )
    await side.worker().drain()
    [message] = dc.channel_messages(dc.news.id)
    assert message.body["allowed_mentions"] == {"parse": []}
    assert message.pings == [] and dc.pings == 0
    embed = message.body["embeds"][0]
    assert embed["title"].startswith(loud)  # shown as written, not mangled
    assert loud in embed["description"]


# -- digests -------------------------------------------------------------------------------------


def subscribe_digest(side: Side) -> None:
    spec = SubscriptionSpec(
        Destination("discord", str(side.dc.news.id)), mode="digest", max_cards=30
    )
    side.world.subscriptions.add(spec)


async def test_a_digest_retried_after_its_second_part_failed_posts_nothing_twice(
    side: Side, monkeypatch: pytest.MonkeyPatch
) -> None:
    dc, world = side.dc, side.world
    subscribe_digest(side)
    cards = [world.card(f"Story {n}") for n in range(30)]  # 25 per message: two parts
    world.clock.current = datetime(2026, 11, 21, 8, 0, 30, tzinfo=UTC)
    assert world.subscriptions.enqueue_due_digests() == 1

    # Discord takes part 1, then answers part 2 with a long 429 (discord.RateLimited).
    posts = 0
    take = dc.take_failure

    def second_post_limited(method: str, path: str) -> Failure | None:
        nonlocal posts
        if method == "POST" and path.endswith("/messages"):
            posts += 1
            if posts == 2:
                return rate_limited(60.0)
        return take(method, path)

    monkeypatch.setattr(dc, "take_failure", second_post_limited)
    first = await side.worker().drain()
    assert first.sent == 0 and side.statuses() == ["pending"]
    assert len(dc.channel_messages(dc.news.id)) == 1

    world.clock.advance(seconds=61)
    assert (await side.worker().drain()).sent == 1
    parts = dc.channel_messages(dc.news.id)
    assert len(parts) == 2 and dc.nonce_replays == 1  # part 1 answered from the nonce
    [row] = deliveries(world.engine)
    assert [p.body["nonce"] for p in parts] == [f"d{row.id}p0", f"d{row.id}p1"]
    assert row.message_ids == [str(p.id) for p in parts]
    assert parts[0].body["embeds"][0]["title"].endswith("(1/2)")
    opened = [c["custom_id"] for p in parts for r in p.body["components"] for c in r["components"]]
    assert opened == [f"card:open:{c}" for c in reversed(cards)]  # newest first, each once
    # A digest message shows several cards: no single card for it.
    assert world.outbox.card_for_message("discord", str(dc.news.id), str(parts[0].id)) is None


# -- rate limits ---------------------------------------------------------------------------------


async def test_a_429_during_a_fan_out_loses_nothing_and_doubles_nothing(side: Side) -> None:
    dc, world = side.dc, side.world
    for channel in (dc.news.id, dc.general.id):
        side.subscribe(channel)
    side.subscribe(dc.news.id, thread=dc.thread.id)
    # Short ones discord.py waits out itself; a long one comes back as RetryLater(60).
    dc.fail_next("POST /channels/*/messages", rate_limited(0.05), times=2)
    dc.fail_next(dc.general.id, rate_limited(60.0))
    world.card("Fan-out")
    first = await side.worker().drain()
    assert first.sent == 2 and first.retried == 1
    [waiting] = [r for r in deliveries(world.engine) if r.status == "pending"]
    assert waiting.attempts == 0  # a 429 is not an attempt
    assert waiting.due_at >= world.clock.now().replace(microsecond=0)

    world.clock.advance(seconds=61)
    assert (await side.worker().drain()).sent == 1
    for channel in (dc.news.id, dc.general.id, dc.thread.id):
        assert len(dc.channel_messages(channel)) == 1
    assert side.statuses() == ["sent", "sent", "sent"]


async def test_exhausted_global_429s_pause_the_whole_platform(side: Side) -> None:
    """Five global 429s in a row: discord.py gives up with an HTTPException 429."""
    dc = side.dc
    dc.fail_next("POST /channels/*/messages", rate_limited(0.01, is_global=True), times=5)
    message = OutgoingMessage(
        delivery_id=1,
        destination=Destination("discord", str(dc.news.id)),
        kind="card",
        cards=(side.world.repo.get_card(side.world.card()),),  # type: ignore[arg-type]
        idempotency_key="d1",
    )
    with pytest.raises(RetryLater) as limited:
        await side.sender.send(message)
    assert limited.value.scope == "platform" and limited.value.retry_after == 1.0
    assert "429" in limited.value.reason
    await side.sender.send(message)  # the next try goes through
    assert len(dc.channel_messages(dc.news.id)) == 1


# -- destinations that are gone, content that is refused -----------------------------------------


async def test_a_deleted_channel_pauses_its_subscription_with_the_reason(side: Side) -> None:
    dc, world = side.dc, side.world
    gone = side.subscribe(dc.news.id)
    kept = side.subscribe(dc.general.id)
    dc.delete_channel(dc.news.id)
    world.card()
    report = await side.worker().drain()
    assert report.sent == 1
    paused = world.subscriptions.get(gone)
    assert not paused.active and paused.paused_reason is not None
    assert "404" in paused.paused_reason and "Unknown Channel" in paused.paused_reason
    assert world.subscriptions.get(kept).active
    assert sorted(side.statuses()) == ["dropped", "sent"]


async def test_a_deleted_thread_pauses_only_the_thread(side: Side) -> None:
    dc, world = side.dc, side.world
    in_thread = side.subscribe(dc.news.id, thread=dc.thread.id)
    channel = side.subscribe(dc.news.id)
    dc.delete_channel(dc.thread.id)
    world.card()
    await side.worker().drain()
    assert not world.subscriptions.get(in_thread).active
    assert world.subscriptions.get(channel).active
    assert len(dc.channel_messages(dc.news.id)) == 1


async def test_missing_access_pauses_the_subscription(side: Side) -> None:
    dc, world = side.dc, side.world
    sub = side.subscribe(dc.news.id)
    dc.forbid_channel(dc.news.id)
    world.card()
    await side.worker().drain()
    paused = world.subscriptions.get(sub)
    assert not paused.active and "Missing Access" in (paused.paused_reason or "")


async def test_a_destination_that_is_not_a_channel_id_is_paused(side: Side) -> None:
    world = side.world
    [sub] = world.subscribe("not-a-channel", platform="discord")
    world.card()
    await side.worker().drain()
    paused = world.subscriptions.get(sub)
    assert not paused.active and "not a Discord channel id" in (paused.paused_reason or "")
    assert side.dc.requests_to("POST") == []


async def test_an_invalid_form_body_is_rejected_and_not_retried(side: Side) -> None:
    dc, world = side.dc, side.world
    sub = side.subscribe(dc.news.id)
    dc.fail_next("POST /channels/*/messages", invalid_form_body())
    world.card()
    await side.worker().drain()
    [row] = deliveries(world.engine)
    assert row.status == "rejected" and row.attempts == 1
    assert "50035" in (row.last_error or "") and "2000 or fewer" in (row.last_error or "")
    world.clock.advance(days=1)
    assert (await side.worker().drain()).sent == 0
    assert dc.channel_messages(dc.news.id) == []
    assert world.subscriptions.get(sub).active  # the channel is fine


async def test_a_server_error_is_retried_later(side: Side) -> None:
    dc, world = side.dc, side.world
    side.subscribe(dc.news.id)
    dc.fail_next("POST /channels/*/messages", server_error(503))
    world.card()
    await side.worker().drain()
    [row] = deliveries(world.engine)
    assert row.status == "pending" and row.attempts == 1 and "503" in (row.last_error or "")
    world.clock.advance(hours=1)
    assert (await side.worker().drain()).sent == 1


# -- duplicates and secrets ---------------------------------------------------------------------


async def test_a_send_repeated_with_the_same_nonce_posts_once(side: Side) -> None:
    """A worker that crashed after Discord took the message sends it again with the same
    key: Discord (enforce_nonce) answers with the message it already has."""
    dc, world = side.dc, side.world
    card = world.repo.get_card(world.card())
    assert card is not None
    message = OutgoingMessage(
        delivery_id=7,
        destination=Destination("discord", str(dc.news.id)),
        kind="card",
        cards=(card,),
        idempotency_key="d7",
    )
    first = await side.sender.send(message)
    again = await side.sender.send(replace(message, attempt=2))
    assert first == again and dc.nonce_replays == 1
    assert len(dc.channel_messages(dc.news.id)) == 1
    assert side.login.calls == 1  # logged in once, over HTTP only
    assert dc.gateway.identifies == []


async def test_a_refused_token_never_shows_in_a_reason_or_a_log(
    dc: FakeDiscord,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = make_side(dc, world, WRONG_TOKEN)
    wrong.subscribe(dc.news.id)
    world.card()
    with point_discord_py_at(dc):
        report = await wrong.worker().drain()
        await wrong.client.close()
    assert report.sent == 0 and report.retried == 1
    [row] = deliveries(world.engine)
    assert row.status == "pending" and row.attempts == 0  # the platform waits, nobody fails
    assert (row.due_at - world.clock.now()).total_seconds() >= LOGIN_PAUSE - 1
    assert "Discord refused the bot token: check DISCORD_BOT_TOKEN" in caplog.text
    assert WRONG_TOKEN not in (row.last_error or "")


async def test_a_token_echoed_by_discord_is_scrubbed_from_the_reason(side: Side) -> None:
    dc, world = side.dc, side.world
    side.subscribe(dc.news.id)
    echoed = {"code": 50035, "message": f"Invalid Form Body near Bot {dc.token}"}
    dc.fail_next("POST /channels/*/messages", 400, echoed)
    world.card()
    await side.worker().drain()
    [row] = deliveries(world.engine)
    assert row.status == "rejected" and "[token]" in (row.last_error or "")
    assert dc.token not in (row.last_error or "")


async def test_a_send_cut_off_during_a_global_429_does_not_hold_later_sends_for_good(
    dc: FakeDiscord, world: World
) -> None:
    side = make_side(dc, world, dc.token)
    side.sender = DiscordSender(side.client, side.login, global_hold_max=1.0)
    side.subscribe(dc.news.id)
    side.subscribe(dc.general.id)
    make_card(world.repo)
    with point_discord_py_at(dc):
        dc.fail_next(dc.news.id, rate_limited(0.8, is_global=True))
        # the worker's send timeout cuts the send while discord.py sleeps the 429 out
        first = await side.worker(send_timeout=0.3, concurrency=1).drain()
        assert first.sent < 2
        await asyncio.sleep(1.2)  # the hold is lifted (before the fix: never)
        world.clock.advance(seconds=3600)
        await asyncio.wait_for(side.worker(send_timeout=5).drain(), 10)
        await side.client.close()
    assert sorted(side.statuses()) == ["sent", "sent"]


def test_a_long_rate_limit_pauses_all_of_discord_a_short_one_the_channel() -> None:
    long = delivery_error(discord.RateLimited(60.0), in_thread=False, token=None)
    short = delivery_error(discord.RateLimited(5.0), in_thread=False, token=None)
    assert isinstance(long, RetryLater) and long.scope == "platform"
    assert isinstance(short, RetryLater) and short.scope == "chat"
