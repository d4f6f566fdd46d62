"""A worker process killed with SIGKILL in the middle of a fan-out, twice, then restarted:
nothing is lost, nothing is delivered twice on a platform that honours idempotency keys
(Discord's nonce), and the repeats such a platform absorbed (each one a duplicate on
Telegram, which has no such key) are bounded by the sends in flight at each kill."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

from digest.ports import SystemClock
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.store.repository import Repository
from tests.support.deliveries import add_subscriptions, deliveries, make_card
from tests.support.fake_platform import FakePlatform
from tests.support.processes import start_worker, wait_for_line

CHATS = 120
CONCURRENCY = 4
KILLS = 2


async def wait_until(condition, within: float) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_a_worker_killed_mid_fan_out_loses_and_doubles_nothing(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    add_subscriptions(engine, (str(n) for n in range(CHATS)), platform="telegram")
    make_card(Repository(engine, SystemClock()))
    settings = {"DIGEST_TELEGRAM_RATE": "60", "DIGEST_DELIVERY_CONCURRENCY": str(CONCURRENCY)}

    def statuses() -> set[str]:
        return {r.status for r in deliveries(engine)}

    async with FakePlatform(latency=0.02, idempotent=True) as platform:
        for life in range(KILLS + 1):
            log = tmp_path / f"worker-{life}.log"
            worker = start_worker(tmp_path, database_url, platform.url, log, **settings)
            try:
                if life < KILLS:
                    target = 30 * (life + 1)
                    await wait_until(lambda t=target: len(platform.accepted) >= t, within=60)
                    worker.send_signal(signal.SIGKILL)
                    worker.wait()
                    assert "pending" in statuses()  # killed in the middle of the fan-out
                    continue
                await wait_until(lambda: statuses() == {"sent"}, within=90)
                worker.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(worker.wait, 30) == 0
                wait_for_line(log, "stopped")
            finally:
                worker.kill()
    rows = deliveries(engine)
    engine.dispose()
    reached = Counter(chat for _, chat, _ in platform.accepted)
    assert set(reached) == {str(n) for n in range(CHATS)}  # no loss
    assert max(reached.values()) == 1  # no duplicate reached a chat
    # Repeats: only sends the platform took just before a kill, before our commit.
    assert len(platform.repeated) <= KILLS * CONCURRENCY, platform.repeated
    attempts = {f"d{r.id}": r.attempts for r in rows}
    assert all(attempts[key] >= 2 for key in platform.repeated)
