"""Answers for interactions the bot no longer handles, so that Discord never shows "This
interaction failed" for them: a click on a component whose custom_id no item matches (a
button from an older release with another format, a garbled or out-of-range id), and a
slash command (or its autocomplete) the bot no longer has. Installed by
``bot.discord.platform``::

    install_stale_answers(client)      # once, before connecting
    tree = StaleAwareTree(client)      # instead of NewsTree

Components. discord.py hands a MESSAGE_COMPONENT interaction to its view store
(``ViewStore.dispatch_view``): every dynamic-item template that fully matches the custom_id
gets a task (``dispatch_dynamic_items``), then a view item stored for that message (or a
persistent one) does; when nothing matches, the interaction is dropped without a word.
Only then, synchronously, is the ``interaction`` event dispatched. Two hooks were weighed:

- A catch-all ``DynamicItem`` (template ``.*``) registered last: rejected. Templates have
  no priority; discord.py schedules *every* matching template, so a click on
  ``card:why:12`` would run both the "why" item and the catch-all and the second answer
  would fail with 40060 (already acknowledged). A catch-all would have to repeat every
  other template as a negative lookahead, and views that are not dynamic items would still
  be answered twice.
- An ``on_interaction`` listener that asks what the view store holds: chosen. It runs after
  the store has made its choice, answers only when no template matches and no stored view
  item has the custom_id (the same two look-ups ``dispatch_view`` makes), and so never
  answers an interaction that an item will. The store's tables are discord.py internals
  (``_connection._view_store._dynamic_items`` / ``._views``, as of discord.py 2.7): if a
  later discord.py renames them, the listener logs a warning once and stays silent (the old
  behaviour) rather than risk a second answer; ``tests/bot/discord/
  test_gateway_stale_buttons.py`` then fails.

A custom_id that matches a template but carries a card id no card can have is the item's to
answer (``bot.discord.components``, same text).

Commands. ``CommandTree`` raises ``CommandNotFound`` for a command it does not have (one
from an older release that a Discord client still offers until it refreshes the list) and
``CommandSignatureMismatch`` when the command's shape changed; both reach the tree's
``on_error``. ``NewsTree`` would answer them "Something went wrong" with a traceback in the
log; ``StaleAwareTree`` answers a one-line ephemeral "no longer exists" (an empty choice
list for autocomplete, which accepts no message) and logs one INFO line.

Nothing here logs more than the custom_id or command name (no token, no user).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import discord
from discord import app_commands

from bot.common.commands import CommandError
from bot.discord.commands import NewsTree
from bot.discord.commands_reply import guarded
from bot.discord.components import answer_stale

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]

STALE_COMMAND = "This command no longer exists; type / to see the bot's commands."
LOGGED_MAX = 100  # characters of a custom_id or command name in a log line (Discord's max)


@functools.cache
def _warn_unreadable_store() -> None:
    # Once per process: every click would repeat it.
    log.warning("Discord: cannot read discord.py's view store; stale clicks go unanswered")


def _clicked(interaction: Interaction) -> tuple[Any, str]:
    """The component type and custom_id of a component interaction."""
    data: dict[str, Any] = dict(interaction.data or {})
    return data.get("component_type"), str(data.get("custom_id", ""))


def view_store_takes(interaction: Interaction) -> bool | None:
    """Whether discord.py's view store dispatched this component interaction to an item
    (a matching dynamic-item template, or a view item stored for the message or as
    persistent); ``None`` when the store's tables cannot be read (see the module docstring)."""
    store = getattr(getattr(interaction.client, "_connection", None), "_view_store", None)
    templates = getattr(store, "_dynamic_items", None)
    stored = getattr(store, "_views", None)
    if not isinstance(templates, dict) or not isinstance(stored, dict):
        return None
    component_type, custom_id = _clicked(interaction)
    key = (component_type, custom_id)
    message = interaction.message
    # Dynamic items are rebuilt from the clicked message; without one discord.py drops them.
    if message is not None and any(t.fullmatch(custom_id) for t in templates):
        return True
    for_message = stored.get(message.id, {}) if message is not None else {}
    return key in for_message or key in stored.get(None, {})


async def answer_unhandled_component(interaction: Interaction) -> None:
    """The ``on_interaction`` listener: answer a component interaction that no item took,
    ephemerally, with ``components.STALE_BUTTON``. Never raises."""
    if interaction.type is not discord.InteractionType.component:
        return
    taken = view_store_takes(interaction)
    if taken is None:
        _warn_unreadable_store()
        return
    if taken or interaction.response.is_done():
        return
    custom_id = _clicked(interaction)[1][:LOGGED_MAX]
    log.info("Discord: click on a component no longer handled (custom_id %r)", custom_id)
    try:
        await answer_stale(interaction)
    except discord.InteractionResponded:
        log.debug("Discord: the stale click %r was answered meanwhile", custom_id)
    except discord.HTTPException as error:
        log.warning(
            "Discord: could not answer a stale click (%s, code %s)", error.status, error.code
        )


def install_stale_answers(client: discord.Client) -> None:
    """Make ``client`` answer the component interactions no item takes. Called once by
    ``bot.discord.platform``; it sets the client's ``on_interaction`` event, which nothing
    else in the bot uses."""

    async def on_interaction(interaction: Interaction) -> None:
        await answer_unhandled_component(interaction)

    client.event(on_interaction)


class StaleAwareTree(NewsTree):
    """``NewsTree`` that answers a command the bot no longer has (see the module docstring)
    instead of reporting it as our error."""

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError) -> None:
        if not isinstance(
            error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch
        ):
            await super().on_error(interaction, error)
            return
        if isinstance(error, app_commands.CommandNotFound):
            name = " ".join([*error.parents, error.name])
        else:
            name = error.command.name
        log.info("Discord: a command no longer offered: /%s", name[:LOGGED_MAX])
        if interaction.type is discord.InteractionType.autocomplete:
            try:
                await interaction.response.autocomplete([])
            except discord.HTTPException as failure:
                log.warning("Discord: could not answer a stale autocomplete (%s)", failure.status)
            return

        async def stale() -> None:
            raise CommandError(STALE_COMMAND)

        await guarded(interaction, "a stale command", stale)
