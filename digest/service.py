"""The facade every adapter talks to: the CLI, the scheduler and the chat bots.

It holds no state of its own beyond its collaborators; every method is one user-visible
action. Errors come out as ``DigestError`` subclasses with messages fit to show a person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from digest.cardmaker import CardMaker
from digest.errors import BlockedAddress, DuplicateFeed, InputError, InvalidFeedUrl
from digest.ingest.identity import canonical_url
from digest.ingest.netguard import AddressPolicy, address_policy, check_url, is_blocked_ip
from digest.languages import language_key
from digest.models import Answer, Card, Feed, PollReport, Subscription, SubscriptionSpec
from digest.opml import parse_opml, to_opml
from digest.poller import Poller
from digest.ports import Clock, FeedParser, Fetcher
from digest.questions import QuestionDesk
from digest.sample_feeds import SAMPLE_PREFIX
from digest.store.ledger import DayUsage, Ledger
from digest.store.repository import Repository
from digest.store.subscriptions import SubscriptionRef, SubscriptionStore
from digest.subscriptions import SubscriptionOptions, apply_options, parse_destination

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: list[Feed] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


class DigestService:
    def __init__(
        self,
        *,
        repo: Repository,
        poller: Poller,
        cards: CardMaker,
        questions: QuestionDesk,
        ledger: Ledger,
        fetcher: Fetcher,
        parse: FeedParser,
        clock: Clock,
        subscriptions: SubscriptionStore,
        categories: Sequence[str],
        allow_private_networks: bool = False,
    ) -> None:
        self._clock = clock
        self.subscriptions = subscriptions
        self._categories = tuple(categories)
        self.repo = repo
        self._allow_private = allow_private_networks
        self._poller = poller
        self._cards = cards
        self._questions = questions
        self.ledger = ledger
        self._fetcher = fetcher
        self._parse = parse

    # -- feeds -------------------------------------------------------------------------

    async def add_feed(self, url: str, *, check: bool = True) -> Feed:
        """Subscribe to a feed. With ``check`` it is fetched once first, so a typo, a page
        that is not a feed, or an unreachable server is reported now and nothing is stored.

        Raises ``InvalidFeedUrl``, ``DuplicateFeed``, ``FetchError``, ``ParseError``.
        """
        url = self._normalize(url)
        title = None
        if check:
            result = await self._fetcher.fetch(url)
            parsed = self._parse(result.content, url=result.url, content_type=result.content_type)
            title = parsed.title
        return self.repo.add_feed(url, title)

    def add_feed_unchecked(self, url: str, title: str | None = None) -> Feed:
        """Subscribe without fetching (OPML import, the demo). Raises like ``add_feed``."""
        return self.repo.add_feed(self._normalize(url, allow_samples=True), title)

    def import_opml(self, data: bytes) -> ImportResult:
        """Add every feed of an OPML file; bad and duplicate entries are reported, not fatal.

        Raises ``OpmlError`` when the file itself cannot be read.
        """
        result = ImportResult()
        for item in parse_opml(data):
            try:
                result.added.append(self.repo.add_feed(self._normalize(item.url), item.title))
            except DuplicateFeed:
                result.duplicates.append(item.url)
            except (InputError, BlockedAddress) as e:  # one bad line must not stop the rest
                result.invalid.append((item.url, str(e)))
        return result

    def export_opml(self) -> str:
        return to_opml(self.repo.list_feeds())

    def list_feeds(self) -> list[Feed]:
        return self.repo.list_feeds()

    def remove_feed(self, ref: str) -> Feed:
        return self.repo.remove_feed(self._feed_ref(ref))

    def enable_feed(self, ref: str) -> Feed:
        return self.repo.enable_feed(self._feed_ref(ref))

    def _normalize(self, url: str, *, allow_samples: bool = False) -> str:
        return normalize_feed_url(
            url,
            allow_samples=allow_samples,
            is_blocked=address_policy(self._allow_private),
        )

    def _feed_ref(self, ref: str) -> str | int:
        """A feed id, or a URL in its stored form."""
        ref = ref.strip()
        return int(ref) if ref.isdigit() else self._normalize(ref, allow_samples=True)

    # -- polling and cards -----------------------------------------------------------------

    async def poll(
        self,
        *,
        force: bool = False,
        feed_ids: Sequence[int] | None = None,
        on_start: Callable[[int], None] | None = None,
        on_feed_done: Callable[[PollReport], None] | None = None,
    ) -> list[PollReport]:
        """Poll due feeds (all with ``force``, only ``feed_ids`` when given); see
        ``digest.poller``."""
        return await self._poller.poll(
            force=force, feed_ids=feed_ids, on_start=on_start, on_feed_done=on_feed_done
        )

    async def make_cards(self, limit: int = 500) -> list[int]:
        """Write cards for stories that have none (oldest first, at most ``limit``); see
        ``digest.cardmaker``. Returns the new cards' ids."""
        return await self._cards.make_cards(limit)

    async def ask(self, card_id: int, question: str, asker: str) -> Answer:
        """Answer a reader's follow-up question about a card; see ``digest.questions``."""
        return await self._questions.ask(card_id, question, asker)

    def usage(self, days: int = 7) -> list[DayUsage]:
        """Model use per UTC day for the last ``days`` days, today included (``digest
        usage``)."""
        today = self._clock.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return self.ledger.usage_by_day(today - timedelta(days=days - 1))

    def list_cards(self, limit: int = 20) -> list[Card]:
        return self.repo.list_cards(limit)

    def cards_in_language(self, card_ids: Sequence[int], language: str | None) -> dict[int, Card]:
        """The cards a reader of ``language`` (as typed: "de", "German", "Deutsch"; or its
        ``digest.languages.language_key``) sees instead of the default cards ``card_ids``
        (from ``list_cards``): by default card id, the same story's card in that language,
        where one was made. Stories without one are left out: their reader gets the default
        card (delivery does the same once the translation is settled or overdue). ``None``
        or "" gives {}. A subscription that asked for the default language
        (``DIGEST_LANGUAGE``, which this facade does not know) reads the default cards: the
        caller skips the call for it. Called by the chat commands (``/digest``, card
        search)."""
        return self.repo.cards_in_language(card_ids, language_key(language))

    def get_card(self, card_id: int) -> Card:
        return self.repo.get_card(card_id)

    # -- subscriptions ---------------------------------------------------------------------

    def add_subscription(
        self,
        platform: str,
        chat: str,
        *,
        thread: str | None = None,
        options: SubscriptionOptions | None = None,
    ) -> Subscription:
        """Subscribe a chat (or a thread of it). ``options`` as typed by a person; unset ones
        take their defaults (instant, every topic, digest 08:00 daily UTC, 10 cards).

        Raises ``InvalidSubscription`` (bad input; one line saying what is accepted) and
        ``DuplicateSubscription`` (the destination has one: change it with
        ``update_subscription``).
        """
        base = SubscriptionSpec(destination=parse_destination(platform, chat, thread))
        spec = self._checked(base, options or SubscriptionOptions())
        return self.subscriptions.add(spec)

    def update_subscription(
        self, ref: SubscriptionRef, options: SubscriptionOptions
    ) -> Subscription:
        """Change mode, schedule, time zone, filters, ... (only the options given).
        Raises ``NotFound``, ``InvalidSubscription``."""
        current = self.subscriptions.get(ref)
        return self.subscriptions.update(current.id, self._checked(current.spec, options))

    def list_subscriptions(
        self, *, platform: str | None = None, chat: str | None = None
    ) -> list[Subscription]:
        return self.subscriptions.list_subscriptions(platform=platform, chat=chat)

    def get_subscription(self, ref: SubscriptionRef) -> Subscription:
        """Raises ``NotFound``."""
        return self.subscriptions.get(ref)

    def remove_subscription(self, ref: SubscriptionRef) -> Subscription:
        """Unsubscribe; its undelivered messages go too. Raises ``NotFound``."""
        return self.subscriptions.remove(ref)

    def pause_subscription(
        self, ref: SubscriptionRef, reason: str = "paused by a user"
    ) -> Subscription:
        """Stop sending (pending messages are dropped) and keep ``reason`` to show.
        Raises ``NotFound``."""
        return self.subscriptions.pause(ref, " ".join(reason.split())[:500] or "paused")

    def resume_subscription(self, ref: SubscriptionRef) -> Subscription:
        """Send again; a digest schedule restarts now. Raises ``NotFound``."""
        return self.subscriptions.resume(ref)

    def move_subscription(self, platform: str, old_chat: str, new_chat: str) -> list[Subscription]:
        """A chat got a new id (a Telegram group migrated to a supergroup): its subscriptions
        continue there. Returns them; [] when the old chat had none."""
        new = parse_destination(platform, new_chat)
        return self.subscriptions.move(new.platform, str(old_chat).strip(), new.chat)

    def enqueue_due_digests(self) -> int:
        """Enqueue every digest whose slot has come (the scheduler calls this every minute or
        so, in any number of processes). Returns how many were enqueued."""
        return self.subscriptions.enqueue_due_digests(self._clock.now())

    def _checked(self, base: SubscriptionSpec, options: SubscriptionOptions) -> SubscriptionSpec:
        return apply_options(base, options, categories=self._categories, now=self._clock.now())


def normalize_feed_url(
    url: str, *, allow_samples: bool = False, is_blocked: AddressPolicy = is_blocked_ip
) -> str:
    """The form a feed URL is stored in. Raises ``InvalidFeedUrl`` or ``BlockedAddress``
    (addresses are checked again, on the address connected to, at every fetch)."""
    url = url.strip()
    if not url:
        raise InvalidFeedUrl("give a feed URL, e.g. https://example.com/feed.xml")
    if allow_samples and url.startswith(SAMPLE_PREFIX):
        return url
    check_url(url, is_blocked=is_blocked)
    return canonical_url(url)
