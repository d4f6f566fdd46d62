"""The fake Telegram Bot API against the real python-telegram-bot 22 ``Application``: what the
Telegram adapter's tests will lean on, and how PTB surfaces Telegram's errors."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from tests.support.fake_telegram import (
    FakeTelegram,
    RateLimits,
    blocked_by_user,
    group_upgraded,
    kicked_from_group,
    retry_after,
    server_error,
    slow,
)
from tests.support.fake_telegram_entities import auto_entities
from tests.support.fake_telegram_html import HtmlError, parse_html
from tests.support.fake_telegram_ptb import polling, ptb_application

POLL = 0.5  # getUpdates long-poll seconds: stopping cancels the pending poll anyway


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.2+ warns on every read of RetryAfter.retry_after unless this opts in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Why it matters", callback_data="why:1")],
            [InlineKeyboardButton("Read article", url="https://example.com/a?x=1&y=2")],
        ]
    )
    await update.effective_message.reply_html(
        "<b>Welcome</b> to the digest &lt;news&gt; &amp; more", reply_markup=keyboard
    )


async def why(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer("Here is why")
    await context.bot.send_message(
        query.message.chat.id,
        f"Because of <i>{query.data}</i>",
        parse_mode=ParseMode.HTML,
        reply_parameters=ReplyParameters(query.message.message_id),
    )


# -- a conversation over long polling ---------------------------------------------------------


async def test_start_round_trip_over_long_polling(tg: FakeTelegram) -> None:
    app = ptb_application(tg)
    app.add_handler(CommandHandler("start", start))
    chat = tg.private_chat(tg.alice)
    async with polling(app, poll_timeout=POLL):
        assert app.bot.username == "newsdigest_bot"
        sent = tg.user_sends(chat, tg.alice, "/start")
        reply = await tg.next_sent(chat)

    assert sent.entities == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert reply.plain == "Welcome to the digest <news> & more"
    assert reply.text == "<b>Welcome</b> to the digest &lt;news&gt; &amp; more"
    assert reply.parse_mode == "HTML"
    assert reply.entities == [{"type": "bold", "offset": 0, "length": 7}]
    assert reply.callback_data == ["why:1"]
    assert reply.button("Read article")["url"] == "https://example.com/a?x=1&y=2"
    assert reply.message_id == sent.message_id + 1  # one counter per chat
    methods = [r.method for r in tg.requests]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert "sendMessage" in methods and methods[-1] == "getUpdates"
    assert tg.requests[-1].params["timeout"] == "0"  # PTB's last call confirms the offset
    assert tg.pending_update_count == 0
    assert tg.calls("sendMessage")[0].params["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Why it matters",
        "callback_data": "why:1",
    }


async def test_a_callback_tap_reaches_the_handler_and_the_answer_is_recorded(
    tg: FakeTelegram,
) -> None:
    app = ptb_application(tg)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(why, pattern=r"^why:"))
    chat = tg.private_chat(tg.alice)
    async with polling(app, poll_timeout=POLL):
        tg.user_sends(chat, tg.alice, "/start")
        card = await tg.next_sent(chat)
        query_id = tg.user_taps(card, "why:1", tg.alice)
        answer = await tg.next_sent(chat)
        await tg.wait_for_call("answerCallbackQuery")

    assert tg.callback_answers == [
        {
            "callback_query_id": query_id,
            "text": "Here is why",
            "show_alert": False,
            "url": None,
            "cache_time": None,
        }
    ]
    assert answer.plain == "Because of why:1"
    assert answer.reply_to_message_id == card.message_id
    assert answer.reply_parameters == {"message_id": card.message_id}
    with pytest.raises(AssertionError, match="no button"):
        tg.user_taps(card, "faq:9", tg.alice)


async def test_a_reply_carries_the_replied_message_and_commands_get_entities(
    tg: FakeTelegram,
) -> None:
    seen: list[Update] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    app = ptb_application(tg)
    app.add_handler(MessageHandler(filters.ALL, record))
    team = tg.supergroup("Team <News>", username="team_news", creator=tg.bob)
    async with polling(app, poll_timeout=POLL):
        card = await app.bot.send_message(team.id, "Card")
        tg.user_sends(team, tg.alice, "why does this matter?", reply_to=card.message_id)
        tg.user_sends(team, tg.alice, "/subscribe@newsdigest_bot tech @newsdigest_bot")
        await tg.wait_for(lambda: len(seen) == 2, what="two updates")

    reply = seen[0].effective_message
    assert reply is not None and reply.reply_to_message is not None
    assert reply.reply_to_message.text == "Card"
    assert reply.reply_to_message.from_user is not None
    assert reply.reply_to_message.from_user.id == tg.bot.id
    command = seen[1].effective_message
    assert command is not None and command.chat.title == "Team <News>"
    assert command.chat.username == "team_news"
    assert [(e.type, e.offset, e.length) for e in command.entities] == [
        ("bot_command", 0, 25),
        ("mention", 31, 15),
    ]
    assert team.status_of(tg.alice.id) == "member"  # writing made her a known member


# -- HTML, limits and keyboards, as Telegram validates them -----------------------------------


async def test_escaped_html_passes_and_unescaped_fails_with_bad_request(
    tg: FakeTelegram,
) -> None:
    chat = tg.private_chat(tg.alice)
    async with ptb_application(tg) as app:
        ok = await app.bot.send_message(
            chat.id,
            '<a href="https://e.com/?a=1&amp;b=2">Q&amp;A: 1 &lt; 2 &gt; 0 &#38; &#x3C;</a>',
            parse_mode=ParseMode.HTML,
        )
        assert ok.text == "Q&A: 1 < 2 > 0 & <"
        assert ok.entities[0].url == "https://e.com/?a=1&b=2"
        bad = {
            "1 < 2": 'Unsupported start tag "" at byte offset 2',
            "<script>x</script>": 'Unsupported start tag "script" at byte offset 0',
            "<b>bold": "Can't find end tag corresponding to start tag b",
            "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
            "x</b>": "Unexpected end tag at byte offset 1",
            "AT&T": 'Unescaped "&" at byte offset 2',
            "naïve <x": "Unclosed start tag at byte offset 7",
        }
        for text, reason in bad.items():
            with pytest.raises(BadRequest) as caught:
                await app.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML)
            # PTB drops "Bad Request: " and capitalize()s the rest (lower-casing it).
            expected = f"Can't parse entities: {reason}".capitalize()
            assert caught.value.message.startswith(expected), text

    assert tg.calls("sendMessage")[1].response == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: can't parse entities: "
        'Unsupported start tag "" at byte offset 2',
    }
    assert [m.plain for m in tg.sent] == ["Q&A: 1 < 2 > 0 & <"]


def test_the_html_parser_follows_telegram() -> None:
    parsed = parse_html(
        "😀 <b>b <i>bi</i></b> <tg-spoiler>s</tg-spoiler> "
        '<span class="tg-spoiler">s</span> <pre><code class="language-py">x = 1</code></pre> '
        "<code>c</code> <blockquote expandable>q</blockquote> <u>u</u>&quot;"
    )
    assert parsed.text == '😀 b bi s s x = 1 c q u"'
    assert parsed.entities == [
        {"type": "bold", "offset": 3, "length": 4},  # the emoji is 2 UTF-16 units
        {"type": "italic", "offset": 5, "length": 2},
        {"type": "spoiler", "offset": 8, "length": 1},
        {"type": "spoiler", "offset": 10, "length": 1},
        {"type": "pre", "offset": 12, "length": 5, "language": "py"},
        {"type": "code", "offset": 18, "length": 1},
        {"type": "expandable_blockquote", "offset": 20, "length": 1},
        {"type": "underline", "offset": 22, "length": 1},
    ]
    assert parse_html("AT&T &nbsp;", strict_ampersand=False).text == "AT&T &nbsp;"
    with pytest.raises(HtmlError, match='Tag "span" must have class "tg-spoiler"'):
        parse_html("<span>x</span>")
    with pytest.raises(HtmlError, match="Invalid custom emoji identifier"):
        parse_html('<tg-emoji emoji-id="abc">👍</tg-emoji>')
    assert auto_entities("/start /x/y a/b @ab @four_ x@mail.com") == [
        {"type": "bot_command", "offset": 0, "length": 6},
        {"type": "mention", "offset": 20, "length": 6},
    ]


async def test_length_limits_count_the_text_after_parsing(tg: FakeTelegram) -> None:
    chat = tg.private_chat(tg.alice)
    async with ptb_application(tg) as app:
        fits = "<b>" + "é" * 4096 + "</b>"  # 4096 characters once the tags are gone
        await app.bot.send_message(chat.id, fits, parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"^Message is too long$"):
            await app.bot.send_message(chat.id, "x" * 4097)
        photo = "https://example.com/p.jpg"
        await app.bot.send_photo(chat.id, photo, caption="&amp;" * 1024, parse_mode="HTML")
        with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
            await app.bot.send_photo(chat.id, photo, caption="c" * 1025)
        with pytest.raises(BadRequest, match=r"^Message text is empty$"):
            await app.bot.send_message(chat.id, "  <b> </b> ", parse_mode=ParseMode.HTML)

    assert [len(m.plain) for m in tg.sent] == [4096, 1024]
    assert tg.sent[1].photo == photo and tg.sent[1].caption == "&amp;" * 1024


async def test_callback_data_over_64_bytes_and_bad_button_urls_are_rejected(
    tg: FakeTelegram,
) -> None:
    chat = tg.private_chat(tg.alice)

    def keyboard(**button: Any) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Go", **button)]])

    async with ptb_application(tg) as app:
        await app.bot.send_message(chat.id, "ok", reply_markup=keyboard(callback_data="é" * 32))
        with pytest.raises(BadRequest, match=r"(?i)^button_data_invalid$"):
            await app.bot.send_message(chat.id, "x", reply_markup=keyboard(callback_data="é" * 33))
        for url, reason in [
            ("javascript:alert(1)", "Unsupported URL protocol"),
            ("ftp://example.com/x", "Unsupported URL protocol"),
            ("https://", "Wrong HTTP URL"),
        ]:
            with pytest.raises(BadRequest, match=f"(?i){reason}"):
                await app.bot.send_message(chat.id, "x", reply_markup=keyboard(url=url))
        for url in ("https://example.com/a", "tg://resolve?domain=newsdigest_bot"):
            await app.bot.send_message(chat.id, "ok", reply_markup=keyboard(url=url))

    # PTB capitalises Telegram's description: match error texts case-insensitively.
    assert tg.calls("sendMessage")[1].response == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: BUTTON_DATA_INVALID",
    }
    assert len(tg.sent) == 3


# -- errors as PTB raises them -----------------------------------------------------------------


async def test_an_injected_429_surfaces_as_retry_after(tg: FakeTelegram) -> None:
    chat = tg.private_chat(tg.alice)
    tg.fail_next("sendMessage", chat, error=retry_after(7))
    async with ptb_application(tg) as app:
        with pytest.raises(RetryAfter) as caught:
            await app.bot.send_message(chat.id, "card")
        assert caught.value.retry_after == dtm.timedelta(seconds=7)
        await app.bot.send_message(chat.id, "card")  # the failure was for the next call only

    assert tg.calls("sendMessage")[0].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert tg.too_many_requests == 1 and [m.plain for m in tg.sent] == ["card"]


async def test_a_blocked_user_or_kicked_bot_surfaces_as_forbidden(tg: FakeTelegram) -> None:
    chat = tg.private_chat(tg.alice)
    group = tg.group("Readers", creator=tg.bob)
    tg.fail_next("send*", chat.id, error=blocked_by_user())
    tg.fail_next("sendMessage", group, error=kicked_from_group())
    async with ptb_application(tg) as app:
        with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
            await app.bot.send_message(chat.id, "card")
        with pytest.raises(Forbidden, match="kicked from the group chat"):
            await app.bot.send_message(group.id, "card")
        tg.block_bot(tg.alice)  # lasting: until she writes to the bot again
        for _ in range(2):
            with pytest.raises(Forbidden, match="blocked by the user"):
                await app.bot.send_message(chat.id, "card")
        tg.user_sends(chat, tg.alice, "/start")
        await app.bot.send_message(chat.id, "welcome back")
        stranger = tg.user("Dora")
        with pytest.raises(Forbidden, match="can't initiate conversation"):
            await app.bot.send_message(stranger.id, "hi")
        with pytest.raises(BadRequest, match=r"^Chat not found$"):
            await app.bot.send_message(-1, "hi")


async def test_a_migrated_group_surfaces_as_chat_migrated(tg: FakeTelegram) -> None:
    group = tg.group("Old group", creator=tg.alice, members=(tg.bob,))
    seen: list[tuple[int, int | None, int | None]] = []

    async def service(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None
        seen.append((message.chat.id, message.migrate_to_chat_id, message.migrate_from_chat_id))

    app = ptb_application(tg)
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, service))
    async with polling(app, poll_timeout=POLL):
        supergroup = tg.migrate(group)
        await tg.wait_for(lambda: len(seen) == 2, what="both migration messages")
        with pytest.raises(ChatMigrated) as caught:
            await app.bot.send_message(group.id, "card")
        assert caught.value.new_chat_id == supergroup.id
        await app.bot.send_message(supergroup.id, "card")
        tg.fail_next("sendMessage", error=group_upgraded(-100777))
        with pytest.raises(ChatMigrated) as injected:
            await app.bot.send_message(supergroup.id, "card")
        assert injected.value.new_chat_id == -100777

    assert seen == [(group.id, supergroup.id, None), (supergroup.id, None, group.id)]
    assert str(supergroup.id).startswith("-100") and supergroup.title == "Old group"
    assert supergroup.status_of(tg.bob.id) == "member"
    assert [m.chat.id for m in tg.sent] == [supergroup.id]


async def test_slow_answers_time_out_and_server_errors_are_network_errors(
    tg: FakeTelegram,
) -> None:
    chat = tg.private_chat(tg.alice)
    async with ptb_application(tg, read_timeout=0.1) as app:
        tg.fail_next("sendMessage", error=slow(0.5))
        with pytest.raises(TimedOut):
            await app.bot.send_message(chat.id, "lost")
        # Delivered before the delay: the client times out although the message arrived.
        tg.fail_next("sendMessage", error=slow(0.5, deliver_first=True))
        with pytest.raises(TimedOut):
            await app.bot.send_message(chat.id, "arrived")
        tg.fail_next("sendMessage", error=server_error(502))
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await app.bot.send_message(chat.id, "x")

    assert [m.plain for m in tg.sent] == ["arrived"]


async def test_the_flood_limiter_answers_429_and_counts_them() -> None:
    limits = RateLimits(private_per_second=1, group_per_minute=3, retry_after=0.05)
    async with FakeTelegram(rate_limits=limits) as tg:
        chat, group = tg.private_chat(tg.alice), tg.group("Busy")
        async with ptb_application(tg) as app:
            await app.bot.send_message(chat.id, "one")
            with pytest.raises(RetryAfter) as caught:
                await app.bot.send_message(chat.id, "two")
            assert caught.value.retry_after == dtm.timedelta(seconds=0.05)
            await app.bot.send_message(tg.private_chat(tg.bob).id, "other chat")
            for n in range(3):
                await app.bot.send_message(group.id, f"g{n}")
            with pytest.raises(RetryAfter):
                await app.bot.send_message(group.id, "g3")
        assert tg.rate_limited == 2 and tg.too_many_requests == 2
        assert [m.plain for m in tg.sent] == ["one", "other chat", "g0", "g1", "g2"]

    async with FakeTelegram(rate_limits=RateLimits()) as real, ptb_application(real) as app:
        await app.bot.send_message(real.private_chat(real.alice).id, "a")
        with pytest.raises(RetryAfter) as whole:
            await app.bot.send_message(real.alice.id, "b")
        assert whole.value.retry_after == dtm.timedelta(seconds=1)  # whole seconds


async def test_wrong_or_malformed_tokens_are_refused(tg: FakeTelegram) -> None:
    app = ptb_application(tg, token="123456789:not-the-token")
    with pytest.raises(InvalidToken) as refused:
        async with app:
            pass
    # Two PTB 22 traps for the adapter: the exception's text holds the rejected token, and
    # a failed initialize leaves the bot's HTTP clients open (app.shutdown returns early).
    assert "123456789:not-the-token" in str(refused.value)
    await app.bot.shutdown()

    async def post(path: str) -> tuple[int, Any]:
        async with http.post(f"{tg.base_url}{path}") as response:
            return response.status, await response.json()

    async with aiohttp.ClientSession() as http:
        assert await post("123456789:nope/getMe") == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        not_found = (404, {"ok": False, "error_code": 404, "description": "Not Found"})
        assert await post("not-a-token/getMe") == not_found
        assert await post(f"{tg.token}/sendTelepathy") == not_found
    assert [r.method for r in tg.requests] == ["sendTelepathy"]  # wrong tokens: not recorded


# -- the wire: bodies, long polling, webhooks ------------------------------------------------


async def test_form_multipart_and_json_bodies_read_alike(tg: FakeTelegram) -> None:
    chat = tg.private_chat(tg.bob)
    url = f"{tg.base_url}{tg.token}"
    markup = '{"inline_keyboard": [[{"text": "FAQ", "callback_data": "faq:1"}]]}'
    async with aiohttp.ClientSession() as http:
        form = await http.post(
            f"{url}/sendMessage",
            data={"chat_id": str(chat.id), "text": "a", "reply_markup": markup},
        )
        body = await form.json()
        assert body["ok"] is True and body["result"]["reply_markup"]["inline_keyboard"][0][0] == {
            "text": "FAQ",
            "callback_data": "faq:1",
        }
        assert body["result"]["chat"] == {
            "id": chat.id,
            "type": "private",
            "first_name": "Bob",
            "username": "bob_news",
        }
        as_json = await http.post(f"{url}/SENDMESSAGE", json={"chat_id": chat.id, "text": "b"})
        assert (await as_json.json())["result"]["message_id"] == 2
        upload = aiohttp.FormData()
        upload.add_field("chat_id", str(chat.id))
        upload.add_field("photo", b"\x89PNG...", filename="card.png", content_type="image/png")
        photo = await http.post(f"{url}/sendPhoto", data=upload)
        assert len((await photo.json())["result"]["photo"]) == 2
        query = await http.get(f"{url}/getChat?chat_id={chat.id}")
        assert (await query.json())["result"]["accent_color_id"] == 0

    assert [m.plain for m in tg.sent[:2]] == ["a", "b"]
    assert tg.sent[2].photo == "<upload>" and tg.calls("sendPhoto")[0].files == ["photo"]
    assert tg.calls("sendMessage")[0].content_type == "application/x-www-form-urlencoded"
    assert tg.calls("sendPhoto")[0].content_type == "multipart/form-data"


async def test_get_updates_long_polls_confirms_by_offset_and_conflicts(
    tg: FakeTelegram,
) -> None:
    url = f"{tg.base_url}{tg.token}/getUpdates"
    chat = tg.private_chat(tg.alice)
    async with aiohttp.ClientSession() as http:

        async def get_updates(**params: Any) -> Any:
            async with http.post(url, json=params) as response:
                return response.status, await response.json()

        waiting = asyncio.create_task(get_updates(timeout=5))
        await tg.wait_for(lambda: tg.calls("getUpdates"), what="the long poll")
        first = tg.user_sends(chat, tg.alice, "hello")
        tg.user_sends(chat, tg.alice, "again")
        status, body = await asyncio.wait_for(waiting, 2)
        updates = body["result"]
        assert status == 200 and [u["message"]["text"] for u in updates] == ["hello", "again"]
        assert updates[0]["message"]["message_id"] == first.message_id
        # Not confirmed yet: the same updates come again; an offset confirms them.
        again = (await get_updates(limit=1))[1]["result"]
        assert again == updates[:1]
        assert (await get_updates(offset=updates[1]["update_id"]))[1]["result"] == updates[1:]
        assert (await get_updates(offset=updates[1]["update_id"] + 1))[1]["result"] == []

        older = asyncio.create_task(get_updates(timeout=5))
        await tg.wait_for(lambda: len(tg.calls("getUpdates")) == 5, what="the older poll")
        newer = asyncio.create_task(get_updates(timeout=0.05))
        assert (await older)[0] == 409 and (await newer)[1]["result"] == []

        async with http.post(f"{tg.base_url}{tg.token}/setWebhook", json={
            "url": "https://bot.example.com/hook", "secret_token": "s3cret"
        }) as response:  # fmt: skip
            assert (await response.json())["result"] is True
        status, body = await get_updates()
        assert status == 409 and "webhook is active" in body["description"]
    assert tg.webhook["url"] == "https://bot.example.com/hook"


async def test_webhook_delivery_carries_the_secret_token(tg: FakeTelegram) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(status=200 if len(received) == 1 else 500)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with ptb_application(tg) as bot_app:
            bot = bot_app.bot
            with pytest.raises(BadRequest, match=r"(?i)HTTPS URL must be provided"):
                await bot.set_webhook("http://bot.example.com/hook")
            await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
            info = await bot.get_webhook_info()
            assert info.url.endswith("/hook") and info.pending_update_count == 0
            chat = tg.private_chat(tg.alice)
            tg.user_sends(chat, tg.alice, "one")
            tg.user_sends(chat, tg.alice, "two")
            assert await tg.push_webhook() == [200, 500]  # the failed one stays queued
            assert (await bot.get_webhook_info()).pending_update_count == 1
            await bot.delete_webhook(drop_pending_updates=True)
            assert tg.pending_update_count == 0 and tg.webhook == {}
    finally:
        await runner.cleanup()
    assert [(secret, body["message"]["text"]) for secret, body in received] == [
        ("s3cret", "one"),
        ("s3cret", "two"),
    ]


# -- chats, members, commands, editing, inline mode, channels ---------------------------------


async def test_chat_members_statuses_and_chats_of_every_kind(tg: FakeTelegram) -> None:
    carol, dave = tg.user("Carol"), tg.user("Dave")
    group = tg.group("Readers", creator=tg.alice, admins=(tg.bob,), members=(carol,))
    tg.set_status(group, dave, "kicked")
    channel = tg.channel("Daily Brief", username="daily_brief", creator=tg.alice)
    async with ptb_application(tg) as app:
        bot = app.bot
        kinds = [await bot.get_chat_member(group.id, u.id) for u in (tg.alice, tg.bob, carol, dave)]
        assert [type(k) for k in kinds] == [
            ChatMemberOwner,
            ChatMemberAdministrator,
            ChatMemberMember,
            ChatMemberBanned,
        ]
        assert isinstance(await bot.get_chat_member(channel.id, tg.bob.id), ChatMemberLeft)
        me = await bot.get_chat_member("@daily_brief", tg.bot.id)
        assert isinstance(me, ChatMemberAdministrator) and me.can_post_messages
        admins = await bot.get_chat_administrators(group.id)
        assert {a.user.id for a in admins} == {tg.alice.id, tg.bob.id}
        full = await bot.get_chat(channel.id)
        assert (full.type, full.title, full.username) == ("channel", "Daily Brief", "daily_brief")
        post = await bot.send_message("@daily_brief", "<b>Brief</b>", parse_mode="HTML")
        assert post.sender_chat is not None and post.sender_chat.id == channel.id
        assert post.from_user is None
        with pytest.raises(BadRequest, match="User not found"):
            await bot.get_chat_member(group.id, 42)
        tg.kick_bot(group)
        with pytest.raises(Forbidden, match="kicked from the group chat"):
            await bot.send_message(group.id, "x")


async def test_commands_edits_and_deletes(tg: FakeTelegram) -> None:
    chat = tg.private_chat(tg.alice)
    async with ptb_application(tg) as app:
        bot = app.bot
        await bot.set_my_commands([("start", "What the bot does"), ("digest", "Latest cards")])
        assert [c.command for c in await bot.get_my_commands()] == ["start", "digest"]
        assert tg.commands_for()[1] == {"command": "digest", "description": "Latest cards"}
        assert await bot.get_my_commands(language_code="de") == ()
        with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
            await bot.set_my_commands([("Start!", "bad")])
        card = await bot.send_message(chat.id, "<b>v1</b>", parse_mode="HTML")
        edited = await bot.edit_message_text("<b>v2</b> &amp;", chat.id, card.message_id,
                                             parse_mode="HTML")  # fmt: skip
        assert edited.text == "v2 &" and edited.edit_date is not None
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("<b>v2</b> &amp;", chat.id, card.message_id,
                                        parse_mode="HTML")  # fmt: skip
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("FAQ", callback_data="faq")]])
        await bot.edit_message_reply_markup(chat.id, card.message_id, reply_markup=keyboard)
        assert await bot.delete_message(chat.id, card.message_id) is True
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("v3", chat.id, card.message_id)
        with pytest.raises(BadRequest, match="Message to be replied not found"):
            await bot.send_message(chat.id, "x", reply_parameters=ReplyParameters(999))
    record = tg.sent[0]
    assert record.deleted and record.plain == "v2 &" and record.callback_data == ["faq"]
    assert len(record.edits) == 2 and tg.sent_to(chat) == []


async def test_inline_queries_and_channel_posts_reach_their_handlers(tg: FakeTelegram) -> None:
    posts: list[str] = []

    async def share(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.inline_query is not None
        query = update.inline_query.query
        content = InputTextMessageContent(f"<b>{query}</b> &amp; more", parse_mode="HTML")
        await update.inline_query.answer([InlineQueryResultArticle("card-1", query, content)])

    async def channel_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.channel_post is not None and update.channel_post.text is not None
        posts.append(update.channel_post.text)

    channel = tg.channel("Daily Brief", username="daily_brief")
    app = ptb_application(tg)
    app.add_handler(InlineQueryHandler(share))
    app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST, channel_post))
    async with polling(app, poll_timeout=POLL):
        query_id = tg.inline_query(tg.bob, "ai chips")
        tg.channel_post(channel, "/subscribe business")
        await tg.wait_for(lambda: tg.inline_answers and posts, what="both handlers")

    answer = tg.inline_answers[0]
    assert answer["inline_query_id"] == query_id
    assert answer["results"][0]["input_message_content"]["message_text"] == (
        "<b>ai chips</b> &amp; more"
    )
    assert posts == ["/subscribe business"]
    with pytest.raises(AssertionError, match="no webhook"):
        await tg.push_webhook()


# -- the token -------------------------------------------------------------------------------


async def test_the_fake_never_logs_or_records_the_token(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = ptb_application(tg)
    app.add_handler(CommandHandler("start", start))
    chat = tg.private_chat(tg.alice)
    async with polling(app, poll_timeout=POLL):
        tg.user_sends(chat, tg.alice, "/start")
        await tg.next_sent(chat)
        async with aiohttp.ClientSession() as http, http.post(f"{tg.base_url}123:wrong/getMe"):
            pass

    ours = [r for r in caplog.records if r.name.startswith(("tests.", "aiohttp"))]
    assert any("sendMessage -> 200" in r.getMessage() for r in ours)
    assert all(tg.token not in r.getMessage() for r in ours)
    assert tg.token not in repr(tg.requests) + repr(tg.sent)
    # What the adapter must silence or scrub: httpx logs every URL (token included) at INFO,
    # and PTB's Bot logs its base URL (token included) at DEBUG.
    leaking = {r.name for r in caplog.records if tg.token in r.getMessage()}
    assert {"httpx", "telegram.ext.ExtBot"} <= leaking
