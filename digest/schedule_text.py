"""Schedules and quiet hours as people type them: checked, and turned into the stored form.

Called by ``digest.subscriptions.apply_options``; ``describe_schedule`` also by whatever
shows a subscription. Every bad value raises ``InvalidSubscription`` with one line saying
what is accepted. The stored form and the slot arithmetic are ``digest.schedules``.

Weekday numbers in a cron expression mean what they mean in crontab (0 and 7 = Sunday);
APScheduler 3.x reads 0 as Monday, so numbers are turned into day names before it sees them.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from zoneinfo import available_timezones

from apscheduler.triggers.cron import CronTrigger

from digest.errors import InvalidSubscription
from digest.schedules import MIN_DIGEST_GAP, next_slot, zone

MAX_TIMES = 24
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's order

_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_WORDS = {
    **{name: (i,) for i, name in enumerate(DAY_NAMES)},
    **{name: (i,) for i, name in enumerate(_FULL_DAYS)},
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
    "every day": tuple(range(7)),
    "all": tuple(range(7)),
    "*": tuple(range(7)),
    "weekdays": tuple(range(5)),
    "weekday": tuple(range(5)),
    "weekends": (5, 6),
    "weekend": (5, 6),
}
_TIME = re.compile(r"(\d{1,2}):(\d{2})")

# -- time zones ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    # Scanning the zone database takes a few milliseconds: once per process.
    return {name.casefold(): name for name in available_timezones() | {"UTC"}}


def parse_timezone(value: str) -> str:
    """The IANA name of a time zone, in its canonical spelling ("europe/berlin" gives
    "Europe/Berlin"). Raises ``InvalidSubscription`` for an unknown one."""
    text = value.strip()
    names = _zone_names()
    found = names.get(text.casefold())
    if found is None:
        close = difflib.get_close_matches(text, sorted(names.values()), n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InvalidSubscription(
            f"unknown time zone {value!r}{hint}; use an IANA name such as Europe/Berlin,"
            " America/New_York or UTC"
        )
    return found


# -- times and days --------------------------------------------------------------------------


def parse_time(value: str) -> tuple[int, int]:
    """ "08:00" or "8:00" as (hour, minute). Raises ``InvalidSubscription``."""
    text = value.strip()
    found = _TIME.fullmatch(text)
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise InvalidSubscription(
            f"impossible time {value!r}: use HH:MM from 00:00 to 23:59, e.g. 08:00 or 18:30"
        )
    return int(found[1]), int(found[2])


def parse_times(value: str) -> tuple[tuple[int, int], ...]:
    """ "08:00,18:30" as sorted, distinct (hour, minute) pairs."""
    parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
    if not parts:
        raise InvalidSubscription("give at least one time of day, e.g. 08:00 or 08:00,18:30")
    times = sorted({parse_time(p) for p in parts})
    if len(times) > MAX_TIMES:
        raise InvalidSubscription(f"at most {MAX_TIMES} digest times a day")
    return tuple(times)


def parse_days(value: str) -> tuple[int, ...]:
    """Days of the week as sorted indexes (0 = Monday): "daily", "weekdays", "weekends",
    "mon-fri", "mon,wed,fri", "fri-mon" (wraps), full names too."""
    text = value.strip().casefold()
    if text in _DAY_WORDS:
        return _DAY_WORDS[text]
    parts = [p for p in re.split(r"[,\s]+", text) if p]
    if not parts:
        raise InvalidSubscription('give days, e.g. "daily", "mon-fri" or "mon,wed,fri"')
    days: set[int] = set()
    for part in parts:
        first, dash, last = part.partition("-")
        start, end = _day_index(first, value), _day_index(last, value) if dash else None
        if end is None:
            days.add(start)
        else:  # a range may wrap past Sunday: fri-mon
            span = (end - start) % 7
            days.update((start + i) % 7 for i in range(span + 1))
    return tuple(sorted(days))


def _day_index(word: str, whole: str) -> int:
    found = _DAY_WORDS.get(word)
    if found is None or len(found) != 1:
        raise InvalidSubscription(
            f"unknown day {word!r} in {whole!r}: use mon..sun, ranges like mon-fri,"
            " lists like mon,wed,fri, or daily / weekdays / weekends"
        )
    return found[0]


def days_field(days: Sequence[int]) -> str:
    """A cron day-of-week field in APScheduler's names: "*", "mon-fri", "mon,wed,fri"."""
    chosen = sorted(set(days))
    if len(chosen) == 7:
        return "*"
    runs: list[list[int]] = []
    for day in chosen:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}"
        if len(r) >= 3
        else ",".join(DAY_NAMES[d] for d in r)
        for r in runs
    )


def schedule_from_times(times: Sequence[tuple[int, int]], days: Sequence[int]) -> str:
    """The schedule for these times on these days: one cron expression per distinct minute
    (08:00 and 18:00 share one; 08:00 and 18:30 cannot)."""
    by_minute: dict[int, list[int]] = {}
    for hour, minute in sorted(times):
        by_minute.setdefault(minute, []).append(hour)
    dow = days_field(days)
    return ";".join(
        f"{minute} {','.join(str(h) for h in hours)} * * {dow}"
        for minute, hours in sorted(by_minute.items(), key=lambda item: (item[1][0], item[0]))
    )


def simple_times(schedule: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]] | None:
    """(times, days) of a schedule made of plain times on weekdays (what ``--times`` and
    ``--days`` write); ``None`` for any other cron expression."""
    times: set[tuple[int, int]] = set()
    days: tuple[int, ...] | None = None
    for expr in schedule.split(";"):
        fields = expr.split()
        if len(fields) != 5 or fields[2:4] != ["*", "*"]:
            return None
        minute, hours, dow = fields[0], fields[1].split(","), fields[4]
        if not minute.isdigit() or not all(h.isdigit() for h in hours):
            return None
        try:
            these = tuple(range(7)) if dow == "*" else parse_days(dow)
        except InvalidSubscription:
            return None
        if days is not None and these != days:
            return None
        days = these
        times.update((int(h), int(minute)) for h in hours)
    if days is None:
        return None
    return tuple(sorted(times)), days


def describe_schedule(schedule: str) -> str:
    """For people: "08:00, 18:30 mon-fri", "08:00 daily", else the cron expression."""
    simple = simple_times(schedule)
    if simple is None:
        return f"cron {schedule}"
    times, days = simple
    when = ", ".join(f"{h:02d}:{m:02d}" for h, m in times)
    field = days_field(days)
    return f"{when} {'daily' if field == '*' else field}"


# -- cron ------------------------------------------------------------------------------------


def parse_cron(value: str, timezone: str, now: datetime) -> str:
    """A user's cron expression, checked and in the stored form (weekday numbers as names).
    Raises ``InvalidSubscription``."""
    expr = " ".join(value.split())
    if ";" in expr:
        raise InvalidSubscription("give one cron expression; for several times use --times")
    fields = expr.split(" ") if expr else []
    if len(fields) != 5:
        raise InvalidSubscription(
            f"a cron expression has 5 fields (minute hour day month weekday), got"
            f" {len(fields)}: {value!r}; e.g. '0 8 * * mon-fri'"
        )
    if fields[2] != "*" and fields[4] != "*":
        # crontab fires when EITHER matches, APScheduler only when both do: refuse rather
        # than silently mean something else.
        raise _bad_cron(
            value,
            "it restricts both the day of the month and the weekday; give a day of the"
            " month or weekdays, not both",
        )
    fields[4] = _crontab_weekdays(fields[4], value)
    schedule = " ".join(fields)
    check_schedule(schedule, timezone, now)
    return schedule


def _crontab_weekdays(field: str, whole: str) -> str:
    """The weekday field with crontab's numbers (0 and 7 = Sunday) turned into names."""
    if not any(ch.isdigit() for ch in field):
        return field
    days: set[int] = set()  # crontab numbering: 0 = Sunday .. 6 = Saturday
    for part in field.casefold().split(","):
        base, _, step_text = part.partition("/")
        if step_text and not step_text.isdigit():
            raise _bad_cron(whole, f"bad step {part!r}")
        step = int(step_text or 1)
        if base == "*":
            first, last = 0, 6
        else:
            low, dash, high = base.partition("-")
            first = _crontab_day(low, whole, end=False)
            last = _crontab_day(high, whole, end=True) if dash else (6 if step_text else first)
        if first > last or step < 1:
            raise _bad_cron(whole, f"bad weekday range {part!r}")
        days.update(d % 7 for d in range(first, last + 1, step))
    # crontab 0 = Sunday = APScheduler 6; crontab 1 = Monday = APScheduler 0
    return days_field([(d - 1) % 7 for d in days])


def _crontab_day(word: str, whole: str, *, end: bool) -> int:
    if word.isdigit() and int(word) <= 7:
        return int(word)
    if word in DAY_NAMES:
        index = (DAY_NAMES.index(word) + 1) % 7  # sun = 0...
        return 7 if end and index == 0 else index  # ...but sun closes a range as 7
    raise _bad_cron(whole, f"unknown weekday {word!r} (0-7 or mon..sun)")


def _bad_cron(expr: str, why: str) -> InvalidSubscription:
    return InvalidSubscription(f"bad cron expression {expr!r}: {why}")


def check_schedule(schedule: str, timezone: str, now: datetime) -> None:
    """Raises ``InvalidSubscription`` unless the schedule is valid in the zone (APScheduler's
    ``CronTrigger.from_crontab`` decides), fires, and never twice within ``MIN_DIGEST_GAP``."""
    for expr in schedule.split(";"):
        try:
            CronTrigger.from_crontab(expr.strip(), timezone=zone(timezone))
        except ValueError as e:
            raise _bad_cron(expr.strip(), str(e)) from None
    slots: list[datetime] = []
    after = now
    for _ in range(20):
        found = next_slot(schedule, timezone, after)
        if found is None:
            break
        slots.append(found)
        after = found
    if not slots:
        raise InvalidSubscription(f"the schedule {schedule!r} never fires")
    for earlier, later in itertools.pairwise(slots):
        if later - earlier < MIN_DIGEST_GAP:
            minutes = int(MIN_DIGEST_GAP.total_seconds() // 60)
            raise InvalidSubscription(
                f"digests at most every {minutes} minutes; {describe_schedule(schedule)!r}"
                " fires more often"
            )


# -- quiet hours -----------------------------------------------------------------------------


def parse_quiet(value: str) -> tuple[str, str] | None:
    """ "22:00-07:00" as ("22:00", "07:00"); "off", "none" or "" as ``None`` (no quiet
    hours). Raises ``InvalidSubscription``."""
    text = value.strip().casefold()
    if text in {"", "off", "none", "no"}:
        return None
    parts = re.split(r"\s*(?:-|–|—|to)\s*", text)
    if len(parts) != 2:
        raise InvalidSubscription(
            f"quiet hours look like 22:00-07:00 (start-end, in the subscription's time zone);"
            f" got {value!r}"
        )
    start, end = (parse_time(p) for p in parts)
    if start == end:
        raise InvalidSubscription("quiet hours must start and end at different times")
    return f"{start[0]:02d}:{start[1]:02d}", f"{end[0]:02d}:{end[1]:02d}"
