"""Who may change a chat's subscription, and which chat a command is about.

- A private chat belongs to its user.
- In groups and supergroups only administrators (``getChatMember``: creator or
  administrator) may; an anonymous administrator writes as the group itself
  (``sender_chat`` is the group), which counts. Everyone may use the reading commands.
- A channel: a command posted in the channel comes from someone allowed to post there (the
  channel's admins); from a private chat, "/subscribe @channel …" works for a user who is an
  administrator of that channel, once the bot is an administrator there too (so it can post).
- ``/addsource``: the operators (``TELEGRAM_OPERATORS`` user ids), and administrators of a
  group or channel when ``TELEGRAM_ADMINS_ADD_SOURCES`` is true.

Called by the gateway's handlers (``bot.telegram.handlers_*``). ``AccessDenied`` carries a
one-line message to show the person.
"""

from __future__ import annotations

from telegram import Bot, Chat, ChatFullInfo, Message
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden

ADMIN_STATUSES = frozenset({ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR})
GROUPS = frozenset({Chat.GROUP, Chat.SUPERGROUP})
NOT_ADMIN = "Only this chat's admins can change its subscription; please ask one of them."


class AccessDenied(Exception):
    """A one-line refusal for the person who asked."""


def parse_operators(text: str) -> frozenset[int]:
    """``TELEGRAM_OPERATORS`` ("123, 456") as user ids; words that are not ids are ignored
    (the settings check is not ours to make stricter)."""
    ids = set()
    for word in text.replace(",", " ").split():
        if word.lstrip("-").isdigit():
            ids.add(int(word))
    return frozenset(ids)


async def is_admin(bot: Bot, chat_id: int | str, user_id: int) -> bool:
    """Whether ``user_id`` is the creator or an administrator of the chat. A user Telegram
    does not know there (400) is not."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except BadRequest:
        return False
    return member.status in ADMIN_STATUSES


async def may_change(bot: Bot, chat: Chat, user_id: int | None, message: Message | None) -> bool:
    """Whether the sender of ``message`` (or ``user_id``, for a button tap) may change the
    subscription of ``chat``. Raises ``TelegramError`` when Telegram cannot be asked."""
    if chat.type == Chat.PRIVATE:
        return True
    if message is not None and message.sender_chat is not None:
        # A channel post, or an anonymous group admin, comes from the chat itself; a linked
        # channel's automatic forward or a user writing as one of their channels does not.
        return message.sender_chat.id == chat.id
    if user_id is None:
        return False
    # A tap on a button in a channel comes from any reader: only its admins count.
    return await is_admin(bot, chat.id, user_id)


async def managed_chat(bot: Bot, ref: str, user_id: int) -> ChatFullInfo:
    """The channel or group named by ``ref`` ("@name" or a numeric id), which ``user_id``
    administers and where the bot can post. Raises ``AccessDenied`` otherwise."""
    chat_id: int | str = int(ref) if ref.lstrip("-").isdigit() else ref
    try:
        chat = await bot.get_chat(chat_id)
    except (BadRequest, Forbidden):
        raise AccessDenied(
            f"I cannot see {ref}: add me to it as an administrator first, then try again."
        ) from None
    if chat.type == Chat.PRIVATE:
        raise AccessDenied(f"{ref} is not a channel or group.")
    if not await is_admin(bot, chat.id, user_id):
        raise AccessDenied(f"Only admins of {ref} can change its subscription.")
    me = await bot.get_chat_member(chat.id, bot.id)
    if chat.type == Chat.CHANNEL and me.status not in ADMIN_STATUSES:
        raise AccessDenied(f"Make me an administrator of {ref} first, so I can post there.")
    if me.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
        raise AccessDenied(f"Add me to {ref} first, then try again.")
    return chat


async def may_add_sources(
    bot: Bot,
    chat: Chat,
    user_id: int | None,
    message: Message | None,
    *,
    operators: frozenset[int],
    admins_too: bool,
) -> bool:
    """Whether the sender may ``/addsource``: an operator anywhere; with ``admins_too`` an
    administrator of a group or channel as well (not of a private chat: everyone is that)."""
    if user_id is not None and user_id in operators:
        return True
    if not admins_too or chat.type == Chat.PRIVATE:
        return False
    return await may_change(bot, chat, user_id, message)
