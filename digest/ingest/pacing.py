"""When to poll a feed next: pure functions, no I/O, so every rule is tested directly.

Called by the poller after each poll of a feed, successful or not.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from digest.config import Settings
from digest.errors import FetchError
from digest.models import FetchResult


def next_poll_at(
    now: datetime,
    *,
    settings: Settings,
    result: FetchResult | None,
    ttl_minutes: int | None,
    failures: int,
    error: FetchError | None,
    rng: random.Random | None = None,
) -> datetime:
    """The time to poll this feed again.

    After a success (``failures == 0`` and no ``error``): ``poll_interval``, lengthened by
    the largest hint the publisher gave (Retry-After, Cache-Control max-age, RSS ``<ttl>``).
    Hints only ever lengthen the wait: each says "not before", none asks to be polled faster.

    After a failure of any kind (fetch, parse or storage: ``failures`` counts this one too):
    exponential backoff, ``poll_interval * 2 ** (failures - 1)``, or a fetch error's
    Retry-After when that is longer.

    Either way the delay gets ± ``poll_jitter`` jitter, so feeds added together drift apart
    (but never lands before a Retry-After), and is then clamped to [``poll_min_interval``,
    ``poll_max_interval``], so a hostile hint can neither hammer a server nor park a feed
    for good. Raises nothing.
    """
    if error is not None or failures > 0:
        retry_after = error.retry_after if error is not None else None
        delay = _backoff(settings, max(failures, 1), retry_after)
    else:
        retry_after = result.retry_after if result is not None else None
        delay = _with_hints(settings, result, ttl_minutes)
    jitter = settings.poll_jitter
    if jitter:
        delay *= 1 + (rng or random).uniform(-jitter, jitter)
    # Retry-After is an explicit "not before": jitter may lengthen it, never shorten it.
    floor = max(float(settings.poll_min_interval), retry_after or 0.0)
    delay = min(max(delay, floor), settings.poll_max_interval)
    return now + timedelta(seconds=delay)


def should_disable(failures: int, settings: Settings) -> bool:
    """True once a feed has failed ``max_failures`` times in a row; the poller then stops
    polling it until someone enables it again."""
    return failures >= settings.max_failures


def _with_hints(settings: Settings, result: FetchResult | None, ttl_minutes: int | None) -> float:
    hints: list[float] = [float(settings.poll_interval)]
    if result is not None:
        hints += [h for h in (result.retry_after, result.max_age) if h is not None]
    if ttl_minutes is not None:
        hints.append(ttl_minutes * 60.0)
    return max(hints)


def _backoff(settings: Settings, failures: int, retry_after: float | None) -> float:
    # Cap the exponent: past the maximum interval the exact power no longer matters, and a
    # feed failing for months must not build an integer with thousands of digits.
    doublings = min(failures - 1, 32)
    delay = min(float(settings.poll_interval * 2**doublings), settings.poll_max_interval)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
