"""What the delivery worker does with a failed send: the retry policy and its settings."""

from __future__ import annotations

import random
from dataclasses import dataclass

from digest.config import Settings


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """The delivery worker's knobs (``DIGEST_DELIVERY_*``, ``DIGEST_SEND_TIMEOUT``).

    ``lease``: seconds a claim lasts (renewed while the worker runs). ``batch``: deliveries
    one worker holds at most. ``concurrency``: sends in flight at most. ``per_chat``:
    deliveries of one chat per claim (the rest wait for the next claim, keeping claims
    short). ``max_pause_wait``: a platform pause (429) up to this long is waited out
    holding the claim; a longer one gives the claim back, due when the pause ends.
    """

    lease: float = 60.0
    batch: int = 100
    concurrency: int = 16
    per_chat: int = 5
    max_attempts: int = 8
    retry_base: float = 30.0
    retry_max: float = 3600.0
    send_timeout: float = 30.0
    max_pause_wait: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerOptions:
        return cls(
            lease=settings.delivery_lease,
            batch=settings.delivery_batch,
            concurrency=settings.delivery_concurrency,
            max_attempts=settings.delivery_max_attempts,
            retry_base=settings.delivery_retry_base,
            retry_max=settings.delivery_retry_max,
            send_timeout=settings.send_timeout,
        )


def backoff(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (from 1): ``base`` doubled
    each time, at most ``cap``, then scaled by a random factor in [0.5, 1] so that the
    deliveries of one outage do not all come back in the same second."""
    delay: float = min(cap, base * 2.0 ** min(max(attempt - 1, 0), 30))
    return delay * rng.uniform(0.5, 1.0)
