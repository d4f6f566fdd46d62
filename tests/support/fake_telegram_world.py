"""The fake Telegram's world: users, chats, chat members and messages, as Bot API JSON.

Chat ids follow Telegram's shapes: a private chat's id is the user's id; basic groups are
small negative numbers; supergroups and channels are ``-100…``. Message ids count up per
chat, shared by what users and the bot post there.

``Message`` records every message in a chat, the bot's and the users'; for the bot's it
keeps what was asked (``text``/``caption`` as sent, ``parse_mode``, ``reply_markup`` parsed,
``reply_to_message_id``, ``reply_parameters``) and what Telegram made of it (``plain`` after
HTML parsing, ``entities``), plus ``edits`` and ``deleted``.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_telegram_errors import CHANNEL, GROUP, PRIVATE, SUPERGROUP

STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")

_user_ids = itertools.count(700_000_001)
_group_ids = itertools.count(4_100_000_001)
_super_ids = itertools.count(1_002_000_000_001)


@dataclass(eq=False)
class FakeUser:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    @classmethod
    def create(cls, first_name: str, **fields: Any) -> FakeUser:
        return cls(next(_user_ids), first_name, **fields)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(eq=False)
class FakeChat:
    id: int
    type: str
    title: str | None = None
    username: str | None = None
    user: FakeUser | None = None  # the other side of a private chat
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    users: dict[int, FakeUser] = field(default_factory=dict)
    migrated_to: int | None = None  # a basic group upgraded to a supergroup
    bot_removed: bool = False  # the bot was kicked (groups) or blocked (private chats)
    next_message_id: int = 1

    @classmethod
    def private(cls, user: FakeUser) -> FakeChat:
        return cls(user.id, PRIVATE, username=user.username, user=user)

    @classmethod
    def group(cls, title: str) -> FakeChat:
        return cls(-next(_group_ids), GROUP, title=title)

    @classmethod
    def supergroup(cls, title: str, username: str | None = None) -> FakeChat:
        return cls(-next(_super_ids), SUPERGROUP, title=title, username=username)

    @classmethod
    def channel(cls, title: str, username: str | None = None) -> FakeChat:
        return cls(-next(_super_ids), CHANNEL, title=title, username=username)

    def new_message_id(self) -> int:
        value = self.next_message_id
        self.next_message_id += 1
        return value

    def set_status(self, user: FakeUser, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        self.members[user.id] = status
        self.users[user.id] = user

    def status_of(self, user_id: int) -> str | None:
        if self.type == PRIVATE:
            return "member" if self.user and user_id == self.user.id else None
        return self.members.get(user_id)

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == PRIVATE and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
        else:
            data["title"] = self.title
        if self.username:
            data["username"] = self.username
        return data

    def full_info(self) -> dict[str, Any]:
        """``getChat``'s ChatFullInfo with the fields PTB 22 requires."""
        return {
            **self.payload(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }


def member_payload(user: FakeUser, status: str, *, chat_type: str) -> dict[str, Any]:
    """A ChatMember of ``status`` that PTB 22.8 parses (every required right present)."""
    data: dict[str, Any] = {"status": status, "user": user.payload()}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        rights = [
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_pin_messages",
        ]
        if chat_type == CHANNEL:
            rights += ["can_post_messages", "can_edit_messages"]
        data |= {"can_be_edited": False, "is_anonymous": False} | dict.fromkeys(rights, True)
    elif status == "restricted":
        rights = [
            "can_change_info",
            "can_invite_users",
            "can_pin_messages",
            "can_send_polls",
            "can_send_other_messages",
            "can_add_web_page_previews",
            "can_manage_topics",
            "can_send_audios",
            "can_send_documents",
            "can_send_photos",
            "can_send_videos",
            "can_send_video_notes",
            "can_send_voice_notes",
            "can_edit_tag",
        ]
        data |= {"is_member": True, "can_send_messages": False, "until_date": 0}
        data |= dict.fromkeys(rights, False)
    elif status == "kicked":
        data["until_date"] = 0
    return data


@dataclass(eq=False)
class Message:
    chat: FakeChat
    message_id: int
    sender: FakeUser | None  # None for channel posts
    date: int
    method: str  # "sendMessage", "sendPhoto", or "user" for what users post
    text: str | None = None  # as sent (raw HTML for the bot's)
    caption: str | None = None
    parse_mode: str | None = None
    plain: str = ""  # text or caption as Telegram shows it, after parsing
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    reply_parameters: dict[str, Any] | None = None
    photo: str | None = None  # URL or file_id as sent, "<upload>" for an uploaded file
    params: dict[str, Any] = field(default_factory=dict)  # the request, values decoded
    extra: dict[str, Any] = field(default_factory=dict)  # payload fields (service messages)
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # what each edit asked
    deleted: bool = False

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def from_bot(self) -> bool:
        return self.method != "user"

    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row by row, flattened."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button(self, text: str) -> dict[str, Any]:
        for button in self.buttons():
            if button.get("text") == text:
                return button
        raise AssertionError(f"no button {text!r} in {[b.get('text') for b in self.buttons()]}")

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons() if "callback_data" in b]

    def payload(self, history: dict[int, Message] | None = None) -> dict[str, Any]:
        """The Bot API Message; ``history`` (the chat's messages by id) fills
        ``reply_to_message``, one level deep as Telegram does."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.payload(),
        }
        if self.sender is not None:
            data["from"] = self.sender.payload()
        if self.chat.type == CHANNEL:
            data["sender_chat"] = self.chat.payload()
        if self.photo is not None:
            data["photo"] = photo_sizes(self.chat.id, self.message_id)
            if self.caption is not None:
                data["caption"] = self.plain
                if self.entities:
                    data["caption_entities"] = self.entities
        elif self.text is not None:
            data["text"] = self.plain
            if self.entities:
                data["entities"] = self.entities
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if history is not None and self.reply_to_message_id in history:
            data["reply_to_message"] = history[self.reply_to_message_id].payload()
        return data | self.extra


def photo_sizes(chat_id: int, message_id: int) -> list[dict[str, Any]]:
    unique = f"{abs(chat_id)}_{message_id}"
    return [
        {
            "file_id": f"photo-{unique}-{size}",
            "file_unique_id": f"{size}{unique}",
            "width": width,
            "height": width * 2 // 3,
            "file_size": width * 60,
        }
        for size, width in (("s", 90), ("m", 800))
    ]


@dataclass
class RecordedRequest:
    """One call to the fake: ``method`` as in the URL, ``params`` decoded (JSON-encoded form
    values parsed), the headers (no token is ever in them), the answer."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    content_type: str
    files: list[str] = field(default_factory=list)  # multipart parts that were files
    status: int | None = None
    response: dict[str, Any] | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200


def now() -> int:
    return int(time.time())
