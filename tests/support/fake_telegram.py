"""A fake Telegram Bot API on 127.0.0.1 (random port), for the real python-telegram-bot 22
``Application`` over real HTTP::

    from tests.support.fake_telegram_ptb import polling, ptb_application

    async with FakeTelegram() as tg:
        app = ptb_application(tg)                   # ApplicationBuilder().base_url(tg.base_url)…
        app.add_handler(CommandHandler("start", start))
        async with polling(app):                    # initialize, start_polling, start … stop
            tg.user_sends(tg.private_chat(tg.alice), tg.alice, "/start")
            reply = await tg.next_sent(tg.alice.id)
            assert reply.plain.startswith("Welcome") and reply.parse_mode == "HTML"

URLs: PTB calls ``base_url + token + "/" + method`` (a ``{token}`` placeholder or a callable
is accepted too), so ``tg.base_url`` is ``http://127.0.0.1:<port>/bot`` and requests arrive as
``POST /bot<TOKEN>/<method>``. Method names match case-insensitively, parameters may come as
a query string, form, multipart (JSON-encoded values) or JSON body. A token of the wrong shape
answers 404 "Not Found", a wrong token 401 "Unauthorized", an unknown method 404.

The world: the bot ``tg.bot`` (@newsdigest_bot), users ``tg.alice`` and ``tg.bob``, and chats
made with ``private_chat(user)``, ``group(...)``, ``supergroup(...)``, ``channel(...)``;
``set_status`` sets what ``getChatMember`` answers (creator, administrator, member,
restricted, left, kicked). ``block_bot(user)`` / ``kick_bot(chat)`` make later sends fail
with 403 as on Telegram; ``migrate(group)`` upgrades a group (sends to the old id then fail
with ``migrate_to_chat_id``).

Acting as users queues updates the bot receives through ``getUpdates`` (or ``push_webhook``
when a webhook is set): ``user_sends``, ``user_taps``, ``inline_query``, ``channel_post``,
``migrate``, or any ``queue_update``. What the bot did is recorded: ``requests`` (every call,
decoded), ``sent`` (its messages, see ``fake_telegram_world.Message``), ``callback_answers``,
``inline_answers``, ``commands``, ``webhook``. Wait for it with ``next_sent``, ``wait_for``
or ``wait_for_call`` rather than sleeping.

Failures: ``fail_next(method, chat_id, error=...)`` with ``retry_after(n)``,
``blocked_by_user()``, ``kicked_from_group()``, ``chat_not_found()``,
``group_upgraded(new_id)``, ``server_error()``, ``slow(delay)`` or any ``api_error``; and the
flood limiter (``FakeTelegram(rate_limits=RateLimits(...))``) whose 429s are counted in
``rate_limited``. The fake logs each call at DEBUG (logger ``tests.support.fake_telegram``)
by method name only: the token is used to match requests and is never logged or recorded.
"""

# These helpers wait with a ``timeout`` argument, as their callers expect.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.support.fake_telegram_errors import (
    CHANNEL,
    PRIVATE,
    Failure,
    FailureBook,
    RateLimiter,
    RateLimits,
    api_error,
    blocked_by_user,
    chat_not_found,
    group_upgraded,
    kicked_from_group,
    kicked_from_supergroup,
    message_not_modified,
    retry_after,
    server_error,
    slow,
    user_deactivated,
)
from tests.support.fake_telegram_http import make_app
from tests.support.fake_telegram_methods import plain_text
from tests.support.fake_telegram_settings import commands_key
from tests.support.fake_telegram_updates import UpdateQueue
from tests.support.fake_telegram_users import ActingAsUsers
from tests.support.fake_telegram_world import FakeChat, FakeUser, Message, RecordedRequest

__all__ = [
    "DEFAULT_TOKEN",
    "Failure",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "Message",
    "RateLimits",
    "RecordedRequest",
    "api_error",
    "blocked_by_user",
    "chat_not_found",
    "group_upgraded",
    "kicked_from_group",
    "kicked_from_supergroup",
    "message_not_modified",
    "plain_text",
    "retry_after",
    "server_error",
    "slow",
    "user_deactivated",
]

HOST = "127.0.0.1"
DEFAULT_TOKEN = "123456789:AAF-fake-telegram-token-not-a-secret"


class FakeTelegram(ActingAsUsers):
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "newsdigest_bot",
        rate_limits: RateLimits | None = None,
        strict_ampersand: bool = True,
        query_deadline: float = 15.0,
    ) -> None:
        """``rate_limits``: enforce flood limits (off by default). ``strict_ampersand``: reject
        a bare ``&`` in HTML (Telegram keeps it; see ``fake_telegram_html``).
        ``query_deadline``: seconds a callback or inline query may still be answered."""
        self.token = token
        self.strict_ampersand = strict_ampersand
        self.query_deadline = query_deadline
        self.limiter = RateLimiter(rate_limits) if rate_limits else None
        self.bot = FakeUser(int(token.split(":")[0]), "News Digest", bot_username, is_bot=True)
        self.bot.language_code = None
        self.users: dict[int, FakeUser] = {self.bot.id: self.bot}
        self.chats: dict[int, FakeChat] = {}
        self.history: dict[int, dict[int, Message]] = {}
        self.alice = self.user("Alice", username="alice_reads")
        self.bob = self.user("Bob", username="bob_news", language_code="de")
        self.requests: list[RecordedRequest] = []
        self.sent: list[Message] = []
        self.callback_answers: list[dict[str, Any]] = []
        self.inline_answers: list[dict[str, Any]] = []
        self.inline_edits: list[dict[str, Any]] = []
        self.open_callback_queries: dict[str, float] = {}
        self.open_inline_queries: dict[str, float] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] = {}
        self.unreachable_photos: set[str] = set()
        self.failures = FailureBook()
        self.updates = UpdateQueue()
        self.too_many_requests = 0  # every 429 answered, injected or from the limiter
        self._taken: set[int] = set()  # ids of messages next_sent already returned
        self._tick = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        # No access log: it would print request paths, which hold the token. Handlers are
        # cancelled when the client leaves (PTB cancels its pending long poll on stop).
        self._runner = web.AppRunner(
            make_app(self), access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"http://{HOST}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{HOST}:{self.port}/file/bot"

    # -- the world ---------------------------------------------------------------------------

    def user(self, first_name: str, **fields: Any) -> FakeUser:
        """A new user (``username``, ``last_name``, ``language_code`` optional)."""
        user = FakeUser.create(first_name, **fields)
        self.users[user.id] = user
        return user

    def _add_chat(self, chat: FakeChat, members: dict[FakeUser, str]) -> FakeChat:
        self.chats[chat.id] = chat
        self.history[chat.id] = {}
        chat.set_status(self.bot, "administrator" if chat.type == CHANNEL else "member")
        for user, status in members.items():
            chat.set_status(user, status)
        return chat

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The user's private chat with the bot (its id is the user's id)."""
        existing = self.chats.get(user.id)
        return existing or self._add_chat(FakeChat.private(user), {})

    def _members(
        self, creator: FakeUser | None, admins: tuple[FakeUser, ...], members: tuple[FakeUser, ...]
    ) -> dict[FakeUser, str]:
        found = {user: "member" for user in members} | {user: "administrator" for user in admins}
        return found | ({creator: "creator"} if creator else {})

    def group(
        self,
        title: str,
        *,
        creator: FakeUser | None = None,
        admins: tuple[FakeUser, ...] = (),
        members: tuple[FakeUser, ...] = (),
    ) -> FakeChat:
        return self._add_chat(FakeChat.group(title), self._members(creator, admins, members))

    def supergroup(
        self,
        title: str,
        *,
        username: str | None = None,
        creator: FakeUser | None = None,
        admins: tuple[FakeUser, ...] = (),
        members: tuple[FakeUser, ...] = (),
    ) -> FakeChat:
        chat = FakeChat.supergroup(title, username)
        return self._add_chat(chat, self._members(creator, admins, members))

    def channel(
        self,
        title: str,
        *,
        username: str | None = None,
        creator: FakeUser | None = None,
        admins: tuple[FakeUser, ...] = (),
    ) -> FakeChat:
        """A channel where the bot is an administrator (``set_status`` changes that)."""
        chat = FakeChat.channel(title, username)
        return self._add_chat(chat, self._members(creator, admins, ()))

    def set_status(self, chat: FakeChat, user: FakeUser, status: str) -> None:
        chat.set_status(user, status)

    def block_bot(self, user: FakeUser) -> None:
        """The user blocks the bot: sends to their chat answer 403 until they write again."""
        self.private_chat(user).bot_removed = True

    def kick_bot(self, chat: FakeChat) -> None:
        chat.bot_removed = True
        chat.set_status(self.bot, "kicked")

    def find_chat(self, value: int | str) -> FakeChat | None:
        """By id (int or its string) or ``@username``."""
        if isinstance(value, str) and value.startswith("@"):
            name = value[1:].lower()
            named = (c for c in self.chats.values() if c.type != PRIVATE and c.username)
            return next((c for c in named if c.username.lower() == name), None)  # type: ignore[union-attr]
        try:
            return self.chats.get(int(value))
        except ValueError:
            return None

    # -- acting as users -------------------------------------------------------------------

    def queue_update(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue any update (``kind`` e.g. "message", "my_chat_member"); returns its id."""
        return self.updates.put(kind, payload)

    def add_message(self, message: Message) -> None:
        self.history.setdefault(message.chat.id, {})[message.message_id] = message
        if message.from_bot:
            self.sent.append(message)
        self.notify()

    def message_payload(self, message: Message) -> dict[str, Any]:
        return message.payload(self.history.get(message.chat.id))

    async def push_webhook(self, *, timeout: float = 3.0) -> list[int]:
        """Deliver pending updates to the webhook set with ``setWebhook``; HTTP statuses."""
        if not self.webhook.get("url"):
            raise AssertionError("no webhook is set")
        statuses = await self.updates.push_to_webhook(
            self.webhook["url"], self.webhook.get("secret_token"), timeout=timeout
        )
        self.notify()
        return statuses

    def drop_pending_updates(self) -> None:
        self.updates.drop_all()

    @property
    def pending_update_count(self) -> int:
        return len(self.updates.pending)

    # -- records and waiting ---------------------------------------------------------------

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str | None = None
    ) -> list[dict[str, str]]:
        """The commands set with ``setMyCommands`` for a scope (default: the default scope)
        and language."""
        return self.commands.get(commands_key(scope, language_code), [])

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def sent_to(self, chat: FakeChat | int, *, deleted: bool = False) -> list[Message]:
        """The bot's messages in a chat, oldest first."""
        chat_id = chat.id if isinstance(chat, FakeChat) else chat
        return [m for m in self.sent if m.chat.id == chat_id and (deleted or not m.deleted)]

    @property
    def rate_limited(self) -> int:
        """How many 429s the flood limiter answered."""
        return self.limiter.refused if self.limiter else 0

    def notify(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 3.0, *, what: str = "the condition"
    ) -> Any:
        """Wait until ``predicate()`` is truthy and return its value. It is re-checked
        whenever the fake changes, and every 20 ms for state outside the fake (a handler's
        list)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"fake Telegram: timed out after {timeout}s waiting for {what}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._tick.wait(), min(remaining, 0.02))
        return value

    async def next_sent(
        self, chat: FakeChat | int | None = None, *, timeout: float = 3.0
    ) -> Message:
        """The bot's oldest message (in ``chat``, if given) not returned here before."""
        chat_id = chat.id if isinstance(chat, FakeChat) else chat

        def first() -> Message | None:
            fresh = (m for m in self.sent if id(m) not in self._taken)
            return next((m for m in fresh if chat_id in (None, m.chat.id)), None)

        message: Message = await self.wait_for(first, timeout, what=f"a message to {chat_id}")
        self._taken.add(id(message))
        return message

    async def wait_for_call(
        self, method: str, *, count: int = 1, timeout: float = 3.0
    ) -> RecordedRequest:
        """The ``count``-th answered call of ``method``."""

        def nth() -> RecordedRequest | None:
            done = [r for r in self.calls(method) if r.status is not None]
            return done[count - 1] if len(done) >= count else None

        found: RecordedRequest = await self.wait_for(nth, timeout, what=f"{count}× {method}")
        return found

    # -- failures ----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        chat_id: FakeChat | int | str | None = None,
        *,
        error: Failure,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (fnmatch pattern, any case; for
        ``chat_id`` only, if given) with ``error`` before any validation."""
        key = chat_id.id if isinstance(chat_id, FakeChat) else chat_id
        self.failures.add(method, key, error, times)
