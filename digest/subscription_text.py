"""Subscriptions in words, for people: the ``digest subs`` CLI, and chat adapters replying
to a settings command. Plain text, no markup of any platform: callers escape it for theirs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digest.models import Subscription
from digest.schedule_text import describe_schedule
from digest.schedules import next_slot, zone


def next_digest(sub: Subscription, now: datetime) -> datetime | None:
    """When the subscription's next digest is due (UTC); ``None`` in instant mode."""
    if sub.spec.mode != "digest":
        return None
    return next_slot(sub.spec.schedule, sub.spec.timezone, max(now, sub.last_slot or now))


def destination_text(sub: Subscription) -> str:
    """ "telegram chat -100123 thread 7 (Team news)"."""
    where = sub.destination
    thread = f" thread {where.thread}" if where.thread else ""
    label = f" ({sub.spec.label})" if sub.spec.label else ""
    return f"{where.platform} chat {where.chat}{thread}{label}"


def delivery_text(sub: Subscription, now: datetime) -> str:
    """How and when cards go out, e.g. "digest 08:00 daily Europe/Berlin, up to 10 cards,
    next 2026-11-21 08:00 CET"."""
    spec = sub.spec
    if spec.mode == "instant":
        quiet = f", quiet {spec.quiet_start}-{spec.quiet_end} {spec.timezone}"
        return "instant" + (quiet if spec.quiet_start else "")
    upcoming = next_digest(sub, now)
    when = (
        f", next {upcoming.astimezone(zone(spec.timezone)):%Y-%m-%d %H:%M %Z}" if upcoming else ""
    )
    return (
        f"digest {describe_schedule(spec.schedule)} {spec.timezone},"
        f" up to {spec.max_cards} cards{when}"
    )


def filters_text(sub: Subscription) -> str:
    """ "Business, Science; with ai / chips; without sponsored"."""
    spec = sub.spec
    parts = [", ".join(spec.categories) if spec.categories else "all topics"]
    if spec.include_keywords:
        parts.append("with " + " / ".join(spec.include_keywords))
    if spec.exclude_keywords:
        parts.append("without " + " / ".join(spec.exclude_keywords))
    return "; ".join(parts)


def summary(sub: Subscription, now: datetime) -> str:
    """One line: where, how and when, which cards, and whether paused."""
    state = "" if sub.active else f" [paused: {sub.paused_reason}]"
    return f"{destination_text(sub)}: {delivery_text(sub, now)}; {filters_text(sub)}{state}"


def subscription_json(sub: Subscription, now: datetime) -> dict[str, Any]:
    """The JSON shape of ``digest subs list --json``."""
    spec = sub.spec
    upcoming = next_digest(sub, now)
    return {
        "id": sub.id,
        "platform": spec.destination.platform,
        "chat": spec.destination.chat,
        "thread": spec.destination.thread or None,
        "label": spec.label,
        "topics": list(spec.categories),
        "include": list(spec.include_keywords),
        "exclude": list(spec.exclude_keywords),
        "mode": spec.mode,
        "schedule": spec.schedule,
        "schedule_text": describe_schedule(spec.schedule),
        "timezone": spec.timezone,
        "max_cards": spec.max_cards,
        "language": spec.language,
        "quiet": f"{spec.quiet_start}-{spec.quiet_end}" if spec.quiet_start else None,
        "active": sub.active,
        "paused_reason": sub.paused_reason,
        "next_digest": upcoming.isoformat() if upcoming else None,
        "created_at": sub.created_at.isoformat(),
    }
