"""The platform-neutral commands over a real app (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from bot.common.commands import COMMANDS, CommandError, Commands
from digest.app import App, open_app
from digest.config import Settings
from digest.models import Destination
from digest.store.tables import SentMessageRow
from digest.subscriptions import SubscriptionOptions
from tests.digest.store.test_subscriptions import draft, make_card
from tests.support.clock import FakeClock

HERE = Destination("telegram", "-100")


@pytest.fixture
async def app(db_settings: Settings) -> AsyncIterator[App]:
    clock = FakeClock(datetime(2026, 11, 29, 7, 0, tzinfo=UTC))
    async with open_app(db_settings, clock=clock) as opened:
        yield opened


@pytest.fixture
def commands(app: App) -> Commands:
    return Commands.for_app(app, "telegram")


def posted(app: App, chat: str, message_id: str, card_id: int | None) -> None:
    with Session(app.repo.engine) as s, s.begin():
        s.add(
            SentMessageRow(
                platform="telegram",
                chat=chat,
                message_id=message_id,
                card_id=card_id,
                created_at=datetime.now(UTC),
            )
        )


def test_help_lists_every_command(commands: Commands) -> None:
    text = commands.help_text()
    assert all(f"/{c.name}" in text for c in COMMANDS)
    assert "/subscribe" in commands.start_text()


def test_subscribe_change_pause_resume_unsubscribe(commands: Commands) -> None:
    assert "no subscription" in commands.settings_text(HERE)
    assert commands.subscribe(HERE, "business, science").startswith("Subscribed.")
    sub = commands.subscription(HERE)
    assert sub is not None and sub.spec.categories == ("Business", "Science")

    assert "digest" in commands.set_mode(HERE, "DIGEST")
    said = commands.set_schedule(HERE, "07:30,18:00 europe/berlin mon-fri")
    sub = commands.subscription(HERE)
    assert sub is not None and sub.spec.timezone == "Europe/Berlin" and sub.mode == "digest"
    assert "Europe/Berlin" in said and "07:30" in said

    assert "Paused" in commands.pause(HERE)
    again = commands.subscribe(HERE)  # subscribing again resumes and keeps the topics
    sub = commands.subscription(HERE)
    assert again.startswith("Subscription updated") and sub is not None and sub.active
    assert sub.spec.categories == ("Business", "Science")

    assert "German" in commands.set_language(HERE, "German")
    assert "German" in commands.set_language(HERE, "")
    commands.set_language(HERE, "default")
    assert commands.subscription(HERE).spec.language is None  # type: ignore[union-attr]

    assert "Unsubscribed" in commands.unsubscribe(HERE)
    with pytest.raises(CommandError, match="nothing to stop"):
        commands.unsubscribe(HERE)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.subscribe(HERE, "Gardening"), "unknown topic"),
        (lambda c: c.set_mode(HERE, "sometimes"), "/mode instant"),
        (lambda c: c.set_schedule(HERE, ""), "e.g. /schedule 08:00"),
        (lambda c: c.set_schedule(HERE, "25:00"), "impossible time"),
        (lambda c: c.set_schedule(HERE, "08:00 Mars/Olympus"), "unknown time zone"),
        (lambda c: c.set_schedule(HERE, "08:00 UTC someday"), "day"),
        (lambda c: c.set_language(HERE, "<b>"), "bad language"),
    ],
)
def test_bad_input_is_one_line_with_what_to_do(commands: Commands, call, message: str) -> None:  # type: ignore[no-untyped-def]
    if "subscribe" not in message and "topic" not in message:
        commands.subscribe(HERE)
    with pytest.raises(CommandError) as raised:
        call(commands)
    text = str(raised.value)
    assert message.lower() in text.lower() and "\n" not in text


def test_changing_a_chat_without_a_subscription_says_how_to_start(commands: Commands) -> None:
    for call in (
        lambda: commands.set_mode(HERE, "digest"),
        lambda: commands.pause(HERE),
        lambda: commands.resume(HERE),
    ):
        with pytest.raises(CommandError, match="/subscribe"):
            call()


def test_a_removed_bot_pauses_the_chat_and_a_migrated_chat_keeps_it(commands: Commands) -> None:
    commands.destination_gone(HERE, "the bot was removed")  # no subscription: nothing to do
    commands.subscribe(HERE)
    commands.destination_gone(HERE, "the bot was removed")
    sub = commands.subscription(HERE)
    assert sub is not None and not sub.active and sub.paused_reason == "the bot was removed"
    moved = commands.move_chat("-100", "-100999")
    assert [s.destination.chat for s in moved] == ["-100999"]
    assert commands.subscription(HERE) is None


def test_latest_cards_follow_the_chats_topics_and_search_finds_words(
    app: App, commands: Commands
) -> None:
    rally = make_card(app.repo, "Markets rally on chip news", category="Business")
    storm = make_card(app.repo, "Storm hits the coast", category="World")
    assert [c.id for c in commands.latest_cards(HERE)] == [storm, rally]
    commands.subscribe(HERE, "Business")
    assert [c.id for c in commands.latest_cards(HERE)] == [rally]
    assert [c.id for c in commands.search_cards("CHIP markets")] == [rally]
    assert commands.search_cards("chip storm") == []
    assert [c.id for c in commands.search_cards("  ")] == [storm, rally]


def test_a_reply_finds_its_card_and_ask_without_one_takes_the_latest(
    app: App, commands: Commands
) -> None:
    first = make_card(app.repo, "First story")
    second = make_card(app.repo, "Second story")
    assert commands.latest_card_in(HERE) is None
    posted(app, "-100", "11", first)
    posted(app, "-100", "12", second)
    posted(app, "-100", "13", None)  # a digest: several cards
    found = commands.card_for_message(HERE, 11)
    assert found is not None and found.id == first
    assert commands.card_for_message(HERE, 13) is None
    assert commands.card_for_message(Destination("telegram", "-200"), 11) is None
    latest = commands.latest_card_in(HERE)
    assert latest is not None and latest.id == second
    assert commands.card(10**9) is None


async def test_ask_answers_and_turns_core_errors_into_one_line(
    app: App, commands: Commands
) -> None:
    card_id = make_card(app.repo, "Markets rally")
    answer = await commands.ask(card_id, "Why does this matter?", "telegram:1")
    assert answer.method == "why_it_matters" and answer.text
    with pytest.raises(CommandError, match="no longer available"):
        await commands.ask(10**9, "why?", "telegram:1")
    with pytest.raises(CommandError, match=r"e\.g\."):
        await commands.ask(card_id, "   ", "telegram:1")
    with pytest.raises(CommandError, match="at most"):
        await commands.ask(card_id, "why " * 200, "telegram:1")


async def test_add_source_explains_a_bad_address(commands: Commands) -> None:
    with pytest.raises(CommandError, match=r"e\.g\. /addsource"):
        await commands.add_source("  ")
    with pytest.raises(CommandError, match="Could not add it"):
        await commands.add_source("not a url")
    with pytest.raises(CommandError, match="Could not add it"):
        await commands.add_source("http://127.0.0.1/feed.xml")  # private address


def test_sources_and_topics(app: App, commands: Commands) -> None:
    assert commands.sources_text() == "No news feeds yet."
    app.service.add_feed_unchecked("https://news.example.com/feed.xml", "Example News")
    assert "Example News — https://news.example.com/feed.xml" in commands.sources_text()
    assert "Business" in commands.topics_text()


def test_a_german_chat_reads_its_german_cards_where_there_are_some(
    app: App, commands: Commands
) -> None:
    summary = "Chipmakers led the gains. Shares rose."
    rally = make_card(app.repo, "Markets rally on chip news", category="Business", summary=summary)
    storm = make_card(app.repo, "Storm hits the coast", category="World")
    german_text = replace(draft(summary="Die Aktien stiegen. Die Märkte zogen an."), language="de")
    rally_de = app.repo.save_card(app.repo.get_card(rally).story_id, german_text, lang_key="de")
    assert rally_de is not None
    commands.subscribe(HERE)
    assert [c.id for c in commands.latest_cards(HERE)] == [storm, rally]
    commands.set_language(HERE, "Deutsch")
    shown = commands.latest_cards(HERE)
    assert [c.id for c in shown] == [storm, rally_de]  # no German card of the storm: default
    assert shown[1].summary.startswith("Die Aktien")
    assert [c.id for c in commands.latest_cards(HERE, 1)] == [storm]
    assert [c.id for c in commands.latest_cards(None)] == [storm, rally]  # no chat: default

    sub = commands.subscription(HERE)
    assert sub is not None
    # Keywords are looked for in both cards' words, as delivery does.
    for include in ("aktien", "chipmakers"):
        app.service.update_subscription(sub.id, SubscriptionOptions(include=include))
        assert [c.id for c in commands.latest_cards(HERE)] == [rally_de]
    app.service.update_subscription(sub.id, SubscriptionOptions(include="", exclude="aktien"))
    assert [c.id for c in commands.latest_cards(HERE)] == [storm]
    app.service.update_subscription(sub.id, SubscriptionOptions(exclude="", topics="Business"))
    assert [c.id for c in commands.latest_cards(HERE)] == [rally_de]

    # A search shows the chat's language only when told the chat; words of either card count.
    assert [c.id for c in commands.search_cards("aktien", dest=HERE)] == [rally_de]
    assert [c.id for c in commands.search_cards("chip", dest=HERE)] == [rally_de]
    assert [c.id for c in commands.search_cards("", dest=HERE)] == [storm, rally_de]
    assert [c.id for c in commands.search_cards("chip")] == [rally]
    assert commands.search_cards("aktien") == []

    # German is the default language here: the chat reads the default cards.
    german_default = Commands(app.service, commands.outbox, "telegram", default_language="German")
    assert [c.id for c in german_default.latest_cards(HERE)] == [rally]
