"""Answering a Discord interaction, one way for every slash command and button.

Discord forgets an interaction that is not acknowledged within 3 seconds ("This interaction
failed"). The database work behind a command is usually a few milliseconds, but it is
blocking code (SQLAlchemy) and a busy database can take longer, so ``in_time`` runs it in a
thread and defers the response ("thinking") when it is not done after ``defer_after``
seconds; ``send`` then fills the deferred response in instead of answering anew.

``guarded`` wraps a handler: a ``CommandError`` becomes an ephemeral one-line reply, any
other exception is logged (type and traceback only; discord.py errors carry no token) and
answered "Something went wrong", so a person never sees "This interaction failed" for our
own bug. Called by ``bot.discord.commands``, ``commands_ask`` and ``followups``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import discord

from bot.common.commands import CommandError

log = logging.getLogger(__name__)

T = TypeVar("T")
Interaction = discord.Interaction[Any]

DEFER_AFTER = 1.5  # seconds of database work before we defer; Discord allows 3 in all
SOMETHING_WRONG = "Something went wrong on our side; please try again in a minute."
# Keys in ``interaction.extras``: the deferred reply was filled in; the deferral was ephemeral.
_FILLED = "digest.original_filled"
_EPHEMERAL = "digest.deferred_ephemeral"


async def in_time(
    interaction: Interaction,
    work: Callable[[], T],
    *,
    ephemeral: bool,
    defer_after: float = DEFER_AFTER,
) -> T:
    """Run the blocking ``work`` in a thread and return its result; when it takes longer
    than ``defer_after`` seconds, defer the interaction first (ephemeral when the reply will
    be). Raises what ``work`` raises."""
    task = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        return await asyncio.wait_for(asyncio.shield(task), defer_after)
    except TimeoutError:
        await defer(interaction, ephemeral=ephemeral)
        return await task


async def defer(interaction: Interaction, *, ephemeral: bool) -> None:
    """Acknowledge now ("thinking"), answer later with ``send``; no-op when answered."""
    if not interaction.response.is_done():
        # discord.py does not expose whether a deferral was ephemeral; ``refuse`` needs it.
        interaction.extras[_EPHEMERAL] = ephemeral
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)


def _deferred_unfilled(interaction: Interaction) -> bool:
    kind = interaction.response.type
    return (
        kind is discord.InteractionResponseType.deferred_channel_message
        and not interaction.extras.get(_FILLED)
    )


async def send(
    interaction: Interaction,
    content: str | None = None,
    *,
    embeds: Sequence[discord.Embed] = (),
    view: discord.ui.View | None = None,
    ephemeral: bool,
) -> None:
    """Answer: the interaction's response when not yet answered, the deferred "thinking"
    message when deferred (its ephemerality was fixed by ``defer``), else a followup.
    Never pings anyone. Raises ``discord.HTTPException``."""
    none = discord.AllowedMentions.none()
    extra: dict[str, Any] = {}
    if view is not None:
        extra["view"] = view
    if not interaction.response.is_done():
        await interaction.response.send_message(
            content, embeds=list(embeds), ephemeral=ephemeral, allowed_mentions=none, **extra
        )
    elif _deferred_unfilled(interaction):
        interaction.extras[_FILLED] = True
        await interaction.edit_original_response(
            content=content, embeds=list(embeds), allowed_mentions=none, **extra
        )
    else:
        await interaction.followup.send(
            content or discord.utils.MISSING,
            embeds=list(embeds),
            ephemeral=ephemeral,
            allowed_mentions=none,
            **extra,
        )


async def refuse(interaction: Interaction, text: str) -> None:
    """An ephemeral one-line answer (an error, a refusal). When the response was deferred
    in public ("thinking" in the channel, as ``/ask`` does) that message is deleted and the
    text goes to the asker alone."""
    if _deferred_unfilled(interaction) and not _deferred_ephemeral(interaction):
        interaction.extras[_FILLED] = True
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.warning("could not remove a public 'thinking' message before an error reply")
    await send(interaction, text, ephemeral=True)


def _deferred_ephemeral(interaction: Interaction) -> bool:
    return bool(interaction.extras.get(_EPHEMERAL))


async def guarded(
    interaction: Interaction, what: str, handler: Callable[[], Awaitable[None]]
) -> None:
    """Run ``handler``; answer its ``CommandError`` ephemerally with the error's one line,
    and any other exception with ``SOMETHING_WRONG`` (logged, with ``what`` for context).
    Never raises: a failing reply is logged."""
    try:
        await handler()
    except CommandError as error:
        await _answer_error(interaction, str(error), what)
    except discord.NotFound as error:
        # 10062: the interaction expired (answered too late); nobody is left to tell.
        log.warning("Discord %s: could not answer (%s %s)", what, error.status, error.code)
    except Exception:
        log.exception("Discord %s failed", what)
        await _answer_error(interaction, SOMETHING_WRONG, what)


async def _answer_error(interaction: Interaction, text: str, what: str) -> None:
    try:
        await refuse(interaction, text)
    except discord.HTTPException as error:
        log.warning("Discord %s: could not send the error reply (%s)", what, error.status)
