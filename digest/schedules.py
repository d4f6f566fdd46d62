"""Digest schedules and quiet hours, in the subscriber's time zone.

Pure functions, no I/O: the store (``digest.store.fanout``) asks them for the digest slot
that is due and for the end of a subscriber's quiet hours. What people type is checked
and converted by ``digest.schedule_text``.

A schedule is one or more 5-field cron expressions joined by ";" (``"0 8 * * *"``, or
``"0 8 * * mon-fri;30 18 * * mon-fri"`` for 08:00 and 18:30: one expression cannot hold two
times with different minutes). Slots are wall-clock times in the subscriber's zone, so
08:00 stays 08:00 local across a DST change; a slot is the first instant the wall clock
shows its time or later:

- a wall time that happens twice (the fall-back hour) fires once, the first time: a daily
  02:30 digest must not come twice that night;
- a wall time the clocks skip (spring forward) fires when they jump: 02:30 at 03:00.

APScheduler 3.x computes the next wall time (see ``_triggers`` for why on the wall clock).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from digest.errors import InvalidSubscription

DEFAULT_SCHEDULE = "0 8 * * *"
DEFAULT_TIMEZONE = "UTC"
# Digests closer together than this are a mistake (a cron of "* * * * *"), and would turn
# the outbox into a flood; it also bounds the search for a due slot.
MIN_DIGEST_GAP = timedelta(minutes=15)
# Windows searched for the latest due slot, smallest first: a frequent schedule is found
# in the first without walking a year of slots; a monthly one in a later window.
_SEARCH_WINDOWS = tuple(timedelta(days=d) for d in (1 / 24, 1, 8, 32, 367))


def zone(name: str) -> ZoneInfo:
    """The zone of a stored (already validated) name."""
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def _triggers(schedule: str) -> tuple[CronTrigger, ...]:
    # On the wall clock: UTC has no DST, so APScheduler's arithmetic is exact there (in a
    # zone with DST, 3.11 skips a day: "15 0 * * *" in Europe/Berlin goes from 00:15 on the
    # spring-forward Sunday to Tuesday, and fires a repeated wall time twice). ``_instant``
    # places each wall time in the subscriber's zone. Cached: the enqueue job asks for the
    # same few schedules every minute.
    triggers = []
    for expr in schedule.split(";"):
        try:
            triggers.append(CronTrigger.from_crontab(expr.strip(), timezone=UTC))
        except ValueError as e:
            raise InvalidSubscription(f"bad cron expression {expr.strip()!r}: {e}") from None
    return tuple(triggers)


def next_slot(schedule: str, timezone: str, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``, in UTC; ``None`` when it never fires.

    A slot is the first instant the subscriber's wall clock shows the scheduled time or
    later: a repeated wall time (fall back) fires once, on its first pass; one skipped by
    the clocks (spring forward) fires when they jump, 02:30 at 03:00.
    """
    tz = zone(timezone)
    best: datetime | None = None
    for trigger in _triggers(schedule):
        found = _next_fire(trigger, tz, after)
        if found is not None and (best is None or found < best):
            best = found
    return best


def _next_fire(trigger: CronTrigger, tz: ZoneInfo, after: datetime) -> datetime | None:
    # The wall clock only moves forward along first passes, so wall times after the wall
    # time of ``after`` map to instants in order; during a repeated hour's second pass the
    # first few are already past (they fired on the first pass) and are stepped over.
    wall = after.astimezone(tz).replace(tzinfo=UTC, fold=0)
    while True:
        # With previous == now, APScheduler returns the first fire time after it.
        found: datetime | None = trigger.get_next_fire_time(wall, wall)
        if found is None:
            return None
        instant = _instant(found.replace(tzinfo=None), tz)
        if instant > after:
            return instant
        wall = found


def latest_due_slot(
    schedule: str, timezone: str, after: datetime, now: datetime
) -> datetime | None:
    """The latest slot in (``after``, ``now``], in UTC, or ``None``. After downtime only the
    latest missed slot counts: a digest is a summary, not one message per missed day."""
    for window in _SEARCH_WINDOWS:
        start = max(after, now - window)
        latest = None
        found = next_slot(schedule, timezone, start)
        while found is not None and found <= now:
            latest = found
            found = next_slot(schedule, timezone, found)
        if latest is not None or start == after:
            return latest
    return None


# -- quiet hours -----------------------------------------------------------------------------


def quiet_until(now: datetime, timezone: str, start: str, end: str) -> datetime | None:
    """When the quiet hours around ``now`` end (UTC), or ``None`` when ``now`` is outside
    them. The period [start, end) is read on the subscriber's wall clock and may span
    midnight; its end is the first moment the wall clock shows ``end`` or later, so a DST
    change that night lengthens or shortens it by an hour, as it does for the subscriber."""
    tz = zone(timezone)
    local = now.astimezone(tz)
    wall = local.time().replace(tzinfo=None)
    begin, finish = time.fromisoformat(start), time.fromisoformat(end)
    if begin < finish:
        quiet = begin <= wall < finish
        end_day = local.date()
    else:  # over midnight: 22:00-07:00
        quiet = wall >= begin or wall < finish
        end_day = local.date() + timedelta(days=1) if wall >= begin else local.date()
    if not quiet:
        return None
    return _instant(datetime.combine(end_day, finish), tz, not_before=now)


def _instant(wall: datetime, tz: ZoneInfo, *, not_before: datetime | None = None) -> datetime:
    """The first instant (UTC) when the wall clock in ``tz`` shows ``wall`` (naive) or
    later: a repeated wall time's first pass (its second when the first is before
    ``not_before``), or for a time the clocks skip, the moment they jump."""
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        exists = instant.astimezone(tz).replace(tzinfo=None) == wall
        if exists and (not_before is None or instant >= not_before):
            return instant
        if not exists:
            break
    else:
        return instant  # both passes are before ``not_before``: the caller sees it is past
    # In a spring-forward gap the two readings of ``wall`` straddle the jump; find it (the
    # wall clock only moves forward in between).
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    jump = high.replace(microsecond=0)
    return max(jump, not_before) if not_before is not None else jump
