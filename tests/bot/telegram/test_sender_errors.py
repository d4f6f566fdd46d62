"""How the Telegram sender's failures end, through the real delivery worker and database:
blocked and kicked bots, chats and topics that are gone, refused content, server errors
and timeouts; the one mapping table; and the token kept out of every reason and log."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator

import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.telegram.sender import TOKEN_PAUSE, TelegramSender, delivery_error, scrub
from digest.config import Settings
from digest.delivery.sender import OutgoingMessage
from digest.errors import DestinationGone, RejectedContent, RetryLater, StorageError
from digest.models import Destination
from tests.bot.telegram.delivery_world import TelegramWorld, telegram_world
from tests.support.fake_telegram import (
    DEFAULT_TOKEN,
    FakeTelegram,
    api_error,
    server_error,
    slow,
)

TOKEN = DEFAULT_TOKEN
ENTITIES = 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def world(db_settings: Settings, tg: FakeTelegram) -> AsyncIterator[TelegramWorld]:
    async with telegram_world(db_settings, tg, read_timeout=0.3) as w:
        yield w


# -- the mapping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("timedelta_mode", ["1", "false"])
def test_a_429_pauses_the_chat_for_its_retry_after(
    timedelta_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", timedelta_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB's constructor reads the value itself
        error = RetryAfter(7)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mapped = delivery_error(error, TOKEN)
    assert caught == []  # either PTB mode, read without a deprecation warning
    assert isinstance(mapped, RetryLater)
    assert (mapped.retry_after, mapped.scope) == (7.0, "chat")


@pytest.mark.parametrize(
    ("error", "kind", "thread_only"),
    [
        (TimedOut(), RetryLater, False),
        (NetworkError("Bad Gateway"), RetryLater, False),
        (Conflict("terminated by other getUpdates request"), RetryLater, False),
        (ChatMigrated(-1001), RetryLater, False),  # a second migration within one send
        (Forbidden("Forbidden: bot was blocked by the user"), DestinationGone, False),
        (Forbidden("Forbidden: bot was kicked from the group chat"), DestinationGone, False),
        (BadRequest("Chat not found"), DestinationGone, False),
        (BadRequest("Not enough rights to send text messages to the chat"), DestinationGone,
         False),
        (BadRequest("Message thread not found"), DestinationGone, True),
        (BadRequest("Topic_deleted"), DestinationGone, True),
        (BadRequest("Topic_closed"), RejectedContent, False),  # topics get reopened
        (BadRequest("Can't parse entities: unsupported start tag"), RejectedContent, False),
        (BadRequest("Message is too long"), RejectedContent, False),
        (BadRequest("Button_data_invalid"), RejectedContent, False),
    ],
)  # fmt: skip
def test_each_telegram_error_has_one_meaning(
    error: Exception, kind: type, thread_only: bool
) -> None:
    mapped = delivery_error(error, TOKEN)  # type: ignore[arg-type]
    assert type(mapped) is kind and mapped.reason.startswith("Telegram: ")
    if isinstance(mapped, DestinationGone):
        assert mapped.thread_only is thread_only
    if isinstance(mapped, RetryLater):
        assert mapped.retry_after is None


def test_a_refused_token_pauses_the_platform_and_is_never_repeated() -> None:
    error = InvalidToken(f"The token `{TOKEN}` was rejected by the server.")
    mapped = delivery_error(error, TOKEN)
    assert isinstance(mapped, RetryLater) and mapped.scope == "platform"
    assert mapped.retry_after == TOKEN_PAUSE and TOKEN not in mapped.reason
    secret = TOKEN.split(":")[1]
    text = f"url /bot{TOKEN}/x, quoted {TOKEN.replace(':', '%3A')}, half {secret}"
    assert scrub(text, TOKEN) == "url /bot<token>/x, quoted <token>, half <token>"


# -- through the worker --------------------------------------------------------------------------


async def test_a_user_who_blocked_the_bot_pauses_the_subscription(world: TelegramWorld) -> None:
    tg = world.tg
    sub = world.subscribe(tg.private_chat(tg.alice))
    other = world.subscribe(tg.private_chat(tg.bob))
    tg.block_bot(tg.alice)
    world.card()

    report = await world.worker().drain()

    assert (report.sent, report.dropped) == (1, 1)
    paused = world.subscription(sub)
    assert not paused.active and paused.paused_reason is not None
    assert "blocked by the user" in paused.paused_reason
    assert world.subscription(other).active
    world.card("Another")
    await world.worker().drain()  # nothing more is tried there
    assert [c.params["chat_id"] for c in tg.calls("sendMessage")].count(str(tg.alice.id)) == 1


async def test_a_kicked_bot_and_an_unknown_chat_pause_their_subscriptions(
    world: TelegramWorld,
) -> None:
    tg = world.tg
    group = tg.group("Team", creator=tg.alice)
    kicked = world.subscribe(group)
    unknown = world.subscribe("-100999000")
    tg.kick_bot(group)
    world.card()

    assert (await world.worker().drain()).dropped == 2

    assert "kicked" in (world.subscription(kicked).paused_reason or "")
    assert "chat not found" in (world.subscription(unknown).paused_reason or "").lower()
    assert {r.status for r in world.deliveries()} == {"dropped"}


async def test_a_deleted_topic_pauses_only_that_thread(world: TelegramWorld) -> None:
    tg = world.tg
    forum = tg.supergroup("Forum", creator=tg.alice)
    topic = world.subscribe(forum, thread="7")
    whole = world.subscribe(forum)
    tg.fail_next(
        "sendMessage", forum, error=api_error(400, "Bad Request: message thread not found")
    )
    world.card()

    report = await world.worker().drain()

    assert (report.sent, report.dropped) == (1, 1)
    assert not world.subscription(topic).active and world.subscription(whole).active
    (delivered,) = tg.sent_to(forum)
    assert "message_thread_id" not in delivered.params


async def test_a_closed_topic_drops_the_message_and_keeps_the_subscription(
    world: TelegramWorld,
) -> None:
    tg = world.tg
    forum = tg.supergroup("Forum", creator=tg.alice)
    topic = world.subscribe(forum, thread="7")
    tg.fail_next("sendMessage", forum, error=api_error(400, "Bad Request: TOPIC_CLOSED"))
    world.card()

    report = await world.worker().drain()

    assert report.rejected == 1 and report.dropped == 0
    assert world.subscription(topic).active  # an admin may reopen the topic
    world.card("Another story")
    assert (await world.worker().drain()).sent == 1
    (delivered,) = tg.sent_to(forum)
    assert str(delivered.params["message_thread_id"]) == "7"


async def test_bad_html_is_rejected_once_and_never_retried(world: TelegramWorld) -> None:
    tg = world.tg
    sub = world.subscribe(tg.private_chat(tg.alice))
    tg.fail_next("sendMessage", error=api_error(400, ENTITIES))
    world.card()

    assert (await world.worker().drain()).rejected == 1
    world.clock.advance(days=2)
    assert not await world.worker().drain()

    (row,) = world.deliveries()
    assert row.status == "rejected" and row.attempts == 1
    assert row.last_error is not None and "can't parse entities" in row.last_error.lower()
    assert len(tg.calls("sendMessage")) == 1 and tg.sent == []
    assert world.subscription(sub).active  # the chat is fine: only that message was refused


async def test_server_errors_and_timeouts_back_off_then_deliver(world: TelegramWorld) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.alice)
    world.subscribe(chat)
    tg.fail_next("sendMessage", error=server_error(502))
    first = world.card()
    assert (await world.worker().drain()).retried == 1
    (row,) = world.deliveries()
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "Telegram: Bad Gateway")
    assert not await world.worker().drain()  # not before its backoff

    world.clock.advance(hours=2)
    tg.fail_next("sendMessage", error=slow(2.0))  # longer than the bot's read timeout
    assert (await world.worker().drain()).retried == 1
    (row,) = world.deliveries()
    assert row.attempts == 2 and "timed out" in (row.last_error or "").lower()

    world.clock.advance(hours=2)
    assert (await world.worker().drain()).sent == 1
    (message,) = tg.sent_to(chat)
    assert world.outbox.card_for_message("telegram", str(chat.id), str(message.message_id)) == first


async def test_the_token_never_reaches_a_reason_or_a_log_line(
    world: TelegramWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tg = world.tg
    rejected = world.subscribe(tg.private_chat(tg.alice))
    retried = world.subscribe(tg.private_chat(tg.bob))
    gone = world.subscribe(tg.private_chat(tg.user("Carol")))
    tg.fail_next("sendMessage", rejected.destination.chat,
                 error=api_error(400, f"Bad Request: odd {tg.token}"))  # fmt: skip
    tg.fail_next("sendMessage", retried.destination.chat,
                 error=api_error(500, f"Internal error at /bot{tg.token}/sendMessage"))  # fmt: skip
    tg.fail_next("sendMessage", gone.destination.chat,
                 error=api_error(403, f"Forbidden: {tg.token.split(':')[1]}"))  # fmt: skip
    world.card()

    report = await world.worker().drain()

    assert (report.rejected, report.retried, report.dropped) == (1, 1, 1)
    reasons = [r.last_error or "" for r in world.deliveries()]
    reasons.append(world.subscription(gone).paused_reason or "")
    assert all("<token>" in reason for reason in reasons), reasons
    secret = tg.token.split(":")[1]
    assert not any(secret in reason for reason in reasons)
    # Our loggers (httpx and PTB log URLs themselves: the gateway silences those).
    ours = [r for r in caplog.records if r.name.startswith(("bot", "digest"))]
    assert ours and not any(secret in r.getMessage() for r in ours)


# -- the sender on its own ----------------------------------------------------------------------


async def test_a_failed_move_still_delivers_to_the_new_chat(
    tg: FakeTelegram, world: TelegramWorld, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(old: str, new: str) -> None:
        raise StorageError("database is restarting")

    group = tg.group("Old", creator=tg.alice)
    supergroup = tg.migrate(group)
    card = world.app.service.get_card(world.card())
    sender = TelegramSender(world.bot, broken)
    message = OutgoingMessage(1, Destination("telegram", str(group.id)), "card", (card,), "d1")

    receipt = await sender.send(message)

    (posted,) = receipt.messages
    assert posted.chat == str(supergroup.id) and posted.card_id == card.id
    assert [m.message_id for m in tg.sent_to(supergroup)] == [int(posted.message_id)]
    assert "moving telegram chat" in caplog.text and "database is restarting" in caplog.text


async def test_messages_it_cannot_post_are_rejected(world: TelegramWorld) -> None:
    card = world.app.service.get_card(world.card())
    sender = world.sender
    where = Destination("telegram", str(world.tg.alice.id))
    for kind, cards in [("poll", (card,)), ("card", ()), ("card", (card, card)), ("digest", ())]:
        with pytest.raises(RejectedContent):
            await sender.send(OutgoingMessage(1, where, kind, cards, "d1"))
    with pytest.raises(DestinationGone) as gone:
        await sender.send(
            OutgoingMessage(1, Destination("telegram", "1", "x"), "card", (card,), "d1")
        )
    assert gone.value.thread_only
    assert world.tg.calls("sendMessage") == []


async def test_a_digest_cut_short_by_the_send_timeout_resumes_where_it_stopped(
    world: TelegramWorld,
) -> None:
    tg = world.tg
    chat = tg.private_chat(tg.alice)
    long_text = "A sentence that goes on and on about the story. " * 8
    cards = tuple(
        world.app.service.get_card(world.card(f"Story {n}", summary=long_text)) for n in range(40)
    )
    message = OutgoingMessage(9, Destination("telegram", str(chat.id)), "digest", cards, "d9")
    tg.fail_next("sendMessage", chat, error=slow(0.0))  # part 0: answered at once
    tg.fail_next("sendMessage", chat, error=slow(2.0))  # part 1: still waiting when cut off

    # The worker's DIGEST_SEND_TIMEOUT, expiring exactly while part 1 is on its way (a
    # fixed short timeout would also have to cover part 0's round trip on a busy machine).
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(None) as send_timeout:
            sending = asyncio.create_task(world.sender.send(message))
            await tg.wait_for(lambda: len(tg.calls("sendMessage")) == 2, 10, what="part 1")
            send_timeout.reschedule(asyncio.get_running_loop().time())
            await sending
    assert sending.cancelled()
    assert len(tg.sent_to(chat)) == 1
    receipt = await world.sender.send(message)  # the retry

    parts = tg.sent_to(chat)
    assert len(parts) >= 2 and [p.message_id for p in parts] == [
        int(m.message_id) for m in receipt.messages
    ]
    numbers = [int(b["text"]) for m in parts for b in m.buttons()]
    assert numbers == list(range(1, 41))
