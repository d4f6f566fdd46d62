"""What the chat commands do, for every platform: the adapters parse their platform's
messages and buttons, call these methods, and show the text they return (escaped for
their markup). Platform-neutral; plain text.

Every method raises only ``CommandError``, whose message is one line fit to show the person
who typed the command (it says what to do, with an example). Anything else escaping is a
bug the adapter logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

from bot.common.card_lists import as_read_by, card_text
from bot.common.text import cut
from digest.app import App
from digest.errors import (
    DigestError,
    DuplicateFeed,
    InputError,
    ModelError,
    NotFound,
    QuestionError,
)
from digest.languages import language_key
from digest.models import Answer, Card, Destination, Subscription
from digest.ports import Clock, SystemClock
from digest.service import DigestService
from digest.store.outbox import Outbox
from digest.subscription_text import delivery_text, filters_text
from digest.subscriptions import CardFilter, SubscriptionOptions

RECENT = 200  # cards looked at by /digest and searches (newest first)
# How each platform writes "/subscribe" with topics (Discord names its options).
_SUBSCRIBE_SYNTAX = {"discord": "/subscribe topics: {}"}
CARD_GONE = "This card is no longer available."


class CommandError(Exception):
    """A one-line message for the person who typed the command."""


@dataclass(frozen=True, slots=True)
class CommandInfo:
    name: str
    args: str
    description: str


# The commands in the order menus show them (Telegram's setMyCommands, /help).
COMMANDS = (
    CommandInfo("start", "", "What this bot does"),
    CommandInfo("help", "", "All commands"),
    CommandInfo("subscribe", "[topics…]", "Get news cards here (all topics, or some)"),
    CommandInfo("unsubscribe", "", "Stop getting news here"),
    CommandInfo("topics", "", "The topics you can choose"),
    CommandInfo("mode", "instant|digest", "Each card as it comes, or a daily digest"),
    CommandInfo("schedule", "HH:MM[,HH:MM] [Area/City] [days]", "When the digest comes"),
    CommandInfo("language", "[name]", "The language of your cards"),
    CommandInfo("digest", "", "The latest cards, now"),
    CommandInfo("ask", "question", "Ask about the latest card (or reply to a card)"),
    CommandInfo("sources", "", "The news feeds this bot reads"),
    CommandInfo("settings", "", "This chat's subscription, with buttons"),
    CommandInfo("addsource", "URL", "Add a news feed (operators)"),
)


class Commands:
    """The commands of one platform (``platform``: "telegram", "discord") over the core."""

    def __init__(
        self,
        service: DigestService,
        outbox: Outbox,
        platform: str,
        *,
        categories: tuple[str, ...] = (),
        clock: Clock | None = None,
        default_language: str | None = None,
    ) -> None:
        """``default_language``: ``DIGEST_LANGUAGE`` (a chat asking for it reads default cards)."""
        self.service = service
        self.outbox = outbox
        self.platform = platform
        self.categories = categories
        self._clock = clock or SystemClock()
        self._default_key = language_key(default_language)

    @classmethod
    def for_app(cls, app: App, platform: str) -> Commands:
        """The commands over a running app (what the adapters use)."""
        clock = SystemClock()
        return cls(
            app.service,
            Outbox(app.repo.engine, clock),
            platform,
            categories=tuple(app.settings.categories),
            clock=clock,
            default_language=app.settings.language,
        )

    # -- texts -------------------------------------------------------------------------------

    def subscribe_example(self, topics: str) -> str:
        """ "/subscribe Business Science" as this platform writes it."""
        return _SUBSCRIBE_SYNTAX.get(self.platform, "/subscribe {}").format(topics)

    @property
    def not_subscribed(self) -> str:
        return (
            "This chat has no subscription yet: start one with /subscribe (all topics),"
            f" or e.g. {self.subscribe_example('Business Science')}"
        )

    def start_text(self) -> str:
        return (
            "I follow news feeds, group articles about the same event into stories and write "
            "one card per story: a short AI summary, three key takeaways, why it matters and a "
            "small FAQ, with a link to the original.\n\n"
            "/subscribe to get cards here (all topics, or e.g. /subscribe Business Science), "
            "/mode digest for one daily digest instead, and reply to any card with a question "
            "to ask about it. /help lists everything."
        )

    def help_text(self) -> str:
        lines = [f"/{c.name} {c.args}".rstrip() + f" — {c.description}" for c in COMMANDS]
        lines.append("Reply to a card with a question to ask about it.")
        return "\n".join(lines)

    def topics_text(self) -> str:
        if not self.categories:
            return "Every story has a category; this bot has none configured, so all news comes."
        return (
            "Topics: " + ", ".join(self.categories) + ".\n"
            "Choose some, e.g. " + self.subscribe_example(" ".join(self.categories[:2]))
        )

    def sources_text(self, limit: int = 40) -> str:
        feeds = self.service.list_feeds()
        if not feeds:
            return "No news feeds yet."
        lines = [f"• {f.title or f.url} — {f.url}" for f in feeds[:limit]]
        if len(feeds) > limit:
            lines.append(f"… and {len(feeds) - limit} more")
        return f"{len(feeds)} news feeds:\n" + "\n".join(lines)

    def settings_text(self, dest: Destination) -> str:
        sub = self.subscription(dest)
        if sub is None:
            return self.not_subscribed
        return describe(sub, self._clock.now())

    # -- the chat's subscription ------------------------------------------------------------

    def subscription(self, dest: Destination) -> Subscription | None:
        try:
            return self.service.get_subscription(dest)
        except NotFound:
            return None

    def subscribe(
        self,
        dest: Destination,
        topics: str | None = None,
        *,
        mode: str | None = None,
        times: str | None = None,
        tz: str | None = None,
        days: str | None = None,
    ) -> str:
        """Subscribe the chat, or change and resume its subscription. ``topics`` blank or
        None = every topic for a new subscription, unchanged for an existing one."""
        topics = " ".join((topics or "").replace(",", " ").split()) or None
        options = SubscriptionOptions(
            topics=topics.split() if topics else None, mode=mode, times=times, tz=tz, days=days
        )
        existing = self.subscription(dest)
        with _user_errors(self.not_subscribed):
            if existing is None:
                sub = self.service.add_subscription(
                    dest.platform, dest.chat, thread=dest.thread or None, options=options
                )
                return "Subscribed. " + describe(sub, self._clock.now())
            sub = self.service.update_subscription(existing.id, options)
            if not sub.active:
                sub = self.service.resume_subscription(sub.id)
        return "Subscription updated. " + describe(sub, self._clock.now())

    def unsubscribe(self, dest: Destination) -> str:
        try:
            self.service.remove_subscription(dest)
        except NotFound:
            raise CommandError(
                "This chat has no subscription, so there is nothing to stop."
            ) from None
        return "Unsubscribed: no more news here. /subscribe brings it back."

    def set_mode(self, dest: Destination, text: str) -> str:
        word = text.strip().lower()
        if word not in ("instant", "digest"):
            raise CommandError(
                "Say /mode instant (each card as it comes) or /mode digest (one digest a day)."
            )
        return self._update(dest, SubscriptionOptions(mode=word))

    def set_schedule(self, dest: Destination, text: str) -> str:
        """ "HH:MM[,HH:MM] [Area/City] [days]": the digest's times (the mode becomes digest)."""
        words = text.split()
        if not words:
            raise CommandError(
                "Give digest times, e.g. /schedule 08:00 Europe/Berlin"
                " or /schedule 07:30,18:00 UTC mon-fri"
            )
        times, tz, days = words[0], None, []
        for word in words[1:]:
            if tz is None and ("/" in word or word.upper() in ("UTC", "GMT")):
                tz = word
            else:
                days.append(word)
        options = SubscriptionOptions(
            mode="digest", times=times, tz=tz, days=",".join(days) if days else None
        )
        return self._update(dest, options)

    def set_language(self, dest: Destination, text: str) -> str:
        word = " ".join(text.split())
        if not word:
            sub = self.subscription(dest)
            current = sub.spec.language if sub and sub.spec.language else "the default"
            return (
                f"Cards here are in {current} language."
                " Change it with e.g. /language German (or /language default)."
            )
        value = "" if word.lower() in ("default", "off", "none") else word
        return self._update(dest, SubscriptionOptions(language=value))

    def pause(self, dest: Destination, reason: str = "paused by a chat admin") -> str:
        with _user_errors(self.not_subscribed):
            self.service.pause_subscription(dest, reason)
        return "Paused: no news here until you resume."

    def resume(self, dest: Destination) -> str:
        with _user_errors(self.not_subscribed):
            sub = self.service.resume_subscription(dest)
        return "Resumed. " + describe(sub, self._clock.now())

    def destination_gone(self, dest: Destination, reason: str) -> None:
        """The bot was removed from the chat or blocked: stop sending there (silently when
        the chat had no subscription)."""
        with suppress(NotFound):
            self.service.pause_subscription(dest, reason)

    def move_chat(self, old_chat: str, new_chat: str) -> list[Subscription]:
        """A chat got a new id (a Telegram group became a supergroup)."""
        with _user_errors(self.not_subscribed):
            return self.service.move_subscription(self.platform, old_chat, new_chat)

    def _update(self, dest: Destination, options: SubscriptionOptions) -> str:
        existing = self.subscription(dest)
        if existing is None:
            raise CommandError(self.not_subscribed)
        with _user_errors(self.not_subscribed):
            sub = self.service.update_subscription(existing.id, options)
        return "Done. " + describe(sub, self._clock.now())

    # -- feeds -------------------------------------------------------------------------------

    async def add_source(self, url: str) -> str:
        if not url.strip():
            raise CommandError(
                "Give the feed's address, e.g. /addsource https://example.com/feed.xml"
            )
        try:
            feed = await self.service.add_feed(url)
        except DuplicateFeed:
            raise CommandError("That feed is already on the list.") from None
        except DigestError as e:  # a bad address, an unreachable server, not a feed
            raise CommandError(f"Could not add it: {_one_line(e)}") from None
        return f"Added {feed.title or feed.url}: its news arrives within the next poll."

    # -- cards -------------------------------------------------------------------------------

    def card(self, card_id: int) -> Card | None:
        try:
            return self.service.get_card(card_id)
        except NotFound:
            return None

    def latest_cards(self, dest: Destination | None, limit: int = 5) -> list[Card]:
        """The newest cards; when the chat has a subscription, its topics and keywords
        applied and each card in its language where the story has a card in it (what
        delivery sends), newest first."""
        cards = self.service.list_cards(RECENT)
        sub = self.subscription(dest) if dest is not None else None
        if sub is None:
            return cards[:limit]
        # Topics are judged on the default card's category, as delivery judges them, so
        # only the cards of the chat's topics are looked up in its language.
        topics = CardFilter.build(sub.spec.categories, (), ())
        cards = [c for c in cards if topics.matches(card_text(c))]
        wanted = CardFilter.of(sub.spec)
        shown = [
            card
            for card, text in as_read_by(self.service, self._default_key, sub, cards)
            if wanted.matches(text)
        ]
        return shown[:limit]

    def search_cards(
        self, query: str, limit: int = 10, *, dest: Destination | None = None
    ) -> list[Card]:
        """Recent cards containing every word of ``query`` (as whole words); the newest
        cards when the query is blank. With ``dest``, each card in the language of that
        chat's subscription where the story has a card in it (the chat's topics are not
        applied: a search looks at every card). Telegram's inline queries come from no
        chat and pass none."""
        words = tuple(" ".join(query.split()).casefold().split())[:10]
        sub = self.subscription(dest) if dest is not None else None
        found = as_read_by(self.service, self._default_key, sub, self.service.list_cards(RECENT))
        if words:
            every = [CardFilter.build((), (w,), ()) for w in words]
            found = [(c, text) for c, text in found if all(f.matches(text) for f in every)]
        return [card for card, _ in found[:limit]]

    def card_for_message(self, dest: Destination, message_id: str | int) -> Card | None:
        """The card shown by a message the bot posted in the chat (a reply to it asks
        about that card); ``None`` for other messages."""
        card_id = self.outbox.card_for_message(self.platform, dest.chat, str(message_id))
        return self.card(card_id) if card_id is not None else None

    def latest_card_in(self, dest: Destination) -> Card | None:
        # In a thread (a forum topic), only what was delivered there: another topic's card
        # would be the wrong one to answer about.
        card_id = self.outbox.latest_card_in(self.platform, dest.chat, dest.thread)
        return self.card(card_id) if card_id is not None else None

    async def ask(self, card_id: int, question: str, asker: str) -> Answer:
        """Answer a follow-up question about a card; ``asker`` identifies the person for
        the hourly question limit (e.g. "telegram:123")."""
        try:
            return await self.service.ask(card_id, question, asker)
        except NotFound:
            raise CommandError(CARD_GONE) from None
        except (QuestionError, InputError) as e:
            raise CommandError(_one_line(e)) from None
        except ModelError:
            raise CommandError(
                "I cannot answer questions right now; please try again later."
            ) from None


def describe(sub: Subscription, now: datetime) -> str:
    """A subscription in two short sentences, for a chat."""
    spec = sub.spec
    parts = [f"Topics: {filters_text(sub)}.", f"Delivery: {delivery_text(sub, now)}."]
    if spec.language:
        parts.append(f"Language: {spec.language}.")
    if not sub.active:
        parts.append(f"Paused: {sub.paused_reason or 'paused'}.")
    return " ".join(parts)


def _one_line(error: Exception) -> str:
    return cut(" ".join(str(error).split()) or type(error).__name__, 300)


@contextmanager
def _user_errors(missing: str) -> Iterator[None]:
    """Turns the core's input errors into ``CommandError``."""
    try:
        yield
    except NotFound:
        raise CommandError(missing) from None
    except InputError as e:
        raise CommandError(_one_line(e)) from None
