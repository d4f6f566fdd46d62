"""The fake Discord against the real discord.py 2.7 client: what the Discord adapter's tests
will lean on, and what discord.py does by itself (429 retries, nonces, persistent items)."""

from __future__ import annotations

import asyncio
import json
import re
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.support.fake_discord import (
    DEFAULT_TOKEN,
    FakeDiscord,
    missing_access,
    rate_limited,
    running_client,
    unknown_channel,
)

READY_WAIT = 0.05  # discord.py waits this long after the last GUILD_CREATE (default 2 s)


@pytest.fixture
async def dc() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(heartbeat_interval=0.02) as fake:
        yield fake


def make_client(**options: Any) -> discord.Client:
    return discord.Client(
        intents=discord.Intents.default(), guild_ready_timeout=READY_WAIT, **options
    )


def assert_no_token_recorded(dc: FakeDiscord) -> None:
    recorded = repr(dc.requests) + repr(dc.gateway.identifies)
    assert dc.token not in recorded


# -- login, READY, GUILD_CREATE, heartbeats -------------------------------------------------


async def test_login_ready_guild_create_and_heartbeats(dc: FakeDiscord) -> None:
    client = make_client()
    async with running_client(dc, client):
        assert client.user is not None and client.user.id == dc.bot.id
        assert client.application_id == dc.application_id
        guild = client.get_guild(dc.guild.id)
        assert guild is not None and guild.name == "Newsroom"
        assert {c.name for c in guild.text_channels} == {"news", "general"}
        assert guild.get_thread(dc.thread.id) is not None
        assert guild.get_role(dc.moderators.id).permissions.manage_channels  # type: ignore[union-attr]
        await dc.wait_until(lambda: dc.gateway.heartbeat_acks >= 3, what="three heartbeats")
        assert client.latency < 1.0

    identify = dc.gateway.identifies[0]
    assert identify["intents"] == discord.Intents.default().value
    assert identify["token"] == "[redacted]"
    # discord.py 2.7 cannot switch transport compression off: zlib-stream, or zstd-stream when
    # a zstd module is importable (the fake then answers in plain text frames).
    assert dc.gateway.connections[0].compression in ("zlib-stream", "zstd-stream")
    assert [r.path for r in dc.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert dc.requests[0].headers["Authorization"] == "Bot [redacted]"
    assert_no_token_recorded(dc)


async def test_a_wrong_token_is_refused(dc: FakeDiscord) -> None:
    client = make_client()
    with pytest.raises(discord.LoginFailure):
        async with running_client(dc, client, token="not-the-token"):
            pass
    assert dc.requests[0].status == 401
    assert "not-the-token" not in repr(dc.requests)


async def test_privileged_intents_need_enabling(dc: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.all(), guild_ready_timeout=READY_WAIT)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running_client(dc, client):
            pass


async def test_a_reconnect_resumes_the_session(dc: FakeDiscord) -> None:
    client = make_client()
    resumed = asyncio.Event()
    client.event(_setter("on_resumed", resumed))
    async with running_client(dc, client):
        await dc.reconnect_clients()
        await asyncio.wait_for(resumed.wait(), 3)
        assert dc.gateway.resumes == 1
        assert len(dc.gateway.identifies) == 1


def _setter(name: str, event: asyncio.Event) -> Any:
    async def handler(*_: object) -> None:
        event.set()

    handler.__name__ = name
    return handler


# -- application commands -------------------------------------------------------------------


def news_tree(client: discord.Client, seen: list[discord.Interaction]) -> app_commands.CommandTree:
    tree = app_commands.CommandTree(client)

    @tree.command(name="subscribe", description="Subscribe a channel to news topics")
    @app_commands.default_permissions(manage_channels=True)
    async def subscribe(
        interaction: discord.Interaction, channel: discord.TextChannel, topics: str
    ) -> None:
        seen.append(interaction)
        allowed = interaction.permissions.manage_channels
        text = f"{channel.name}: {topics}" if allowed else "You need Manage Channels."
        await interaction.response.send_message(text, ephemeral=True)

    async def card_titles(interaction: discord.Interaction, current: str) -> list[Any]:
        titles = ["Chip export rules", "Central bank holds rates"]
        return [app_commands.Choice(name=t, value=t[:20]) for t in titles if current in t]

    @tree.command(name="ask", description="Ask about a card")
    @app_commands.autocomplete(card=card_titles)
    async def ask(interaction: discord.Interaction, question: str, card: str | None = None) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(
            content=f"About {card}: {question} @everyone",
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await interaction.followup.send("How this was answered: …", ephemeral=True)

    return tree


async def test_guild_sync_records_and_returns_the_commands(dc: FakeDiscord) -> None:
    client = make_client()
    tree = news_tree(client, [])
    guild = discord.Object(id=dc.guild.id)
    tree.copy_global_to(guild=guild)
    async with running_client(dc, client):
        synced = await tree.sync(guild=guild)
        again = await tree.sync(guild=guild)

    stored = {c["name"]: c for c in dc.guild_commands[dc.guild.id]}
    assert set(stored) == {"subscribe", "ask"}
    assert stored["subscribe"]["default_member_permissions"] == str(1 << 4)
    assert [o["name"] for o in stored["subscribe"]["options"]] == ["channel", "topics"]
    assert stored["ask"]["options"][1]["autocomplete"] is True
    assert {c.name: c.id for c in synced} == {c.name: c.id for c in again}  # ids are kept
    assert dc.requests_to("PUT", f"/applications/{dc.application_id}/guilds/*/commands")


@pytest.mark.parametrize(("who", "answer"), [("admin", "news: ai"), ("member", "You need")])
async def test_a_slash_command_reaches_its_callback(dc: FakeDiscord, who: str, answer: str) -> None:
    seen: list[discord.Interaction] = []
    client = make_client()
    tree = news_tree(client, seen)
    async with running_client(dc, client):
        await tree.sync()
        payload = dc.command_interaction(
            "subscribe", {"channel": dc.news, "topics": "ai"}, user=getattr(dc, who)
        )
        interaction = await dc.interact(payload)

    assert seen[0].user.id == getattr(dc, who).id
    assert interaction.callback is not None and interaction.callback.type == 4
    assert interaction.callback.ephemeral  # flags 64
    assert interaction.callback.content is not None and interaction.callback.content.startswith(
        answer
    )
    assert interaction.original is not None and interaction.original.ephemeral
    assert dc.channel_messages(dc.news.id) == []  # ephemeral answers are not in the channel


async def test_autocomplete_and_a_deferred_answer(dc: FakeDiscord) -> None:
    client = make_client()
    tree = news_tree(client, [])
    async with running_client(dc, client):
        await tree.sync()
        payload = dc.autocomplete_interaction("ask", {"question": "why", "card": "Chip"}, "card")
        completion = await dc.interact(payload)
        asked = await dc.interact(dc.command_interaction("ask", {"question": "why?"}))
        await dc.wait_until(lambda: bool(asked.followups))

    assert completion.callback is not None and completion.callback.type == 8
    assert completion.callback.data["choices"] == [
        {"name": "Chip export rules", "value": "Chip export rules"}
    ]
    assert asked.callback is not None and asked.callback.type == 5  # deferred, "thinking"
    assert asked.original is not None
    assert asked.original.content == "About None: why? @everyone"
    assert asked.original.pings == [] and dc.pings == 0
    assert asked.followups[0].ephemeral and asked.followups[0].source == "followup"


async def test_an_answer_after_the_deadline_is_an_unknown_interaction(dc: FakeDiscord) -> None:
    dc.interaction_deadline = 0.05
    errors: list[BaseException] = []
    client = make_client()
    tree = app_commands.CommandTree(client)

    @tree.command(name="slow", description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.1)
        try:
            await interaction.response.send_message("late")
        except discord.NotFound as e:
            errors.append(e)

    async with running_client(dc, client):
        await tree.sync()
        interaction = await dc.interact(dc.command_interaction("slow"))

    assert interaction.callback is None and interaction.late_callbacks == 1
    assert isinstance(errors[0], discord.NotFound) and errors[0].code == 10062


# -- components after a restart -------------------------------------------------------------


class WhyButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"card:(?P<id>\d+):why"):
    def __init__(self, card_id: int) -> None:
        button: discord.ui.Button[Any] = discord.ui.Button(
            label="Why it matters", custom_id=f"card:{card_id}:why"
        )
        super().__init__(button)
        self.card_id = card_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> WhyButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Why card {self.card_id} matters", ephemeral=True)


class FaqView(discord.ui.View):
    """A persistent view: no timeout, every item has a custom_id."""

    def __init__(self, card_id: int) -> None:
        super().__init__(timeout=None)
        self.faq: discord.ui.Select[FaqView] = discord.ui.Select(
            custom_id=f"card:{card_id}:faq",
            placeholder="FAQ",
            options=[
                discord.SelectOption(label=q, value=str(i)) for i, q in enumerate(["Who?", "When?"])
            ],
        )
        self.faq.callback = self.answer  # type: ignore[method-assign]
        self.add_item(self.faq)

    async def answer(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"FAQ answer {self.faq.values[0]}", ephemeral=True)


async def test_components_work_after_a_restart(dc: FakeDiscord) -> None:
    first = make_client()
    async with running_client(dc, first):
        view = FaqView(42)
        view.add_item(WhyButton(42))
        view.add_item(discord.ui.Button(label="Read article", url="https://example.com/a"))
        channel = first.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("card 42", view=view, allowed_mentions=discord.AllowedMentions.none())

    card = dc.channel_messages(dc.news.id)[0]
    rows = card.body["components"]
    assert [c["custom_id"] for c in rows[0]["components"]] == ["card:42:faq"]
    assert rows[1]["components"][1] == {
        "type": 2, "style": 5, "label": "Read article", "url": "https://example.com/a",
        "disabled": False,
    }  # fmt: skip

    second = make_client()  # the bot restarted: a new process knows only what it registers
    second.add_dynamic_items(WhyButton)
    second.add_view(FaqView(42))
    async with running_client(dc, second):
        why = await dc.interact(dc.component_interaction("card:42:why"))
        faq = await dc.interact(dc.component_interaction("card:42:faq", values=["1"]))

    assert why.callback is not None and why.callback.content == "Why card 42 matters"
    assert why.callback.ephemeral
    assert faq.callback is not None and faq.callback.content == "FAQ answer 1"
    assert len(dc.gateway.identifies) == 2


# -- posting messages ------------------------------------------------------------------------


async def test_send_with_embed_no_mentions_and_an_enforced_nonce(dc: FakeDiscord) -> None:
    client = make_client()
    embed = discord.Embed(title="Chip rules", url="https://example.com/a", description="S.")
    embed.add_field(name="Why it matters", value="Because.").set_footer(text="Wire · AI summary")
    async with running_client(dc, client):
        channel = client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        none = discord.AllowedMentions.none()
        sent = await channel.send(
            "@everyone <@&1>", embed=embed, allowed_mentions=none, nonce="c42"
        )
        again = await channel.send(
            "@everyone <@&1>", embed=embed, allowed_mentions=none, nonce="c42"
        )
        other = await channel.send("hi", allowed_mentions=none)
        with pytest.raises(TypeError):  # discord.py 2.7 has no enforce_nonce argument
            await channel.send("hi", enforce_nonce=True)  # type: ignore[call-arg]

    assert sent.id == again.id and dc.nonce_replays == 1
    assert len(dc.channel_messages(dc.news.id)) == 2
    body = dc.channel_messages(dc.news.id)[0].body
    assert body["nonce"] == "c42" and body["enforce_nonce"] is True
    assert body["allowed_mentions"] == {"parse": []}
    assert body["embeds"][0]["fields"] == [
        {"name": "Why it matters", "value": "Because.", "inline": True}
    ]
    # discord.py 2.7 sends a random nonce with enforce_nonce on every send.
    assert dc.message(other.id).body["enforce_nonce"] is True  # type: ignore[union-attr]
    assert dc.pings == 0


async def test_messages_that_would_ping_are_counted(dc: FakeDiscord) -> None:
    client = make_client()
    async with running_client(dc, client):
        channel = client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("@everyone look")  # no allowed_mentions: everything parses
        await channel.send(
            f"<@{dc.admin.id}>", allowed_mentions=discord.AllowedMentions(users=False)
        )
        await channel.send(
            f"<@&{dc.moderators.id}>", allowed_mentions=discord.AllowedMentions.none()
        )

    quiet = make_client(allowed_mentions=discord.AllowedMentions.none())  # the default for all
    async with running_client(dc, quiet):
        channel = quiet.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        await channel.send(f"@here <@{dc.admin.id}>")

    assert [m.pings for m in dc.channel_messages(dc.news.id)] == [["@everyone"], [], [], []]
    assert dc.pings == 1


async def test_threads_edits_and_deletes(dc: FakeDiscord) -> None:
    client = make_client()
    async with running_client(dc, client):
        channel = client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        card = await channel.send("card")
        thread = await card.create_thread(name="Ask about: card")
        await thread.send("answer", allowed_mentions=discord.AllowedMentions.none())
        await card.edit(content="card (updated)")
        await card.delete()
        with pytest.raises(discord.NotFound) as gone:
            await channel.fetch_message(card.id)

    assert thread.id == card.id and dc.threads_created[0].parent_id == dc.news.id
    assert [m.content for m in dc.channel_messages(thread.id)] == ["answer"]
    assert dc.message(card.id).edits[0]["content"] == "card (updated)"  # type: ignore[union-attr]
    assert gone.value.code == 10008


# -- errors ----------------------------------------------------------------------------------


async def test_invalid_form_bodies(dc: FakeDiscord) -> None:
    client = make_client()
    async with running_client(dc, client):
        channel = client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        huge = discord.Embed(title="t" * 256, description="d" * 4096)
        for i in range(2):
            huge.add_field(name=f"f{i}", value="v" * 1024)
        with pytest.raises(discord.HTTPException) as too_big:
            await channel.send(embed=huge)  # 6,406 characters in all
        with pytest.raises(discord.HTTPException) as long_title:
            await channel.send(embed=discord.Embed(title="t" * 257))
        with pytest.raises(discord.HTTPException) as long_content:
            await channel.send("x" * 2001)
        with pytest.raises(discord.HTTPException) as long_nonce:
            await channel.send("x", nonce="n" * 26)  # Discord: at most 25 characters

    assert too_big.value.status == 400 and too_big.value.code == 50035
    assert "Embed size exceeds maximum size of 6000" in too_big.value.text
    assert "embeds.0.title" in long_title.value.text
    assert "Must be 2000 or fewer in length." in long_content.value.text
    assert "In nonce: Must be 25 or fewer in length." in long_nonce.value.text
    assert dc.channel_messages(dc.news.id) == []


async def test_deleted_channel_404_and_missing_access_403(dc: FakeDiscord) -> None:
    client = make_client()
    async with running_client(dc, client):
        news, general = client.get_channel(dc.news.id), client.get_channel(dc.general.id)
        assert isinstance(news, discord.TextChannel) and isinstance(general, discord.TextChannel)
        dc.delete_channel(dc.news.id)
        with pytest.raises(discord.NotFound) as deleted:
            await news.send("card")
        dc.fail_next(dc.general.id, missing_access())
        with pytest.raises(discord.Forbidden) as forbidden:
            await general.send("card")
        dc.fail_next("POST /channels/{id}/messages", unknown_channel())
        with pytest.raises(discord.NotFound):
            await general.send("card")
        await general.send("card")  # the injected failures are used up

    assert (deleted.value.status, deleted.value.code) == (404, 10003)
    assert (forbidden.value.status, forbidden.value.code) == (403, 50001)


async def test_discord_py_retries_429_by_itself(dc: FakeDiscord) -> None:
    """discord.py sleeps ``retry_after`` and retries, up to 5 tries in all, inside ``send``:
    an adapter must not add a second retry layer on top."""
    client = make_client()
    async with running_client(dc, client):
        channel = client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        dc.fail_next("POST /channels/*/messages", rate_limited(0.05), times=2)
        started = time.monotonic()
        await channel.send("card")
        took = time.monotonic() - started
        dc.fail_next("POST /channels/*/messages", rate_limited(0.01, is_global=True), times=5)
        with pytest.raises(discord.HTTPException) as exhausted:
            await channel.send("card")
        dc.fail_next("POST /channels/*/messages", rate_limited(0.01, via=False))
        with pytest.raises(discord.HTTPException) as banned:
            await channel.send("card")

    statuses = [r.status for r in dc.requests_to("POST", "/channels/*/messages")]
    assert statuses == [429, 429, 200, 429, 429, 429, 429, 429, 429]
    assert took >= 0.1
    assert exhausted.value.status == 429  # after five 429s discord.py gives up
    assert banned.value.status == 429  # no Via header: taken for a Cloudflare ban, no retry


async def test_max_ratelimit_timeout_turns_long_waits_into_rate_limited(dc: FakeDiscord) -> None:
    client = make_client(max_ratelimit_timeout=30.0)  # discord.py's minimum is 30 s
    async with running_client(dc, client):
        channel = client.get_channel(dc.news.id)
        assert isinstance(channel, discord.TextChannel)
        dc.fail_next(dc.news.id, rate_limited(60.0))
        with pytest.raises(discord.RateLimited) as limited:
            await channel.send("card")
    assert limited.value.retry_after == 60.0
    assert len(dc.requests_to("POST", "/channels/*/messages")) == 1


# -- the wire, without discord.py -----------------------------------------------------------


async def test_rest_rules_on_the_wire(dc: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {DEFAULT_TOKEN}"}
    url = f"{dc.api_base}/channels/{dc.news.id}/messages"
    row = {"type": 1, "components": [{"type": 2, "style": 1, "label": "x", "custom_id": "c" * 101}]}
    link = {"type": 2, "style": 5, "label": "Read", "url": "https://e.x/a", "custom_id": "a"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{dc.api_base}/users/@me") as anonymous:
            assert anonymous.status == 401
            assert anonymous.headers["Content-Type"] == "application/json"
        async with http.post(url, json={"content": "x", "components": [row]}, headers=auth) as r:
            errors = (await r.json())["errors"]
            assert errors["components"]["0"]["components"]["0"]["custom_id"]
        six_rows = [{"type": 1, "components": [link | {"custom_id": None}]}] * 6
        async with http.post(url, json={"components": six_rows}, headers=auth) as r:
            assert "components" in (await r.json())["errors"]
        body = {"components": [{"type": 1, "components": [link]}]}
        async with http.post(url, json=body, headers=auth) as r:
            assert r.status == 400
        async with http.post(url, json={"content": ""}, headers=auth) as r:
            assert (await r.json())["code"] == 50006
        callback = f"{dc.api_base}/interactions/1/nope/callback"
        async with http.post(callback, json={"type": 4, "data": {"content": "x"}}) as r:
            assert (r.status, (await r.json())["code"]) == (404, 10062)
    assert dc.channel_messages(dc.news.id) == []


async def test_gateway_on_the_wire(dc: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{dc.gateway_url}?v=10&encoding=json") as ws:
            hello = await ws.receive_json()
            assert (hello["op"], hello["d"]["heartbeat_interval"]) == (10, 20)
            await ws.send_json({"op": 1, "d": None})
            assert (await ws.receive_json())["op"] == 11
            await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 1}})
            assert (await ws.receive()).type is aiohttp.WSMsgType.CLOSE
            assert ws.close_code == 4004

        url = f"{dc.gateway_url}?v=10&encoding=json&compress=zlib-stream"
        async with http.ws_connect(url) as ws:
            inflate = zlib.decompressobj()  # one stream for the whole connection
            frames = []
            await ws.send_json({"op": 2, "d": {"token": dc.token, "intents": 1}})
            for _ in range(3):
                data = await ws.receive_bytes()
                assert data.endswith(b"\x00\x00\xff\xff")  # Z_SYNC_FLUSH
                frames.append(json.loads(inflate.decompress(data)))
    assert [(f["op"], f["t"], f["s"]) for f in frames] == [
        (10, None, None),
        (0, "READY", 1),
        (0, "GUILD_CREATE", 2),
    ]
    assert frames[1]["d"]["resume_gateway_url"] == dc.gateway_url
    assert frames[1]["d"]["application"]["id"] == str(dc.application_id)
    members = frames[2]["d"]["members"]  # without GUILD_MEMBERS only the bot's own member
    assert [m["user"]["id"] for m in members] == [str(dc.bot.id)]
