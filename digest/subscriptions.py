"""Subscriptions as people type them, and which cards they want.

``apply_options`` turns raw input (the ``digest subs`` CLI, a chat command) into a checked
``SubscriptionSpec``; every bad value raises ``InvalidSubscription`` (an ``InputError``) with
one line saying what is accepted. ``CardFilter`` decides whether a card matches a
subscription; the fan-out and the digest enqueue (``digest.store.subscriptions``) call it
for thousands of subscriptions per card, so a card's words are split once (``CardText``)
and a plain keyword is a set lookup.

Keywords are text, never patterns: "c++" or "a.b" match those characters literally, as
whole words (not inside a longer word), case-insensitively, in a card's title, summary and
takeaways.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from digest.errors import InvalidSubscription
from digest.models import Destination, SubscriptionSpec
from digest.schedule_text import (
    check_schedule,
    parse_cron,
    parse_days,
    parse_quiet,
    parse_times,
    parse_timezone,
    schedule_from_times,
    simple_times,
)
from digest.schedules import DEFAULT_SCHEDULE
from digest.summarize.taxonomy import ALIASES

MODES = ("instant", "digest")
MAX_CARDS_LIMIT = 50
MAX_KEYWORDS = 50
MAX_KEYWORD_CHARS = 64
_ALL_TOPICS = {"all", "*", "any", "everything"}
_PLATFORM = re.compile(r"[a-z][a-z0-9_]{0,15}")
_ID = re.compile(r"\S{1,64}")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class SubscriptionOptions:
    """What a person asked for, as typed; ``None`` = not given (the default when adding,
    unchanged when updating). Lists are comma-separated text or sequences of text.

    ``times``/``days`` and ``cron`` are two ways to give a digest schedule (not both);
    ``tz`` is the IANA zone that the schedule and the quiet hours are read in; ``quiet`` is
    "22:00-07:00" or "off"; ``topics`` "all" means every category.
    """

    label: str | None = None
    topics: str | Sequence[str] | None = None
    include: str | Sequence[str] | None = None
    exclude: str | Sequence[str] | None = None
    mode: str | None = None
    times: str | None = None
    days: str | None = None
    cron: str | None = None
    tz: str | None = None
    max_cards: int | str | None = None
    language: str | None = None
    quiet: str | None = None


def parse_destination(platform: str, chat: str, thread: str | None = None) -> Destination:
    """A checked destination. Raises ``InvalidSubscription``."""
    name = platform.strip().lower()
    if not _PLATFORM.fullmatch(name):
        raise InvalidSubscription(f"bad platform {platform!r}: e.g. telegram or discord")
    chat_id = str(chat).strip()
    if not _ID.fullmatch(chat_id):
        raise InvalidSubscription(f"bad chat id {chat!r}: one word of at most 64 characters")
    thread_id = str(thread).strip() if thread is not None else ""
    if thread_id and not _ID.fullmatch(thread_id):
        raise InvalidSubscription(f"bad thread id {thread!r}: one word of at most 64 characters")
    return Destination(name, chat_id, thread_id)


def apply_options(
    base: SubscriptionSpec,
    options: SubscriptionOptions,
    *,
    categories: Sequence[str],
    now: datetime,
) -> SubscriptionSpec:
    """``base`` with ``options`` applied and checked: a new subscription starts from
    ``SubscriptionSpec(destination)``, an update from the stored spec. ``categories`` is the
    configured taxonomy; ``now`` checks that a schedule fires. Raises ``InvalidSubscription``.
    """
    spec = base
    if options.label is not None:
        spec = replace(spec, label=" ".join(options.label.split())[:200] or None)
    if options.topics is not None:
        spec = replace(spec, categories=parse_topics(options.topics, categories))
    if options.include is not None:
        spec = replace(spec, include_keywords=parse_keywords(options.include, "include"))
    if options.exclude is not None:
        spec = replace(spec, exclude_keywords=parse_keywords(options.exclude, "exclude"))
    if options.mode is not None:
        spec = replace(spec, mode=parse_mode(options.mode))
    if options.max_cards is not None:
        spec = replace(spec, max_cards=parse_max_cards(options.max_cards))
    if options.language is not None:
        spec = replace(spec, language=parse_language(options.language))
    if options.quiet is not None:
        quiet = parse_quiet(options.quiet)
        spec = replace(spec, quiet_start=quiet[0] if quiet else None)
        spec = replace(spec, quiet_end=quiet[1] if quiet else None)
    if options.tz is not None:
        spec = replace(spec, timezone=parse_timezone(options.tz))
    return _apply_schedule(spec, options, now)


def _apply_schedule(
    spec: SubscriptionSpec, options: SubscriptionOptions, now: datetime
) -> SubscriptionSpec:
    if options.cron is not None and (options.times is not None or options.days is not None):
        raise InvalidSubscription("give either --times/--days or --cron, not both")
    if options.cron is not None:
        return replace(spec, schedule=parse_cron(options.cron, spec.timezone, now))
    if options.times is not None or options.days is not None:
        current = simple_times(spec.schedule) or simple_times(DEFAULT_SCHEDULE)
        assert current is not None
        if simple_times(spec.schedule) is None and options.times is None:
            raise InvalidSubscription("the schedule is a cron expression: give --times with --days")
        times = parse_times(options.times) if options.times is not None else current[0]
        days = parse_days(options.days) if options.days is not None else current[1]
        schedule = schedule_from_times(times, days)
        check_schedule(schedule, spec.timezone, now)
        return replace(spec, schedule=schedule)
    if options.tz is not None:
        check_schedule(spec.schedule, spec.timezone, now)
    return spec


def _split(value: str | Sequence[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return [" ".join(item.split()) for item in items if item.strip()]


def parse_topics(value: str | Sequence[str], categories: Sequence[str]) -> tuple[str, ...]:
    """Topic names as the taxonomy spells them; "all" gives () (every category). Common
    other names (tech, politics, ...) stand for their configured category."""
    names = _split(value)
    valid = ", ".join(categories)
    if not names:
        raise InvalidSubscription(f"give at least one topic, or all; topics: {valid}")
    if len(names) == 1 and names[0].casefold() in _ALL_TOPICS:
        return ()
    by_key = {c.casefold(): c for c in categories}
    chosen: list[str] = []
    unknown: list[str] = []
    for name in names:
        key = name.casefold()
        found = by_key.get(key) or by_key.get(ALIASES.get(key, "").casefold())
        if found is None:
            unknown.append(name)
        elif found not in chosen:
            chosen.append(found)
    if unknown:
        raise InvalidSubscription(f"unknown topic {', '.join(map(repr, unknown))}; topics: {valid}")
    return tuple(chosen)


def parse_keywords(value: str | Sequence[str], which: str) -> tuple[str, ...]:
    """Distinct keywords (or phrases), whitespace tidied; "" gives () (none)."""
    words: list[str] = []
    seen: set[str] = set()
    for word in _split(value):
        if len(word) > MAX_KEYWORD_CHARS:
            raise InvalidSubscription(
                f"{which} keyword too long (at most {MAX_KEYWORD_CHARS} characters): {word[:20]!r}…"
            )
        if word.casefold() not in seen:
            seen.add(word.casefold())
            words.append(word)
    if len(words) > MAX_KEYWORDS:
        raise InvalidSubscription(f"at most {MAX_KEYWORDS} {which} keywords")
    return tuple(words)


def parse_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in MODES:
        raise InvalidSubscription(f"mode must be instant or digest, not {value!r}")
    return mode


def parse_max_cards(value: int | str) -> int:
    text = str(value).strip()
    if not re.fullmatch(r"-?\d+", text) or not 1 <= int(text) <= MAX_CARDS_LIMIT:
        raise InvalidSubscription(
            f"max cards must be a whole number from 1 to {MAX_CARDS_LIMIT}, not {value!r}"
        )
    return int(text)


def parse_language(value: str) -> str | None:
    text = " ".join(value.split())
    if len(text) > 64 or any(not (ch.isalnum() or ch in " -_") for ch in text):
        raise InvalidSubscription(f"bad language {value!r}: a name or code such as German or de")
    return text or None


# -- which cards a subscription wants -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardText:
    """A card as the filters see it: its category and its words, case-folded once."""

    category: str
    text: str
    words: frozenset[str]

    @classmethod
    def of(cls, *, title: str, category: str, summary: str, takeaways: Iterable[str]) -> CardText:
        text = "\n".join([title, summary, *takeaways]).casefold()
        return cls(category.casefold(), text, frozenset(_WORD.findall(text)))


@dataclass(frozen=True, slots=True)
class CardFilter:
    """A subscription's topics and keywords: a card matches when its category is one of
    the topics (no topics = all), at least one include keyword is in it (when there are
    any) and no exclude keyword is."""

    categories: frozenset[str] = frozenset()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    @classmethod
    def of(cls, spec: SubscriptionSpec) -> CardFilter:
        return cls.build(spec.categories, spec.include_keywords, spec.exclude_keywords)

    @classmethod
    def build(
        cls, categories: Iterable[str], include: Iterable[str], exclude: Iterable[str]
    ) -> CardFilter:
        """From stored lists (the store reads them as plain columns)."""
        return cls(
            frozenset(c.casefold() for c in categories),
            tuple(k.casefold() for k in include),
            tuple(k.casefold() for k in exclude),
        )

    def matches(self, card: CardText) -> bool:
        if self.categories and card.category not in self.categories:
            return False
        if self.include and not any(_contains(card, k) for k in self.include):
            return False
        return not any(_contains(card, k) for k in self.exclude)


def _contains(card: CardText, keyword: str) -> bool:
    """``keyword`` (case-folded) as a whole word or phrase of the card."""
    if _WORD.fullmatch(keyword):  # the common case: one plain word, a set lookup
        return keyword in card.words
    return _phrase(keyword).search(card.text) is not None


@lru_cache(maxsize=4096)
def _phrase(keyword: str) -> re.Pattern[str]:
    # The keyword is escaped: it is text to find, never a pattern. Its words may be split
    # by any whitespace, and it may not start or end inside a longer word.
    body = r"\s+".join(re.escape(part) for part in keyword.split())
    return re.compile(rf"(?<!\w){body}(?!\w)")
