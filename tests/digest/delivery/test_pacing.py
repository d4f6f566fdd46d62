"""Pacing: the overall rate, per-chat and per-group spacing, and pauses (429s)."""

from __future__ import annotations

import asyncio
import time

import pytest

from digest.config import Settings
from digest.delivery.pacing import (
    CATCH_UP,
    DEFAULT_RATES,
    Pacer,
    PlatformRates,
    rates_from_settings,
    telegram_group,
)


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


RATES = PlatformRates(overall=10.0, chat=2.0, group=0.5, is_group=lambda chat: chat.startswith("-"))


def test_the_overall_rate_spaces_messages_to_different_chats() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": RATES}, monotonic=ticks)
    waits = [pacer.reserve("tg", str(chat)) for chat in range(5)]
    # Spaced 0.1 s apart; CATCH_UP lets a worker that fell behind use slots a little early.
    assert waits == pytest.approx([0.0] + [n / 10 - CATCH_UP for n in range(1, 5)])


def test_one_chat_is_spaced_by_its_own_rate_and_a_group_by_the_group_rate() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": RATES}, monotonic=ticks)
    assert pacer.reserve("tg", "42") == 0.0
    assert pacer.reserve("tg", "42") is None  # not before its time...
    assert pacer.ready_in("tg", "42") == pytest.approx(0.5)
    first = pacer.reserve("tg", "-100")  # ...and others are not held up
    assert first == pytest.approx(0.1 - CATCH_UP)
    ticks.now += 0.5
    assert pacer.reserve("tg", "42") == pytest.approx(0.0)
    assert pacer.ready_in("tg", "-100") == pytest.approx(first + 2.0 - 0.5)  # a group: 1 per 2 s


def test_an_idle_chat_does_not_save_up_a_burst() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": RATES}, monotonic=ticks)
    pacer.reserve("tg", "42")
    ticks.now += 60  # a minute of silence
    assert pacer.reserve("tg", "42") == 0.0
    assert pacer.ready_in("tg", "42") == pytest.approx(0.5)


def test_a_pause_holds_one_chat_or_the_whole_platform() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": RATES}, monotonic=ticks)
    pacer.pause("tg", "42", 3.0)
    assert pacer.reserve("tg", "42") is None
    assert pacer.ready_in("tg", "42") == pytest.approx(3.0)
    assert pacer.reserve("tg", "7") == pytest.approx(0.0)  # the platform is not paused
    pacer.pause("tg", None, 5.0)
    assert pacer.paused_for("tg", "8") == pytest.approx(5.0)
    assert pacer.ready_in("tg", "8") == pytest.approx(5.0)
    assert pacer.reserve("other", "8") == pytest.approx(0.0)  # other platforms go on
    ticks.now += 5.0
    assert pacer.reserve("tg", "8") == pytest.approx(0.0)


def test_a_wait_longer_than_allowed_reserves_nothing() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": RATES}, monotonic=ticks)
    pacer.pause("tg", "42", 30.0)
    pacer.pause("tg", "42", 0.0)  # pauses only grow: still 30 s
    assert pacer.ready_in("tg", "42") == pytest.approx(30.0)
    for chat in range(20):  # the platform's queue: 2 s of slots
        pacer.reserve("tg", str(chat))
    assert pacer.reserve("tg", "99", max_wait=1.0) is None
    assert pacer.reserve("tg", "99", max_wait=3.0) == pytest.approx(2.0 - CATCH_UP)


async def test_wait_sleeps_and_a_pause_that_starts_meanwhile_wins() -> None:
    pacer = Pacer({"tg": PlatformRates(overall=20.0, chat=20.0, group=20.0)})
    started = time.monotonic()
    for _ in range(3):
        assert await pacer.wait("tg", "1")
    assert time.monotonic() - started >= 0.09  # three slots 50 ms apart

    waiter = asyncio.create_task(pacer.wait("tg", "1"))
    await asyncio.sleep(0)
    pacer.pause("tg", None, 0.2)
    started = time.monotonic()
    assert await waiter
    assert time.monotonic() - started >= 0.15
    pacer.pause("tg", "1", 30.0)
    assert not await pacer.wait("tg", "1", max_wait=10.0)  # at once: the caller postpones


def test_idle_chats_are_forgotten() -> None:
    ticks = Ticks()
    pacer = Pacer({"tg": PlatformRates(overall=1e9, chat=1.0, group=1.0)}, monotonic=ticks)
    for chat in range(1024):
        pacer.reserve("tg", str(chat))
    ticks.now += Pacer.FORGET_AFTER + 5
    for chat in range(1024, 2048):
        pacer.reserve("tg", str(chat))
    assert len(pacer._chats) <= 1024


def test_settings_give_telegram_its_limits_and_others_the_default() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    rates = rates_from_settings(settings)
    telegram = rates["telegram"]
    assert (telegram.overall, telegram.chat) == (30.0, 1.0)
    assert telegram.for_chat("-1001234") == pytest.approx(20 / 60)
    assert telegram.for_chat("1234") == 1.0
    assert rates["discord"].for_chat("-1") == 1.0  # Discord ids are never negative anyway
    assert Pacer(rates).rates("console") == DEFAULT_RATES


def test_telegram_channels_named_by_username_are_paced_as_groups() -> None:
    assert telegram_group("-1001234567890") and telegram_group("@mychannel")
    assert not telegram_group("42")
