"""The fake Discord's REST API under ``/api/v10``: the routes a bot adapter on discord.py uses.

Bot routes need ``Authorization: Bot <token>`` (else 401); interaction callbacks and the
interaction webhooks (``/webhooks/{application}/{interaction token}``) carry no
Authorization header, as on Discord, and are checked by interaction id and token instead.

Every answer is JSON with ``Content-Type: application/json`` exactly (discord.py decodes
nothing else) and successful answers carry ``X-RateLimit-*`` headers with room to spare.
Error bodies are Discord's: ``{"code": 10003, "message": "Unknown Channel"}``, 50035 with an
``errors`` tree (see ``fake_discord_rules``), 50006 for an empty message, 40060 for a second
interaction callback, 10062 for an unknown interaction *or one answered after the 3-second
window* (``FakeDiscord.interaction_deadline``), 10015 unknown webhook, 10008 unknown message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.support.fake_discord_failures import ApiError, form_error, json_response, snowflake
from tests.support.fake_discord_messages import LOADING_FLAG, FakeMessage, new_message, pings_for
from tests.support.fake_discord_rules import (
    FormErrors,
    check_commands,
    check_message,
    is_empty_message,
)
from tests.support.fake_discord_webhooks import InteractionRoutes
from tests.support.fake_discord_world import (
    GUILD_ANNOUNCEMENT,
    GUILD_TEXT,
    PRIVATE_THREAD,
    PUBLIC_THREAD,
    FakeChannel,
    FakeGuild,
    next_snowflake,
)

if TYPE_CHECKING:
    from tests.support.fake_discord import FakeDiscord

API_PREFIX = "/api/v10"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Rest:
    def __init__(self, dc: FakeDiscord) -> None:
        self.dc = dc
        self._bodies: dict[int, Any] = {}  # id(request) -> its parsed JSON body

    def json(self, request: web.BaseRequest) -> Any:
        return self._bodies.get(id(request), {})

    def install(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)
        add, p = app.router.add_route, API_PREFIX
        add("GET", p + "/users/@me", self.get_me)
        add("GET", p + "/oauth2/applications/@me", self.get_application)
        add("GET", p + "/applications/@me", self.get_application)
        add("GET", p + "/gateway", self.get_gateway)
        add("GET", p + "/gateway/bot", self.get_gateway)
        for verb in ("GET", "PUT"):
            add(verb, p + "/applications/{app}/commands", self.commands)
            add(verb, p + "/applications/{app}/guilds/{guild}/commands", self.commands)
        hooks = InteractionRoutes(self)
        add("POST", p + "/interactions/{interaction}/{token}/callback", hooks.callback)
        add("POST", p + "/webhooks/{app}/{token}", hooks.followup)
        for verb in ("GET", "PATCH", "DELETE"):
            add(verb, p + "/webhooks/{app}/{token}/messages/{message}", hooks.webhook_message)
            add(verb, p + "/channels/{channel}/messages/{message}", self.channel_message)
        add("GET", p + "/channels/{channel}", self.get_channel)
        add("POST", p + "/channels/{channel}/messages", self.create_message)
        add("POST", p + "/channels/{channel}/messages/{message}/threads", self.create_thread)
        add("POST", p + "/channels/{channel}/threads", self.create_thread)
        add("GET", p + "/guilds/{guild}", self.get_guild)
        add("GET", p + "/guilds/{guild}/channels", self.get_guild)
        add("GET", p + "/guilds/{guild}/members/{user}", self.get_member)

    # -- plumbing ----------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        dc = self.dc
        path = request.path[len(API_PREFIX) :]
        try:
            body = await _read_body(request)
        except ValueError:
            body, bad_json = None, True
        else:
            bad_json = False
        record = dc.record(request.method, path, dict(request.query), body, request.headers)
        failure = dc.take_failure(request.method, path)
        response: web.StreamResponse
        if failure is not None:
            response = failure.response()
        elif bad_json:
            response = json_response(
                400, {"code": 50109, "message": "The request body contains invalid JSON."}
            )
        else:
            response = await self._answer(request, handler, body)
        if 200 <= response.status < 300:
            bucket = getattr(request.match_info.route.resource, "canonical", path)
            response.headers.update(_bucket_headers(request.method, bucket))
        record.status = response.status
        dc.notify()
        return response

    async def _answer(
        self, request: web.Request, handler: Handler, body: Any
    ) -> web.StreamResponse:
        self._bodies[id(request)] = body if isinstance(body, dict | list) else {}
        try:
            return await handler(request)
        except ApiError as error:
            return json_response(error.status, error.body)
        except web.HTTPNotFound:
            return json_response(404, {"code": 0, "message": "404: Not Found"})
        except web.HTTPMethodNotAllowed:
            return json_response(405, {"code": 0, "message": "405: Method Not Allowed"})
        finally:
            self._bodies.pop(id(request), None)

    def _bot(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.dc.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    def _channel(self, request: web.Request) -> tuple[FakeGuild, FakeChannel]:
        self._bot(request)
        channel_id = snowflake(request.match_info["channel"])
        if channel_id in self.dc.forbidden_channels:
            raise ApiError(403, 50001, "Missing Access")
        found = self.dc.find_channel(channel_id)
        if found is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return found

    def _message(self, channel_id: int, raw_id: str) -> FakeMessage:
        message = self.dc.message(snowflake(raw_id))
        if message is None or message.deleted or message.channel_id != channel_id:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    # -- identity ------------------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        self._bot(request)
        return json_response(200, {**self.dc.bot.payload(), "verified": True, "mfa_enabled": False})

    async def get_application(self, request: web.Request) -> web.Response:
        self._bot(request)
        return json_response(200, application_payload(self.dc))

    async def get_gateway(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = {"url": self.dc.gateway_url}
        if request.path.endswith("/bot"):
            self._bot(request)
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            body |= {"shards": 1, "session_start_limit": limit}
        return json_response(200, body)

    # -- application commands --------------------------------------------------------------

    async def commands(self, request: web.Request) -> web.Response:
        self._bot(request)
        dc = self.dc
        if snowflake(request.match_info["app"]) != dc.application_id:
            raise ApiError(403, 50001, "Missing Access")
        guild_id = request.match_info.get("guild")
        gid = None if guild_id is None else snowflake(guild_id)
        if gid is not None and dc.find_guild(gid) is None:
            raise ApiError(404, 10004, "Unknown Guild")
        existing = dc.global_commands if gid is None else dc.guild_commands.get(gid, [])
        if request.method == "GET":
            return json_response(200, existing)
        errors = FormErrors()
        check_commands(self.json(request), errors)
        if errors:
            return form_error(errors)
        old = {(c["name"], c["type"]): c["id"] for c in existing}
        saved = []
        for command in self.json(request):
            kind = command.get("type", 1)
            bits = command.get("default_member_permissions")
            saved.append(
                {
                    "type": 1,
                    "description": "",
                    "options": [],
                    "nsfw": False,
                    "integration_types": [0],
                    "contexts": None,
                    **command,
                    # discord.py sends an int; Discord answers a string (or null)
                    "default_member_permissions": None if bits is None else str(bits),
                    "id": old.get((command["name"], kind)) or str(next_snowflake()),
                    "application_id": str(dc.application_id),
                    "version": str(next_snowflake()),
                    **({} if gid is None else {"guild_id": str(gid)}),
                }
            )
        if gid is None:
            dc.global_commands = saved
        else:
            dc.guild_commands[gid] = saved
        dc.command_syncs.append((gid, saved))
        return json_response(200, saved)

    # -- channels and messages ------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> web.Response:
        _, channel = self._channel(request)
        return json_response(200, channel.payload())

    async def create_message(self, request: web.Request) -> web.Response:
        dc = self.dc
        _, channel = self._channel(request)
        body = self.json(request)
        errors = FormErrors()
        check_message(body, errors)
        reference = body.get("message_reference")
        if reference and reference.get("fail_if_not_exists", True):
            target = dc.message(snowflake(str(reference.get("message_id", 0))))
            if target is None or target.deleted:
                errors.add(("message_reference",), "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
        if errors:
            return form_error(errors)
        if is_empty_message(body):
            raise ApiError(400, 50006, "Cannot send an empty message")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            first = dc.nonce_match(channel.id, str(nonce))
            if first is not None:
                if first.deleted:
                    raise ApiError(404, 10008, "Unknown Message")
                dc.nonce_replays += 1
                return json_response(200, first.data)
        message = new_message(self.dc, channel.id, body)
        channel.message_count += 1
        member = dc.guild_member_payload(channel.guild_id)
        event = {**message.data, "member": member}
        await dc.dispatch("MESSAGE_CREATE", event)
        return json_response(200, message.data)

    async def channel_message(self, request: web.Request) -> web.StreamResponse:
        _, channel = self._channel(request)
        message = self._message(channel.id, request.match_info["message"])
        return await self.message_verb(request, message)

    async def message_verb(self, request: web.Request, message: FakeMessage) -> web.StreamResponse:
        guild_id = message.data.get("guild_id")
        if request.method == "GET":
            return json_response(200, message.data)
        if request.method == "DELETE":
            message.deleted = True
            event = {"id": str(message.id), "channel_id": str(message.channel_id)}
            await self.dc.dispatch("MESSAGE_DELETE", {**event, "guild_id": guild_id})
            return web.Response(status=204)
        body = self.json(request)
        errors = FormErrors()
        check_message(body, errors)
        if errors:
            return form_error(errors)
        was_loading = bool(message.data["flags"] & LOADING_FLAG)
        message.apply_edit(body)
        if was_loading:  # the edit that answers a deferred response is what people see
            message.data["flags"] &= ~LOADING_FLAG
            message.pings = pings_for(self.dc, message, {**message.body, **body})
        await self.dc.dispatch("MESSAGE_UPDATE", message.data)
        return json_response(200, message.data)

    async def create_thread(self, request: web.Request) -> web.Response:
        guild, channel = self._channel(request)
        body = self.json(request)
        errors = FormErrors()
        errors.bad_length(("name",), body.get("name"), 1, 100)
        duration = body.get("auto_archive_duration", 1440)
        if duration not in (60, 1440, 4320, 10080):
            errors.add(("auto_archive_duration",), "BASE_TYPE_CHOICES", "Value must be one of")
        if errors:
            return form_error(errors)
        if channel.type not in (GUILD_TEXT, GUILD_ANNOUNCEMENT):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        raw_message = request.match_info.get("message")
        thread_id = None
        if raw_message is not None:
            message = self._message(channel.id, raw_message)
            if guild.channel(message.id) is not None:
                raise ApiError(400, 160004, "A thread has already been created for this message")
            thread_id = message.id
        thread = guild.add_thread(
            channel, body["name"], owner_id=self.dc.bot.id, thread_id=thread_id
        )
        if raw_message is None and body.get("type", PRIVATE_THREAD) == PRIVATE_THREAD:
            thread.type = PRIVATE_THREAD
        elif raw_message is None:
            thread.type = PUBLIC_THREAD
        self.dc.threads_created.append(thread)
        await self.dc.dispatch("THREAD_CREATE", {**thread.payload(), "newly_created": True})
        return json_response(201, thread.payload())

    # -- guilds ------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> web.Response:
        self._bot(request)
        guild = self.dc.find_guild(snowflake(request.match_info["guild"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        if request.path.endswith("/channels"):
            return json_response(200, [c.payload() for c in guild.channels if not c.is_thread])
        return json_response(200, guild.payload(bot_id=self.dc.bot.id, all_members=False))

    async def get_member(self, request: web.Request) -> web.Response:
        self._bot(request)
        guild = self.dc.find_guild(snowflake(request.match_info["guild"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        member = guild.member(snowflake(request.match_info["user"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(200, member.payload())


async def _read_body(request: web.Request) -> Any:
    """The JSON body; for multipart (files) the ``payload_json`` part. Raises ValueError."""
    if not request.body_exists:
        return None
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        raw = form.get("payload_json")
        return json.loads(str(raw)) if raw is not None else None
    text = await request.text()
    return json.loads(text) if text else None


def _bucket_headers(method: str, route: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": f"{time.time() + 5:.3f}",
        "X-RateLimit-Reset-After": "5.000",
        "X-RateLimit-Bucket": f"{abs(hash((method, route))):x}"[:16],
    }


def application_payload(dc: FakeDiscord) -> dict[str, Any]:
    return {
        "id": str(dc.application_id),
        "name": dc.bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": dc.application_flags,
        "owner": dc.owner.payload(),
        "team": None,
        "bot": dc.bot.payload(),
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "rpc_origins": [],
        "tags": [],
        "approximate_guild_count": len(dc.guilds),
        "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
        "integration_types_config": {"0": {}},
        "custom_install_url": None,
        "role_connections_verification_url": None,
        "terms_of_service_url": None,
        "privacy_policy_url": None,
    }
