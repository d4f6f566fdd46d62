"""Interaction callbacks and the interaction webhooks of the fake Discord.

``POST /interactions/{id}/{token}/callback`` (no Authorization, as on Discord): the interaction
must be known (dispatched by the fake) and answered within ``FakeDiscord.interaction_deadline``
(3 s, Discord's window) or it is 404 10062 "Unknown interaction"; a second answer is 400 40060.
Callback types per interaction type: a command takes 4, 5 or 9; a component 4, 5, 6, 7 or 9;
autocomplete only 8; a modal submit 4-7. Type 4 creates the original response message (kept
out of the channel when ephemeral, flags 64), 5 a "thinking" one (flags 128) that a later
``PATCH .../messages/@original`` fills in, 6 and 7 point at (7 edits) the message the component
is on. discord.py asks ``?with_response=1`` and gets the ``{"interaction", "resource"}`` body.

``/webhooks/{application}/{token}``: followups (``POST``, only after the callback) and
``GET``/``PATCH``/``DELETE`` of ``messages/@original`` or a followup's id.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support.fake_discord_failures import ApiError, form_error, json_response, snowflake
from tests.support.fake_discord_interactions import FakeInteraction, InteractionCallback
from tests.support.fake_discord_messages import LOADING_FLAG, new_message
from tests.support.fake_discord_rules import (
    EPHEMERAL_FLAG,
    FormErrors,
    check_choices,
    check_message,
    is_empty_message,
)

if TYPE_CHECKING:
    from tests.support.fake_discord_rest import Rest

_CALLBACKS_FOR = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


class InteractionRoutes:
    def __init__(self, rest: Rest) -> None:
        self.rest = rest
        self.dc = rest.dc

    def _interaction(self, request: web.Request) -> FakeInteraction:
        token = request.match_info["token"]
        interaction = next((i for i in self.dc.interactions.values() if i.token == token), None)
        if interaction is None or snowflake(request.match_info["app"]) != self.dc.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        return interaction

    async def callback(self, request: web.Request) -> web.StreamResponse:
        dc = self.dc
        interaction = dc.interactions.get(snowflake(request.match_info["interaction"]))
        if interaction is None or interaction.token != request.match_info["token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        latency = time.monotonic() - interaction.sent_at
        if latency > dc.interaction_deadline:
            interaction.late_callbacks += 1
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.callback is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        body = self.rest.json(request)
        kind, data = body.get("type"), body.get("data") or {}
        if kind not in _CALLBACKS_FOR.get(interaction.type, set()):
            errors = FormErrors()
            errors.add(("type",), "INTERACTION_CALLBACK_TYPE_INVALID", "Invalid callback type")
            return form_error(errors)
        errors = FormErrors(prefix=("data",))
        if kind in (4, 7):
            check_message(data, errors)
            if kind == 4 and not errors and is_empty_message(data):
                raise ApiError(400, 50006, "Cannot send an empty message")
        elif kind == 8:
            check_choices(data, errors)
        elif kind == 9:
            errors.bad_length(("custom_id",), data.get("custom_id"), 1, 100)
            errors.bad_length(("title",), data.get("title"), 1, 45)
        if errors:
            return form_error(errors)
        interaction.callback = InteractionCallback(interaction.id, kind, data, latency)
        dc.callbacks.append(interaction.callback)
        message = None
        if kind == 4:
            message = new_message(self.dc, interaction.channel_id, data, interaction=interaction)
        elif kind == 5:
            flags = LOADING_FLAG | (int(data.get("flags") or 0) & EPHEMERAL_FLAG)
            message = new_message(
                self.dc,
                interaction.channel_id,
                {"content": "", "flags": flags},
                interaction=interaction,
            )
        elif kind in (6, 7):
            message = dc.message(int(interaction.payload.get("message", {}).get("id", 0)))
            if kind == 7 and message is not None:
                message.apply_edit(data)
        interaction.original = message
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        inner: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(message and message.ephemeral),
        }
        resource: dict[str, Any] = {"type": kind}
        if message is not None and kind in (4, 5, 7):
            inner["response_message_id"] = str(message.id)
            resource["message"] = message.data
        return json_response(200, {"interaction": inner, "resource": resource})

    async def followup(self, request: web.Request) -> web.StreamResponse:
        interaction = self._interaction(request)
        if interaction.callback is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        body = self.rest.json(request)
        errors = FormErrors()
        check_message(body, errors)
        if errors:
            return form_error(errors)
        if is_empty_message(body):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = new_message(self.dc, interaction.channel_id, body, interaction=interaction)
        message.source = "followup"
        interaction.followups.append(message)
        if request.query.get("wait", "").lower() not in ("1", "true"):
            return web.Response(status=204)
        return json_response(200, message.data)

    async def webhook_message(self, request: web.Request) -> web.StreamResponse:
        interaction = self._interaction(request)
        raw = request.match_info["message"]
        if raw == "@original":
            message = interaction.original
        else:
            message = next((m for m in interaction.followups if str(m.id) == raw), None)
        if message is None or message.deleted:
            raise ApiError(404, 10008, "Unknown Message")
        return await self.rest.message_verb(request, message)
