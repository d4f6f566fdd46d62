"""Subscription input: what people type, what is stored, and which cards match (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.config import DEFAULT_CATEGORIES
from digest.errors import InputError, InvalidSubscription
from digest.models import Destination, SubscriptionSpec
from digest.schedule_text import describe_schedule, parse_cron, parse_days, parse_times
from digest.subscriptions import (
    CardFilter,
    CardText,
    SubscriptionOptions,
    apply_options,
    parse_destination,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BASE = SubscriptionSpec(destination=Destination("telegram", "-100123"))


def apply(**options: object) -> SubscriptionSpec:
    return apply_options(
        BASE,
        SubscriptionOptions(**options),  # type: ignore[arg-type]
        categories=DEFAULT_CATEGORIES,
        now=NOW,
    )


def test_defaults_are_instant_all_topics_08_00_daily_utc_10_cards() -> None:
    spec = apply()
    assert spec.mode == "instant" and spec.categories == ()
    assert spec.schedule == "0 8 * * *" and spec.timezone == "UTC" and spec.max_cards == 10
    assert describe_schedule(spec.schedule) == "08:00 daily"
    assert spec.quiet_start is None and spec.language is None


def test_a_full_digest_subscription() -> None:
    spec = apply(
        topics="business, tech,Science",
        include="AI, climate change",
        exclude="sponsored",
        mode="Digest",
        times="18:30,8:00",
        days="mon-fri",
        tz="europe/berlin",
        max_cards="25",
        language="German",
        quiet="22:00-07:00",
        label="  Team   news ",
    )
    assert spec.categories == ("Business", "Technology", "Science")  # alias "tech"
    assert spec.include_keywords == ("AI", "climate change")
    assert spec.exclude_keywords == ("sponsored",)
    assert spec.mode == "digest" and spec.timezone == "Europe/Berlin"
    assert spec.schedule == "0 8 * * mon-fri;30 18 * * mon-fri"
    assert describe_schedule(spec.schedule) == "08:00, 18:30 mon-fri"
    assert (spec.max_cards, spec.language) == (25, "German")
    assert (spec.quiet_start, spec.quiet_end) == ("22:00", "07:00")
    assert spec.label == "Team news"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"tz": "Europe/Berln"}, "did you mean Europe/Berlin?"),
        ({"tz": ""}, "unknown time zone ''"),
        ({"times": "25:00"}, "impossible time '25:00'"),
        ({"times": "8:61"}, "impossible time '8:61'"),
        ({"times": "08:00,noon"}, "impossible time 'noon'"),
        ({"times": " , "}, "give at least one time of day"),
        ({"quiet": "22:00-24:00"}, "impossible time '24:00'"),
        ({"quiet": "22:00"}, "quiet hours look like 22:00-07:00"),
        ({"quiet": "07:00-07:00"}, "different times"),
        ({"cron": "0 0 8 * * *"}, "a cron expression has 5 fields"),
        ({"cron": "0 8 * *"}, "got 4"),
        ({"cron": "61 8 * * *"}, "bad cron expression '61 8 * * *'"),
        ({"cron": "0 8 * * 9"}, "unknown weekday '9'"),
        ({"cron": "0 8 31 2 *"}, "never fires"),
        ({"cron": "*/5 * * * *"}, "at most every 15 minutes"),
        ({"cron": "0 8 1 * mon"}, "both the day of the month and the weekday"),
        ({"cron": "0 8 * * *", "times": "09:00"}, "not both"),
        ({"times": "08:00,08:05"}, "at most every 15 minutes"),
        ({"days": "funday"}, "unknown day 'funday'"),
        ({"topics": ""}, "give at least one topic"),
        ({"topics": ", ,"}, "give at least one topic"),
        ({"topics": "Business,Gossip"}, "unknown topic 'Gossip'; topics: World, Policy"),
        ({"max_cards": 0}, "from 1 to 50"),
        ({"max_cards": "51"}, "from 1 to 50"),
        ({"max_cards": "ten"}, "from 1 to 50"),
        ({"mode": "hourly"}, "mode must be instant or digest"),
        ({"language": "de; DROP"}, "bad language"),
        ({"include": "x" * 65}, "keyword too long"),
    ],
)
def test_bad_input_is_one_clear_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidSubscription) as caught:
        apply(**options)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert isinstance(caught.value, InputError)  # what the CLI and the adapters show


def test_unknown_topic_lists_every_valid_one() -> None:
    with pytest.raises(InvalidSubscription) as caught:
        apply(topics="Gossip")
    assert ", ".join(DEFAULT_CATEGORIES) in str(caught.value)


def test_topics_all_means_every_category_and_repeats_collapse() -> None:
    assert apply(topics="all").categories == ()
    assert apply(topics=["World", "world", " World "]).categories == ("World",)


def test_days_forms() -> None:
    assert parse_days("daily") == tuple(range(7))
    assert parse_days("Weekdays") == (0, 1, 2, 3, 4)
    assert parse_days("mon,wed,fri") == (0, 2, 4)
    assert parse_days("fri-mon") == (0, 4, 5, 6)  # wraps past Sunday
    assert parse_days("saturday sunday") == (5, 6)
    assert parse_times("18:30, 08:00, 8:00") == ((8, 0), (18, 30))


def test_cron_weekday_numbers_mean_what_crontab_means() -> None:
    # APScheduler 3 reads 0 as Monday; crontab (and people) read 0 and 7 as Sunday.
    assert parse_cron("0 8 * * 1-5", "UTC", NOW) == "0 8 * * mon-fri"
    assert parse_cron("0 8 * * 0", "UTC", NOW) == "0 8 * * sun"
    assert parse_cron("0 8 * * 7", "UTC", NOW) == "0 8 * * sun"
    assert parse_cron("0 8 * * 5-7", "UTC", NOW) == "0 8 * * fri-sun"
    assert parse_cron("0 8 * * */2", "UTC", NOW) == "0 8 * * tue,thu,sat,sun"
    assert parse_cron("0  8 * *   sat,sun", "UTC", NOW) == "0 8 * * sat,sun"
    assert describe_schedule("0 8 * * mon-fri") == "08:00 mon-fri"
    assert describe_schedule("0 8 1 * *") == "cron 0 8 1 * *"


def test_update_keeps_times_when_only_days_change_and_needs_times_after_a_cron() -> None:
    spec = apply(times="07:15", tz="Asia/Tokyo")
    changed = apply_options(
        spec, SubscriptionOptions(days="weekends"), categories=DEFAULT_CATEGORIES, now=NOW
    )
    assert changed.schedule == "15 7 * * sat,sun" and changed.timezone == "Asia/Tokyo"
    cron = apply(cron="0 8 1 * *")
    with pytest.raises(InvalidSubscription, match="give --times"):
        apply_options(cron, SubscriptionOptions(days="mon"), categories=DEFAULT_CATEGORIES, now=NOW)
    cleared = apply_options(
        apply(quiet="22:00-07:00", include="a"),
        SubscriptionOptions(quiet="off", include=""),
        categories=DEFAULT_CATEGORIES,
        now=NOW,
    )
    assert cleared.quiet_start is None and cleared.include_keywords == ()


def test_destinations_are_checked() -> None:
    assert parse_destination(" Telegram ", " -100123 ", None) == Destination("telegram", "-100123")
    assert parse_destination("discord", "42", "7").thread == "7"
    for args in [("", "1"), ("tele gram", "1"), ("telegram", ""), ("telegram", "a b")]:
        with pytest.raises(InvalidSubscription):
            parse_destination(*args)
    with pytest.raises(InvalidSubscription):
        parse_destination("discord", "42", "x" * 65)


# -- filters -------------------------------------------------------------------------------


def card(
    title: str = "Markets rally",
    category: str = "Business",
    summary: str = "Shares rose.",
    takeaways: tuple[str, ...] = ("One.", "Two.", "Three."),
) -> CardText:
    return CardText.of(title=title, category=category, summary=summary, takeaways=takeaways)


def wants(text: CardText, **spec: object) -> bool:
    return CardFilter.of(SubscriptionSpec(destination=BASE.destination, **spec)).matches(text)  # type: ignore[arg-type]


def test_no_filters_match_every_card_and_topics_match_the_category() -> None:
    assert wants(card())
    assert wants(card(), categories=("Business", "World"))
    assert wants(card(category="business"), categories=("Business",))
    assert not wants(card(), categories=("Sports",))


def test_keywords_are_whole_words_case_insensitive_in_title_summary_and_takeaways() -> None:
    text = card(title="OpenAI ships a model", summary="The AI lab said so.")
    assert wants(text, include_keywords=("ai",))
    assert wants(text, include_keywords=("OPENAI",))
    assert not wants(text, include_keywords=("open",))  # not inside a longer word
    assert not wants(card(summary="Said the chair."), include_keywords=("ai",))
    assert wants(card(takeaways=("Rates fell.", "b", "c")), include_keywords=("rates",))
    assert wants(text, include_keywords=("crypto", "model"))  # any include keyword
    assert not wants(text, include_keywords=("model",), exclude_keywords=("lab",))
    assert wants(card(summary="Climate\n change talks"), include_keywords=("climate change",))


def test_keywords_are_text_never_patterns() -> None:
    code = card(summary="A C++ compiler and a.b.c and (x)")
    assert wants(code, include_keywords=("c++",))
    assert wants(code, include_keywords=("a.b.c",))
    assert wants(code, include_keywords=("(x)",))
    assert not wants(card(summary="abc and aXb"), include_keywords=("a.b",))
    assert not wants(card(summary="anything at all"), include_keywords=(".*",))
    assert not wants(card(summary="x" * 50), include_keywords=("(x+)+y",))  # no backtracking
    assert wants(card(summary="Price is $5 now"), exclude_keywords=("[",))
