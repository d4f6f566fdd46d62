"""The Bot API methods about chats and messages: ``getChat``, ``getChatMember``,
``getChatAdministrators``, ``getChatMemberCount``, ``sendChatAction``, ``sendMessage``,
``sendPhoto``, ``editMessageText``/``Caption``/``ReplyMarkup``, ``deleteMessage``,
``answerCallbackQuery``, ``answerInlineQuery``. The bot's own settings are in
``fake_telegram_settings``; ``getUpdates`` waits and lives in ``fake_telegram_updates``.

Each handler takes the fake and the request's ``Params`` and returns the ``result`` or raises
``ApiError`` with Telegram's description. Validation runs in Telegram's order as far as it
shows: the chat (400 chat not found, 400 migrated, 403 blocked/kicked), the text (entities,
emptiness, length), the keyboard, the replied-to message, then the flood limiter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.support.fake_telegram_errors import (
    CHANNEL,
    GROUP,
    PRIVATE,
    QUERY_TOO_OLD,
    SUPERGROUP,
    ApiError,
    bad_request,
    message_not_modified,
)
from tests.support.fake_telegram_html import CAPTION_LIMIT, TEXT_LIMIT, ParsedText, format_text
from tests.support.fake_telegram_params import Params, check_reply_markup, formatted
from tests.support.fake_telegram_world import FakeChat, Message, member_payload, now

if TYPE_CHECKING:
    from tests.support.fake_telegram import FakeTelegram

Handler = Callable[["FakeTelegram", Params], Any]
HANDLERS: dict[str, Handler] = {}
_REMOVED = {  # what a send answers once the bot was blocked or kicked
    PRIVATE: "Forbidden: bot was blocked by the user",
    GROUP: "Forbidden: bot was kicked from the group chat",
    SUPERGROUP: "Forbidden: bot was kicked from the supergroup chat",
    CHANNEL: "Forbidden: bot is not a member of the channel chat",
}


def method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name.lower()] = handler
        return handler

    return register


# -- chats ----------------------------------------------------------------------------------


def reachable_chat(tg: FakeTelegram, p: Params, name: str = "chat_id") -> FakeChat:
    """The chat a method targets, refused as Telegram refuses it: unknown → 400 chat not
    found; a basic group since upgraded → 400 with ``migrate_to_chat_id``; the bot blocked
    or kicked → 403."""
    wanted = p.required_text(name)
    chat = tg.find_chat(wanted)
    if chat is None:
        if wanted.lstrip("-").isdigit() and int(wanted) in tg.users:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise bad_request("chat not found")
    if chat.migrated_to is not None:
        raise bad_request(
            "group chat was upgraded to a supergroup chat", migrate_to_chat_id=chat.migrated_to
        )
    if chat.bot_removed:
        raise ApiError(403, _REMOVED[chat.type])
    return chat


@method("getChat")
def get_chat(tg: FakeTelegram, p: Params) -> Any:
    return reachable_chat(tg, p).full_info()


@method("getChatMember")
def get_chat_member(tg: FakeTelegram, p: Params) -> Any:
    chat = reachable_chat(tg, p)
    user_id = p.integer("user_id")
    user = tg.users.get(user_id or 0)
    if user is None:
        raise bad_request("user not found")
    status = chat.status_of(user.id) or "left"
    return member_payload(user, status, chat_type=chat.type)


@method("getChatAdministrators")
def get_chat_administrators(tg: FakeTelegram, p: Params) -> Any:
    chat = reachable_chat(tg, p)
    return [
        member_payload(tg.users[user_id], status, chat_type=chat.type)
        for user_id, status in chat.members.items()
        if status in ("creator", "administrator")
    ]


@method("getChatMemberCount")
def get_chat_member_count(tg: FakeTelegram, p: Params) -> Any:
    chat = reachable_chat(tg, p)
    if chat.type == PRIVATE:
        return 2
    return sum(
        s in ("creator", "administrator", "member", "restricted") for s in chat.members.values()
    )


@method("sendChatAction")
def send_chat_action(tg: FakeTelegram, p: Params) -> Any:
    reachable_chat(tg, p)
    return True


# -- sending --------------------------------------------------------------------------------


def _reply_target(tg: FakeTelegram, chat: FakeChat, p: Params) -> int | None:
    reply = p.obj("reply_parameters") or {}
    message_id = p.integer("reply_to_message_id") or reply.get("message_id")
    if message_id is None:
        return None
    target_chat = chat
    if reply.get("chat_id") is not None:
        target_chat = tg.find_chat(reply["chat_id"]) or chat
    found = tg.history.get(target_chat.id, {}).get(int(message_id))
    if found is None or found.deleted:
        if p.flag("allow_sending_without_reply") or reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return int(message_id)


def _store(
    tg: FakeTelegram, chat: FakeChat, p: Params, name: str, parsed: ParsedText, **fields: Any
) -> Message:
    reply_markup = check_reply_markup(p.obj("reply_markup"))
    reply_to = _reply_target(tg, chat, p)
    if tg.limiter is not None:
        refusal = tg.limiter.check(chat.id, chat.type)
        if refusal is not None:
            raise refusal.as_error()
    message = Message(
        chat=chat,
        message_id=chat.new_message_id(),
        sender=None if chat.type == CHANNEL else tg.bot,
        date=now(),
        method=name,
        parse_mode=p.text("parse_mode"),
        plain=parsed.text,
        entities=parsed.entities,
        reply_markup=reply_markup,
        reply_to_message_id=reply_to,
        reply_parameters=p.obj("reply_parameters"),
        params=dict(p.values),
        **fields,
    )
    tg.add_message(message)
    return message


def _formatted_text(tg: FakeTelegram, p: Params, field: str) -> ParsedText:
    """``p[field]`` parsed with its limit: 1024 for a caption, else 4096."""
    caption = field == "caption"
    return formatted(
        p,
        field,
        "caption_entities" if caption else "entities",
        limit=CAPTION_LIMIT if caption else TEXT_LIMIT,
        too_long="message caption is too long" if caption else "message is too long",
        strict=tg.strict_ampersand,
    )


@method("sendMessage")
def send_message(tg: FakeTelegram, p: Params) -> Any:
    chat = reachable_chat(tg, p)
    parsed = _formatted_text(tg, p, "text")
    if not parsed.text:
        raise bad_request("message text is empty")
    message = _store(tg, chat, p, "sendMessage", parsed, text=p.text("text"))
    return tg.message_payload(message)


@method("sendPhoto")
def send_photo(tg: FakeTelegram, p: Params) -> Any:
    chat = reachable_chat(tg, p)
    photo = p.text("photo")  # an uploaded file reads "<upload>"
    if not photo:
        raise bad_request("there is no photo in the request")
    if photo != "<upload>":
        scheme = urlsplit(photo).scheme
        if scheme not in ("http", "https") and not photo.startswith("photo-"):
            raise bad_request("wrong file identifier/HTTP URL specified")
        if photo in tg.unreachable_photos:
            raise bad_request("failed to get HTTP URL content")
    parsed = _formatted_text(tg, p, "caption")
    caption = p.text("caption") if parsed.text else None
    message = _store(tg, chat, p, "sendPhoto", parsed, caption=caption, photo=photo)
    return tg.message_payload(message)


# -- editing and deleting -------------------------------------------------------------------


def _own_message(tg: FakeTelegram, p: Params, missing: str) -> Message:
    chat = reachable_chat(tg, p)
    message_id = p.integer("message_id")
    message = tg.history.get(chat.id, {}).get(message_id or 0)
    if message is None or message.deleted:
        raise bad_request(missing)
    return message


def _inline_edit(tg: FakeTelegram, name: str, p: Params) -> bool:
    tg.inline_edits.append({"method": name, **p.values})
    return True


def _edit(tg: FakeTelegram, name: str, p: Params, *, caption: bool) -> Any:
    if "inline_message_id" in p:
        return _inline_edit(tg, name, p)
    message = _own_message(tg, p, "message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    if caption != (message.photo is not None):
        raise bad_request(
            "there is no caption in the message to edit"
            if caption
            else "there is no text in the message to edit"
        )
    field = "caption" if caption else "text"
    parsed = _formatted_text(tg, p, field)
    if not parsed.text and not caption:
        raise bad_request("message text is empty")
    markup = check_reply_markup(p.obj("reply_markup"))
    if (parsed.text, parsed.entities, markup) == (
        message.plain,
        message.entities,
        message.reply_markup,
    ):
        raise message_not_modified().as_error()
    message.edits.append(dict(p.values))
    setattr(message, field, p.text(field))
    message.parse_mode = p.text("parse_mode")
    message.plain, message.entities, message.reply_markup = parsed.text, parsed.entities, markup
    message.edit_date = now()
    tg.notify()
    return tg.message_payload(message)


@method("editMessageText")
def edit_message_text(tg: FakeTelegram, p: Params) -> Any:
    return _edit(tg, "editMessageText", p, caption=False)


@method("editMessageCaption")
def edit_message_caption(tg: FakeTelegram, p: Params) -> Any:
    return _edit(tg, "editMessageCaption", p, caption=True)


@method("editMessageReplyMarkup")
def edit_message_reply_markup(tg: FakeTelegram, p: Params) -> Any:
    if "inline_message_id" in p:
        return _inline_edit(tg, "editMessageReplyMarkup", p)
    message = _own_message(tg, p, "message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    markup = check_reply_markup(p.obj("reply_markup"))
    if markup == message.reply_markup or (markup is None and not message.reply_markup):
        raise message_not_modified().as_error()
    message.edits.append(dict(p.values))
    message.reply_markup = markup
    message.edit_date = now()
    tg.notify()
    return tg.message_payload(message)


@method("deleteMessage")
def delete_message(tg: FakeTelegram, p: Params) -> Any:
    message = _own_message(tg, p, "message to delete not found")
    if not message.from_bot and message.chat.type == CHANNEL:
        raise bad_request("message can't be deleted")
    message.deleted = True
    tg.notify()
    return True


# -- answering queries ----------------------------------------------------------------------


def _take_query(tg: FakeTelegram, queries: dict[str, float], query_id: str | None) -> None:
    """Mark a callback or inline query answered; each may be answered once, within
    ``tg.query_deadline`` seconds."""
    created = queries.pop(query_id or "", None)
    if created is None or time.monotonic() - created > tg.query_deadline:
        raise bad_request(QUERY_TOO_OLD)


@method("answerCallbackQuery")
def answer_callback_query(tg: FakeTelegram, p: Params) -> Any:
    query_id = p.text("callback_query_id")
    if len(p.text("text") or "") > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    _take_query(tg, tg.open_callback_queries, query_id)
    tg.callback_answers.append(
        {
            "callback_query_id": query_id,
            "text": p.text("text"),
            "show_alert": p.flag("show_alert"),
            "url": p.text("url"),
            "cache_time": p.integer("cache_time"),
        }
    )
    return True


@method("answerInlineQuery")
def answer_inline_query(tg: FakeTelegram, p: Params) -> Any:
    query_id = p.text("inline_query_id")
    results = p.obj("results", list)
    if results is None:
        raise bad_request("results is empty")
    if len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in results]
    if any(not 1 <= len(i.encode()) <= 64 for i in ids):
        raise bad_request("RESULT_ID_INVALID")
    if len(set(ids)) != len(ids):
        raise bad_request("RESULT_ID_DUPLICATE")
    for result in results:
        content = result.get("input_message_content") or {}
        if "message_text" in content:
            _formatted_text(tg, Params(content), "message_text")
        check_reply_markup(result.get("reply_markup"))
    _take_query(tg, tg.open_inline_queries, query_id)
    options = ("cache_time", "is_personal", "next_offset")
    given = {key: p.values[key] for key in options if key in p.values}
    tg.inline_answers.append({"inline_query_id": query_id, "results": results} | given)
    return True


def plain_text(text: str, parse_mode: str | None, *, strict: bool = False) -> str:
    """What Telegram would show for ``text`` (for tests' expectations)."""
    return format_text(text, parse_mode, None, strict=strict).text
