"""Telegram follow-up benchmark (``python -m bench telegram [N]``).

The real gateway (``bot.telegram.platform``: python-telegram-bot long polling, the handlers,
the core's answer service on a SQLite file) against the fake Bot API of the tests
(``tests.support.fake_telegram``, in this process, over HTTP on 127.0.0.1). A card is
delivered by the real delivery worker; then a person replies "why does this matter?" to it,
N times (default 1,000) one after another. Each latency runs from the moment the fake
queues the reply (the update Telegram would hold for ``getUpdates``) to the moment the fake
receives the bot's ``sendMessage`` with the answer: long polling, PTB's dispatch, the
handler, the database (card lookup, rate limit, answer cache, question record) and the HTTP
call back. Prints p50/p90/p99/max; aim: p99 <= 50 ms. No assertions: machines are shared.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from digest.config import Settings
from tests.bot.telegram.gateway_world import gateway_world
from tests.support.fake_telegram import FakeTelegram

QUESTIONS = 1_000
WARM_UP = 20
QUESTION = "why does this matter?"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def _run(questions: int, folder: Path) -> list[float]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{folder / 'bench.db'}",
        starter_feeds="none",
        questions_per_hour=10 * (questions + WARM_UP),
    )
    async with FakeTelegram() as tg, gateway_world(settings, tg) as world:
        chat = tg.private_chat(tg.alice)
        tg.user_sends(chat, tg.alice, "/subscribe")
        await tg.next_sent(chat)
        world.card()
        await world.deliver()
        card = await tg.next_sent(chat)
        latencies: list[float] = []
        for n in range(WARM_UP + questions):
            answered = len(tg.calls("sendMessage"))
            queued = time.monotonic()
            tg.user_sends(chat, tg.alice, QUESTION, reply_to=card)
            call = await tg.wait_for_call("sendMessage", count=answered + 1, timeout=10)
            await tg.next_sent(chat)  # the answer; keeps next_sent in step
            if n >= WARM_UP:
                latencies.append(call.at - queued)
        return latencies


def main(questions: int = QUESTIONS) -> None:
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        latencies = asyncio.run(_run(questions, Path(folder)))
        elapsed = time.perf_counter() - started
    ms = [x * 1000 for x in latencies]
    print(f"telegram follow-ups: {len(ms)} replies to a card, one at a time ({elapsed:.1f} s)")
    print(
        f"  reply -> sendMessage: p50 {_percentile(ms, 0.5):.1f} ms, "
        f"p90 {_percentile(ms, 0.9):.1f} ms, p99 {_percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms (aim: p99 <= 50 ms)"
    )


if __name__ == "__main__":
    main()
