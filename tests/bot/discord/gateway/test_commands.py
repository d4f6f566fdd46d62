"""The Discord gateway's slash commands: the real ``DiscordPlatform`` (discord.py 2.7 client)
against the fake Discord, over a real app and SQLite database: login and command sync,
subscriptions with the Manage Channels check, and the ephemeral reading commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord.commands import NO_CARDS
from bot.discord.commands_access import NEEDS_MANAGE_CHANNELS
from bot.discord.commands_reply import SOMETHING_WRONG
from digest.app import App
from digest.models import Destination
from tests.bot.discord.gateway_world import (
    Bot,
    discord_settings,
    opened,
    running_bot,
)
from tests.support.deliveries import make_card
from tests.support.fake_discord import FakeDiscord, FakeInteraction

MANAGE_CHANNELS = str(1 << 4)

NOT_SUBSCRIBED_HERE = (
    "This chat has no subscription yet: start one with /subscribe (all topics),"
    " or e.g. /subscribe topics: Business Science"
)


def ephemeral_text(interaction: FakeInteraction) -> str:
    """The text of an ephemeral answer, given directly or filling in a deferral."""
    assert interaction.original is not None and interaction.original.ephemeral
    assert interaction.callback is not None and interaction.callback.ephemeral
    return interaction.original.content


# -- login and command sync -------------------------------------------------------------------


async def test_login_and_global_command_sync(bot: Bot) -> None:
    dc = bot.dc
    [(guild, synced)] = dc.command_syncs
    assert guild is None  # no DISCORD_GUILD_ID: global commands
    commands = {c["name"]: c for c in synced}
    assert set(commands) == {"subscribe", "unsubscribe", "topics", "settings", "digest", "ask"}
    assert commands["subscribe"]["default_member_permissions"] == MANAGE_CHANNELS
    assert commands["unsubscribe"]["default_member_permissions"] == MANAGE_CHANNELS
    for name in ("topics", "settings", "digest", "ask"):
        assert commands[name]["default_member_permissions"] is None
    for command in synced:
        assert command["contexts"] == [0]  # guild only
        assert 1 <= len(command["description"]) <= 100
    options = {o["name"]: o for o in commands["subscribe"]["options"]}
    assert list(options) == ["channel", "topics", "mode", "time", "timezone"]
    assert not any(o.get("required") for o in options.values())
    assert options["channel"]["type"] == 7 and options["channel"]["channel_types"] == [0, 5]
    assert [c["value"] for c in options["mode"]["choices"]] == ["instant", "digest"]
    assert options["timezone"]["autocomplete"] is True
    ask = {o["name"]: o for o in commands["ask"]["options"]}
    assert ask["question"]["required"] is True
    assert ask["card"]["autocomplete"] is True and not ask["card"].get("required")
    # the client: no privileged intent (message content), mentions parsed nowhere
    [identify] = dc.gateway.identifies
    assert not identify["intents"] & (1 << 15)
    assert identify["token"] == "[redacted]"
    assert bot.platform.client.user is not None and bot.platform.client.user.id == dc.bot.id


async def test_commands_sync_to_one_guild_when_configured(tmp_path: Path, dc: FakeDiscord) -> None:
    settings = discord_settings(tmp_path, dc, discord_guild_id=dc.guild.id)
    async with opened(settings) as app, running_bot(dc, app):
        pass
    [(guild, _)] = dc.command_syncs
    assert guild == dc.guild.id and dc.global_commands == []
    assert {c["name"] for c in dc.guild_commands[dc.guild.id]} >= {"subscribe", "ask"}


async def test_a_failed_sync_does_not_stop_the_gateway(
    app: App, dc: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    # e.g. a bot invited without the applications.commands scope
    dc.fail_next("PUT /applications/*/commands", 403, {"code": 50001, "message": "Missing Access"})
    async with running_bot(dc, app) as bot:
        assert bot.platform.client.is_ready()  # commands synced at an earlier start still work
        assert ephemeral_text(await bot.command("topics")).startswith("Topics: ")
    assert dc.command_syncs == []
    assert "could not sync the slash commands (403, code 50001)" in caplog.text


# -- subscriptions ---------------------------------------------------------------------------


async def test_an_admin_subscribes_the_channel(bot: Bot) -> None:
    dc = bot.dc
    answer = await bot.command(
        "subscribe",
        {
            "topics": "Business Science",
            "mode": "digest",
            "time": "08:00",
            "timezone": "Europe/Berlin",
        },
        user=dc.admin,
    )
    text = ephemeral_text(answer)
    assert text.startswith("Subscribed.") and "\n" not in text.strip()
    sub = bot.subscription(dc.news.id)
    assert sub is not None and sub.active
    assert sub.spec.categories == ("Business", "Science")
    assert sub.spec.mode == "digest" and sub.spec.timezone == "Europe/Berlin"
    assert dc.channel_messages(dc.news.id) == []  # nothing shown to the channel


async def test_a_member_without_manage_channels_is_refused(bot: Bot) -> None:
    dc = bot.dc
    answer = await bot.command("subscribe", {"topics": "Business"}, user=dc.member)
    assert ephemeral_text(answer) == NEEDS_MANAGE_CHANNELS
    assert bot.subscription(dc.news.id) is None
    await bot.command("subscribe", user=dc.admin)
    refused = await bot.command("unsubscribe", user=dc.member)
    assert ephemeral_text(refused) == NEEDS_MANAGE_CHANNELS
    assert bot.subscription(dc.news.id) is not None


async def test_subscribe_and_unsubscribe_another_channel(bot: Bot) -> None:
    dc = bot.dc
    answer = await bot.command("subscribe", {"channel": dc.general}, user=dc.admin)
    assert ephemeral_text(answer).startswith(f"<#{dc.general.id}>: Subscribed.")
    assert bot.subscription(dc.general.id) is not None
    assert bot.subscription(dc.news.id) is None
    gone = await bot.command("unsubscribe", {"channel": dc.general}, user=dc.admin)
    assert ephemeral_text(gone).startswith(f"<#{dc.general.id}>: Unsubscribed")
    assert bot.subscription(dc.general.id) is None


async def test_subscribing_in_a_thread_sends_cards_to_the_thread(bot: Bot) -> None:
    dc = bot.dc
    answer = await bot.command("subscribe", user=dc.admin, channel=dc.thread)
    assert ephemeral_text(answer).startswith("Subscribed.")
    sub = bot.subscription(dc.thread.parent_id or 0, str(dc.thread.id))
    assert sub is not None
    make_card(bot.app.repo, "Thread news")
    assert await bot.deliver() == 1
    [card] = dc.channel_messages(dc.thread.id)
    assert card.embeds[0]["title"] == "Thread news"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"time": "25:99"}, "25:99"),
        ({"topics": "Astrology"}, "Astrology"),
    ],
)
async def test_bad_input_gets_a_one_line_ephemeral_error(
    bot: Bot, options: dict[str, str], expected: str
) -> None:
    answer = await bot.command("subscribe", options, user=bot.dc.admin)
    text = ephemeral_text(answer)
    assert expected in text and "\n" not in text
    assert "Traceback" not in text and text != SOMETHING_WRONG
    assert bot.subscription(bot.dc.news.id) is None


async def test_timezone_autocomplete(bot: Bot) -> None:
    payload = bot.dc.autocomplete_interaction(
        "subscribe", {"timezone": "berl"}, "timezone", user=bot.dc.admin
    )
    answered = await bot.dc.interact(payload)
    assert answered.callback is not None and answered.callback.type == 8
    assert {"name": "Europe/Berlin", "value": "Europe/Berlin"} in answered.callback.data["choices"]


# -- reading commands --------------------------------------------------------------------------


async def test_topics_and_settings_are_ephemeral(bot: Bot) -> None:
    dc = bot.dc
    topics = ephemeral_text(await bot.command("topics"))
    assert topics.startswith("Topics: ") and "Business" in topics
    assert ephemeral_text(await bot.command("settings")) == NOT_SUBSCRIBED_HERE
    await bot.command("subscribe", {"topics": "Science"}, user=dc.admin)
    settings = ephemeral_text(await bot.command("settings"))
    assert "Science" in settings
    assert dc.channel_messages(dc.news.id) == []


async def test_digest_shows_the_latest_cards_to_the_asker_only(bot: Bot) -> None:
    dc = bot.dc
    assert ephemeral_text(await bot.command("digest")) == NO_CARDS
    first = make_card(bot.app.repo, "Central bank holds rates")
    second = make_card(bot.app.repo, "Chip export rules tightened")
    answer = await bot.command("digest")
    assert answer.original is not None and answer.original.ephemeral
    [embed] = answer.original.embeds
    assert embed["title"].startswith("Your news digest")
    # newest first, numbered, each with a button that opens the card
    assert embed["description"].index("Chip export") < embed["description"].index("Central bank")
    ids = [c["custom_id"] for row in answer.original.components for c in row["components"]]
    assert ids == [f"card:open:{second}", f"card:open:{first}"]
    assert dc.channel_messages(dc.news.id) == []
    opened_card = await bot.click(f"card:open:{first}", message=answer.original)
    assert opened_card.original is not None and opened_card.original.ephemeral
    assert opened_card.original.embeds[0]["title"] == "Central bank holds rates"


async def test_slow_database_work_is_deferred_then_filled_in(app: App, dc: FakeDiscord) -> None:
    async with running_bot(dc, app, defer_after=0.0) as bot:
        answer = await bot.command("settings")
    assert answer.callback is not None and answer.callback.type == 5  # "thinking"
    assert answer.callback.ephemeral
    assert answer.original is not None and answer.original.content == NOT_SUBSCRIBED_HERE


async def test_destination_of_a_channel_command(bot: Bot) -> None:
    await bot.command("subscribe", user=bot.dc.admin)
    sub = bot.app.service.get_subscription(Destination("discord", str(bot.dc.news.id)))
    assert sub.spec.destination == Destination("discord", str(bot.dc.news.id))
