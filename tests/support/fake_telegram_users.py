"""Acting as Telegram users: what ``FakeTelegram`` queues for the bot to receive.

Each helper records the message in the fake's world (so the bot may reply to it, and its
``message_id`` counts up with the bot's in the same chat) and queues the update Telegram
would send: ``message``, ``channel_post``, ``callback_query``, ``inline_query``, and the two
service messages of a group's migration to a supergroup.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tests.support.fake_telegram_entities import auto_entities
from tests.support.fake_telegram_errors import CHANNEL, GROUP, PRIVATE
from tests.support.fake_telegram_world import FakeChat, FakeUser, Message, now

ANONYMOUS_ADMIN_ID = 1087968824  # Telegram's GroupAnonymousBot, shared by every anonymous admin


class ActingAsUsers:
    """Mixed into ``FakeTelegram``, which provides these."""

    chats: dict[int, FakeChat]
    history: dict[int, dict[int, Message]]
    alice: FakeUser
    open_callback_queries: dict[str, float]
    open_inline_queries: dict[str, float]
    _query_ids: Iterator[int] = itertools.count(4_000_000_001)

    if TYPE_CHECKING:

        def queue_update(self, kind: str, payload: dict[str, Any]) -> int: ...
        def add_message(self, message: Message) -> None: ...
        def message_payload(self, message: Message) -> dict[str, Any]: ...

    def _user_message(self, chat: FakeChat, user: FakeUser | None, **fields: Any) -> Message:
        if chat.migrated_to is not None:
            raise ValueError(f"chat {chat.id} was migrated to {chat.migrated_to}")
        message = Message(chat, chat.new_message_id(), user, now(), "user", **fields)
        self.add_message(message)
        return message

    def user_sends(
        self,
        chat: FakeChat,
        user: FakeUser,
        text: str,
        *,
        reply_to: Message | int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> Message:
        """``user`` writes ``text`` in ``chat`` (a "message" update). Commands and @mentions
        get their entities as on Telegram unless ``entities`` is given."""
        if chat.type == CHANNEL:
            raise ValueError("users do not write in channels: use channel_post")
        if chat.type == PRIVATE:
            chat.bot_removed = False  # writing to a bot unblocks it
        elif chat.status_of(user.id) in (None, "left"):
            chat.set_status(user, "member")
        reply_id = reply_to.message_id if isinstance(reply_to, Message) else reply_to
        message = self._user_message(
            chat,
            user,
            text=text,
            plain=text,
            entities=auto_entities(text) if entities is None else entities,
            reply_to_message_id=reply_id,
        )
        self.queue_update("message", self.message_payload(message))
        return message

    def anonymous_sends(self, chat: FakeChat, as_chat: FakeChat, text: str) -> Message:
        """Someone writes ``text`` in the group ``chat`` without showing who: an anonymous
        admin (``as_chat`` = ``chat``) or "send as" a channel (``as_chat`` = the channel).
        Telegram gives ``from`` = the shared GroupAnonymousBot user and ``sender_chat``."""
        anonymous = FakeUser(ANONYMOUS_ADMIN_ID, "Group", username="GroupAnonymousBot", is_bot=True)
        extra = {"sender_chat": as_chat.payload()}
        message = self._user_message(
            chat, anonymous, text=text, plain=text, entities=auto_entities(text), extra=extra
        )
        self.queue_update("message", self.message_payload(message))
        return message

    def channel_post(
        self, chat: FakeChat, text: str, *, author_signature: str | None = None
    ) -> Message:
        """A post in a channel (a "channel_post" update; no ``from``, ``sender_chat`` set)."""
        if chat.type != CHANNEL:
            raise ValueError(f"chat {chat.id} is a {chat.type}, not a channel")
        extra = {"author_signature": author_signature} if author_signature else {}
        message = self._user_message(
            chat, None, text=text, plain=text, entities=auto_entities(text), extra=extra
        )
        self.queue_update("channel_post", self.message_payload(message))
        return message

    def user_taps(
        self,
        message: Message,
        callback_data: str,
        user: FakeUser | None = None,
        *,
        check: bool = True,
    ) -> str:
        """``user`` (default: the private chat's user) taps the button carrying
        ``callback_data`` on the bot's ``message``: a "callback_query" update. With ``check``
        the button must be there. Returns the query id ``answerCallbackQuery`` must name."""
        user = user or message.chat.user
        if user is None:
            raise ValueError("say which user taps in a group or channel")
        if check and (message.deleted or callback_data not in message.callback_data):
            raise AssertionError(
                f"message {message.message_id} has no button {callback_data!r} "
                f"(it has {message.callback_data}, deleted={message.deleted})"
            )
        query_id = str(next(self._query_ids))
        self.open_callback_queries[query_id] = time.monotonic()
        query = {
            "id": query_id,
            "from": user.payload(),
            "message": self.message_payload(message),
            "chat_instance": str(abs(message.chat.id) * 7 + 3),
            "data": callback_data,
        }
        self.queue_update("callback_query", query)
        return query_id

    def inline_query(
        self, user: FakeUser, query: str, *, offset: str = "", chat_type: str = "sender"
    ) -> str:
        """``user`` types ``@bot query`` somewhere: an "inline_query" update; returns its id."""
        query_id = str(next(self._query_ids))
        self.open_inline_queries[query_id] = time.monotonic()
        payload = {"id": query_id, "from": user.payload(), "query": query, "offset": offset}
        self.queue_update("inline_query", payload | {"chat_type": chat_type})
        return query_id

    def migrate(self, group: FakeChat, *, by: FakeUser | None = None) -> FakeChat:
        """Upgrade a basic group to a supergroup (same title and members). Queues the two
        service messages Telegram sends (``migrate_to_chat_id`` in the group,
        ``migrate_from_chat_id`` in the supergroup); later sends to the old id fail with
        400 and ``migrate_to_chat_id``. Returns the supergroup."""
        if group.type != GROUP:
            raise ValueError(f"only basic groups migrate, not a {group.type}")
        new = FakeChat.supergroup(group.title or "")
        new.users, new.members = dict(group.users), dict(group.members)
        self.chats[new.id] = new
        self.history[new.id] = {}
        actor = by or next((u for u in group.users.values() if not u.is_bot), self.alice)
        old_note = self._user_message(group, actor, extra={"migrate_to_chat_id": new.id})
        group.migrated_to = new.id
        new_note = self._user_message(new, actor, extra={"migrate_from_chat_id": group.id})
        self.queue_update("message", self.message_payload(old_note))
        self.queue_update("message", self.message_payload(new_note))
        return new
