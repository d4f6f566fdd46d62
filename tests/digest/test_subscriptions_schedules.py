"""Digest slots and quiet hours across DST changes (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from digest.schedules import latest_due_slot, next_slot, quiet_until


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def slots(schedule: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    found, cursor = [], start
    while (slot := next_slot(schedule, tz, cursor)) is not None and slot <= end:
        assert slot > cursor
        found.append(slot)
        cursor = slot
    return found


# Europe/Berlin 2026: clocks go 02:00 -> 03:00 on 29 March, 03:00 -> 02:00 on 25 October.


def test_02_30_berlin_on_the_spring_forward_day_fires_once_when_the_clocks_jump() -> None:
    found = slots("30 2 * * *", "Europe/Berlin", utc(2026, 3, 27, 12), utc(2026, 3, 31, 12))
    assert found == [
        utc(2026, 3, 28, 1, 30),  # 02:30 CET
        utc(2026, 3, 29, 1, 0),  # 02:30 does not exist: 03:00 CEST, when the clocks jump
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]


def test_02_30_berlin_on_the_fall_back_day_fires_once_not_twice() -> None:
    found = slots("30 2 * * *", "Europe/Berlin", utc(2026, 10, 23, 12), utc(2026, 10, 27, 12))
    assert found == [
        utc(2026, 10, 24, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 0, 30),  # the first 02:30 (CEST); the second (CET) is skipped
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
        utc(2026, 10, 27, 1, 30),
    ]


def test_08_00_new_york_shifts_by_an_hour_in_utc_across_dst() -> None:
    # DST starts 8 March 2026 and ends 1 November 2026 in the US.
    spring = slots("0 8 * * *", "America/New_York", utc(2026, 3, 6, 14), utc(2026, 3, 9, 14))
    assert spring == [utc(2026, 3, 7, 13), utc(2026, 3, 8, 12), utc(2026, 3, 9, 12)]
    autumn = slots("0 8 * * *", "America/New_York", utc(2026, 10, 30, 14), utc(2026, 11, 2, 14))
    assert autumn == [utc(2026, 10, 31, 12), utc(2026, 11, 1, 13), utc(2026, 11, 2, 13)]


def test_a_slot_just_after_midnight_is_not_skipped_after_spring_forward() -> None:
    # APScheduler 3.11 alone, in the zone, jumps from 29 to 31 March here.
    found = slots("15 0 * * *", "Europe/Berlin", utc(2026, 3, 28, 23, 15), utc(2026, 3, 31, 0))
    assert found == [utc(2026, 3, 29, 22, 15), utc(2026, 3, 30, 22, 15)]


def _brute_force(schedule: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Minute by minute: a slot fires at the first minute whose wall time reaches a
    scheduled wall time it had not reached before."""
    zone = ZoneInfo(tz)
    triggers = [CronTrigger.from_crontab(e, timezone=UTC) for e in schedule.split(";")]

    def scheduled(wall: datetime) -> bool:
        moment = wall.replace(tzinfo=UTC)
        return any(
            all(f.get_next_value(moment) == f.get_value(moment) for f in t.fields) for t in triggers
        )

    found, minute = [], start
    highest = start.astimezone(zone).replace(tzinfo=None)
    while minute < end:
        minute += timedelta(minutes=1)
        wall = minute.astimezone(zone).replace(tzinfo=None)
        if wall > highest:
            walls = (
                highest + timedelta(minutes=i + 1)
                for i in range(int((wall - highest) / timedelta(minutes=1)))
            )
            if any(scheduled(w) for w in walls):
                found.append(minute)
            highest = wall
    return found


@pytest.mark.parametrize(
    ("tz", "start"),
    [
        ("Europe/Berlin", utc(2026, 3, 28)),
        ("Europe/Berlin", utc(2026, 10, 24)),
        ("Australia/Lord_Howe", utc(2026, 4, 4)),  # a 30-minute DST change
    ],
)
@pytest.mark.parametrize(
    "schedule", ["0 * * * *", "*/15 1-3 * * *", "45 1,2,3 * * *", "30 2 * * *;0 3 * * *"]
)
def test_slots_match_a_minute_by_minute_reading_of_the_wall_clock(
    tz: str, start: datetime, schedule: str
) -> None:
    end = start + timedelta(days=2)
    assert slots(schedule, tz, start, end) == _brute_force(schedule, tz, start, end)


def test_only_the_latest_missed_slot_is_due_after_downtime() -> None:
    after = utc(2026, 11, 1, 9)  # last slot: 1 November
    now = utc(2026, 11, 20, 12)
    assert latest_due_slot("0 8 * * *", "UTC", after, now) == utc(2026, 11, 20, 8)
    assert latest_due_slot("0 8 * * *", "UTC", utc(2026, 11, 20, 8), now) is None
    assert latest_due_slot("0 8 1 * *", "UTC", utc(2026, 9, 1, 9), now) == utc(2026, 11, 1, 8)
    assert latest_due_slot("0 8 1 1 *", "UTC", utc(2026, 11, 19), now) is None
    assert latest_due_slot("*/15 * * * *", "UTC", utc(2020, 1, 1), now) == now


def test_quiet_hours_end_in_the_subscribers_zone_dst_correct() -> None:
    # 23:00 CEST the night clocks fall back: quiet until 07:00 CET = 06:00 UTC (10 h later).
    assert quiet_until(utc(2026, 10, 24, 21), "Europe/Berlin", "22:00", "07:00") == utc(
        2026, 10, 25, 6
    )
    # the night clocks spring forward: 07:00 CEST = 05:00 UTC
    assert quiet_until(utc(2026, 3, 28, 22), "Europe/Berlin", "22:00", "07:00") == utc(
        2026, 3, 29, 5
    )
    # outside the quiet hours, and at their end exactly: not quiet
    assert quiet_until(utc(2026, 11, 20, 12), "Europe/Berlin", "22:00", "07:00") is None
    assert quiet_until(utc(2026, 11, 20, 6), "Europe/Berlin", "22:00", "07:00") is None
    # same-day quiet hours
    assert quiet_until(utc(2026, 11, 20, 13), "UTC", "12:00", "14:00") == utc(2026, 11, 20, 14)
    # after midnight, inside a period that started the day before
    assert quiet_until(utc(2026, 11, 20, 6), "America/New_York", "22:00", "07:00") == utc(
        2026, 11, 20, 12
    )


def test_quiet_hours_ending_in_a_gap_or_a_repeated_hour() -> None:
    # 02:30 does not exist on 29 March in Berlin: the quiet hours end when clocks jump.
    assert quiet_until(utc(2026, 3, 28, 23, 30), "Europe/Berlin", "00:00", "02:30") == utc(
        2026, 3, 29, 1
    )
    # 02:10 CET, in the repeated hour: 02:30 came and went in CEST, it comes again in CET.
    assert quiet_until(utc(2026, 10, 25, 1, 10), "Europe/Berlin", "22:00", "02:30") == utc(
        2026, 10, 25, 1, 30
    )
