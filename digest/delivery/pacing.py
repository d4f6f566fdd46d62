"""Pacing: how fast the delivery worker may post, per platform and per chat.

One mechanism for everything: before each send the worker reserves a slot that respects
the platform's overall rate and the chat's rate (``Pacer.reserve``/``Pacer.wait``), and a
rate limit the platform reports anyway (``RetryLater.retry_after``) pauses the chat, or the
whole platform, for that long (``Pacer.pause``); slots reserved before the pause are not
used until it ends.

Each rate is spacing (GCRA): at 30 messages/s a message every 33 ms, never 30 at once.
Bursts are what platforms punish; evenly spaced sends reach the limit without touching
it. Slots are reserved at absolute times, so a worker that wakes up a little late does not
drift below its rate. A chat gets a slot only once its own spacing allows (``ready_in``):
a slot booked ahead for one slow chat would hold every other chat back.

Telegram's limits (defaults): 30 messages/s overall, 1/s in one chat, 20/min in a group
(group, supergroup and channel ids are negative). Discord: 50 requests/s, and 5 messages
per 5 s in a channel (spaced: 1/s). Several delivery workers sharing a bot split the
overall rate between them (``Pacer.share``, told by ``digest.store.roster``); a chat's rate
needs no splitting, since one worker at a time holds a chat's deliveries
(``digest.store.outbox``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from digest.config import Settings

Monotonic = Callable[[], float]


def _no_groups(chat: str) -> bool:
    return False


def telegram_group(chat: str) -> bool:
    """Telegram groups, supergroups and channels have negative ids (or an @username, which
    only public groups and channels have); private chats have positive ids."""
    return chat.startswith(("-", "@"))


@dataclass(frozen=True, slots=True)
class PlatformRates:
    """Messages per second: ``overall`` for the whole bot on the platform, ``chat`` to one
    chat, ``group`` to one chat that ``is_group`` says is a group."""

    overall: float
    chat: float
    group: float
    is_group: Callable[[str], bool] = _no_groups

    def for_chat(self, chat: str) -> float:
        return self.group if self.is_group(chat) else self.chat


def rates_from_settings(settings: Settings) -> dict[str, PlatformRates]:
    """The configured rates of every platform the project knows."""
    return {
        "telegram": PlatformRates(
            overall=settings.telegram_rate,
            chat=settings.telegram_chat_rate,
            group=settings.telegram_group_rate / 60,
            is_group=telegram_group,
        ),
        "discord": PlatformRates(
            overall=settings.discord_rate,
            chat=settings.discord_channel_rate,
            group=settings.discord_channel_rate,
        ),
    }


# A message may take its overall slot this many seconds early, so a worker whose event
# loop was held up a moment catches up instead of losing those slots for good: at 1,000/s
# up to 10 messages close together, at 30/s none. Platforms count over longer windows
# (a second, a minute); per-chat spacing has no such slack.
CATCH_UP = 0.01

# For a platform without configured rates (a new adapter, a test fake): Telegram's, the
# strictest of the known ones.
DEFAULT_RATES = PlatformRates(overall=30.0, chat=1.0, group=1 / 3, is_group=telegram_group)


class _Spacing:
    """GCRA: ``tat`` is the theoretical arrival time of the next message; a message may go
    up to ``slack`` seconds before it."""

    __slots__ = ("interval", "slack", "tat")

    def __init__(self, rate: float, slack: float = 0.0) -> None:
        self.interval = 1.0 / rate
        self.slack = slack
        self.tat = -math.inf

    def earliest(self, now: float) -> float:
        return max(now, self.tat - self.slack)

    def take(self, at: float) -> None:
        self.tat = max(self.tat, at) + self.interval


class Pacer:
    """Slots per platform and per chat, and pauses. One per worker process; not shared
    between threads (the worker's event loop is its only user)."""

    # Chats idle this long (seconds) are forgotten: a fan-out to 100,000 chats must not
    # keep 100,000 buckets.
    FORGET_AFTER = 120.0

    def __init__(
        self,
        rates: Mapping[str, PlatformRates] | None = None,
        *,
        default: PlatformRates = DEFAULT_RATES,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._rates = dict(rates or {})
        self._default = default
        self._now = monotonic
        self._platforms: dict[str, _Spacing] = {}
        self._chats: dict[tuple[str, str], _Spacing] = {}
        self._paused: dict[tuple[str, str | None], float] = {}  # (platform, chat|None) -> end
        self._shares: dict[str, int] = {}  # platform -> workers sending to it (1 if absent)
        self._reserved = 0

    def rates(self, platform: str) -> PlatformRates:
        return self._rates.get(platform, self._default)

    def share(self, platform: str, workers: int) -> None:
        """``workers`` workers (this one included) send to ``platform`` now: this one keeps
        to its part of the overall rate. Slots already reserved stand."""
        workers = max(1, workers)
        self._shares[platform] = workers
        overall = self._platforms.get(platform)
        if overall is not None:
            overall.interval = workers / self.rates(platform).overall

    def overall_rate(self, platform: str) -> float:
        """This worker's part of the platform's overall rate, in messages per second."""
        return self.rates(platform).overall / self._shares.get(platform, 1)

    def pause(self, platform: str, chat: str | None, seconds: float) -> None:
        """No message to ``chat`` (every chat of ``platform`` when ``None``) for
        ``seconds``: the platform said so (a 429's retry_after)."""
        key = (platform, chat)
        end = self._now() + max(0.0, seconds)
        self._paused[key] = max(self._paused.get(key, 0.0), end)

    def paused_for(self, platform: str, chat: str) -> float:
        """Seconds until ``chat`` may be sent to again as far as pauses go (0: not paused)."""
        now = self._now()
        end = max(self._paused.get((platform, None), 0.0), self._paused.get((platform, chat), 0.0))
        return max(0.0, end - now)

    def ready_in(self, platform: str, chat: str) -> float:
        """Seconds until ``chat`` may be sent to as far as its own spacing and pauses go
        (the overall rate aside); nothing is reserved."""
        now = self._now()
        one = self._chats.get((platform, chat))
        at = max(now, one.tat if one is not None else now, now + self.paused_for(platform, chat))
        return at - now

    def reserve(self, platform: str, chat: str, *, max_wait: float = math.inf) -> float | None:
        """Reserve the platform's next slot for one message to ``chat`` and return the
        seconds to wait for it. ``None``, and nothing reserved, when ``chat`` itself is not
        ready yet (its spacing, a pause: see ``ready_in``) or the slot is more than
        ``max_wait`` away. A chat is never given a slot ahead of its own time: that would
        hold the whole platform's timeline back for one chat."""
        now = self._now()
        if self.ready_in(platform, chat) > 0:
            return None
        rates = self.rates(platform)
        overall = self._platforms.get(platform)
        if overall is None:
            overall = self._platforms[platform] = _Spacing(self.overall_rate(platform), CATCH_UP)
        at = overall.earliest(now)
        if at - now > max_wait:
            return None
        key = (platform, chat)
        one = self._chats.get(key)
        if one is None:
            one = self._chats[key] = _Spacing(rates.for_chat(chat))
        overall.take(at)
        one.take(at)
        self._reserved += 1
        if self._reserved % 1024 == 0:
            self._forget(now)
        return at - now

    async def wait(self, platform: str, chat: str, *, max_wait: float = math.inf) -> bool:
        """Sleep until one message may go to ``chat``; ``False`` (at once) when that is more
        than ``max_wait`` away (a long pause: the caller postpones instead)."""
        while True:
            ready = self.ready_in(platform, chat)
            if ready > max_wait:
                return False
            if ready > 0:
                await asyncio.sleep(ready)
                continue
            delay = self.reserve(platform, chat, max_wait=max_wait)
            if delay is None:
                if self.ready_in(platform, chat) <= 0:
                    return False  # the platform's own queue is longer than max_wait
                continue
            if delay > 0:
                await asyncio.sleep(delay)
            # A pause that began while we slept (another send got a 429) wins over the slot.
            if self.paused_for(platform, chat) <= 0:
                return True

    def _forget(self, now: float) -> None:
        idle = now - self.FORGET_AFTER
        for chat in [k for k, s in self._chats.items() if s.tat < idle]:
            del self._chats[chat]
        for pause in [k for k, end in self._paused.items() if end < now]:
            del self._paused[pause]
