"""Delivery benchmarks (``python -m bench delivery [fanout|crash]``).

fanout: one card to 10,000 instant subscriptions through a fake chat platform over HTTP
(``tests.support.fake_platform``, in another process) that allows 1,000 messages/s (a
token bucket; Telegram's 30/s scaled up to keep the run short) and answers 429 past it.
The worker runs with ``DIGEST_TELEGRAM_RATE=1000``; on PostgreSQL a second run has two
workers (each its own pacer and connection pool, in one process) share that rate through the
roster of delivery workers (``digest.store.roster``). Prints the achieved rate (messages the
platform accepted per second, first to last) as a share of the limit, the 429s received,
the time to fan the card out into the outbox, and peak memory. On SQLite, and on
PostgreSQL too when ``TEST_DATABASE_URL`` is set.

crash: PostgreSQL only. Two worker processes (``tests.support.worker_process``, the real
``python -m bot --role worker`` with the fake platform's sender) share a 2,000-destination
fan-out; one of them is killed with SIGKILL 20 times at random moments and restarted.
The platform deduplicates by idempotency key (as Discord's ``enforce_nonce`` does).
Prints lost deliveries and duplicate messages (both must be 0), and how many repeated
sends the idempotency key absorbed: on a platform without one (Telegram), each of those
would have been a duplicate.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from digest.config import Settings
from digest.delivery.pacing import Pacer, rates_from_settings
from digest.delivery.policy import WorkerOptions
from digest.delivery.worker import DeliveryWorker
from digest.ports import SystemClock
from digest.store.db import make_engine
from digest.store.migrate import upgrade
from digest.store.outbox import Outbox
from digest.store.repository import Repository
from digest.store.subscriptions import SubscriptionStore
from tests.support.deliveries import add_subscriptions, make_card
from tests.support.fake_platform import HttpSender, fetch_json

ROOT = Path(__file__).resolve().parents[1]
FANOUT = 10_000
LIMIT = 1_000.0
CRASH_DESTINATIONS = 2_000
KILLS = 20


# -- helpers -----------------------------------------------------------------------------


@contextmanager
def platform_process(*args: str) -> Iterator[str]:
    """The fake platform in a process of its own; yields its URL."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_platform", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        yield f"http://127.0.0.1:{int(server.stdout.readline())}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    schema = "bench_" + uuid.uuid4().hex[:10]
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- fan-out -----------------------------------------------------------------------------


async def _fanout(url: str, platform_url: str, workers: int) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        telegram_rate=LIMIT,  # the bot's rate: workers sending at once share it
        delivery_batch=1000,  # a second of sending at this rate
        delivery_concurrency=64,
    )
    engine = make_engine(url)
    upgrade(engine)
    clock = SystemClock()
    add_subscriptions(engine, (str(n) for n in range(1, FANOUT + 1)), platform="telegram")
    started = time.perf_counter()
    make_card(Repository(engine, clock))
    fanout_seconds = time.perf_counter() - started
    senders = [
        HttpSender(platform_url, platform="telegram", connections=128) for _ in range(workers)
    ]
    engines = [make_engine(url) for _ in range(workers)]  # a pool each, as in processes
    team = [
        DeliveryWorker(
            outbox=Outbox(own, clock),
            senders={"telegram": sender},
            destinations=SubscriptionStore(own, clock),
            pacer=Pacer(rates_from_settings(settings)),
            clock=clock,
            options=WorkerOptions.from_settings(settings),
        )
        for own, sender in zip(engines, senders, strict=True)
    ]
    rss_before = rss_mib()
    started, cpu = time.perf_counter(), time.process_time()
    reports = await asyncio.gather(*(worker.drain() for worker in team))
    drain_seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    for sender in senders:
        await sender.aclose()
    stats = await fetch_json(platform_url + "/stats")
    counts = Outbox(engine, clock).status_counts()
    for each in (engine, *engines):
        each.dispose()
    return {
        "fanout_s": fanout_seconds,
        "drain_s": drain_seconds,
        "cpu_s": cpu,
        "stats": stats,
        "client_429": sum(sender.too_many for sender in senders),
        "sent": [report.sent for report in reports],
        "counts": counts,
        "rss_before": rss_before,
        "rss_peak": rss_mib(),
    }


def fanout(url: str, label: str, workers: int = 1) -> None:
    # The platform lets 100 ms of messages through at once: it measures on arrival, and
    # requests reach it through two event loops and the kernel, never exactly spaced.
    with platform_process("--rate", str(LIMIT), "--burst", str(LIMIT / 10)) as platform_url:
        f = asyncio.run(_fanout(url, platform_url, workers))
    stats = f["stats"]
    span = stats["last"] - stats["first"]
    rate = (stats["accepted"] - 1) / span if span > 0 else 0.0
    print(f"delivery fan-out ({label}): 1 card -> {FANOUT} subscriptions, limit {LIMIT:.0f} msg/s")
    if workers > 1:
        print(f"  {workers} workers sharing the bot's rate sent {' + '.join(map(str, f['sent']))}")
    print(f"  fan-out into the outbox (save_card): {f['fanout_s']:.2f} s")
    print(
        f"  delivered: {stats['accepted']}/{FANOUT} in {f['drain_s']:.2f} s;"
        f" statuses {f['counts']}; worker CPU {f['cpu_s']:.1f} s"
    )
    print(
        f"  achieved rate: {rate:.0f} msg/s = {100 * rate / LIMIT:.1f}% of the limit"
        f" (aim >= 95%); whole drain {FANOUT / f['drain_s']:.0f} msg/s"
    )
    print(
        f"  429 responses: {stats['too_many']} at the platform, {f['client_429']} received (aim 0)"
    )
    print(
        f"  peak RSS {f['rss_peak']:.0f} MiB (before delivering: {f['rss_before']:.0f} MiB,"
        f" growth {f['rss_peak'] - f['rss_before']:.0f} MiB)"
    )


# -- crash -------------------------------------------------------------------------------


def _worker(url: str, platform_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=url,
        DIGEST_LOG_LEVEL="INFO",
        DIGEST_STARTER_FEEDS="none",
        DIGEST_WORKER_TICK="3600",
        DIGEST_SUMMARIZE_INTERVAL="3600",
        DIGEST_ENQUEUE_INTERVAL="3600",
        DIGEST_DELIVER_INTERVAL="0.2",
        DIGEST_DELIVERY_LEASE="5",  # a killed worker's claims come back after 5 s
        DIGEST_SEND_TIMEOUT="2",
        DIGEST_DELIVERY_BATCH="30",
        DIGEST_TELEGRAM_RATE="30",  # the bot's, shared: slow enough for 20 kills to land in it
        PYTHONPATH=str(ROOT),
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.worker_process", platform_url],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
        )


def _wait_ready(log: Path, timeout: float = 60.0) -> None:
    """Until the worker says its scheduler runs (imports take seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and b"running the digest worker" in log.read_bytes():
            return
        time.sleep(0.05)


def _status(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status"))
        return {status: int(n) for status, n in rows}


def crash(base: str) -> None:
    rng = random.Random()
    with (
        postgres_schema(base) as url,
        platform_process("--rate", "60", "--burst", "6", "--idempotent") as platform_url,
        tempfile.TemporaryDirectory() as folder,
    ):
        engine = make_engine(url)
        upgrade(engine)
        add_subscriptions(
            engine, (str(n) for n in range(1, CRASH_DESTINATIONS + 1)), platform="telegram"
        )
        make_card(Repository(engine, SystemClock()))
        steady = _worker(url, platform_url, Path(folder) / "steady.log")
        lives = 0
        victim_log = Path(folder) / f"victim-{lives}.log"
        victim = _worker(url, platform_url, victim_log)
        started = time.monotonic()
        kills = 0
        while kills < KILLS and _status(engine).get("pending", 0):
            _wait_ready(victim_log)
            time.sleep(rng.uniform(0.05, 1.5))  # a random moment of its delivering
            victim.kill()
            victim.wait()
            kills += 1
            lives += 1
            victim_log = Path(folder) / f"victim-{lives}.log"
            victim = _worker(url, platform_url, victim_log)
        while _status(engine).get("pending", 0) and time.monotonic() - started < 600:
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        for process in (steady, victim):
            process.terminate()
        codes = [process.wait(timeout=60) for process in (steady, victim)]
        stats = asyncio.run(fetch_json(platform_url + "/stats"))
        keys = asyncio.run(fetch_json(platform_url + "/log"))
        statuses = _status(engine)
        with engine.connect() as conn:
            retried = conn.scalar(text("SELECT count(*) FROM deliveries WHERE attempts > 1"))
        engine.dispose()
    reached = {chat for _, chat, _ in keys}
    lost = CRASH_DESTINATIONS - len(reached)
    not_sent = sum(n for status, n in statuses.items() if status != "sent")
    print(
        f"delivery crash test (PostgreSQL): 2 workers, {CRASH_DESTINATIONS} destinations,"
        f" one worker killed with SIGKILL {kills} times and restarted"
    )
    print(f"  finished in {elapsed:.1f} s; statuses {statuses}; exit codes after SIGTERM {codes}")
    print(
        f"  lost deliveries: {lost} destinations never reached, {not_sent} not marked sent"
        " (must be 0 and 0)"
    )
    print(f"  duplicate messages at the platform: {stats['duplicates']} (must be 0)")
    print(
        f"  repeated sends absorbed by the idempotency key: {stats['deduplicated']}"
        f" ({retried} deliveries needed more than one attempt); on a platform without"
        " such a key (Telegram) each absorbed repeat would have been a duplicate"
    )


def main(which: str = "all") -> None:
    base = os.environ.get("TEST_DATABASE_URL")
    if which in ("all", "fanout"):
        with tempfile.TemporaryDirectory() as folder:
            fanout(f"sqlite:///{Path(folder) / 'bench.db'}", "SQLite")
        if base:
            with postgres_schema(base) as url:
                fanout(url, "PostgreSQL")
            with postgres_schema(base) as url:
                fanout(url, "PostgreSQL, 2 workers in one process", workers=2)
    if which in ("all", "crash"):
        if base:
            crash(base)
        else:
            print("delivery crash test: skipped, it needs PostgreSQL (set TEST_DATABASE_URL)")
