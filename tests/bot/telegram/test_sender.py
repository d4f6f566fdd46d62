"""The Telegram sender through the real delivery worker, a real database (SQLite and
PostgreSQL) and the real python-telegram-bot against the fake Bot API: cards and digests
arrive as Telegram shows them and their message ids are recorded; rate limits, migrated
groups and partial digests lose or double nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.telegram import callbacks
from digest.config import Settings
from digest.delivery.pacing import PlatformRates, telegram_group
from tests.bot.telegram.delivery_world import NASTY, TelegramWorld, telegram_world
from tests.support.fake_telegram import FakeTelegram, RateLimits, retry_after


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # PTB 22 warns on RetryAfter reads otherwise


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def world(db_settings: Settings, tg: FakeTelegram) -> AsyncIterator[TelegramWorld]:
    async with telegram_world(db_settings, tg) as w:
        yield w


async def test_a_delivered_card_arrives_as_html_with_its_keyboard_and_is_recorded(
    world: TelegramWorld,
) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.alice)
    world.subscribe(chat)
    card = world.card(NASTY, summary=f"{NASTY}. Second sentence.", source=f"Wire {NASTY}")

    report = await world.worker().drain()

    assert report.sent == 1
    (message,) = tg.sent_to(chat)
    assert message.method == "sendMessage" and message.parse_mode == "HTML"
    assert message.plain.startswith(NASTY + "\n")  # escaped: shown exactly as the feed had it
    assert f"Wire {NASTY}" in message.plain and f"{NASTY}. Second sentence." in message.plain
    url = world.app.service.get_card(card).url
    assert message.entities[0] == {
        "type": "text_link",
        "offset": 0,
        "length": len(NASTY),
        "url": url,
    }
    assert message.callback_data == [callbacks.why(card), callbacks.faq(card)]
    assert message.button("Read article")["url"].startswith("https://news.example.com/story-")
    assert message.params["link_preview_options"] == {"is_disabled": True}
    (row,) = world.deliveries()
    assert row.status == "sent" and row.message_ids == [str(message.message_id)]
    found = world.outbox.card_for_message("telegram", str(chat.id), str(message.message_id))
    assert found == card


async def test_a_card_with_an_image_goes_as_a_photo_and_falls_back_to_text(
    world: TelegramWorld,
) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.bob)
    world.subscribe(chat)
    shown = world.card("With a picture", image_url="https://img.example.com/a.jpg")
    tg.unreachable_photos.add("https://img.example.com/gone.jpg")
    fallback = world.card("Picture gone", image_url="https://img.example.com/gone.jpg")

    assert (await world.worker().drain()).sent == 2

    photo, text = tg.sent_to(chat)
    assert photo.method == "sendPhoto" and photo.photo == "https://img.example.com/a.jpg"
    assert photo.caption is not None and photo.plain.startswith("With a picture\n")
    assert text.method == "sendMessage" and text.plain.startswith("Picture gone\n")
    assert len(tg.calls("sendPhoto")) == 2  # the refused one was tried first
    outbox = world.outbox
    assert outbox.card_for_message("telegram", str(chat.id), str(photo.message_id)) == shown
    assert outbox.card_for_message("telegram", str(chat.id), str(text.message_id)) == fallback


async def test_a_forum_topic_gets_message_thread_id(world: TelegramWorld) -> None:
    tg = world.tg
    forum = tg.supergroup("Forum", creator=tg.alice)
    world.subscribe(forum, thread="7")
    world.card()
    await world.worker().drain()
    (message,) = tg.sent_to(forum)
    assert int(message.params["message_thread_id"]) == 7


async def test_a_429_during_a_fan_out_loses_and_doubles_nothing(
    db_settings: Settings,
) -> None:
    # Telegram's flood limiter, tighter than our pacer: some sends get 429 + retry_after.
    limits = RateLimits(per_second=20, private_per_second=1, retry_after=0.05)
    rates = PlatformRates(overall=100.0, chat=1.0, group=1 / 3, is_group=telegram_group)
    async with FakeTelegram(rate_limits=limits) as tg, telegram_world(db_settings, tg) as world:
        chats = [tg.private_chat(tg.user(f"Reader {n}")) for n in range(30)]
        for chat in chats:
            world.subscribe(chat)
        card = world.card()
        tg.fail_next("sendMessage", chats[3], error=retry_after(0.2))  # one chat told twice
        tg.fail_next("sendMessage", chats[3], error=retry_after(0.1))

        report = await world.worker(rates=rates).drain()

    assert tg.rate_limited > 0 and tg.too_many_requests >= tg.rate_limited + 2
    assert report.sent == 30 and report.retried == 0 and report.failed == 0
    assert sorted(len(tg.sent_to(chat)) for chat in chats) == [1] * 30
    rows = world.deliveries()
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    for chat in chats:
        (message,) = tg.sent_to(chat)
        mid = str(message.message_id)
        assert world.outbox.card_for_message("telegram", str(chat.id), mid) == card


async def test_a_migrated_group_moves_its_subscription_and_gets_the_card_there(
    world: TelegramWorld,
) -> None:
    tg = world.tg
    group = tg.group("Readers", creator=tg.alice)
    sub = world.subscribe(group)
    supergroup = tg.migrate(group)
    first = world.card("First after the upgrade")

    assert (await world.worker().drain()).sent == 1

    assert world.migrations == [(str(group.id), str(supergroup.id))]
    assert world.subscription(sub).destination.chat == str(supergroup.id)
    (message,) = tg.sent_to(supergroup)
    assert message.plain.startswith("First after the upgrade") and tg.sent_to(group) == []
    mid = str(message.message_id)
    assert world.outbox.card_for_message("telegram", str(supergroup.id), mid) == first
    assert world.outbox.card_for_message("telegram", str(group.id), mid) is None

    world.card("Second")  # goes straight to the new id
    await world.worker().drain()
    assert [m.plain.split("\n")[0] for m in tg.sent_to(supergroup)] == [
        "First after the upgrade",
        "Second",
    ]
    assert len(world.migrations) == 1 and len(tg.calls("sendMessage")) == 3


# -- digests ---------------------------------------------------------------------------------


def _digest_subscription(world: TelegramWorld, chat: object) -> None:
    world.subscribe(chat, mode="digest", times="09:00", max_cards="50")  # type: ignore[arg-type]


async def test_a_long_digest_is_posted_in_parts_in_order_and_all_recorded(
    world: TelegramWorld,
) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.alice)
    _digest_subscription(world, chat)
    world.clock.current = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    long_text = "A sentence that goes on and on about the story. " * 8
    cards = [world.card(f"Story {n} {NASTY}", summary=long_text) for n in range(40)]
    world.clock.current = datetime(2026, 11, 20, 9, 1, tzinfo=UTC)
    assert world.app.service.enqueue_due_digests() == 1

    # Telegram's per-chat 1/s for a private chat: the parts of one digest go back to back,
    # the digest is one delivery.
    assert (await world.worker().drain()).sent == 1

    parts = tg.sent_to(chat)
    assert len(parts) >= 2
    assert parts[0].plain.startswith("Your news digest · Fri 20 Nov, 09:00")
    assert "(continued)" in parts[1].plain.split("\n")[0]
    numbers = [int(b["text"]) for m in parts for b in m.buttons()]
    assert numbers == list(range(1, 41))  # numbering continues across parts
    opened = [callbacks.parse(d).card_id for m in parts for d in m.callback_data]
    assert sorted(opened) == sorted(cards)
    (row,) = world.deliveries()
    assert row.status == "sent" and row.message_ids == [str(m.message_id) for m in parts]
    assert all(
        world.outbox.card_for_message("telegram", str(chat.id), str(m.message_id)) is None
        for m in parts
    )


async def test_a_digests_parts_are_paced_at_the_chats_rate_and_meet_no_429(
    db_settings: Settings,
) -> None:
    # The worker paces each part after the first like a send of its own (next_part), so a
    # private chat's 1 message/s is kept inside one delivery too.
    limits = RateLimits(per_second=None, private_per_second=1, group_per_minute=None)
    paced = PlatformRates(overall=100.0, chat=0.9, group=0.9, is_group=telegram_group)
    async with FakeTelegram(rate_limits=limits) as tg, telegram_world(db_settings, tg) as world:
        chat = tg.private_chat(tg.bob)
        _digest_subscription(world, chat)
        world.clock.current = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
        long_text = "A sentence that goes on and on about the story. " * 8
        for n in range(40):
            world.card(f"Story {n}", summary=long_text)
        world.clock.current = datetime(2026, 11, 20, 9, 1, tzinfo=UTC)
        assert world.app.service.enqueue_due_digests() == 1

        report = await world.worker(paced).drain()

        parts = tg.sent_to(chat)
        assert report.sent == 1 and len(parts) >= 2
        assert tg.rate_limited == 0
        (row,) = world.deliveries()
        assert row.attempts == 1 and row.message_ids == [str(m.message_id) for m in parts]


async def test_a_429_in_the_middle_of_a_digest_posts_each_part_once(
    db_settings: Settings,
) -> None:
    # Telegram's 1 message/s in a private chat: the digest's parts go back to back, so the
    # second is refused with a 429 (retry after 1 s), the worker pauses the chat and sends
    # the delivery again, and the sender posts only the parts not yet posted.
    limits = RateLimits(per_second=None, private_per_second=1, group_per_minute=None)
    async with FakeTelegram(rate_limits=limits) as tg, telegram_world(db_settings, tg) as world:
        chat = tg.private_chat(tg.bob)
        _digest_subscription(world, chat)
        world.clock.current = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
        long_text = "A sentence that goes on and on about the story. " * 8
        for n in range(40):
            world.card(f"Story {n}", summary=long_text)
        world.clock.current = datetime(2026, 11, 20, 9, 1, tzinfo=UTC)
        assert world.app.service.enqueue_due_digests() == 1

        report = await world.worker().drain()

        parts = tg.sent_to(chat)
        assert report.sent == 1 and len(parts) >= 2
        assert tg.rate_limited == len(parts) - 1  # each part after the first waited once
        numbers = [int(b["text"]) for m in parts for b in m.buttons()]
        assert numbers == list(range(1, 41))  # no part twice, none missing
        (row,) = world.deliveries()
        assert row.attempts == 1 and row.message_ids == [str(m.message_id) for m in parts]
